"""The gateway as a real discord.py client sees it, plus raw websocket checks."""

from __future__ import annotations

import json

import aiohttp
import discord
from discord.ext import commands

from sandbox.discord import FakeDiscord

from .conftest import CHANNELS, BotFactory


async def test_bot_connects_and_sees_the_guild(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot("sandbox-instance-1", sync=False)

    assert bot.user is not None and bot.user.id == fake.bot_user_id and bot.user.bot
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and not guild.unavailable
    assert [c.name for c in guild.text_channels] == CHANNELS
    (thread,) = guild.threads
    assert thread.name == "스레드-1"
    assert thread.parent is not None and thread.parent.name == "채팅방-1"
    assert guild.me is not None  # the bot's own member comes with GUILD_CREATE

    (session,) = fake.sessions
    assert (session.token, session.instance, session.ready) == ("sandbox-instance-1", "1", True)
    (identify,) = fake.identify_log
    assert identify.session_id == session.session_id and identify.instance == "1"
    assert identify.intents == bot.intents.value


async def test_tree_sync_is_recorded(fake: FakeDiscord, start_bot: BotFactory) -> None:
    guild = discord.Object(id=fake.guild_id)

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("퐁")

        @bot.tree.command(name="상태", description="상태", guild=guild)
        async def status(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ok")

    bot = await start_bot(setup=setup)  # syncs the global commands
    synced = await bot.tree.sync(guild=guild)

    assert [c.name for c in synced] == ["상태"]
    assert [c["name"] for c in fake.registered_commands["global"]] == ["핑"]
    assert [c["name"] for c in fake.registered_commands[str(fake.guild_id)]] == ["상태"]
    assert sum(fake.command_creates.values()) == 2
    # A second identical sync keeps the ids and creates nothing new.
    ids = [c["id"] for c in fake.registered_commands["global"]]
    await bot.tree.sync()
    assert [c["id"] for c in fake.registered_commands["global"]] == ids
    assert sum(fake.command_creates.values()) == 2
    assert not fake.spec_violations


async def test_two_sessions_share_one_bot_identity(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    first = await start_bot("sandbox-instance-1", sync=False)
    second = await start_bot("sandbox-instance-4", sync=False)

    ready = await fake.wait_for_sessions(2, timeout=2)
    assert sorted(str(s.instance) for s in ready) == ["1", "4"]
    assert first.user is not None and second.user is not None
    assert first.user.id == second.user.id
    times = [r.at for r in fake.identify_log]
    assert times == sorted(times) and len({r.session_id for r in fake.identify_log}) == 2


async def test_raw_gateway_protocol(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        assert hello["d"]["heartbeat_interval"] == fake.rules.heartbeat_interval_ms

        await ws.send_json({"op": 1, "d": None})
        assert (await ws.receive_json())["op"] == 11

        await ws.send_json({"op": 6, "d": {"token": "x", "session_id": "old", "seq": 3}})
        assert await ws.receive_json() == {"op": 9, "d": False, "s": None, "t": None}

        identify = {"token": "sandbox-instance-all", "intents": 513, "shard": [0, 1]}
        await ws.send_json({"op": 2, "d": identify})
        ready = await ws.receive_json()
        assert (ready["t"], ready["s"]) == ("READY", 1)
        assert ready["d"]["resume_gateway_url"] == fake.gateway_url
        assert ready["d"]["shard"] == [0, 1]
        assert ready["d"]["user"]["id"] == str(fake.bot_user_id)
        guild = await ws.receive_json()
        assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
        threads = guild["d"]["threads"]
        assert threads[0]["type"] == 11 and threads[0]["parent_id"] == str(
            fake.channel_id("채팅방-1")
        )

        # Presence updates are tolerated; member requests get an (almost empty) chunk.
        await ws.send_json({"op": 3, "d": {"status": "online", "afk": False, "since": 0}})
        await ws.send_json({"op": 8, "d": {"guild_id": str(fake.guild_id), "nonce": "n1"}})
        chunk = await ws.receive_json()
        assert chunk["t"] == "GUILD_MEMBERS_CHUNK" and chunk["d"]["nonce"] == "n1"
        assert chunk["s"] == 3

        await fake.wait_for_sessions(1, timeout=1)
        assert fake.identify_log[-1].instance == "all"
        assert fake.identify_log[-1].shard == (0, 1)

        await ws.send_str("not json")
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4002
    assert await fake.wait_until(lambda: fake.sessions == [], timeout=2)


async def test_gateway_bot_endpoint(fake: FakeDiscord) -> None:
    headers = {"Authorization": "Bot sandbox-instance-2"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(fake.rest_url + "/gateway/bot", headers=headers) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        body = json.loads(await resp.text())
    assert body["url"] == fake.gateway_url and body["shards"] == 1
    assert body["session_start_limit"]["max_concurrency"] == fake.rules.max_concurrency


async def test_dropped_session_reconnects_and_identifies_again(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    def setup(bot: commands.Bot) -> None:
        async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
            pass  # discord.py's default waits 5 s before a re-IDENTIFY

        bot.before_identify_hook = identify_now  # type: ignore[method-assign]

    await start_bot("sandbox-instance-3", setup, sync=False, reconnect=True)
    assert await fake.close_sessions(instance="3", code=4000) == 1

    # discord.py tries RESUME; the fake answers INVALID_SESSION, so it IDENTIFYs afresh.
    assert await fake.wait_until(lambda: len(fake.identify_log) == 2, timeout=5)
    await fake.wait_for_sessions(1, timeout=2)
    first, second = fake.identify_log
    assert first.session_id != second.session_id and second.instance == "3"
    assert [s.close_code for s in fake.all_sessions if not s.open][:1] == [4000]
