"""The `chaos` scenario works end to end on a tiny plan (one kill, one Redis freeze, a few
seconds of /핑 and one /비디오): the report is whole, and nothing was lost or doubled.
Correctness only: no timing figure is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import chaos
from bench._shared import Shared
from bench._world import Options

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

TINY = chaos.Plan(
    kills=1,
    freezes=1,
    redis_restarts=0,
    videos=1,
    video_s=4.0,
    poll_s=0.5,
    down_s=(1.5, 1.5),
    gap_s=(1.0, 1.0),
    lead_s=1.0,
    tail_s=2.0,
)
KEYS = {
    "commands_sent",
    "answered",
    "lost",
    "duplicates",
    "takeover_ms_p99",
    "jobs_lost",
    "jobs_duplicated",
    "kills",
    "redis_freezes",
    "redis_restarts",
    "problems",
}


async def test_chaos_tiny_loses_and_doubles_nothing(tmp_path: Path) -> None:
    shared = Shared(tmp_path, Options(quick=True), chaos_plan=TINY)
    try:
        report = await chaos.run(shared, Options(quick=True), lambda _: None)
    finally:
        await shared.close()
    assert set(report) >= KEYS, KEYS - set(report)
    assert (report["kills"], report["redis_freezes"], report["redis_restarts"]) == (1, 1, 0)
    assert report["commands_sent"] == report["pings_sent"] + 1 > 20
    assert report["answered"] == report["commands_sent"]
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["jobs_lost"] == 0
    assert report["jobs_duplicated"] == 0
    # Delivered, or (killed while asking MiniMax) told it failed: never both, never silent.
    assert report["jobs_delivered"] + report["jobs_failed"] == 1
    assert report["takeover_ms_p99"] is not None, "a command in the dead owner's channel"
