"""Daily provider quotas in a real single-process bot, on the Discord, MiniMax,
Stability and OpenAI doubles: a spent provider hands /이미지 to the next one, a spent
area is refused with the time it comes back, a call the provider refused costs nothing,
and /상태 shows what is left to admins only. The fleet cases (a spent key on one
instance, the next one serving) are in tests/e2e/test_quotas.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.bot_class import MultiInstanceBot
from bot.store.quotas import LocalQuotas
from sandbox.discord import FakeDiscord
from sandbox.discord.world import MANAGE_GUILD
from sandbox.providers import FakeMiniMax, FakeOpenAI, FakeStability
from tests.image_results import finished
from tests.integration.bot.inprocess import discord_double, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "general"
# 2026-11-29 15:30 UTC is 00:30 on 30 November in Seoul: the quota comes back on 1 December.
FIXED_NOW = 1795966200.0


class World:
    def __init__(self, fake: FakeDiscord, bot: MultiInstanceBot, minimax, stability, openai):
        self.fake, self.bot = fake, bot
        self.minimax, self.stability, self.openai = minimax, stability, openai

    def reset(self) -> None:
        for double in (self.minimax, self.stability, self.openai):
            double.requests.clear()
        self.bot.budget.quotas = LocalQuotas()  # a new day, as far as the bot can tell
        self.bot.budget.last_used.clear()
        self.bot.budget._clock = lambda: FIXED_NOW

    async def image(self, prompt: str, *, user: str = "minji"):
        handle = await self.fake.send_command(
            channel=CHANNEL, command="이미지", options={"설명": prompt}, user=user
        )
        return await finished(handle)

    def image_calls(self, double) -> int:
        return sum(1 for r in double.requests if "image" in r.path)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[World]:
    health = tmp_path_factory.mktemp("quotas") / "health.json"
    minimax, stability = FakeMiniMax(), FakeStability()
    openai = FakeOpenAI(token_delay_s=0.0)
    for double in (minimax, stability, openai):
        await double.start()
    settings = {
        "health_file": str(health),
        "minimax_api_key": "mm-quota-key-0123456789",
        "stability_api_key": "sk-quota-key-0123456789",
        "openai_api_key": "sk-openai-quota-key-0123456789",
        "minimax_base_url": minimax.base_url,
        "stability_base_url": stability.base_url,
        "openai_base_url": openai.base_url,
        "image_max_retries": 0,
        "image_rate_limit_cooldown": 0,
        "image_account_cooldown": 0,
        "quota_minimax_daily": 2,
        "quota_stability_daily": 1,
        "quota_openai_daily": 1,
        "limit_chat_per_minute": 0,
        "limit_image_per_minute": 0,
    }
    try:
        async with discord_double() as fake:
            manager = fake.state.world.add_role("운영진", MANAGE_GUILD)
            fake.state.world.give_role("admin", manager.name)
            async with running_bot(
                ("commands.utility", "commands.image", "commands.chat"), **settings
            ) as bot:
                yield World(fake, bot, minimax, stability, openai)
    finally:
        for double in (minimax, stability, openai):
            await double.stop()


async def test_a_spent_provider_hands_over_and_a_spent_area_says_when_it_returns(world):
    world.reset()
    served = [await world.image(f"고양이 {n}") for n in range(3)]
    assert [r.embeds[0]["fields"][0]["value"].split(" · ")[0] for r in served] == [
        "MiniMax",
        "MiniMax",
        "Stability",
    ]
    refused = await world.image("고양이 3")
    assert refused.ephemeral
    assert refused.content == (
        "오늘 쓸 수 있는 MiniMax 사용량(하루 2회)을 모두 썼어요. "
        "12월 1일 0시 (KST)에 다시 쓸 수 있어요."
    )
    # Exactly the limits reached the providers: 2 and 1, nothing for the refused one.
    assert (world.image_calls(world.minimax), world.image_calls(world.stability)) == (2, 1)


async def test_a_call_the_provider_refused_costs_nothing(world):
    world.reset()
    # MiniMax answers 1002 (rate limited): nothing was drawn, so nothing is counted, and
    # Stability serves instead.
    result = await world.image("여우 [[1002]]")
    assert result.embeds, result.content
    assert await world.bot.budget.used("minimax") == 0
    assert await world.bot.budget.used("stability") == 1
    # The unit came back: MiniMax still has both of today's calls.
    assert [await world.image(f"여우 {n}") for n in range(2)][-1].embeds
    assert world.image_calls(world.minimax) == 3  # the refused call and two drawings


async def test_chat_is_refused_with_the_reset_time_once_openai_is_spent(world):
    world.reset()
    first = await world.fake.send_command(
        channel=CHANNEL, command="채팅", options={"질문": "안녕?"}, user="minji"
    )
    answer = await first.wait_for_response(settle=0.3)
    assert not answer.ephemeral and answer.content
    second = await world.fake.send_command(
        channel=CHANNEL, command="채팅", options={"질문": "또 안녕?"}, user="minji"
    )
    refused = await second.wait_for_response(settle=0.3)
    assert refused.ephemeral
    assert refused.content == (
        "오늘 쓸 수 있는 OpenAI 사용량(하루 1회)을 모두 썼어요. "
        "12월 1일 0시 (KST)에 다시 쓸 수 있어요."
    )
    chats = [r for r in world.openai.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 1


async def status_field(world: World, user: str) -> tuple[bool, list[str]]:
    handle = await world.fake.send_command(channel=CHANNEL, command="상태", user=user)
    result = await handle.wait_for_response(settle=0.3)
    (field,) = result.embeds[0]["fields"]
    return result.ephemeral, field["value"].splitlines()


async def test_status_shows_quota_numbers_to_a_server_manager_only_and_privately(world):
    world.reset()
    await world.image("강아지")  # one MiniMax call of two
    await world.bot.budget.refresh()  # what the health loop does every few seconds
    private, lines = await status_field(world, "admin")
    assert private
    assert lines[-1] == "남은 할당량 OpenAI 1/1 · MiniMax 1/2 · Stability AI 1/1"
    public, lines = await status_field(world, "minji")
    assert not public
    assert lines[-1] == "할당량 여유 있음"


async def test_quota_gauges_follow_the_counts(world):
    world.reset()
    await world.image("토끼")
    await world.bot.budget.refresh()
    metrics = world.bot.metrics
    assert metrics.sample("mib_quota_used", provider="minimax") == 1
    assert metrics.sample("mib_quota_remaining", provider="minimax") == 1
    assert metrics.sample("mib_quota_remaining", provider="stability") == 1
    assert metrics.sample("mib_quota_used", provider="openai") == 0
