"""One shared bot token, as in production: the double tells instances apart by the
`/i/<label>` URL each session and request came through, and falls back to the token only
for plain URLs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from sandbox.discord import FakeDiscord
from sandbox.discord.labels import instance_of, labelled_url
from sandbox.fleet import SANDBOX_TOKEN

from .conftest import BotFactory

PING = [{"name": "핑", "description": "응답 확인", "type": 1}]


def auth(token: str = SANDBOX_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bot {token}"}


def test_labelled_url_puts_the_label_before_the_path() -> None:
    assert labelled_url("http://127.0.0.1:5/api/v10", "3") == "http://127.0.0.1:5/i/3/api/v10"
    assert labelled_url("http://127.0.0.1:5/api/v10/", "all") == "http://127.0.0.1:5/i/all/api/v10"
    assert labelled_url("ws://127.0.0.1:5/gateway", "4") == "ws://127.0.0.1:5/i/4/gateway"
    with pytest.raises(ValueError):
        labelled_url("http://127.0.0.1:5/api/v10", "1/2")


def test_without_a_label_only_a_sandbox_instance_token_names_an_instance() -> None:
    assert instance_of("sandbox-instance-2") == "2"
    assert instance_of("sandbox-instance-all") == "all"
    assert instance_of(SANDBOX_TOKEN) is None
    assert instance_of("real-looking-token") is None
    assert instance_of(None) is None


async def receive_until(ws: aiohttp.ClientWebSocketResponse, event: str) -> dict[str, Any]:
    """The next dispatch named `event`, skipping any other frames."""
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        if frame.get("t") == event:
            return frame["d"]


@contextlib.asynccontextmanager
async def raw_session(
    http: aiohttp.ClientSession, url: str, token: str = SANDBOX_TOKEN
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]]:
    """A gateway session identified with `token` on `url`, as discord.py connects: (ws, READY)."""
    query_url = str(yarl.URL(url).with_query(v=10, encoding="json"))
    async with http.ws_connect(query_url) as ws:
        assert (await ws.receive_json())["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": token, "intents": 1 | 512 | 32768}})
        ready = await receive_until(ws, "READY")
        await receive_until(ws, "GUILD_CREATE")
        yield ws, ready


async def test_two_sessions_with_one_token_are_told_apart_by_their_urls(
    fake: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as http:
        commands_url = f"{fake.rest_url_for('1')}/applications/{fake.application_id}/commands"
        async with http.put(commands_url, json=PING, headers=auth()) as resp:
            assert resp.status == 200
        async with (
            raw_session(http, fake.gateway_url_for("1")) as (ws1, ready1),
            raw_session(http, fake.gateway_url_for("4")) as (ws4, ready4),
        ):
            await fake.wait_for_sessions(2, timeout=2)
            assert ready1["resume_gateway_url"] == fake.gateway_url_for("1")
            assert ready4["resume_gateway_url"] == fake.gateway_url_for("4")
            sessions = {s.instance: s for s in fake.sessions}
            assert sorted(sessions) == ["1", "4"]
            assert {s.token for s in sessions.values()} == {SANDBOX_TOKEN}
            assert [(r.token, r.instance) for r in fake.identify_log] == [
                (SANDBOX_TOKEN, "1"),
                (SANDBOX_TOKEN, "4"),
            ]

            handle = await fake.send_command("general", "핑")
            created1 = await receive_until(ws1, "INTERACTION_CREATE")
            created4 = await receive_until(ws4, "INTERACTION_CREATE")
            assert created1["token"] != created4["token"]

            # 4 answers first, through the plain URL; 1 second, through its own. Callbacks
            # carry no Authorization: each is the session's whose copy of the token it used.
            answer = {"type": 4, "data": {"content": "퐁 from 4"}}
            path = f"/interactions/{created4['id']}/{created4['token']}/callback"
            async with http.post(fake.rest_url + path, json=answer) as resp:
                assert resp.status == 204
            late = {"type": 4, "data": {"content": "퐁 from 1"}}
            path = f"/interactions/{created1['id']}/{created1['token']}/callback"
            async with http.post(fake.rest_url_for("1") + path, json=late) as resp:
                assert resp.status == 400
            result = await handle.wait_for_response(timeout=2, settle=0.1)

            assert sorted(map(str, handle.delivered_to)) == ["1", "4"]
            assert result.answered_by == "4" and result.content == "퐁 from 4"
            assert [(a.instance, a.token, a.status) for a in result.callback_attempts] == [
                ("4", SANDBOX_TOKEN, 204),
                ("1", SANDBOX_TOKEN, 400),
            ]
            callbacks = [r for r in fake.requests if r.path.endswith("/callback")]
            assert [(r.instance, r.label, r.via_interaction_token) for r in callbacks] == [
                ("4", None, True),
                ("1", "1", True),
            ]

            # A chat message answered by 4 over REST: attributed by the URL's label.
            asked = await fake.send_message("general", "안녕")
            url = f"{fake.rest_url_for('4')}/channels/{fake.channel_id('general')}/messages"
            async with http.post(url, json={"content": "답"}, headers=auth()) as resp:
                assert resp.status == 200
            reply = await asked.wait_for_response(timeout=2, settle=0.1)
            assert reply.answered_by == "4" and reply.instances == ["4"]


async def test_rest_below_a_label_is_attributed_and_recorded_without_the_prefix(
    fake: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(fake.rest_url_for("2") + "/gateway/bot", headers=auth()) as resp:
            assert resp.status == 200
            body = json.loads(await resp.text())
        async with http.get(fake.rest_url_for("2") + "/no/such/route", headers=auth()) as resp:
            assert resp.status == 404
        async with http.get(fake.rest_url + "/users/@me", headers=auth()) as resp:
            assert resp.status == 200
        async with http.get(
            fake.rest_url + "/users/@me", headers=auth("sandbox-instance-3")
        ) as resp:
            assert resp.status == 200

    assert body["url"] == fake.gateway_url_for("2"), "a labelled client is sent to its gateway"
    labelled, unknown, plain, legacy = fake.requests
    assert (labelled.path, labelled.route, labelled.label, labelled.instance) == (
        "/gateway/bot",
        "/gateway/bot",
        "2",
        "2",
    )
    assert labelled.token == SANDBOX_TOKEN and not labelled.via_interaction_token
    assert (unknown.path, unknown.route, unknown.instance, unknown.status) == (
        "/no/such/route",
        None,
        "2",
        404,
    )
    # No label: the shared token names nobody; a sandbox-instance-N token still does.
    assert (plain.label, plain.instance, plain.token) == (None, None, SANDBOX_TOKEN)
    assert (legacy.label, legacy.instance) == (None, "3")


async def test_a_plain_url_session_with_the_shared_token_has_no_instance(
    fake: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as http, raw_session(http, fake.gateway_url) as (_, ready):
        await fake.wait_for_sessions(1, timeout=2)
        assert ready["resume_gateway_url"] == fake.gateway_url
        (session,) = fake.sessions
        assert (session.token, session.label, session.instance) == (SANDBOX_TOKEN, None, None)
        assert fake.identify_log[-1].instance is None


async def test_a_discord_py_bot_on_labelled_urls_keeps_its_label_across_a_reconnect(
    fake: FakeDiscord, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `python -m bot run` does with DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL.
    monkeypatch.setattr(discord.http.Route, "BASE", fake.rest_url_for("3"))
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url_for("3")))

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("퐁")

        async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
            pass  # discord.py's default waits 5 s before a re-IDENTIFY

        bot.before_identify_hook = identify_now  # type: ignore[method-assign]

    await start_bot(SANDBOX_TOKEN, setup, reconnect=True)
    result = await (await fake.send_command("general", "핑")).wait_for_response(timeout=5)
    assert result.answered_by == "3" and result.content == "퐁"

    # discord.py resumes at READY's resume_gateway_url, is refused, and IDENTIFYs again at
    # DEFAULT_GATEWAY: every connection must still carry the label.
    assert await fake.close_sessions(instance="3", code=4000) == 1
    assert await fake.wait_until(lambda: len(fake.identify_log) == 2, timeout=5)
    await fake.wait_for_sessions(1, timeout=2)
    assert len(fake.all_sessions) >= 3, "the first, the refused resume, the new one"
    assert {(s.label, s.instance) for s in fake.all_sessions} == {("3", "3")}
    assert {(r.token, r.instance) for r in fake.identify_log} == {(SANDBOX_TOKEN, "3")}
    assert {(r.label, r.instance) for r in fake.requests} == {("3", "3")}
