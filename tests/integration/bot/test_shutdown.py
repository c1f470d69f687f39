"""Stopping and starting a real bot on the Discord double: a graceful stop lets in-flight
work finish and takes nothing new; /상태 acknowledges before it reads the fleet; the
Message Content intent is asked for only when configured."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
import yarl
from discord.gateway import DiscordWebSocket

from bot.bot_class import MultiInstanceBot
from bot.health_file import judge
from env_manager import Settings
from sandbox.discord import FakeDiscord
from tests.integration.bot.slow_cog import SLOW_ANSWER

TOKEN = "sandbox-instance-all"
INTENT_MESSAGE_CONTENT = 1 << 15


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(channels=["채팅방-1", "general"], threads={})
    await fake.start()
    saved = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = fake.rest_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        await fake.stop()
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert fake.spec_violations == [], fake.spec_violations
    assert fake.internal_errors == [], fake.internal_errors


async def until(predicate, timeout: float = 3.0) -> bool:
    """Poll a bot-side condition (the double's wait_until only wakes on its own changes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@contextlib.asynccontextmanager
async def running(tmp_path, **settings: object) -> AsyncIterator[MultiInstanceBot]:
    values = {"discord_token": TOKEN, "identify_spacing": 0.05} | settings
    values.setdefault("health_file", str(tmp_path / "health.json"))
    bot = MultiInstanceBot(
        Settings.build(**values), extensions=("commands.utility", "tests.integration.bot.slow_cog")
    )
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready, "on_ready")
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(ready.wait(), 15)
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


async def test_sigterm_lets_the_running_command_answer_and_takes_nothing_new(fake, tmp_path):
    async with running(tmp_path, shutdown_grace=5) as bot:
        slow = await fake.send_command("general", "느린")
        assert await until(lambda: bot.counters.in_flight == 1)

        bot.request_stop()  # what SIGTERM does (bot/cli.py)
        await asyncio.sleep(0.05)
        verdict = judge(bot.settings.health_path(), bot.settings.health.health_interval)
        assert verdict.reason == ("instance all is draining: finishing its work before it stops")
        late = await fake.send_command("general", "핑")

        answered = await slow.wait_for_response(timeout=5)
        assert answered.content == SLOW_ANSWER
        with pytest.raises(asyncio.TimeoutError):
            await late.wait_for_response(timeout=1.5)
        assert late.result().answered_by is None, "left for the peers, not answered here"
        assert await until(bot.is_closed, timeout=5), "closed once the work was done"
        assert bot.counters.snapshot().handled == 1


async def test_a_stop_waits_no_longer_than_the_grace_period(fake, tmp_path):
    async with running(tmp_path, shutdown_grace=0.5) as bot:
        await fake.send_command("general", "아주느린")
        assert await until(lambda: bot.counters.in_flight == 1)
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
