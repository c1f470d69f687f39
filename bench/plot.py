"""`python -m bench.plot REPORT.json OUT.png`: the ack ramp of a full run, as a picture.

Acknowledgement time (p50, p90, p99 and the slowest) at each rate the ramp reached, from
the `ack` section of `python -m bench --json`, with the target (50 ms at 50/s) and the
ramp's limit (1,000 ms). matplotlib is a dev dependency (`pip install -e .[dev]`): the bot
never needs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TARGET_MS = 50.0  # ack_p99_ms at 50/s (the target)
LIMIT_MS = 1000.0  # bench/ack.py RAMP_P99_LIMIT_MS
SERIES = (
    ("ack_p50_ms", "p50"),
    ("ack_p90_ms", "p90"),
    ("ack_p99_ms", "p99"),
    ("ack_max_ms", "max"),
)


class NoRamp(ValueError):
    """The report has no ack ramp to draw (a --quick run, or ack not run)."""


def ramp_points(report: dict[str, Any]) -> list[tuple[float, dict[str, float | None]]]:
    """(rate, figures) for the steady phase and every ramp step, by rate."""
    ack = report.get("ack") or {}
    steps = ack.get("ramp") or {}
    if not steps:
        raise NoRamp("the report has no ack ramp: run `python -m bench ack --json` (not --quick)")
    points = [(float(ack["rate_per_s"]), {key: ack.get(key) for key, _ in SERIES})]
    for rate, step in steps.items():
        points.append((float(rate), {key: step.get(key) for key, _ in SERIES}))
    return sorted(points, key=lambda point: point[0])


def draw(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    points = ramp_points(report)
    rates = [rate for rate, _ in points]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for key, label in SERIES:
        values = [figures[key] for _, figures in points]
        axes.plot(rates, values, marker="o", label=label)
    axes.axhline(TARGET_MS, color="green", linestyle="--", linewidth=1, label="target p99 (50/s)")
    axes.axhline(LIMIT_MS, color="red", linestyle=":", linewidth=1, label="ramp limit p99")
    axes.set_yscale("log")
    axes.set_xlabel("/ping commands per second (4 instances)")
    axes.set_ylabel("dispatch -> first callback (ms)")
    machine = report.get("machine") or {}
    axes.set_title(
        f"ack latency over the ramp ({machine.get('cores', '?')} cores, "
        f"Python {machine.get('python', '?')})"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__)
    parser.add_argument("report", type=Path, help="the JSON of `python -m bench --json`")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        draw(report, args.out)
    except (OSError, json.JSONDecodeError, NoRamp) as exc:
        print(f"bench.plot: {exc}", file=sys.stderr)
        return 2
    except ImportError:
        print("bench.plot: needs matplotlib (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    print(f"bench.plot: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
