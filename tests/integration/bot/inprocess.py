"""A real `MultiInstanceBot` running in the test's own process on the Discord double."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.bot_class import MultiInstanceBot
from env_manager import Settings
from sandbox.discord import FakeDiscord

TOKEN = "sandbox-instance-all"
CHANNELS = ["채팅방-1", "general"]


@contextlib.asynccontextmanager
async def discord_double() -> AsyncIterator[FakeDiscord]:
    """A started double with discord.py pointed at it; checks the double's verdicts after."""
    fake = FakeDiscord(channels=CHANNELS, threads={})
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


@contextlib.asynccontextmanager
async def running_bot(
    extensions: Sequence[str], **settings: object
) -> AsyncIterator[MultiInstanceBot]:
    """A single-process bot with `extensions`, started and READY; closed afterwards."""
    # No health server unless asked: port 8080 may be taken, or held by a parallel test.
    values = {"discord_token": TOKEN, "identify_spacing": 0.05, "health_port": 0} | settings
    bot = MultiInstanceBot(Settings.build(**values), extensions=extensions)
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
