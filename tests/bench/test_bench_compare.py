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
