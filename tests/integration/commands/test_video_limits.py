"""/비디오's limits in a real single-process bot on the doubles: one video running per
user until it is delivered, a daily cap with the reset time, and a prompt flagged by
moderation that never becomes a MiniMax task. Every refusal is private."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from sandbox.providers import FakeMiniMax, FakeOpenAI
from tests.integration.bot.inprocess import discord_double, running_bot
from tests.integration.commands.test_video import DONE, ended

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "general"
RUNNING = "이미 만들고 있는 영상이 있어요 (한 사람당 동시에 1개까지). 끝난 뒤에 다시 시도해 주세요."
FLAGGED = "이 설명은 운영 정책에 맞지 않아 처리할 수 없어요. 내용을 바꿔서 다시 시도해 주세요."
DAILY = re.compile(
    r"^/비디오 명령은 하루에 3번까지 쓸 수 있어요\. \d{1,2}월 \d{1,2}일 0시 \(KST\)에 "
    r"다시 쓸 수 있어요\.$"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[tuple]:
    health = tmp_path_factory.mktemp("video-limits") / "health.json"
    minimax = FakeMiniMax(video_prepare_s=0.1, video_queue_s=0.2, video_process_s=0.6)
    openai = FakeOpenAI(token_delay_s=0.0)
    await minimax.start()
    await openai.start()
    settings = {
        "health_file": str(health),
        "minimax_api_key": "mm-video-limits-key",
        "minimax_base_url": minimax.base_url,
        "openai_api_key": "sk-openai-video-limits-key",
        "openai_base_url": openai.base_url,
        "video_poll_interval": 0.1,
        "video_progress_interval": 0.2,
        "limit_video_running": 1,
        "limit_video_per_day": 3,
        "moderation_enabled": True,
    }
    try:
        async with (
            discord_double() as fake,
            running_bot(("commands.utility", "commands.video"), **settings) as bot,
        ):
            yield fake, bot, minimax, openai
    finally:
        await minimax.stop()
        await openai.stop()


async def ask(fake, prompt: str, user: str = "minji"):
    return await fake.send_command(
        channel=CHANNEL, command="비디오", options={"설명": prompt}, user=user
    )


async def test_one_running_video_per_user_then_a_daily_cap(world):
    fake, _, minimax, _ = world
    first = await ask(fake, "파도")
    await first.wait_for_response(timeout=5, settle=0.05)  # its progress message is up
    second = await ended(await ask(fake, "바람"))
    assert second.ephemeral and second.content == RUNNING
    other = await ended(await ask(fake, "구름", user="jisu"))  # another user is not held up
    assert other.content.startswith(DONE)
    assert (await ended(first)).content.startswith(DONE)
    # Delivered: the place is free again.
    assert (await ended(await ask(fake, "바람"))).content.startswith(DONE)
    # Two of minji's three today were used (the refused one did not count): one more.
    assert (await ended(await ask(fake, "비"))).content.startswith(DONE)
    capped = await ended(await ask(fake, "눈"))
    assert capped.ephemeral and DAILY.match(capped.content), capped.content
    assert [t.body["prompt"] for t in minimax.video_tasks] == ["파도", "구름", "바람", "비"]


async def test_a_flagged_prompt_never_becomes_a_task(world):
    fake, bot, minimax, openai = world
    before = len(minimax.video_tasks)
    result = await ended(await ask(fake, "[[flag]] 폭발", user="flagger"))
    assert result.ephemeral and result.content == FLAGGED
    assert openai.moderated_inputs[-1] == "[[flag]] 폭발"
    assert len(minimax.video_tasks) == before
    assert await bot.budget.used("minimax") == before
    # The refused video holds no place: the same user can ask again at once.
    assert (await ended(await ask(fake, "잔잔한 호수", user="flagger"))).content.startswith(DONE)
