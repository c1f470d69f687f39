"""`python -m bench compare` runs the same tiny ack and stream load on one single-mode
process and on the four-instance fleet, and reports both and their ratios. Correctness
only: every command and stream answered once on both sides; no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_bench_smoke import running_bench

pytestmark = pytest.mark.e2e

TINY = ["--ack-rate", "5", "--ack-seconds", "1", "--streams", "1", "--stream-tokens", "10"]


def test_compare_runs_the_same_load_on_one_process_and_on_the_fleet(tmp_path: Path) -> None:
    with running_bench("compare", "--quick", "--json", *TINY, "--workdir", str(tmp_path)) as p:
        stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, f"{stdout}\n{stderr}"
    compare = json.loads(stdout)["compare"]
    assert compare["load"] == {"rate": 5, "seconds": 1, "streams": 1, "tokens": 10}
    assert (compare["single"]["instances"], compare["fleet"]["instances"]) == ("all", "1,2,3,4")
    for side in ("single", "fleet"):
        ack, stream = compare[side]["ack"], compare[side]["stream"]
        assert (ack["commands_sent"], ack["answered"], ack["lost"], ack["duplicates"]) == (
            5,
            5,
            0,
            0,
        ), side
        assert (stream["completed"], stream["lost"], stream["duplicates"]) == (1, 0, 0), side
    assert set(compare["ratios_fleet_over_single"]) == {
        "ack.ack_p50_ms",
        "ack.ack_p99_ms",
        "stream.first_edit_ms_p50",
        "stream.cpu_ms_per_1k_tokens",
    }


def test_the_full_run_takes_the_fleet_side_from_ack_and_stream(tmp_path: Path) -> None:
    """Without --quick the load is ack's and stream's: their figures are the fleet side,
    measured once on the shared fleet, and only the single process gets the load again."""
    args = ["ack", "stream", "compare", "--json", "--ack-ramp-to", "0", *TINY]
    with running_bench(*args, "--workdir", str(tmp_path)) as p:
        stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, f"{stdout}\n{stderr}"
    report = json.loads(stdout)
    assert list(report) == ["machine", "ack", "stream", "compare"]
    fleet = report["compare"]["fleet"]
    assert fleet["measured_by"] == "the ack and stream scenarios of this run"
    assert fleet["ack"]["commands_sent"] == report["ack"]["commands_sent"] == 5
    assert fleet["ack"]["ack_p99_ms"] == report["ack"]["ack_p99_ms"]
    assert fleet["stream"]["first_edit_ms_p50"] == report["stream"]["first_edit_ms_p50"]
    single = report["compare"]["single"]["ack"]
    assert (single["commands_sent"], single["lost"], single["duplicates"]) == (5, 0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare", "fleet"]
    assert sorted(p.name for p in (tmp_path / "compare").iterdir()) == ["single"]
