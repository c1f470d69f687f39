"""The `stream` benchmark works end to end on a tiny load: every /채팅 stream is answered
in full, exactly once, on the fleet and on a single-mode process, and the report is whole.
Correctness only: no timing or CPU figure is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import stream

pytestmark = pytest.mark.e2e

# 2 streams of 10 tokens at the default 20 a second: half a second of streaming each.
STREAMS, TOKENS = 2, 10
KEYS = {
    "streams",
    "completed",
    "lost",
    "duplicates",
    "tokens",
    "token_rate_per_s",
    "first_edit_ms_p50",
    "first_edit_ms_p50_bot_log",
    "edits_per_message_per_s_max",
    "cpu_ms_per_1k_tokens",
    "problems",
}


def check(result: dict, streams: int = STREAMS) -> None:
    assert set(result) >= KEYS, KEYS - set(result)
    assert result["streams"] == streams
    assert result["completed"] == streams, result
    assert result["lost"] == 0, result
    assert result["duplicates"] == 0, result
    assert result["tokens"] == streams * TOKENS, result
    assert result["problems"] == {}, result["problems"]
    for key in KEYS - {"problems"}:
        assert result[key] is not None, key


async def test_fleet_answers_every_stream_once(tmp_path: Path) -> None:
    result = await stream.scenario(tmp_path, streams=STREAMS, tokens=TOKENS)
    check(result)
    assert result["answered_by"] == "1", "/채팅 in #채팅방-1 is instance 1's"
    assert (tmp_path / "instance-1.log").exists()


async def test_measure_runs_again_on_a_single_process(tmp_path: Path) -> None:
    async with stream.open_stream_world(tmp_path, instances=("all",)) as world:
        first = await stream.measure(world, STREAMS, tokens=TOKENS)
        again = await stream.measure(world, STREAMS + 1, tokens=TOKENS)
    check(first)
    check(again, STREAMS + 1)
    assert again["answered_by"] == "all"
