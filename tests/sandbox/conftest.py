"""Fixtures: a started FakeDiscord, and real discord.py bots connected to it in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import discord
import pytest
import yarl
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from sandbox.discord import FakeDiscord, Rules

CHANNELS = ["채팅방-1", "이미지생성-1", "비디오생성-1", "general"]
THREADS = {"채팅방-1": ["스레드-1"]}

BotSetup = Callable[[commands.Bot], None]
BotFactory = Callable[..., Awaitable[commands.Bot]]


@pytest.fixture
def rules() -> Rules:
    return Rules()


@pytest.fixture
async def fake(rules: Rules) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=CHANNELS, threads=THREADS, rules=rules) as server:
        yield server
    assert not server.internal_errors, server.internal_errors[0]


def default_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


@pytest.fixture
async def start_bot(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotFactory]:
    """Start real discord.py bots against the fake; they are closed before the fake stops."""
    # Route builds URLs at creation and connect() uses DEFAULT_GATEWAY: patch both first.
    monkeypatch.setattr(discord.http.Route, "BASE", fake.rest_url)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    running: list[tuple[commands.Bot, asyncio.Task[None]]] = []

    async def start(
        token: str = "sandbox-instance-1",
        setup: BotSetup | None = None,
        *,
        intents: discord.Intents | None = None,
        sync: bool = True,
        reconnect: bool = False,
    ) -> commands.Bot:
        bot = commands.Bot(
            command_prefix="!",
            intents=intents or default_intents(),
            guild_ready_timeout=0.05,  # on_ready waits this long after GUILD_CREATE
        )
        ready = asyncio.Event()

        async def on_ready() -> None:
            ready.set()

        bot.add_listener(on_ready, "on_ready")
        if setup is not None:
            setup(bot)
        await bot.login(token)
        task = asyncio.create_task(bot.connect(reconnect=reconnect))
        running.append((bot, task))
        await asyncio.wait_for(ready.wait(), 5)
        if sync:
            await bot.tree.sync()
        return bot

    yield start
    for bot, task in running:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
