"""Slash commands end to end: FakeDiscord.send_command -> a real discord.py tree -> result."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from sandbox.discord import FakeDiscord, Rules, UnknownTarget

from .conftest import BotFactory, BotSetup

Seen = list[discord.Interaction]


def ping_tree(seen: Seen | None = None, reply: str = "퐁") -> BotSetup:
    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            if seen is not None:
                seen.append(interaction)
            await interaction.response.send_message(reply)

    return setup


async def test_slash_command_reaches_handler_and_is_answered(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    seen: Seen = []
    await start_bot("sandbox-instance-1", ping_tree(seen))

    handle = await fake.send_command(channel="채팅방-1", command="핑")
    result = await handle.wait_for_response(timeout=5)

    assert result.content == "퐁"
    assert result.answered_by == "1" and not result.deferred and not result.ephemeral
    assert result.ack_ms is not None and 0 <= result.ack_ms < 3000
    assert [(a.instance, a.status, a.type) for a in result.callback_attempts] == [("1", 200, 4)]
    assert len(result.messages) == 1 and result.messages[0]["type"] == 20
    (interaction,) = seen
    assert interaction.id == handle.interaction_id
    assert isinstance(interaction.channel, discord.TextChannel)
    assert interaction.channel.name == "채팅방-1"
    assert isinstance(interaction.user, discord.Member)
    assert interaction.locale == discord.Locale.korean
    # discord.py derives created_at/expiry from the snowflake: it must carry the real time.
    assert abs((discord.utils.utcnow() - interaction.created_at).total_seconds()) < 5
    assert not interaction.is_expired()
    # Non-ephemeral answers are channel messages too.
    assert fake.channel_messages("채팅방-1")[-1]["content"] == "퐁"
    assert not fake.errors and not fake.spec_violations


async def test_deferred_answer_with_followup_and_edit(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="이미지", description="그림")
        async def image(interaction: discord.Interaction, 설명: str) -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(0.05)
            png = discord.File(io.BytesIO(b"\x89PNG" + b"0" * 2048), filename="result.png")
            await interaction.followup.send(f"완성: {설명}", file=png)
            await interaction.edit_original_response(content=f"완성! {설명}")
            await interaction.followup.send("추가 메시지", ephemeral=True)

    await start_bot("sandbox-instance-2", setup)

    handle = await fake.send_command("이미지생성-1", "이미지", {"설명": "고양이"})
    result = await handle.wait_for_response(timeout=5)

    assert result.deferred and result.answered_by == "2"
    assert result.content == "완성! 고양이"
    assert result.attachments == [
        {
            "id": result.attachments[0]["id"],
            "filename": "result.png",
            "size": 2052,
            "content_type": "image/png",
            "url": result.attachments[0]["url"],
        }
    ]
    # The first followup replaced the "thinking" message; the second is a new (ephemeral) one.
    assert [m["content"] for m in result.messages] == ["완성! 고양이", "추가 메시지"]
    assert result.messages[1]["flags"] & 64
    assert [a.type for a in result.callback_attempts] == [5]
    # The uploaded bytes are served at the attachment URL, as Discord's CDN would.
    async with aiohttp.ClientSession() as http, http.get(result.attachments[0]["url"]) as resp:
        assert resp.status == 200 and len(await resp.read()) == 2052
    assert not fake.spec_violations


async def test_every_session_gets_the_interaction_and_only_the_first_answer_wins(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    outcomes: dict[str, object] = {}

    def racing(label: str) -> BotSetup:
        def setup(bot: commands.Bot) -> None:
            @bot.tree.command(name="핑", description="응답 확인")
            async def ping(interaction: discord.Interaction) -> None:
                if label == "4":
                    await asyncio.sleep(0.1)  # let instance 1 win deterministically
                try:
                    await interaction.response.send_message(f"퐁 from {label}")
                    outcomes[label] = "sent"
                except discord.HTTPException as exc:
                    outcomes[label] = exc.code

        return setup

    await start_bot("sandbox-instance-1", racing("1"))
    await start_bot("sandbox-instance-4", racing("4"))

    handle = await fake.send_command("general", "핑")
    result = await handle.wait_for_response(timeout=5, settle=0.3)

    assert sorted(map(str, handle.delivered_to)) == ["1", "4"]
    assert result.content == "퐁 from 1" and result.answered_by == "1"
    assert [(a.instance, a.status, a.code) for a in result.callback_attempts] == [
        ("1", 200, None),
        ("4", 400, 40060),
    ]
    assert outcomes == {"1": "sent", "4": 40060}
    # Callbacks carry no Authorization; the per-session interaction token tells who sent them.
    callbacks = [r for r in fake.requests if r.path.endswith("/callback")]
    assert sorted((r.instance, r.token) for r in callbacks) == [
        ("1", "sandbox-instance-1"),
        ("4", "sandbox-instance-4"),
    ]
    assert all(r.via_interaction_token for r in callbacks)
    (duplicate,) = [e for e in fake.errors if e.code == 40060]
    assert duplicate.message == "Interaction has already been acknowledged."
    assert len(fake.channel_messages("general")) == 1


@pytest.mark.parametrize("rules", [Rules(ack_deadline_s=0.2)])
async def test_late_callback_gets_unknown_interaction(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    codes: list[int] = []

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.35)
            try:
                await interaction.response.send_message("늦음")
            except discord.NotFound as exc:
                codes.append(exc.code)

    await start_bot(setup=setup)
    handle = await fake.send_command("general", "핑")

    with pytest.raises(TimeoutError, match="10062"):
        await handle.wait_for_response(timeout=1)
    assert codes == [10062]
    assert [e.status for e in fake.errors if e.code == 10062] == [404]


@pytest.mark.parametrize("rules", [Rules(token_life_s=0.3)])
async def test_webhook_after_token_life_gets_invalid_webhook_token(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    codes: list[int] = []

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="비디오", description="영상")
        async def video(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await asyncio.sleep(0.45)
            try:
                await interaction.edit_original_response(content="완성")
            except discord.HTTPException as exc:
                codes.append(exc.code)

    await start_bot(setup=setup)
    handle = await fake.send_command("비디오생성-1", "비디오")
    await fake.wait_until(lambda: bool(codes), timeout=2)

    assert codes == [50027]
    (expired,) = [e for e in fake.errors if e.code == 50027]
    assert expired.status == 401 and expired.method == "PATCH"
    with pytest.raises(TimeoutError, match="thinking"):
        await handle.wait_for_response(timeout=0.1)


async def test_options_subcommands_threads_and_dms(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    got: dict[str, object] = {}

    def setup(bot: commands.Bot) -> None:
        group = app_commands.Group(name="설정", description="설정")

        @group.command(name="알림", description="알림 설정")
        async def alarm(
            interaction: discord.Interaction,
            횟수: int,
            켜기: bool,
            비율: float,
            대상: discord.User,
            채널: discord.TextChannel,
            파일: discord.Attachment,
        ) -> None:
            got.update(횟수=횟수, 켜기=켜기, 비율=비율, 대상=대상.name, 채널=채널.name)
            got["파일"] = (파일.filename, 파일.size, await 파일.read())
            await interaction.response.send_message("설정됨", ephemeral=True)

        bot.tree.add_command(group)

        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            channel = interaction.channel
            got["channel"] = type(channel).__name__
            got["parent"] = getattr(getattr(channel, "parent", None), "name", None)
            await interaction.response.send_message("퐁")

    await start_bot(setup=setup)

    options = {
        "횟수": "3",
        "켜기": "false",
        "비율": 0.5,
        "대상": "alice",
        "채널": "general",
        "파일": ("a.txt", b"hello"),
    }
    result = await (await fake.send_command("general", "설정 알림", options)).wait_for_response()
    assert result.content == "설정됨" and result.ephemeral
    assert got == {
        "횟수": 3,
        "켜기": False,
        "비율": 0.5,
        "대상": "alice",
        "채널": "general",
        "파일": ("a.txt", 5, b"hello"),
    }
    assert fake.channel_messages("general") == []  # ephemeral answers are not channel messages

    await (await fake.send_command("채팅방-1", "핑", thread="스레드-1")).wait_for_response()
    assert (got["channel"], got["parent"]) == ("Thread", "채팅방-1")

    dm = await (await fake.send_command(None, "핑", user="bob")).wait_for_response()
    assert dm.content == "퐁" and got["channel"] == "DMChannel"


async def test_unknown_targets_list_what_exists(fake: FakeDiscord, start_bot: BotFactory) -> None:
    with pytest.raises(UnknownTarget, match=r"none: has the bot synced"):
        await fake.send_command("general", "핑")
    await start_bot(setup=ping_tree())

    with pytest.raises(UnknownTarget) as channel_error:
        await fake.send_command("없는-채널", "핑")
    assert "unknown channel '없는-채널'" in str(channel_error.value)
    assert "채팅방-1, 이미지생성-1, 비디오생성-1, general" in str(channel_error.value)
    assert isinstance(channel_error.value, ValueError)

    with pytest.raises(UnknownTarget, match="unknown command '/없음'; commands: /핑"):
        await fake.send_command("general", "없음")
    with pytest.raises(UnknownTarget, match="threads: 스레드-1"):
        await fake.send_command("채팅방-1", "핑", thread="없는-스레드")
    with pytest.raises(UnknownTarget, match="unknown option 'x'"):
        await fake.send_command("general", "핑", {"x": 1})


async def test_timeout_message_says_what_happened(fake: FakeDiscord, start_bot: BotFactory) -> None:
    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.defer()  # ...and never follows up

    await start_bot("sandbox-instance-3", setup)
    handle = await fake.send_command("general", "핑")

    with pytest.raises(TimeoutError) as caught:
        await handle.wait_for_response(timeout=0.5)
    text = str(caught.value)
    assert "/핑 in #general" in text and "['3']" in text
    assert "3: type 5 -> 200" in text and "still 'thinking'" in text


async def test_interaction_with_no_session_times_out_clearly(fake: FakeDiscord) -> None:
    headers = {"Authorization": "Bot sandbox-instance-1"}
    body = [{"name": "핑", "description": "응답 확인", "type": 1}]
    url = f"{fake.rest_url}/applications/{fake.application_id}/commands"
    async with aiohttp.ClientSession() as http, http.put(url, json=body, headers=headers) as resp:
        assert resp.status == 200
    handle = await fake.send_command("general", "핑")
    with pytest.raises(TimeoutError, match="no ready gateway session"):
        await handle.wait_for_response(timeout=0.1)


async def test_original_response_before_any_answer_is_unknown_webhook(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    """As Discord: GET @original before the first callback is 404 10015, after it the
    message (a deferral's "thinking" placeholder included)."""
    seen: dict[str, object] = {}

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            try:
                await interaction.original_response()
            except discord.NotFound as exc:
                seen["before"] = (exc.status, exc.code)
            await interaction.response.defer(thinking=True)
            interaction._original_response = None  # ask Discord, not discord.py's cache
            seen["after_deferral"] = (await interaction.original_response()).id is not None
            await interaction.edit_original_response(content="끝")

    await start_bot("sandbox-instance-2", setup)
    result = await (await fake.send_command("general", "핑")).wait_for_response()
    assert seen == {"before": (404, 10015), "after_deferral": True}
    assert result.content == "끝"


async def test_original_response_and_followup_lifecycle(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    seen: dict[str, object] = {}

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="핑", description="응답 확인")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("첫 답")
            original = await interaction.original_response()
            seen["original"] = original.content
            extra = await interaction.followup.send("추가", wait=True)
            await extra.edit(content="추가(수정)")
            gone = await interaction.followup.send("지울 것", wait=True)
            await gone.delete()
            await interaction.delete_original_response()
            try:  # original_response() would answer from discord.py's cache
                await interaction.followup.fetch_message(original.id)
            except discord.NotFound as exc:
                seen["after_delete"] = exc.code

    await start_bot("sandbox-instance-2", setup)
    result = await (await fake.send_command("general", "핑")).wait_for_response()

    assert seen == {"original": "첫 답", "after_delete": 10008}
    assert result.content == "추가(수정)" and [m["content"] for m in result.messages] == [
        "추가(수정)"
    ]
    assert result.messages[0]["edited_timestamp"] is not None
    webhook_calls = [r for r in fake.requests if r.path.startswith("/webhooks/")]
    assert {r.instance for r in webhook_calls} == {"2"}
    assert [m["content"] for m in fake.channel_messages("general")] == ["추가(수정)"]
