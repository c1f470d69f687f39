"""What stands between a user and a paid call, in a real single-process bot on the
doubles: banned words and OpenAI moderation (nothing flagged reaches a provider or costs
quota), per-user limits with the wait in the message, exempt roles, and control
characters stripped from what the provider is sent. Every refusal is private."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.bot_class import MultiInstanceBot
from bot.store.quotas import LocalQuotas
from bot.store.rates import LocalRates
from sandbox.discord import FakeDiscord
from sandbox.providers import FakeMiniMax, FakeOpenAI, FakeStability
from tests.image_results import finished
from tests.integration.bot.inprocess import discord_double, running_bot
from tests.waiting import until

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "general"
FLAGGED = "이 설명은 운영 정책에 맞지 않아 처리할 수 없어요. 내용을 바꿔서 다시 시도해 주세요."
# The wait is what is left of the minute since the first image: a second or two under it.
MINUTE_WAIT = re.compile(
    r"^/이미지 명령은 1분에 2번까지 쓸 수 있어요\. (1분|5\d초) 뒤에 다시 시도해 주세요\.$"
)


class World:
    def __init__(self, fake: FakeDiscord, bot: MultiInstanceBot, minimax, openai) -> None:
        self.fake, self.bot, self.minimax, self.openai = fake, bot, minimax, openai

    def reset(self) -> None:
        self.minimax.requests.clear()
        self.openai.requests.clear()
        self.bot.store.rates = LocalRates()
        self.bot.user_limits.rates = self.bot.store.rates
        self.bot.user_limits.quotas = LocalQuotas()
        self.bot.budget.quotas = LocalQuotas()

    async def image(self, prompt: str, *, user: str = "minji", **options: object):
        handle = await self.fake.send_command(
            channel=CHANNEL, command="이미지", options={"설명": prompt, **options}, user=user
        )
        return await finished(handle)

    async def chat(self, question: str, *, user: str):
        handle = await self.fake.send_command(
            channel=CHANNEL, command="채팅", options={"질문": question}, user=user
        )
        return await handle.wait_for_response(settle=0.3)

    def drawn_prompts(self) -> list[str]:
        return [r.body["prompt"] for r in self.minimax.requests if "image" in r.path]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[World]:
    health = tmp_path_factory.mktemp("screening") / "health.json"
    minimax, stability = FakeMiniMax(), FakeStability()
    openai = FakeOpenAI(token_delay_s=0.0)
    for double in (minimax, stability, openai):
        await double.start()
    try:
        async with discord_double() as fake:
            vip = fake.state.world.add_role("후원자")
            fake.state.world.give_role("vip", vip.name)
            settings = {
                "health_file": str(health),
                "minimax_api_key": "mm-screen-key-0123456789",
                "stability_api_key": "sk-screen-key-0123456789",
                "openai_api_key": "sk-openai-screen-key-0123456789",
                "minimax_base_url": minimax.base_url,
                "stability_base_url": stability.base_url,
                "openai_base_url": openai.base_url,
                "image_rate_limit_cooldown": 0,
                "image_account_cooldown": 0,
                "limit_image_per_minute": 2,
                "limit_chat_per_minute": 1,
                "limit_exempt_roles": str(vip.id),
                "banned_words": "금지어, badword",
                "moderation_enabled": True,
            }
            async with running_bot(
                ("commands.utility", "commands.image", "commands.chat"), **settings
            ) as bot:
                yield World(fake, bot, minimax, openai)
    finally:
        for double in (minimax, stability, openai):
            await double.stop()


async def test_a_banned_word_is_refused_privately_before_anything_is_asked(world):
    world.reset()
    result = await world.image("귀여운 B.A.D.W.O.R.D 고양이")
    assert result.ephemeral
    assert result.content == "금지어(‘badword’)가 들어 있어 처리할 수 없어요."
    assert world.drawn_prompts() == [] and world.openai.moderated_inputs == []
    negative = await world.image("고양이", 제외할요소="금지어")
    assert negative.content == "금지어(‘금지어’)가 들어 있어 처리할 수 없어요."


async def test_a_flagged_prompt_never_reaches_the_provider_nor_costs_quota(world):
    world.reset()
    refused_before = world.bot.counters.refused
    sample = {"command": "이미지", "kind": "command", "outcome": "refused"}
    metric_before = world.bot.metrics.sample("mib_events_total", **sample) or 0
    result = await world.image("고양이 [[flag]]")
    assert result.ephemeral and result.content == FLAGGED
    # A refusal, not an answer nor a failure; nothing left in flight. (Counted just after
    # the private message went out: wait for it.)
    await until(lambda: world.bot.counters.refused != refused_before, what="never counted")
    assert world.bot.counters.refused == refused_before + 1
    assert world.bot.metrics.sample("mib_events_total", **sample) == metric_before + 1
    assert world.bot.counters.in_flight == 0
    assert result.messages == [result.messages[-1]], "the public placeholder was removed"
    assert world.openai.moderated_inputs == ["고양이 [[flag]]"]
    assert world.drawn_prompts() == []
    assert await world.bot.budget.used("minimax") == 0
    clean = await world.image("고양이")
    assert clean.embeds and world.drawn_prompts() == ["고양이"]


async def test_the_third_image_in_a_minute_is_refused_with_the_wait(world):
    world.reset()
    assert (await world.image("하나")).embeds
    assert (await world.image("둘")).embeds
    refused = await world.image("셋")
    assert refused.ephemeral
    assert MINUTE_WAIT.match(refused.content), refused.content
    assert world.drawn_prompts() == ["하나", "둘"]
    assert (await world.image("넷", user="other")).embeds, "limits are per user"


async def test_an_exempt_role_is_not_limited_and_others_are(world):
    world.reset()
    assert not (await world.chat("안녕", user="minji")).ephemeral
    limited = await world.chat("또 안녕", user="minji")
    assert limited.ephemeral
    assert limited.content.startswith("/채팅 명령은 1분에 1번까지 쓸 수 있어요.")
    for n in range(3):
        assert not (await world.chat(f"안녕 {n}", user="vip")).ephemeral


async def test_control_characters_never_reach_the_provider(world):
    world.reset()
    assert (await world.image("고양이\x00 와\x07 강아지\x1b")).embeds
    assert world.drawn_prompts() == ["고양이 와 강아지"]
