"""`python -m bench ack` works end to end on a tiny load: the four-instance fleet answers
every /핑 exactly once, none lost. Correctness only: no acknowledgement time is asserted
(the figures go in README_MULTI.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_bench_smoke import running_bench

pytestmark = pytest.mark.e2e

# 5 /핑 a second for 2 s: a few seconds after the fleet is READY.
TINY = ["--ack-rate", "5", "--ack-seconds", "2"]
ACK_KEYS = {
    "ack_p50_ms",
    "ack_p99_ms",
    "answered",
    "lost",
    "duplicates",
    "rate_per_s",
    "duration_s",
    "commands_sent",
    "answered_by_instance",
    "problems",
}


def test_ack_quick_json_answers_every_command_once(tmp_path: Path) -> None:
    with running_bench("ack", "--quick", "--json", *TINY, "--workdir", str(tmp_path)) as process:
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, f"{stdout}\n{stderr}"
    report = json.loads(stdout)
    assert set(report) == {"machine", "ack"}
    assert {"cores", "python", "platform"} <= set(report["machine"])
    ack = report["ack"]
    assert set(ack) >= ACK_KEYS, ACK_KEYS - set(ack)
    assert "error" not in ack, ack
    assert "max_rate_per_s" not in ack, "--quick runs no ramp"
    assert (ack["rate_per_s"], ack["duration_s"], ack["commands_sent"]) == (5, 2, 10)
    assert ack["lost"] == 0, ack
    assert ack["duplicates"] == 0, ack
    assert ack["answered"] == 10
    # Who answered is timing (a slow owner is covered by the next rank): only that the
    # counts add up is checked.
    assert set(ack["answered_by_instance"]) <= {"1", "2", "3", "4"}
    assert sum(ack["answered_by_instance"].values()) == ack["answered"]
    assert ack["ack_p50_ms"] is not None and ack["ack_p99_ms"] >= ack["ack_p50_ms"]
    assert ack["problems"] == {}, ack["problems"]
    assert (tmp_path / "fleet" / "instance-4.log").exists(), "--workdir keeps the bots' logs"
