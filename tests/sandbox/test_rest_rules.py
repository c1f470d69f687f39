"""Discord's REST rules as the fake enforces them, through discord.py and raw HTTP."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from sandbox.discord import FakeDiscord, Rules

from .conftest import BotFactory

AUTH = {"Authorization": "Bot sandbox-instance-1"}


async def raw(
    fake: FakeDiscord, method: str, path: str, body: Any = None, headers: dict | None = None
) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, fake.rest_url + path, json=body, headers=AUTH if headers is None else headers
        ) as resp,
    ):
        text = await resp.text()
        return resp.status, dict(resp.headers), json.loads(text) if text else None


def channel(bot: commands.Bot, fake: FakeDiscord, name: str = "general") -> discord.TextChannel:
    found = bot.get_channel(fake.channel_id(name))
    assert isinstance(found, discord.TextChannel)
    return found


async def test_content_over_2000_characters_is_refused(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    caught: list[discord.HTTPException] = []

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="길게", description="긴 답")
        async def long(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message("가" * 2001)
            except discord.HTTPException as exc:
                caught.append(exc)
                await interaction.response.send_message("가" * 2000)  # still unacknowledged

    bot = await start_bot(setup=setup)
    result = await (await fake.send_command("general", "길게")).wait_for_response()
    assert len(result.content or "") == 2000
    assert [(c.status, c.code) for c in caught] == [(400, 50035)]
    # The callback schema itself says 2000, so this is also a spec violation...
    assert [v.field for v in fake.spec_violations] == ["data.content"]

    # ...while channel messages are 4000 in the spec: only Discord's own rule catches 2001.
    with pytest.raises(discord.HTTPException) as refused:
        await channel(bot, fake).send("나" * 2001)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    last = fake.errors[-1]
    too_long = {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
    assert last.errors == {"content": {"_errors": [too_long]}}
    assert len(fake.spec_violations) == 1


async def test_embed_limits(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(sync=False)
    target = channel(bot, fake)

    with pytest.raises(discord.HTTPException) as title:
        await target.send(embed=discord.Embed(title="t" * 257))
    assert title.value.code == 50035
    errors = fake.errors[-1].errors or {}
    assert errors["embeds"]["0"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"

    # Each part within its limit, but together over 6000.
    big = [discord.Embed(title="t", description="d" * 4000) for _ in range(2)]
    with pytest.raises(discord.HTTPException) as total:
        await target.send(embeds=big)
    assert total.value.code == 50035
    errors = fake.errors[-1].errors or {}
    assert errors["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"

    fields = discord.Embed(title="필드")
    for i in range(26):
        fields.add_field(name=f"f{i}", value="v")
    with pytest.raises(discord.HTTPException):
        await target.send(embed=fields)
    ok = discord.Embed(title="t" * 256, description="d" * 4096)
    ok.set_footer(text="f" * 1000)
    assert (await target.send(embed=ok)).embeds[0].title == "t" * 256


@pytest.mark.parametrize("rules", [Rules(attachment_size_limit=1024)])
async def test_files_over_the_limit_get_40005(fake: FakeDiscord, start_bot: BotFactory) -> None:
    codes: list[int] = []

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="파일", description="파일")
        async def send_file(interaction: discord.Interaction) -> None:
            big = discord.File(io.BytesIO(b"x" * 1025), filename="big.bin")
            try:
                await interaction.response.send_message("큰 파일", file=big)
            except discord.HTTPException as exc:
                codes.append(exc.code)
                small = discord.File(io.BytesIO(b"x" * 1024), filename="ok.bin")
                await interaction.response.send_message("작은 파일", file=small)

    bot = await start_bot(setup=setup)
    result = await (await fake.send_command("general", "파일")).wait_for_response()
    assert codes == [40005]
    assert [a["size"] for a in result.attachments] == [1024]
    too_large = [e for e in fake.errors if e.code == 40005]
    assert too_large[0].status == 413 and too_large[0].files[0].size == 1025

    # Outside interactions the limit is 10 MiB.
    with pytest.raises(discord.HTTPException) as caught:
        blob = io.BytesIO(b"x" * (10 * 1024 * 1024 + 1))
        await channel(bot, fake).send(file=discord.File(blob, filename="huge.bin"))
    assert (caught.value.status, caught.value.code) == (413, 40005)


async def test_spec_invalid_body_is_refused_and_recorded(fake: FakeDiscord) -> None:
    path = "/interactions/123/some-token/callback?with_response=1"
    status, headers, body = await raw(fake, "POST", path, {"type": "not-a-number"}, headers={})

    assert status == 400 and headers["Content-Type"] == "application/json"
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
    assert body["errors"]["type"]["_errors"][0]["code"] == "BASE_TYPE_CHOICES"
    (violation,) = fake.spec_violations
    assert (violation.route, violation.field) == (
        "/interactions/{interaction_id}/{interaction_token}/callback",
        "type",
    )
    assert violation.body == {"type": "not-a-number"}
    assert fake.errors[-1].code == 50035


async def test_multipart_payload_json_is_validated(fake: FakeDiscord) -> None:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", json.dumps({"content": 5}))
    form.add_field("files[0]", b"abc", filename="a.txt", content_type="application/octet-stream")
    url = f"{fake.rest_url}/channels/{fake.channel_id('general')}/messages"
    async with aiohttp.ClientSession() as http, http.post(url, data=form, headers=AUTH) as resp:
        body = await resp.json()
    assert resp.status == 400 and body["code"] == 50035
    assert fake.spec_violations[-1].field == "content"
    assert fake.requests[-1].files[0].filename == "a.txt"


async def test_rate_limit_mode_and_discord_py_retry(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    bot = await start_bot(sync=False)
    fake.rules.retry_after_s = 0.2
    fake.rules.rate_limit_mode = True

    status, headers, body = await raw(fake, "GET", "/users/@me")
    assert status == 429
    assert headers["Via"] == "1.1 google" and headers["X-RateLimit-Remaining"] == "0"
    assert body == {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}
    assert (await raw(fake, "GET", "/gateway", headers={}))[0] == 200  # gateway is exempt

    sending = asyncio.create_task(channel(bot, fake).send("재시도"))
    assert await fake.wait_until(
        lambda: any(r.status == 429 and r.path.endswith("/messages") for r in fake.requests), 2
    )
    fake.rules.rate_limit_mode = False
    message = await asyncio.wait_for(sending, 3)

    assert message.content == "재시도"
    statuses = [r.status for r in fake.requests if r.path.endswith("/messages")]
    assert statuses[0] == 429 and statuses[-1] == 200
    assert [m["content"] for m in fake.channel_messages("general")] == ["재시도"]


async def test_auth_unknown_routes_and_content_type(fake: FakeDiscord) -> None:
    status, headers, body = await raw(fake, "GET", "/users/@me", headers={})
    assert (status, body) == (401, {"message": "401: Unauthorized", "code": 0})

    status, headers, body = await raw(fake, "GET", "/users/@me")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["id"] == str(fake.bot_user_id) and body["bot"] is True
    assert fake.requests[-1].instance == "1"

    status, _, body = await raw(fake, "GET", "/guilds/1/audit-logs")
    assert status == 404 and body["code"] == 0 and "GET /guilds/1/audit-logs" in body["message"]
    assert fake.requests[-1].route is None and fake.errors[-1].status == 404

    status, _, app = await raw(fake, "GET", "/oauth2/applications/@me")
    assert status == 200 and app["id"] == str(fake.application_id)


async def test_message_rules(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(sync=False)
    target = channel(bot, fake)

    with pytest.raises(discord.HTTPException) as empty:
        await target.send(content="   ")
    assert (empty.value.status, empty.value.code) == (400, 50006)

    sent = await target.send("원본")
    edited = await sent.edit(content="수정")
    assert edited.content == "수정" and edited.edited_at is not None
    reply = await sent.reply("답장")
    assert reply.reference is not None and reply.reference.message_id == sent.id
    await sent.add_reaction("👍")
    async with target.typing():
        pass
    fetched = await target.fetch_message(sent.id)
    assert fetched.content == "수정" and fetched.reactions[0].emoji == "👍"
    await reply.delete()
    assert [m["content"] for m in fake.channel_messages("general")] == ["수정"]

    user_message = await fake.send_message("general", "사용자 글")
    with pytest.raises(discord.Forbidden) as forbidden:
        await target.get_partial_message(user_message.message_id).edit(content="x")
    assert forbidden.value.code == 50005
    with pytest.raises(discord.NotFound) as unknown:
        await target.get_partial_message(1).edit(content="x")
    assert unknown.value.code == 10008
    assert {m.instance for m in fake.bot_messages} == {"1"}
    assert not fake.spec_violations


@pytest.mark.parametrize("rules", [Rules(command_creates_per_day=2)])
async def test_daily_command_creates_are_capped(fake: FakeDiscord) -> None:
    path = f"/applications/{fake.application_id}/commands"
    two = [{"name": n, "description": "d"} for n in ("하나", "둘")]
    assert (await raw(fake, "PUT", path, two))[0] == 200
    assert (await raw(fake, "PUT", path, two[:1]))[0] == 200  # no new names: free

    status, headers, body = await raw(fake, "PUT", path, [{"name": "셋", "description": "d"}])
    assert status == 429 and body["code"] == 30034 and headers["Via"]
    assert [c["name"] for c in fake.registered_commands["global"]] == ["하나"]

    status, _, body = await raw(fake, "PUT", path, [{"name": "Bad Name", "description": "d"}])
    assert status == 400 and body["errors"]["0"]["name"]["_errors"][0]["code"] == (
        "APPLICATION_COMMAND_INVALID_NAME"
    )


async def test_lookups_discord_py_makes(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(sync=False)
    alice_id = fake.user_id("alice")

    user = await bot.fetch_user(alice_id)
    assert user.name == "alice"
    member = await bot.get_guild(fake.guild_id).fetch_member(alice_id)  # type: ignore[union-attr]
    assert member.id == alice_id
    thread = await bot.fetch_channel(fake.channel_id("채팅방-1", thread="스레드-1"))
    assert isinstance(thread, discord.Thread) and thread.parent_id == fake.channel_id("채팅방-1")

    dm = await user.send("안녕하세요")  # POST /users/@me/channels, then the DM channel
    assert isinstance(dm.channel, discord.DMChannel)
    target = channel(bot, fake)
    for i in range(3):
        await target.send(f"m{i}")
    history = [m.content async for m in target.history(limit=2)]
    assert history == ["m2", "m1"]
    with pytest.raises(discord.NotFound) as unknown:
        await bot.fetch_user(1)
    assert unknown.value.code == 10013
    assert not fake.spec_violations
