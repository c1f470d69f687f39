"""`python -m bench.plot` draws the ack ramp of a report (a hand-written one here)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from bench import plot

REPORT = {
    "machine": {"cores": 2, "python": "3.11.7"},
    "ack": {
        "rate_per_s": 50.0,
        "ack_p50_ms": 3.5,
        "ack_p90_ms": 4.6,
        "ack_p99_ms": 7.7,
        "ack_max_ms": 216.0,
        "ramp": {
            "150": {"ack_p50_ms": 4.0, "ack_p90_ms": 6.0, "ack_p99_ms": 30.0, "ack_max_ms": 90.0},
            "100": {"ack_p50_ms": 3.8, "ack_p90_ms": 5.0, "ack_p99_ms": 9.0, "ack_max_ms": 40.0},
        },
    },
}


def test_the_steady_phase_and_the_steps_are_points_by_rate() -> None:
    assert plot.ramp_points(REPORT) == [
        (50.0, {"ack_p50_ms": 3.5, "ack_p90_ms": 4.6, "ack_p99_ms": 7.7, "ack_max_ms": 216.0}),
        (100.0, {"ack_p50_ms": 3.8, "ack_p90_ms": 5.0, "ack_p99_ms": 9.0, "ack_max_ms": 40.0}),
        (150.0, {"ack_p50_ms": 4.0, "ack_p90_ms": 6.0, "ack_p99_ms": 30.0, "ack_max_ms": 90.0}),
    ]


def test_a_report_becomes_a_png(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(REPORT))
    out = tmp_path / "docs" / "ramp.png"
    assert plot.main([str(report), str(out)]) == 0
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (800, 450))
        colours = image.convert("RGB").getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 20, "lines and text, not a blank canvas"


def test_a_quick_report_has_no_ramp_to_draw(tmp_path: Path, capsys) -> None:
    report = tmp_path / "quick.json"
    report.write_text(json.dumps({"ack": {"rate_per_s": 20.0, "ack_p99_ms": 5.5}}))
    assert plot.main([str(report), str(tmp_path / "x.png")]) == 2
    assert "no ack ramp" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
