"""`python -m bench [scenario ...] [--quick] [--json]`: run benchmark scenarios on the sandbox.

Without a scenario every one runs. They run in the order of SCENARIOS whatever the order
asked: idle, ack, stream and chaos take turns on one shared fleet (bench/_shared.py), idle
first and chaos last. The full run goes one scenario at a time, so no figure shares the
cores with another scenario's load. `--quick` runs two lanes at once to finish in under a
minute: the shared fleet's scenarios in one, compare and jobs (each on worlds of their
own) in the other; its figures are for a quick look, not for the targets. `--json` prints
one object,
`{"machine": {...}, "<scenario>": {...}, ...}`; otherwise a table, with a progress line on
stderr while it runs. A scenario that fails reports `error` (and what it saw) and the exit
code is 1. Logs of the bot processes are kept (the path is printed) when anything failed,
when any bot logged a warning, or when `--workdir` chose where they go.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from . import ack, chaos, compare, idle, jobs, stream
from ._measure import NotLinux, machine, require_proc
from ._shared import Shared
from ._world import BenchFailed, Options, Progress, kill_leftovers

Scenario = Callable[[Shared, Options, Progress], Awaitable[dict[str, Any]]]
# In the order they run.
SCENARIOS: dict[str, Scenario] = {
    "idle": idle.run,
    "ack": ack.run,
    "stream": stream.run,
    "compare": compare.run,
    "jobs": jobs.run,
    "chaos": chaos.run,
}
# --quick: what does not use the shared fleet runs beside it.
SIDE_LANE = ("compare", "jobs")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmarks on the sandbox (Linux: reads /proc)."
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="scenario", help=f"any of {', '.join(SCENARIOS)} (all)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer jobs, shorter windows, no ack ramp"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--jobs", type=int, help="jobs: how many (1000; --quick 200)")
    parser.add_argument("--rate", type=float, default=50.0, help="jobs: commands a second (50)")
    parser.add_argument(
        "--window", type=float, help="jobs: measuring window, s (3 polls; --quick 2)"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        help="jobs: VIDEO_POLL_INTERVAL, s (10, the production default; --quick 2)",
    )
    parser.add_argument("--idle", type=float, help="idle: seconds after READY (5)")
    parser.add_argument(
        "--ack-rate", type=float, help="ack: /핑 a second, steady phase (50; --quick 20)"
    )
    parser.add_argument(
        "--ack-seconds", type=float, help="ack: steady phase length, s (60; --quick 10)"
    )
    parser.add_argument(
        "--ack-ramp-to",
        type=float,
        help="ack: ramp 50/s up by 50/s to this rate, 10 s a step (400; --quick 0: none)",
    )
    parser.add_argument("--streams", type=int, help="stream: concurrent /채팅 (40; --quick 5)")
    parser.add_argument(
        "--stream-tokens", type=int, help="stream: tokens per answer (600; --quick 100)"
    )
    parser.add_argument(
        "--stream-token-rate", type=float, help="stream: tokens a second per stream (20)"
    )
    parser.add_argument("--chaos-kills", type=int, help="chaos: SIGKILLs (20; --quick 2)")
    parser.add_argument("--chaos-freezes", type=int, help="chaos: Redis freezes (6; --quick 2)")
    parser.add_argument("--chaos-videos", type=int, help="chaos: /비디오 jobs (8; --quick 3)")
    parser.add_argument("--chaos-rate", type=float, help="chaos: /핑 a second (10)")
    parser.add_argument("--workdir", type=Path, help="where bot logs go (kept); default: temp")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    for name in ("ack_rate", "ack_seconds"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    for name in ("streams", "stream_tokens", "stream_token_rate", "chaos_videos", "chaos_rate"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    for name in ("chaos_kills", "chaos_freezes"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    if args.ack_ramp_to is not None and args.ack_ramp_to < 0:
        parser.error("--ack-ramp-to must be 0 (no ramp) or more")
    return args


class StatusLine:
    """One line on stderr, rewritten in place on a terminal (a line per update elsewhere);
    with two lanes, the latest update of either."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = ""

    def progress(self, scenario: str) -> Progress:
        began = time.monotonic()

        def report(message: str) -> None:
            self.show(f"[{scenario} {time.monotonic() - began:4.0f}s] {message}", message)

        return report

    def show(self, line: str, message: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write(f"\r\033[K{line}")
        elif message != self._last:
            sys.stderr.write(f"{line}\n")
        self._last = message
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


async def run_all(names: list[str], options: Options, workdir: Path, status: StatusLine) -> dict:
    # Ctrl-C and SIGTERM cancel the run, whose clean-up stops every process it started.
    # SIGINT too, explicitly: started from a script in the background it arrives ignored,
    # and Python's own KeyboardInterrupt would then never come.
    for stop in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(
            stop,
            asyncio.current_task().cancel,  # type: ignore[union-attr]
        )
    shared = Shared(workdir, options)
    found: dict[str, Any] = {}

    async def lane(lane_names: list[str]) -> None:
        for name in lane_names:
            found[name] = await _run_one(name, shared, options, status)

    ordered = [name for name in SCENARIOS if name in names]
    try:
        if options.quick:
            side = [n for n in ordered if n in SIDE_LANE]
            await asyncio.gather(lane([n for n in ordered if n not in side]), lane(side))
        else:
            await lane(ordered)
    finally:
        await shared.close()
        status.done()
    return {"machine": machine(), **{name: found[name] for name in ordered}}


async def _run_one(name: str, shared: Shared, options: Options, status: StatusLine) -> dict:
    waits = len(shared.quiet_waits)
    try:
        result = await SCENARIOS[name](shared, options, status.progress(name))
    except BenchFailed as exc:
        result = {"error": str(exc), **exc.partial}
    except Exception as exc:  # a fleet that never got READY, a missing redis-server...
        result = {"error": f"{type(exc).__name__}: {exc}"}
    if len(shared.quiet_waits) > waits:  # it waited for the shared fleet to calm down
        result["waited_for_quiet_s"] = shared.quiet_waits[-1]
    return result


def render(report: dict[str, Any]) -> str:
    lines = []
    for section, values in report.items():
        lines.append(section)
        width = max((len(k) for k in values), default=0)
        for key, value in values.items():
            if key == "problems":
                value = _problem_counts(value)
            elif isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False)
            lines.append(f"  {key:<{width}}  {value}")
    return "\n".join(lines)


def _problem_counts(problems: dict[str, Any]) -> str:
    """`bot_3_log: job_store_unreachable_retrying ×660; ...` (the JSON has a sample of each)."""
    if not problems:
        return "none"
    parts = []
    for where, found in problems.items():
        if isinstance(found, dict):
            counts = (f"{k} ×{v['count'] if isinstance(v, dict) else v}" for k, v in found.items())
            parts.append(f"{where}: {', '.join(counts)}")
        else:
            parts.append(f"{where}: {len(found)}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        require_proc()
    except NotLinux as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    options = Options(
        quick=args.quick,
        jobs=args.jobs,
        rate=args.rate,
        window=args.window,
        poll_interval=args.poll_interval,
        idle=args.idle,
        ack_rate=args.ack_rate,
        ack_seconds=args.ack_seconds,
        ack_ramp_to=args.ack_ramp_to,
        streams=args.streams,
        stream_tokens=args.stream_tokens,
        stream_token_rate=args.stream_token_rate,
        chaos_kills=args.chaos_kills,
        chaos_freezes=args.chaos_freezes,
        chaos_videos=args.chaos_videos,
        chaos_rate=args.chaos_rate,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-"))
    status = StatusLine(enabled=not args.json)
    names = args.scenarios or list(SCENARIOS)
    try:
        report = asyncio.run(run_all(names, options, workdir, status))
    except (KeyboardInterrupt, asyncio.CancelledError):
        status.done()
        print(f"bench: interrupted; logs in {workdir}", file=sys.stderr)
        return 130
    finally:
        kill_leftovers()
    failed = any("error" in report[name] for name in names)
    troubled = any(report[name].get("problems") for name in names)
    print(json.dumps(report, ensure_ascii=False) if args.json else render(report))
    if failed or troubled or args.workdir:
        print(f"bench: bot logs in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
