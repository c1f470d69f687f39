"""RedisLink's modes: a stall or one failed call is not an outage; a lasting failure is."""

from __future__ import annotations

import pytest

from bot.store import Mode
from bot.store import redis_link as redis_link_module
from bot.store.redis_link import RedisLink


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(redis_link_module.time, "monotonic", clock)
    return clock


def reached_link() -> RedisLink:
    link = RedisLink("redis://127.0.0.1:1/0", prefix="t:", warmup_s=6.0, degrade_after_s=4.0)
    link.succeeded()
    link.trust_now()
    return link


def test_failures_shorter_than_the_debounce_keep_redis_mode(clock):
    link = reached_link()
    link.failed(TimeoutError())
    clock.now += 3.9
    link.failed(TimeoutError())
    assert link.mode is Mode.REDIS
    link.succeeded()
    clock.now += 10
    assert link.mode is Mode.REDIS, "a success in between starts the count again"


def test_failing_for_the_whole_debounce_degrades(clock):
    link = reached_link()
    link.failed(ConnectionError())
    clock.now += 4.0
    assert link.mode is Mode.DEGRADED


def test_after_an_outage_a_success_warms_up_before_trusting(clock):
    link = reached_link()
    link.failed(ConnectionError())
    clock.now += 5
    assert link.mode is Mode.DEGRADED
    link.succeeded()
    assert link.mode is Mode.WARMING
    clock.now += 5.9
    assert link.mode is Mode.WARMING
    clock.now += 0.2
    assert link.mode is Mode.REDIS


def test_never_reached_goes_static_at_once(clock):
    link = RedisLink("redis://127.0.0.1:1/0", prefix="t:", warmup_s=6.0, degrade_after_s=4.0)
    assert link.mode is Mode.WARMING
    link.failed(ConnectionError())
    assert link.mode is Mode.DEGRADED
