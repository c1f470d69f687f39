"""User messages: MESSAGE_CREATE to the bot, intents, mentions, replies, and MessageHandle."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord.ext import commands

from sandbox.discord import FakeDiscord, UnknownTarget

from .conftest import BotFactory, BotSetup, default_intents


def chat_bot(seen: list[discord.Message]) -> BotSetup:
    def setup(bot: commands.Bot) -> None:
        async def on_message(message: discord.Message) -> None:
            if message.author.bot:
                return  # the fake dispatches the bot's own messages too, as Discord does
            seen.append(message)
            direct = isinstance(message.channel, discord.DMChannel)
            if direct or (bot.user is not None and bot.user.mentioned_in(message)):
                async with message.channel.typing():
                    await asyncio.sleep(0.01)
                await message.reply(f"답: {message.content.split('>', 1)[-1].strip()}")

        bot.add_listener(on_message, "on_message")

    return setup


async def test_mention_is_delivered_and_answered(fake: FakeDiscord, start_bot: BotFactory) -> None:
    seen: list[discord.Message] = []
    bot = await start_bot("sandbox-instance-1", chat_bot(seen), sync=False)

    handle = await fake.send_message("채팅방-1", "안녕", user="alice", mentions_bot=True)
    result = await handle.wait_for_response(timeout=5)

    assert result.content == "답: 안녕" and result.answered_by == "1" and result.typed
    assert result.reply_ms is not None and result.reply_ms >= 0
    (message,) = seen
    assert message.author.name == "alice" and isinstance(message.author, discord.Member)
    assert message.content == f"<@{fake.bot_user_id}> 안녕"
    assert bot.user in message.mentions
    reply = result.messages[0]
    assert reply["type"] == 19
    assert reply["message_reference"]["message_id"] == str(handle.message_id)
    assert [m["author"]["username"] for m in fake.channel_messages("채팅방-1")] == [
        "alice",
        "sandbox-bot",
    ]


async def test_replies_threads_and_dms(fake: FakeDiscord, start_bot: BotFactory) -> None:
    seen: list[discord.Message] = []
    intents = default_intents()
    intents.dm_messages = True
    await start_bot(setup=chat_bot(seen), intents=intents, sync=False)

    first = await fake.send_message("채팅방-1", "질문", thread="스레드-1", mentions_bot=True)
    answer = await first.wait_for_response()
    follow = await fake.send_message(
        "채팅방-1", "계속", thread="스레드-1", reply_to=int(answer.messages[0]["id"])
    )
    await follow.wait_for_response()
    replying = seen[-1]
    assert isinstance(replying.channel, discord.Thread)
    assert replying.reference is not None
    assert replying.reference.message_id == int(answer.messages[0]["id"])
    # Replying to the bot pings it by default, as the Discord client does.
    assert fake.bot_user_id in [m.id for m in replying.mentions]

    dm = await fake.send_message(None, "디엠", user="bob")
    assert (await dm.wait_for_response()).content == "답: 디엠"
    assert isinstance(seen[-1].channel, discord.DMChannel)

    with pytest.raises(UnknownTarget):
        await fake.send_message("general", "x", reply_to=first.message_id)  # other channel


async def test_without_message_content_intent_content_is_blank(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    seen: list[discord.Message] = []
    intents = default_intents()
    intents.message_content = False
    await start_bot(setup=chat_bot(seen), intents=intents, sync=False)

    await fake.send_message("general", "비밀")
    await fake.send_message("general", "보여요", mentions_bot=True)
    await fake.wait_until(lambda: len(seen) == 2, timeout=2)

    assert [m.content for m in seen] == ["", f"<@{fake.bot_user_id}> 보여요"]


async def test_message_handle_times_out_with_context(fake: FakeDiscord) -> None:
    handle = await fake.send_message("general", "아무도 없나요")
    with pytest.raises(TimeoutError, match="0 of 1 bot message"):
        await handle.wait_for_response(timeout=0.1)
