"""Which messages start a chat: DMs and mentions always; replies to the bot only with the
Message Content intent (without it Discord sends such a reply with empty content)."""

from __future__ import annotations

from unittest.mock import MagicMock

import discord
import pytest

from bot.bot_class import MultiInstanceBot
from bot.store import local_store
from env_manager import Settings


def bot_with(message_content_intent: bool) -> MultiInstanceBot:
    settings = Settings.build(message_content_intent=message_content_intent)
    bot = MultiInstanceBot(settings, store=local_store(), extensions=())
    bot._connection.user = MagicMock(spec=discord.ClientUser, name="the bot")
    return bot


def message(bot: MultiInstanceBot, *, dm=False, mention=False, reply_to_bot=False):
    msg = MagicMock(spec=discord.Message)
    msg.channel = MagicMock(spec=discord.DMChannel if dm else discord.TextChannel)
    msg.mentions = [bot.user] if mention else []
    if reply_to_bot:
        replied = MagicMock(spec=discord.Message)
        replied.author = bot.user
        msg.reference = MagicMock(spec=discord.MessageReference, resolved=replied)
    else:
        msg.reference = None
    return msg


@pytest.mark.parametrize(
    ("kind", "without_intent", "with_intent"),
    [
        ({"dm": True}, True, True),
        ({"mention": True}, True, True),
        ({"reply_to_bot": True}, False, True),
        ({}, False, False),
    ],
)
def test_chat_triggers_follow_the_message_content_setting(kind, without_intent, with_intent):
    off, on = bot_with(False), bot_with(True)
    assert off._is_chat_trigger(message(off, **kind)) is without_intent
    assert on._is_chat_trigger(message(on, **kind)) is with_intent


def test_the_intent_is_requested_only_when_configured():
    assert bot_with(False).intents.message_content is False
    assert bot_with(True).intents.message_content is True
