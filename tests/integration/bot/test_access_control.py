"""Access lists enforced on the one answering path of a real bot on the Discord double.

A single-process `MultiInstanceBot` with the utility commands runs in this process. The
guild has a role and users made before the bot starts (so GUILD_CREATE carries them):

- `차단된-사용자` is denied every command (`access_deny_users`);
- /핑 is allowed in `general` only (`access_allow_channels=핑:general`);
- /상태 needs the `단골` role (`access_allow_roles=상태:<role id>`), which `단골-회원` has;
- /인스턴스 is denied in `채팅방-1` by id (`access_deny_channels=인스턴스:<id>`), which a
  thread of that channel inherits;
- chat is denied to that same role (`access_deny_roles=채팅:<role id>`).

Each refusal is checked as the user sees it (a private Korean message, a reply to a chat
message, no autocomplete choices) and as the operator counts it (`refused` and the
`mib_events{outcome="refused"}` metric up by exactly one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
import pytest_asyncio

from bot.bot_class import MultiInstanceBot
from bot.gate import SILENT
from sandbox.discord import FakeDiscord
from tests.integration.bot.inprocess import discord_double, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

BANNED_USER = "차단된-사용자"
MEMBER = "단골-회원"
ROLE = "단골"
THREAD = "잡담-스레드"
STRANGER = "tester"  # the double's default user: no roles, not on any list

BANNED = "이 봇을 사용할 수 없는 계정이에요. 관리자에게 문의해 주세요."
PING_CHANNEL = "이 채널에서는 /핑 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요."
PING_DM = "/핑 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요."
STATUS_ROLE = "/상태 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요."
CHAT_ROLE = "가진 역할 때문에 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요."
INSTANCES_CHANNEL = (
    "이 채널에서는 /인스턴스 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요."
)


@dataclass
class Access:
    fake: FakeDiscord
    bot: MultiInstanceBot


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def access() -> AsyncIterator[Access]:
    async with discord_double() as fake:
        world = fake.state.world
        role = world.add_role(ROLE)
        world.give_role(MEMBER, ROLE)
        banned = world.user(BANNED_USER)
        chat = world.text_channel("채팅방-1")
        assert chat is not None
        world.add_thread(chat, THREAD)
        settings = {
            "access_deny_users": f"{banned.id}",
            "access_allow_channels": "핑:general",
            "access_allow_roles": f"상태:{role.id}",
            "access_deny_channels": f"인스턴스:{chat.id}",
            "access_deny_roles": f"채팅:{role.id}",
        }
        async with running_bot(("commands.utility",), **settings) as bot:
            yield Access(fake, bot)


@dataclass(frozen=True)
class Refusals:
    counted: int  # the `refused` counter of /상태
    metric: float  # mib_events{outcome="refused"} for the command and kind


def refusals(bot: MultiInstanceBot, command: str, kind: str) -> Refusals:
    labels = {
        "instance": bot.metrics.instance,
        "command": command,
        "kind": kind,
        "outcome": "refused",
    }
    metric = bot.metrics.registry.get_sample_value("mib_events_total", labels)
    return Refusals(bot.counters.refused, metric or 0.0)


async def refused_once(bot: MultiInstanceBot, command: str, kind: str, before: Refusals) -> None:
    await asyncio.sleep(0.05)
    after = refusals(bot, command, kind)
    counted = 0 if kind == "autocomplete" else 1  # keystrokes are never counted
    assert after == Refusals(before.counted + counted, before.metric + 1)


async def test_a_command_in_an_allowed_channel_answers_normally(access):
    before = refusals(access.bot, "핑", "command")
    result = await (await access.fake.send_command("general", "핑")).wait_for_response()
    assert not result.ephemeral
    assert [e["title"] for e in result.embeds] == ["🏓 퐁!"], result.content
    assert refusals(access.bot, "핑", "command") == before


async def test_a_command_outside_its_allowed_channels_is_refused_privately(access):
    bot = access.bot
    before = refusals(bot, "핑", "command")
    handled = bot.counters.snapshot().handled
    result = await (await access.fake.send_command("채팅방-1", "핑")).wait_for_response()
    assert result.ephemeral
    assert result.content == PING_CHANNEL
    assert result.embeds == []
    assert len(result.messages) == 1
    await refused_once(bot, "핑", "command", before)
    assert bot.counters.snapshot().handled == handled, "a refusal is not work"


async def test_a_channel_scoped_command_is_refused_in_a_dm(access):
    before = refusals(access.bot, "핑", "command")
    result = await (await access.fake.send_command(None, "핑")).wait_for_response()
    assert result.ephemeral
    assert result.content == PING_DM
    await refused_once(access.bot, "핑", "command", before)


async def test_a_command_needing_a_role_is_refused_without_it(access):
    before = refusals(access.bot, "상태", "command")
    result = await (await access.fake.send_command("general", "상태")).wait_for_response()
    assert result.ephemeral
    assert result.content == STATUS_ROLE
    assert result.embeds == []
    await refused_once(access.bot, "상태", "command", before)


async def test_a_member_with_the_role_gets_the_status(access):
    before = refusals(access.bot, "상태", "command")
    handle = await access.fake.send_command("general", "상태", user=MEMBER)
    result = await handle.wait_for_response()
    assert [e["title"] for e in result.embeds] == ["📊 봇 상태 — 1/1 온라인"], result.content
    assert refusals(access.bot, "상태", "command") == before


async def test_a_denied_user_is_refused_every_command(access):
    bot = access.bot
    for channel, command in [("general", "핑"), ("general", "상태"), ("general", "인스턴스")]:
        before = refusals(bot, command, "command")
        handle = await access.fake.send_command(channel, command, user=BANNED_USER)
        result = await handle.wait_for_response()
        assert result.ephemeral
        assert result.content == BANNED
        await refused_once(bot, command, "command", before)


async def test_a_thread_counts_as_its_parent_channel(access):
    before = refusals(access.bot, "인스턴스", "command")
    handle = await access.fake.send_command("채팅방-1", "인스턴스", thread=THREAD)
    result = await handle.wait_for_response()
    assert result.ephemeral
    assert result.content == INSTANCES_CHANNEL
    await refused_once(access.bot, "인스턴스", "command", before)

    elsewhere = await (await access.fake.send_command("general", "인스턴스")).wait_for_response()
    assert not elsewhere.ephemeral and elsewhere.embeds


async def test_a_denied_users_autocomplete_offers_nothing(access):
    fake, bot = access.fake, access.bot
    allowed = await (
        await fake.send_autocomplete("general", "인스턴스", "채널", "채팅")
    ).wait_for_response()
    assert allowed.choices == [{"name": "채팅방-1", "value": "채팅방-1"}]

    before = refusals(bot, "인스턴스", "autocomplete")
    handle = await fake.send_autocomplete("general", "인스턴스", "채널", "채팅", user=BANNED_USER)
    denied = await handle.wait_for_response()
    assert denied.choices == []
    assert denied.messages == []
    await refused_once(bot, "인스턴스", "autocomplete", before)


async def test_a_refused_chat_message_gets_a_refusal_reply(access):
    fake, bot = access.fake, access.bot

    async def handler(message: discord.Message) -> None:
        await message.reply("안녕하세요!", mention_author=False)

    bot.message_handler = handler
    try:
        fine = await fake.send_message("채팅방-1", "안녕", mentions_bot=True)
        assert (await fine.wait_for_response()).content == "안녕하세요!"

        before = refusals(bot, "채팅", "message")
        denied = await fake.send_message("채팅방-1", "안녕", user=BANNED_USER, mentions_bot=True)
        result = await denied.wait_for_response()
        assert result.content == BANNED
        assert len(result.messages) == 1, "the handler never ran"
        await refused_once(bot, "채팅", "message", before)

        before = refusals(bot, "채팅", "message")
        member = await fake.send_message("채팅방-1", "안녕", user=MEMBER, mentions_bot=True)
        result = await member.wait_for_response()
        assert result.content == CHAT_ROLE
        assert len(result.messages) == 1, "the handler never ran"
        await refused_once(bot, "채팅", "message", before)
    finally:
        bot.message_handler = None


async def test_an_event_another_instance_won_is_not_refused_here(access):
    """Access is asked only after the gate: the instance that lost the event stays silent,
    so a denied user gets exactly one refusal from the fleet."""
    bot = access.bot
    answer = bot.gate.should_answer

    async def lost(*args: object) -> object:
        return SILENT

    bot.gate.should_answer = lost  # type: ignore[method-assign]
    try:
        before = refusals(bot, "핑", "command")
        handle = await access.fake.send_command("general", "핑", user=BANNED_USER)
        await asyncio.sleep(0.5)
        result = handle.result()
        assert result.callback_attempts == []
        assert result.messages == []
        assert refusals(bot, "핑", "command") == before
    finally:
        bot.gate.should_answer = answer  # type: ignore[method-assign]
