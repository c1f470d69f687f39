"""The instance's provider budget on real Redis: two instances sharing a key never pass
its limit together, however many call at once; a spent key says when it returns; an
instance with its own key has its own budget; without Redis it counts on its own."""

from __future__ import annotations

import asyncio

import pytest

from bot.quota_budget import ProviderBudget, quota_admission
from bot.store.quotas import QuotasWithStandIn, RedisQuotas
from bot.store.redis_link import RedisLink
from env_manager import Settings
from services.budget import DailyQuotaSpent

# 2026-11-29 14:59:59 UTC is 23:59:59 in Seoul; one second later a new day starts there.
BEFORE_MIDNIGHT = 1795964399.0


def settings(instance: str, minimax_key: str, limit: int = 10) -> Settings:
    return Settings.build(
        instance_id=instance,
        discord_token="t",
        minimax_api_key=minimax_key,
        quota_minimax_daily=limit,
    )


@pytest.fixture
async def links(redis_url, key_prefix):
    made: list[RedisLink] = []

    def link(url: str = redis_url) -> RedisLink:
        made.append(RedisLink(url, prefix=key_prefix, warmup_s=1, degrade_after_s=1))
        return made[-1]

    yield link
    for each in made:
        await each.close()


async def attempt(budget: ProviderBudget) -> bool:
    try:
        await budget.reserve("minimax")
    except DailyQuotaSpent:
        return False
    return True


async def test_fifty_calls_from_two_instances_sharing_a_key_get_exactly_ten(links):
    two = ProviderBudget(QuotasWithStandIn(RedisQuotas(links())), settings("2", "shared-key"))
    four = ProviderBudget(QuotasWithStandIn(RedisQuotas(links())), settings("4", "shared-key"))
    granted = await asyncio.gather(*(attempt(b) for b in [two, four] * 25))
    assert granted.count(True) == 10
    assert await two.used("minimax") == 10 and await four.spent("minimax")


async def test_an_instance_with_its_own_key_keeps_serving_and_admission_follows(links):
    two = ProviderBudget(
        QuotasWithStandIn(RedisQuotas(links())), settings("2", "key-of-two", limit=1)
    )
    four = ProviderBudget(
        QuotasWithStandIn(RedisQuotas(links())), settings("4", "key-of-four", limit=1)
    )
    assert await attempt(two)
    admit_two = await quota_admission(two, ("minimax",))("비디오")
    admit_four = await quota_admission(four, ("minimax",))("비디오")
    assert (admit_two.kind.value, admit_four.kind.value) == ("decline", "serve")


async def test_the_day_turns_at_midnight_in_the_operators_time_zone(links):
    now = [BEFORE_MIDNIGHT]
    budget = ProviderBudget(
        QuotasWithStandIn(RedisQuotas(links())), settings("2", "k", limit=1), clock=lambda: now[0]
    )
    assert await attempt(budget)
    with pytest.raises(DailyQuotaSpent) as spent:
        await budget.reserve("minimax")
    assert spent.value.user_message == (
        "오늘 쓸 수 있는 MiniMax 사용량(하루 1회)을 모두 썼어요. "
        "11월 30일 0시 (KST)에 다시 쓸 수 있어요."
    )
    now[0] += 1  # 00:00:00 in Seoul
    assert await attempt(budget)


async def test_without_redis_each_instance_counts_on_its_own_against_the_limit(links):
    closed = "redis://127.0.0.1:9/0"  # nothing listens there
    budget = ProviderBudget(
        QuotasWithStandIn(RedisQuotas(links(closed))), settings("2", "k", limit=2)
    )
    assert [await attempt(budget) for _ in range(3)] == [True, True, False]


async def test_without_redis_a_unit_given_back_is_given_back_to_the_local_count(links):
    closed = "redis://127.0.0.1:9/0"
    budget = ProviderBudget(
        QuotasWithStandIn(RedisQuotas(links(closed))), settings("2", "k", limit=1)
    )
    unit = await budget.reserve("minimax")
    assert not await attempt(budget)
    await budget.release(unit)  # the provider refused without working
    assert await attempt(budget)
