"""Single-process mode: one process, no Redis, serves every channel and command."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import CHANNELS

pytestmark = pytest.mark.e2e


async def test_single_process_with_a_dev_guild_answers_everything(sandbox_factory):
    # DEV_GUILD_ID is only known once the double runs: patch it into the env before start.
    async with sandbox_factory(
        instances=("all",), extra_env={"REDIS_URL": "redis://127.0.0.1:1/0"}, dev_guild=True
    ) as sb:
        registered = sb.fake.registered_commands
        assert not registered.get("global")
        assert {c["name"] for c in registered[str(sb.fake.guild_id)]} == {
            "채팅",
            "핑",
            "상태",
            "인스턴스",
            "이미지",
            "비디오",
        }
        for channel in CHANNELS:
            result = await sb.ask(channel, "핑")
            assert result.answered_by == "all"
        thread = await sb.ask("채팅방-1", "상태", thread="스레드-1")
        assert thread.embeds[0]["title"] == "📊 봇 상태 — 1/1 온라인"
        log = sb.fleet.instances["all"].log_path.read_text()
        assert "redis" not in log.lower(), "single-process mode never touches Redis"
        sb.assert_clean()
