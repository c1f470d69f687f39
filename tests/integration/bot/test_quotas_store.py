"""Daily quotas on real Redis and in process: never over the limit, whatever the
concurrency; shared by one key, separate per key; days by the operator's clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import structlog

from bot.store.quotas import (
    LocalQuotas,
    QuotasWithStandIn,
    RedisQuotas,
    Reservation,
    counter_name,
    key_fingerprint,
    next_reset,
    quota_day,
)
from bot.store.redis_link import RedisLink

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(params=["local", "redis"])
async def quotas_factory(request, key_prefix, redis_url):
    links: list[RedisLink] = []
    local = LocalQuotas()

    def make():
        if request.param == "local":
            return local
        link = RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
        links.append(link)
        return RedisQuotas(link)

    yield make
    for link in links:
        await link.close()


async def test_fifty_concurrent_reserves_from_two_instances_never_pass_ten(quotas_factory):
    two, four = quotas_factory(), quotas_factory()  # two instances sharing one key
    counter = counter_name("minimax", "shared-key", "20261129")
    outcomes = await asyncio.gather(*(store.reserve(counter, 10) for store in [two, four] * 25))
    granted = [o for o in outcomes if o is not None]
    assert len(granted) == 10
    assert sorted(o.used for o in granted) == list(range(1, 11))
    assert await two.used(counter) == 10


async def test_a_released_unit_can_be_reserved_again_and_never_goes_below_zero(quotas_factory):
    store = quotas_factory()
    counter = counter_name("openai", "k", "20261129")
    first = await store.reserve(counter, 1)
    assert first is not None and await store.reserve(counter, 1) is None
    await store.release(first)
    assert await store.used(counter) == 0
    await store.release(first)  # twice: still zero
    assert await store.used(counter) == 0
    assert await store.reserve(counter, 1) is not None
    unknown = counter_name("openai", "k", "20261128")
    await store.release(Reservation(unknown, 1))  # never reserved here: nothing to give back
    assert await store.used(unknown) == 0


async def test_keys_and_days_have_their_own_counters(quotas_factory):
    store = quotas_factory()
    assert await store.reserve(counter_name("minimax", "key-a", "20261129"), 1) is not None
    assert await store.reserve(counter_name("minimax", "key-b", "20261129"), 1) is not None
    assert await store.reserve(counter_name("minimax", "key-a", "20261130"), 1) is not None
    assert await store.reserve(counter_name("minimax", "key-a", "20261129"), 1) is None


def test_a_counter_names_the_key_by_fingerprint_only():
    name = counter_name("openai", "sk-proj-secret-value", "20261129")
    assert name == f"openai:{key_fingerprint('sk-proj-secret-value')}:20261129"
    assert "secret" not in name and len(key_fingerprint("x")) == 12


@pytest.mark.parametrize(
    ("utc", "day", "reset_utc"),
    [
        # 14:59 UTC is 23:59 in Seoul; 15:00 UTC is already the next day there.
        (
            datetime(2026, 11, 29, 14, 59, tzinfo=UTC),
            "20261129",
            datetime(2026, 11, 29, 15, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 29, 15, 0, tzinfo=UTC),
            "20261130",
            datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 12, 31, 20, 0, tzinfo=UTC),
            "20270101",
            datetime(2027, 1, 1, 15, 0, tzinfo=UTC),
        ),
    ],
)
def test_days_follow_the_operators_timezone(utc, day, reset_utc):
    assert quota_day(utc, SEOUL) == day
    assert next_reset(utc, SEOUL) == reset_utc


async def test_redis_layout_one_counter_per_provider_key_and_day(key_prefix, redis_link):
    """`{prefix}quota:{provider}:{key fingerprint}:{YYYYMMDD}`, kept two days
    (ARCHITECTURE.md, "Redis key layout")."""
    await RedisQuotas(redis_link).reserve(counter_name("minimax", "k", "20261129"), 5)
    key = f"{key_prefix}quota:minimax:{key_fingerprint('k')}:20261129"
    assert await redis_link.redis.get(key) == "1"
    assert 2 * 86400 - 5 < await redis_link.redis.ttl(key) <= 2 * 86400


async def test_without_redis_units_are_counted_here_and_the_operator_is_told():
    link = RedisLink("redis://127.0.0.1:9/0", prefix="t:", warmup_s=1, degrade_after_s=1)
    quotas = QuotasWithStandIn(RedisQuotas(link))  # nothing listens on port 9
    counter = counter_name("minimax", "k", "20261129")
    with structlog.testing.capture_logs() as logs:
        unit = await quotas.reserve(counter, 2)
    assert unit is not None and unit.stand_in and unit.used == 1
    assert await quotas.used(counter) == 1, "what this process counted"
    [line] = [e for e in logs if e["event"] == "quota_counted_locally"]
    assert line["log_level"] == "warning" and line["counter"] == counter
    assert "127.0.0.1:9" in line["error"], "the error says which Redis was unreachable"
    await link.close()
