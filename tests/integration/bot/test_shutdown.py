"""Stopping and starting a real bot on the Discord double: a graceful stop lets in-flight
work finish and takes nothing new; /상태 acknowledges before it reads the fleet; the
Message Content intent is asked for only when configured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.health_file import judge
from sandbox.discord import FakeDiscord
from tests.integration.bot.inprocess import discord_double, running_bot
from tests.integration.bot.slow_cog import SLOW_ANSWER
from tests.waiting import until

INTENT_MESSAGE_CONTENT = 1 << 15
EXTENSIONS = ("commands.utility", "tests.integration.bot.slow_cog")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with discord_double() as fake:
        yield fake


def running(tmp_path, **settings: object):
    settings.setdefault("health_file", str(tmp_path / "health.json"))
    return running_bot(EXTENSIONS, **settings)


async def test_sigterm_lets_the_running_command_answer_and_takes_nothing_new(fake, tmp_path):
    async with running(tmp_path, shutdown_grace=5) as bot:
        slow = await fake.send_command("general", "느린")
        await until(lambda: bot.counters.in_flight == 1, what="the slow command never ran")

        bot.request_stop()  # what SIGTERM does (bot/cli.py)
        # The drain writes it as it starts; the periodic write (every 5 s) comes only after
        # the slow command (1 s) is over and the bot has closed.
        await until(
            lambda: (
                judge(bot.settings.health_path(), bot.settings.health.health_interval).reason
                == "instance all is draining: finishing its work before it stops"
            ),
            what="the health file never said draining",
        )
        late = await fake.send_command("general", "핑")

        answered = await slow.wait_for_response(timeout=5)
        assert answered.content == SLOW_ANSWER
        with pytest.raises(asyncio.TimeoutError):
            await late.wait_for_response(timeout=1.5)
        assert late.result().answered_by is None, "left for the peers, not answered here"
        await until(bot.is_closed, what="not closed once the work was done")
        assert bot.counters.snapshot().handled == 1


async def test_a_stop_waits_no_longer_than_the_grace_period(fake, tmp_path):
    async with running(tmp_path, shutdown_grace=0.5) as bot:
        await fake.send_command("general", "아주느린")
        await until(lambda: bot.counters.in_flight == 1, what="the slow command never ran")
        started = time.monotonic()
        await bot.drain_and_close()
        assert 0.5 <= time.monotonic() - started < 1.5
        assert bot.is_closed()


async def test_status_acknowledges_before_it_reads_the_fleet(fake, tmp_path):
    async with running(tmp_path):
        result = await (await fake.send_command("general", "상태")).wait_for_response()
        assert result.deferred, "a deferral first: a slow Redis cannot miss the 3 s window"
        assert result.embeds[0]["title"] == "📊 봇 상태 — 1/1 온라인"
        assert result.components[0]["components"][0]["custom_id"] == "mib:status:refresh"
        assert len(result.messages) == 1, "the placeholder became the status"


@pytest.mark.parametrize("asked", [False, True])
async def test_the_message_content_intent_is_asked_for_only_when_configured(fake, tmp_path, asked):
    async with running(tmp_path, message_content_intent=asked):
        intents = fake.identify_log[-1].intents
        assert bool(intents & INTENT_MESSAGE_CONTENT) is asked
