"""Every event kind through the one answering path of a real bot on the Discord double.

A single-process `MultiInstanceBot` runs in this process with the utility commands and a
test extension (answering_cog.py) whose commands, button, modal and autocomplete fail on
purpose. What the user sees and what the counters say are checked per kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio

from bot import bot_class
from bot.bot_class import MultiInstanceBot
from bot.gate import Admission, AdmissionKind, serve_everything
from bot.status import CounterSnapshot
from sandbox.discord import FakeDiscord
from tests.integration.bot.answering_cog import INTERNAL_DETAIL
from tests.integration.bot.inprocess import discord_double, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

GENERIC = "명령을 처리하는 중 문제가 생겼어요. 잠시 후 다시 시도해 주세요."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[tuple[FakeDiscord, MultiInstanceBot]]:
    health = tmp_path_factory.mktemp("answering") / "health.json"
    extensions = ("commands.utility", "tests.integration.bot.answering_cog")
    async with discord_double() as fake, running_bot(extensions, health_file=str(health)) as bot:
        yield fake, bot


def nothing_internal_shown(result) -> None:
    shown = f"{result.content} {result.embeds} {result.messages}"
    assert INTERNAL_DETAIL not in shown
    assert "Traceback" not in shown


async def counted(bot: MultiInstanceBot, work) -> CounterSnapshot:
    """The change in handled/failed/in-flight that `work` caused."""
    before = bot.counters.snapshot()
    await work()
    await asyncio.sleep(0.05)
    after = bot.counters.snapshot()
    return CounterSnapshot(
        handled=after.handled - before.handled,
        failed=after.failed - before.failed,
        in_flight=after.in_flight - before.in_flight,
    )


async def test_a_public_deferral_shows_its_error_in_place_of_thinking(world):
    fake, bot = world
    result = None

    async def run():
        nonlocal result
        result = await (await fake.send_command("general", "공개지연")).wait_for_response()

    assert await counted(bot, run) == CounterSnapshot(failed=1)
    assert result.deferred and not result.ephemeral, "Discord keeps the deferral's visibility"
    assert result.content == f"⚠️ {GENERIC}"
    assert len(result.messages) == 1, "no stray followup; the placeholder was replaced"
    nothing_internal_shown(result)


async def test_a_private_deferral_shows_the_refusal_privately(world):
    fake, _ = world
    result = await (await fake.send_command("general", "비공개지연")).wait_for_response()
    assert result.ephemeral
    assert result.content == "⚠️ 오늘 사용량을 다 썼어요."
    assert len(result.messages) == 1


async def test_a_failure_after_answering_adds_a_private_followup(world):
    fake, _ = world
    result = await (await fake.send_command("general", "답한뒤실패")).wait_for_response(settle=0.5)
    assert [m["content"] for m in result.messages] == ["첫 답", GENERIC]
    assert [bool(m["flags"] & 64) for m in result.messages] == [False, True]
    nothing_internal_shown(result)


async def test_a_command_that_works_is_counted_handled(world):
    fake, bot = world

    async def run():
        await (await fake.send_command("general", "핑")).wait_for_response()

    assert await counted(bot, run) == CounterSnapshot(handled=1)


async def test_a_button_press_goes_through_the_path(world):
    fake, bot = world
    sent = await (await fake.send_command("채팅방-1", "버튼")).wait_for_response()
    message_id = int(sent.messages[0]["id"])
    pressed = None

    async def press_ok():
        nonlocal pressed
        pressed = await (await fake.press_component(message_id, "t:ok")).wait_for_response()

    assert await counted(bot, press_ok) == CounterSnapshot(handled=1)
    assert pressed.message_updated and pressed.content == "눌렸어요"
    assert pressed.callback_type == 7


async def test_a_failing_button_press_gets_a_private_korean_message(world):
    fake, bot = world
    sent = await (await fake.send_command("채팅방-1", "버튼")).wait_for_response()
    failed = None

    async def press_fail():
        nonlocal failed
        handle = await fake.press_component(int(sent.messages[0]["id"]), "t:fail")
        failed = await handle.wait_for_response()

    assert await counted(bot, press_fail) == CounterSnapshot(failed=1)
    assert failed.ephemeral and failed.content == GENERIC
    nothing_internal_shown(failed)


async def test_a_modal_submit_goes_through_the_path(world):
    fake, bot = world
    opened = await fake.send_command("general", "모달")
    assert (await opened.wait_for_response()).modal["custom_id"] == "m:name:7"
    done = None

    async def submit():
        nonlocal done
        done = await (await fake.submit_modal(opened, {"name": "다온"})).wait_for_response()

    assert await counted(bot, submit) == CounterSnapshot(handled=1)
    assert done.content == "7번 이름: 다온"

    refused = await (await fake.submit_modal(opened, {"name": "실패"})).wait_for_response()
    assert refused.ephemeral and refused.content == "그 이름은 쓸 수 없어요."


async def test_autocomplete_answers_and_a_failure_offers_nothing(world):
    fake, bot = world
    ok = await (
        await fake.send_autocomplete("general", "자동완성", "word", "가")
    ).wait_for_response()
    assert ok.choices == [{"name": "가-1", "value": "가-1"}]

    async def failing():
        handle = await fake.send_autocomplete("general", "자동완성", "word", "실패")
        result = await handle.wait_for_response()
        assert result.choices == []

    # Keystrokes are not work: autocomplete never moves the counters.
    assert await counted(bot, failing) == CounterSnapshot()


async def test_channel_autocomplete_of_instances_lists_the_guilds_channels(world):
    fake, _ = world
    handle = await fake.send_autocomplete("general", "인스턴스", "채널", "채팅")
    assert (await handle.wait_for_response()).choices == [{"name": "채팅방-1", "value": "채팅방-1"}]


async def test_a_routed_chat_message_failure_gets_a_korean_reply(world):
    fake, bot = world

    async def handler(message: discord.Message) -> None:
        if "고장" in message.content:
            raise RuntimeError(INTERNAL_DETAIL)
        await message.reply("안녕하세요!", mention_author=False)

    bot.message_handler = handler
    try:
        fine = await fake.send_message("채팅방-1", "안녕", mentions_bot=True)
        assert (await fine.wait_for_response()).content == "안녕하세요!"
        broken = None

        async def send_broken():
            nonlocal broken
            handle = await fake.send_message("채팅방-1", "고장 내 봐", mentions_bot=True)
            broken = await handle.wait_for_response()

        assert await counted(bot, send_broken) == CounterSnapshot(failed=1)
        assert broken.content == GENERIC
        assert INTERNAL_DETAIL not in str(broken.messages)
        # Sent with an enforced nonce: a second instance's copy would be dropped by Discord.
        assert broken.messages[0]["nonce"] == f"e{broken.message_id}"
    finally:
        bot.message_handler = None


async def test_a_failing_listener_is_logged_and_the_bot_goes_on(world, monkeypatch):
    fake, bot = world
    logged: list[tuple[str, dict]] = []

    class Recorder:
        def exception(self, event: str, **fields: object) -> None:
            logged.append((event, fields))

    monkeypatch.setattr(bot_class, "log", Recorder())

    async def broken_listener() -> None:
        raise RuntimeError("listener bug")

    bot.add_listener(broken_listener, "on_mib_test_event")
    before = bot.listener_errors
    bot.dispatch("mib_test_event")
    await asyncio.sleep(0.1)
    bot.remove_listener(broken_listener, "on_mib_test_event")
    assert bot.listener_errors == before + 1
    assert logged == [("listener_failed", {"listener": "on_mib_test_event"})]
    result = await (await fake.send_command("general", "핑")).wait_for_response()
    assert result.embeds[0]["title"] == "🏓 퐁!"


async def test_the_status_refresh_button_redraws_the_status(world):
    fake, _ = world
    status = await (await fake.send_command("general", "상태")).wait_for_response()
    button = status.components[0]["components"][0]
    assert (button["custom_id"], button["label"]) == ("mib:status:refresh", "새로고침")
    handle = await fake.press_component(int(status.messages[0]["id"]), "mib:status:refresh")
    pressed = await handle.wait_for_response()
    assert pressed.callback_type == 7 and pressed.message_updated
    assert pressed.embeds[0]["title"] == "📊 봇 상태 — 1/1 온라인"
    assert pressed.components[0]["components"][0]["custom_id"] == "mib:status:refresh"


async def test_when_nobody_can_serve_the_user_is_told_why(world):
    fake, bot = world

    async def spent(command: str) -> Admission:
        return Admission(
            AdmissionKind.DECLINE, "오늘 이미지 생성 한도를 모두 썼어요. 자정에 다시 열려요."
        )

    bot.gate.admit = spent
    try:
        refused = None

        async def ask():
            nonlocal refused
            refused = await (await fake.send_command("general", "핑")).wait_for_response()

        assert await counted(bot, ask) == CounterSnapshot(), "a refusal is neither work nor failure"
        assert refused.ephemeral
        assert refused.content == "오늘 이미지 생성 한도를 모두 썼어요. 자정에 다시 열려요."
        assert bot.counters.refused >= 1
    finally:
        bot.gate.admit = serve_everything
