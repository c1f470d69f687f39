"""Coordination on a real Redis: liveness, atomic claims, IDENTIFY spacing, sync, outages."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot.coordination import (
    LocalCoordinator,
    Mode,
    RedisCoordinator,
    restart_backoff,
)
from bot.tasks import stop_task
from sandbox.redis_server import free_port


def snapshot_of(instance: int):
    return lambda: {"instance_id": str(instance), "role": "test", "ready": True}


def make(instance: int, prefix: str, url: str, **kwargs) -> RedisCoordinator:
    kwargs.setdefault("heartbeat_interval", 0.2)
    return RedisCoordinator(instance, url, prefix=prefix, **kwargs)


async def test_instances_see_each_other_alive_and_leave_on_close(key_prefix, redis_url):
    one, four = make(1, key_prefix, redis_url), make(4, key_prefix, redis_url)
    await one.start(snapshot_of(1))
    await four.start(snapshot_of(4))
    await asyncio.sleep(0.3)
    assert one.alive_view().alive == {1, 4} and one.alive_view().trusted
    snapshots = await four.snapshots()
    assert set(snapshots) == {1, 4} and snapshots[1]["instance_id"] == "1"
    await one.close()
    await asyncio.sleep(0.3)
    assert four.alive_view().alive == {4}
    await four.close()


async def test_a_killed_instance_drops_out_after_its_ttl(key_prefix, redis_url):
    one, four = make(1, key_prefix, redis_url), make(4, key_prefix, redis_url)
    await one.start(snapshot_of(1))
    await four.start(snapshot_of(4))
    one._task.cancel()  # dies without saying goodbye, like SIGKILL
    await asyncio.sleep(0.25)
    assert 1 in four.alive_view().alive, "still alive inside the TTL (3 x 0.2 s)"
    await asyncio.sleep(0.7)
    assert four.alive_view().alive == {4}
    await four.close()


async def test_claim_is_atomic_under_concurrency(key_prefix, redis_url):
    coordinators = [make(i % 4 + 1, key_prefix, redis_url) for i in range(40)]
    for c in coordinators:
        c._mode = Mode.REDIS
    results = await asyncio.gather(*(c.claim("1234567890") for c in coordinators * 5))
    assert results.count(True) == 1
    assert results.count(False) == len(results) - 1
    assert await coordinators[0].claim("msg:1234567890") is True, "message ids are separate keys"
    for c in coordinators:
        await c.redis.aclose()


async def test_claims_expire_with_the_interaction_token(key_prefix, redis_client, redis_url):
    coordinator = make(2, key_prefix, redis_url)
    assert await coordinator.claim("42") is True
    ttl = await redis_client.ttl(f"{key_prefix}claim:42")
    assert 890 < ttl <= 900
    assert await redis_client.get(f"{key_prefix}claim:42") == "2"
    await coordinator.redis.aclose()


async def test_identify_slots_are_spaced_across_the_fleet(key_prefix, redis_client, redis_url):
    fleet = [make(i, key_prefix, redis_url, identify_spacing=0.4) for i in (1, 2, 3, 4)]
    started = time.monotonic()

    async def identify(c: RedisCoordinator) -> float:
        await c.wait_identify_slot(initial=True)
        return time.monotonic() - started

    times = sorted(await asyncio.gather(*(identify(c) for c in fleet)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.39 for gap in gaps), gaps
    day = time.strftime("%Y%m%d", time.gmtime())
    assert await redis_client.get(f"{key_prefix}identify:count:{day}") == "4"
    for c in fleet:
        await c.redis.aclose()


def test_restart_backoff_grows_then_caps():
    assert [restart_backoff(n) for n in (1, 2, 3)] == [0, 0, 0]
    assert [restart_backoff(n) for n in (4, 5, 6)] == [5, 10, 20]
    assert restart_backoff(50) == 300


async def test_restart_delay_counts_quick_restarts(key_prefix, redis_url):
    coordinator = make(3, key_prefix, redis_url)
    delays = [await coordinator.restart_delay() for _ in range(5)]
    assert delays == [0, 0, 0, 5, 10]
    await coordinator.redis.aclose()


async def test_only_one_instance_syncs_and_only_when_the_tree_changed(key_prefix, redis_url):
    fleet = [make(i, key_prefix, redis_url) for i in (1, 2, 3, 4)]
    begun = await asyncio.gather(*(c.begin_sync("global", "hash-a") for c in fleet))
    assert begun.count(True) == 1
    syncer = fleet[begun.index(True)]
    await syncer.end_sync("global", "hash-a")
    assert [await c.begin_sync("global", "hash-a") for c in fleet] == [False] * 4
    assert await fleet[0].begin_sync("global", "hash-b") is True
    await fleet[0].end_sync("global", None)  # upload failed: hash unchanged, lock released
    assert await fleet[1].begin_sync("global", "hash-b") is True
    for c in fleet:
        await c.redis.aclose()


async def test_unreachable_redis_degrades_without_blocking(key_prefix):
    dead = make(1, key_prefix, url=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    await dead.start(snapshot_of(1))
    assert dead.mode is Mode.DEGRADED
    assert dead.alive_view().trusted is False
    assert await dead.claim("1") is None
    assert await dead.snapshots() is None
    assert await dead.restart_delay() == 0
    assert time.monotonic() - started < 5
    await dead.close()


async def test_outage_then_recovery_without_restart(key_prefix, private_redis):
    one = make(1, key_prefix, url=private_redis.url)
    four = make(4, key_prefix, url=private_redis.url)
    await one.start(snapshot_of(1))
    await four.start(snapshot_of(4))
    assert four.mode is Mode.REDIS
    private_redis.stop()
    await asyncio.sleep(1.0)
    assert four.mode is Mode.DEGRADED and one.mode is Mode.DEGRADED
    private_redis.start()
    await asyncio.sleep(1.5)
    # Back, and trusted again only after one TTL so peers have re-announced.
    assert four.mode in (Mode.WARMING, Mode.REDIS)
    await asyncio.sleep(0.7)
    assert four.mode is Mode.REDIS
    assert four.alive_view().alive == {1, 4}
    assert await four.claim("after-outage") is True
    await one.close()
    await four.close()


async def test_local_coordinator_spaces_only_re_identifies(monkeypatch):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    local = LocalCoordinator()
    await local.wait_identify_slot(initial=True)
    await local.wait_identify_slot(initial=False)
    assert slept == [5.5]


async def test_local_coordinator_answers_each_event_once():
    local = LocalCoordinator()
    assert await local.claim("7") is True
    assert await local.claim("7") is False
    assert local.mode is Mode.LOCAL and not local.alive_view().trusted
    assert await local.begin_sync("global", "x") is True


@pytest.mark.parametrize("instance", [1, 4])
async def test_snapshot_survives_non_json_values(key_prefix, instance, redis_url):
    coordinator = make(instance, key_prefix, redis_url)
    await coordinator.start(lambda: {"started": time, "ready": True})
    snapshots = await coordinator.snapshots()
    assert snapshots[instance]["ready"] is True
    await coordinator.close()


async def test_close_ends_the_heartbeat_even_if_a_cancel_is_lost(key_prefix):
    swallowed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            swallowed.append(True)  # what a cancel/timeout race on Python 3.11 looks like
        await asyncio.sleep(30)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    started = time.monotonic()
    await stop_task(task)
    assert task.cancelled() and swallowed == [True]
    assert time.monotonic() - started < 3


async def test_a_failing_snapshot_does_not_stop_the_heartbeat(key_prefix, redis_url):
    calls = {"n": 0}

    def flaky() -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("bug in a status field")
        return {"instance_id": "3", "n": calls["n"]}

    coordinator = make(3, key_prefix, redis_url)
    await coordinator.start(flaky)
    await asyncio.sleep(0.7)
    assert calls["n"] >= 3, "the loop kept beating after the failure"
    assert (await coordinator.snapshots())[3]["n"] >= 3
    await coordinator.close()
