"""The fleet store on a real Redis: liveness, atomic claims, IDENTIFY spacing, sync, outages."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
import redis.asyncio as aioredis

from bot.status import InstanceStatus
from bot.store import FleetStore, Mode, local_store, redis_store
from bot.store.claims import ClaimState
from bot.store.startup import restart_backoff
from bot.tasks import stop_task
from sandbox.redis_server import free_port
from sandbox.tcp_proxy import TcpProxy
from tests.waiting import until

WON, LOST, PENDING = ClaimState.WON, ClaimState.LOST, ClaimState.PENDING


def status(instance: int, **fields: object) -> InstanceStatus:
    values: dict = {
        "instance_id": str(instance),
        "role": "test",
        "ready": True,
        "latency_ms": 5.0,
        "uptime_s": 1.0,
        "version": "test",
        "pid": 1,
        "updated_at": 1_700_000_000.0,
    }
    return InstanceStatus(**(values | fields))


async def lease_left_ms(redis_client, key: str, incarnation: str) -> int:
    """How long the pending lease `incarnation` holds on `key` still runs (Redis's clock)."""
    state, owner, lease_end = (await redis_client.get(key)).split(":")
    assert (state, owner) == ("p", incarnation)
    seconds, micros = await redis_client.time()
    return int(lease_end) - (seconds * 1000 + micros // 1000)


def snapshot_of(instance: int):
    return lambda: status(instance)


def make(instance: int, prefix: str, url: str, **kwargs) -> FleetStore:
    kwargs.setdefault("heartbeat_interval", 0.2)
    return redis_store(instance, url, prefix=prefix, **kwargs)


async def test_instances_see_each_other_alive_and_leave_on_close(key_prefix, redis_url):
    one, four = make(1, key_prefix, redis_url), make(4, key_prefix, redis_url)
    await one.start(snapshot_of(1))
    await four.start(snapshot_of(4))
    await asyncio.sleep(0.3)
    assert one.liveness.alive_view().alive == {1, 4} and one.liveness.alive_view().trusted
    snapshots = await four.liveness.snapshots()
    assert set(snapshots) == {1, 4} and snapshots[1].instance_id == "1"
    assert snapshots[4] == status(4), "the snapshot comes back as it was published"
    await one.close()
    await asyncio.sleep(0.3)
    assert four.liveness.alive_view().alive == {4}
    await four.close()


async def test_a_killed_instance_drops_out_after_its_ttl(key_prefix, redis_url):
    one, four = make(1, key_prefix, redis_url), make(4, key_prefix, redis_url)
    await one.start(snapshot_of(1))
    await four.start(snapshot_of(4))
    one.liveness._task.cancel()  # dies without saying goodbye, like SIGKILL
    killed_at = time.monotonic()
    await asyncio.sleep(0.25)
    assert 1 in four.liveness.alive_view().alive, "still alive inside the TTL (3 x 0.2 s)"
    await until(lambda: four.liveness.alive_view().alive == {4}, what="1 never dropped out")
    assert time.monotonic() - killed_at >= 0.4, "not before its last beat's TTL ran out"
    await four.close()


async def test_claim_is_atomic_under_concurrency(key_prefix, redis_url):
    stores = [make(i % 4 + 1, key_prefix, redis_url) for i in range(40)]
    results = await asyncio.gather(*(s.claims.claim("1234567890") for s in stores * 5))
    won_by = {stores[i % 40].incarnation for i, r in enumerate(results) if r.state is WON}
    assert len(won_by) == 1, "one incarnation wins"
    assert [r.state for r in results].count(WON) == 5, "and its own repeated claims win again"
    others = [r for r in results if r.state is not WON]
    assert {r.state for r in others} == {PENDING}
    assert all(0 < r.retry_in_s <= 1.0 for r in others), "the lease ends within a second"
    again = await stores[0].claims.claim("msg:1234567890")
    assert again.state is WON, "message ids are separate keys"
    for s in stores:
        await s.close()


async def test_a_claim_is_a_lease_until_made_final(key_prefix, redis_client, redis_url):
    store, peer = make(2, key_prefix, redis_url), make(4, key_prefix, redis_url)
    assert (await store.claims.claim("42")).state is WON
    key = f"{key_prefix}claim:42"
    assert 0 < await lease_left_ms(redis_client, key, store.incarnation) <= 1000
    assert store.incarnation.startswith("2.") and store.incarnation != peer.incarnation
    assert (await peer.claims.claim("42")).state is PENDING
    assert await store.claims.finalize("42") is True
    assert await redis_client.get(key) == f"f:{store.incarnation}"
    assert 890 < await redis_client.ttl(key) <= 900, "final: as long as the token lives"
    assert (await peer.claims.claim("42")).state is LOST
    assert await peer.claims.finalize("42") is False, "only the holder makes it final"
    await store.close()
    await peer.close()


async def test_a_lapsed_lease_goes_to_the_next_claimer(key_prefix, redis_client, redis_url):
    store, peer = make(1, key_prefix, redis_url), make(4, key_prefix, redis_url)
    key = f"{key_prefix}claim:7"
    assert (await store.claims.claim("7")).state is WON
    await asyncio.sleep(0.5)
    assert await store.claims.renew("7") is True
    # About 500 ms were left; a renewal makes it a full second again.
    assert await lease_left_ms(redis_client, key, store.incarnation) > 700, "a full lease again"
    await asyncio.sleep(1.05)  # the holder stalls: no renewal, no answer
    assert (await peer.claims.claim("7")).state is WON
    assert await store.claims.renew("7") is False, "the stalled holder lost it"
    assert await store.claims.finalize("7") is False
    await store.claims.release("7")  # not ours any more: releasing changes nothing
    assert await lease_left_ms(redis_client, key, peer.incarnation) > 700
    await peer.claims.release("7")
    assert await redis_client.exists(f"{key_prefix}claim:7") == 0
    await store.close()
    await peer.close()


async def test_an_instance_counts_itself_alive_only_from_its_second_connected_beat(
    key_prefix, redis_client, redis_url
):
    """Peers may not have seen its first beat yet: counting itself at once could make it
    and a peer both act as owner. A snapshot that does not parse counts as not connected."""
    await redis_client.set(f"{key_prefix}instance:3", "not a snapshot", px=60_000)
    one = make(1, key_prefix, redis_url, heartbeat_interval=0.2)
    await one.start(snapshot_of(1))
    view = one.liveness.alive_view()
    assert (view.alive, view.announcing) == (set(), {1, 3}), "one beat: not yet itself"
    await until(lambda: 1 in one.liveness.alive_view().alive, what="never counted itself")
    assert one.liveness.alive_view().alive == {1}, "3 announces but is not connected"
    await one.close()


async def test_the_canary_counts_each_receiver_for_a_minute(key_prefix, redis_client, redis_url):
    one, four = make(1, key_prefix, redis_url), make(4, key_prefix, redis_url)
    assert (await one.claims.seen_by("e9"), await four.claims.seen_by("e9")) == (0, 0)
    await one.claims.note_seen("e9")
    await four.claims.note_seen("e9")
    assert (await one.claims.seen_by("e9"), await four.claims.seen_by("e9")) == (2, 2)
    assert 55 < await redis_client.ttl(f"{key_prefix}seen:e9") <= 60, "kept a minute, no more"
    assert await redis_client.keys(f"{key_prefix}*") == [f"{key_prefix}seen:e9"]
    for store in (one, four):
        await store.close()


async def test_a_pending_claim_says_when_the_holders_lease_ends_in_seconds(
    key_prefix, redis_client, redis_url
):
    store = make(4, key_prefix, redis_url)
    seconds, micros = await redis_client.time()
    lease_end_ms = seconds * 1000 + micros // 1000 + 10_000_000  # a lease of 10,000 s
    await redis_client.set(f"{key_prefix}claim:far", f"p:1.other:{lease_end_ms}")
    rank0, rank2 = await store.claims.claim("far"), await store.claims.claim("far", 2)
    assert rank0.state is PENDING and 9_999 < rank0.retry_in_s <= 10_000
    assert rank2.state is PENDING and 10_000.1 < rank2.retry_in_s <= 10_000.2
    await store.close()


async def test_back_from_an_outage_each_rank_holds_off_half_a_second_plus_its_stagger(
    key_prefix, redis_client, redis_url
):
    """A claim that vanished with Redis: its holder gets 0.5 s to write it back, and the
    ranks after it keep their order (rank r: 0.5 s + r x 0.1 s) before taking it."""
    holder, rank1, rank2 = (make(i, key_prefix, redis_url) for i in (1, 4, 2))
    assert (await holder.claims.claim("v")).state is WON
    await redis_client.delete(f"{key_prefix}claim:v")  # Redis came back without its data
    held = [
        await store.claims.claim("v", rank, after_outage=True)
        for store, rank in ((holder, 0), (rank1, 1), (rank2, 2))
    ]
    assert [(r.state, r.retry_in_s) for r in held] == [
        (ClaimState.HELD_OFF, 0.5),
        (ClaimState.HELD_OFF, 0.6),
        (ClaimState.HELD_OFF, 0.7),
    ]
    assert await redis_client.get(f"{key_prefix}claim:v") is None, "nothing taken meanwhile"
    assert (await rank1.claims.claim("v", 1)).state is WON, "after the hold-off it is free"
    assert (await rank2.claims.claim("v", 2, after_outage=True)).state is PENDING
    for store in (holder, rank1, rank2):
        await store.close()


async def test_a_lapsed_lease_is_retaken_in_rank_order(key_prefix, redis_url):
    holder, rank1, rank3 = (make(i, key_prefix, redis_url) for i in (1, 4, 3))
    assert (await holder.claims.claim("8")).state is WON
    # Asked while the 1 s lease runs, each rank is told to come back when it lapses plus
    # its rank's 0.1 s stagger. Rank 3 asked first, so its wait is 0.2 s longer or more,
    # however slowly the two calls went (Redis's clock, whole milliseconds).
    late = await rank3.claims.claim("8", rank=3)
    first = await rank1.claims.claim("8", rank=1)
    assert late.state is PENDING and first.state is PENDING
    assert first.retry_in_s <= 1.1 and late.retry_in_s <= 1.3
    assert late.retry_in_s - first.retry_in_s >= 0.2 - 1e-9, "rank 3 waits its turn"
    await asyncio.sleep(first.retry_in_s + 0.01)
    assert (await rank1.claims.claim("8", rank=1)).state is WON, "the next rank takes it"
    await asyncio.sleep(0.3)
    assert (await rank3.claims.claim("8", rank=3)).state is PENDING, "and holds it now"
    for store in (holder, rank1, rank3):
        await store.close()


async def test_a_claim_whose_reply_was_lost_is_still_a_win(key_prefix, redis_client, redis_url):
    # The first try lands but its reply never comes back; redis-py times out and retries.
    proxy = TcpProxy("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    store = make(3, key_prefix, proxy.url)
    peer = make(4, key_prefix, redis_url)
    await store.claims.claim("warm-up")  # connect and load the script first
    proxy.withhold_replies(1)
    result = await store.claims.claim("99")
    assert result.state is WON, "the retry finds its own lease and wins"
    assert await lease_left_ms(redis_client, f"{key_prefix}claim:99", store.incarnation) > 0
    assert (await peer.claims.claim("99")).state is PENDING
    assert store.mode is not Mode.DEGRADED, "one lost reply is not an outage"
    await store.close()
    await peer.close()
    await proxy.stop()


async def test_identify_slots_are_spaced_across_the_fleet(key_prefix, redis_client, redis_url):
    fleet = [make(i, key_prefix, redis_url, identify_spacing=0.4) for i in (1, 2, 3, 4)]
    started = time.monotonic()

    async def identify(c: FleetStore) -> float:
        await c.startup.wait_identify_slot(initial=True)
        return time.monotonic() - started

    times = sorted(await asyncio.gather(*(identify(c) for c in fleet)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.39 for gap in gaps), gaps
    day = time.strftime("%Y%m%d", time.gmtime())
    assert await redis_client.get(f"{key_prefix}identify:count:{day}") == "4"
    for c in fleet:
        await c.close()


def test_restart_backoff_grows_then_caps():
    assert [restart_backoff(n) for n in (1, 2, 3)] == [0, 0, 0]
    assert [restart_backoff(n) for n in (4, 5, 6)] == [5, 10, 20]
    assert restart_backoff(50) == 900, "15 minutes at most"


async def test_restart_delay_counts_quick_restarts(key_prefix, redis_url):
    store = make(3, key_prefix, redis_url)
    delays = [await store.startup.restart_delay() for _ in range(5)]
    assert delays == [0, 0, 0, 5, 10]
    await store.close()


async def test_only_one_instance_syncs_and_only_when_the_tree_changed(key_prefix, redis_url):
    fleet = [make(i, key_prefix, redis_url) for i in (1, 2, 3, 4)]
    starts = [c.startup for c in fleet]
    begun = await asyncio.gather(*(s.begin_sync("global", "hash-a") for s in starts))
    assert begun.count(True) == 1
    syncer = starts[begun.index(True)]
    await syncer.end_sync("global", "hash-a")
    assert [await s.begin_sync("global", "hash-a") for s in starts] == [False] * 4
    assert await starts[0].begin_sync("global", "hash-b") is True
    await starts[0].end_sync("global", None)  # upload failed: hash unchanged, lock released
    assert await starts[1].begin_sync("global", "hash-b") is True
    for c in fleet:
        await c.close()


async def test_unreachable_redis_degrades_without_blocking(key_prefix):
    dead = make(1, key_prefix, url=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    await dead.start(snapshot_of(1))
    assert dead.mode is Mode.DEGRADED
    assert dead.liveness.alive_view().trusted is False
    assert (await dead.claims.claim("1")).state is ClaimState.UNKNOWN
    assert await dead.liveness.snapshots() is None
    assert await dead.startup.restart_delay() == 0
    assert time.monotonic() - started < 5
    await dead.close()


async def test_outage_then_recovery_without_restart(key_prefix, private_redis):
    one = make(1, key_prefix, url=private_redis.url)
    four = make(4, key_prefix, url=private_redis.url)
    await one.start(snapshot_of(1))
    await four.start(snapshot_of(4))
    assert four.mode is Mode.REDIS
    private_redis.stop()
    await asyncio.sleep(0.5)
    assert four.mode is Mode.REDIS, "debounced: half a second of failures is not an outage"
    await asyncio.sleep(1.0)  # failing for over a second (2 heartbeats, at least 1 s)
    assert four.mode is Mode.DEGRADED and one.mode is Mode.DEGRADED
    await asyncio.sleep(1.5)  # a longer outage: the failed beats back off to their cap
    private_redis.start()
    # Back, and trusted again only after one TTL, by when every live peer has re-announced:
    # the first trusted view already holds both (a peer's retry never waits past a beat).
    deadline = time.monotonic() + 10
    while four.mode is not Mode.REDIS:
        assert four.mode in (Mode.DEGRADED, Mode.WARMING)
        assert time.monotonic() < deadline, "never trusted Redis again"
        await asyncio.sleep(0.01)
    assert four.liveness.alive_view().alive == {1, 4}
    assert (await four.claims.claim("after-outage")).state is WON
    await one.close()
    await four.close()


async def test_local_store_spaces_only_re_identifies(monkeypatch):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    local = local_store()
    await local.startup.wait_identify_slot(initial=True)
    await local.startup.wait_identify_slot(initial=False)
    assert slept == [5.5]


async def test_local_store_answers_each_event_once():
    local = local_store()
    assert (await local.claims.claim("7")).state is WON
    assert (await local.claims.claim("7")).state is LOST
    assert local.mode is Mode.LOCAL and not local.liveness.alive_view().trusted
    assert await local.startup.begin_sync("global", "x") is True


@pytest.mark.parametrize("instance", [1, 4])
async def test_a_peer_of_another_version_is_still_read(
    key_prefix, instance, redis_client, redis_url
):
    # A rolling update mixes versions: unknown fields are ignored, missing ones defaulted.
    await redis_client.set(
        f"{key_prefix}instance:{instance}",
        json.dumps(
            {"instance_id": str(instance), "ready": True, "future": 1, "counters": {"handled": 3}}
        ),
    )
    store = make(2, key_prefix, redis_url)
    snapshots = await store.liveness.snapshots()
    assert snapshots[instance].ready is True
    assert snapshots[instance].counters.handled == 3
    assert snapshots[instance].counters.failed_1h == 0
    await store.close()


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

    def flaky() -> InstanceStatus:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("bug in a status field")
        return status(3, uptime_s=float(calls["n"]))

    store = make(3, key_prefix, redis_url)
    await store.start(flaky)

    async def published_after_the_failure() -> bool:
        snapshots = await store.liveness.snapshots()
        return bool(snapshots) and 3 in snapshots and snapshots[3].uptime_s >= 3

    await until(published_after_the_failure, what="the loop stopped beating after the failure")
    await store.close()


async def test_announcing_is_read_fresh_and_covers_instances_not_yet_connected(
    key_prefix, redis_url
):
    three, four = make(3, key_prefix, redis_url), make(4, key_prefix, redis_url)
    await four.start(snapshot_of(4))
    assert await four.liveness.announcing_now(3) is False
    await three.start(lambda: status(3, ready=False))  # restarting: heartbeating, not connected
    assert await four.liveness.announcing_now(3) is True, "read now, not at four's next beat"
    await until(lambda: four.liveness.alive_view().announcing == {3, 4}, what="3 not seen")
    assert four.liveness.alive_view().alive == {4}, "announcing, not alive: not connected"
    await three.close()
    assert await four.liveness.announcing_now(3) is False
    await four.close()


async def test_a_healthy_instance_beats_once_per_interval(key_prefix, private_redis):
    """Heartbeats cost Redis one write each: a healthy instance writes once a beat, not at
    the fast retry pace of a failing one."""
    client = aioredis.Redis.from_url(private_redis.url)
    one = make(1, key_prefix, private_redis.url, heartbeat_interval=1.0)
    await one.start(snapshot_of(1))
    before = (await client.info("commandstats")).get("cmdstat_set", {}).get("calls", 0)
    await asyncio.sleep(3.5)
    after = (await client.info("commandstats"))["cmdstat_set"]["calls"]
    assert 3 <= after - before <= 4, after - before  # beats at 1, 2 and 3 s (4: a poke)
    await one.close()
    await client.aclose()
