"""The answering path on real Redis: it holds a won claim until Discord has the answer,
then makes it final, and checks that every connected instance received the event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from bot import answering
from bot.answering import AnswerPath, Event, EventKind
from bot.gate import AnswerGate, GateResult, Verdict
from bot.status import Counters, InstanceStatus
from bot.store import redis_store
from bot.store.claims import LEASE_S
from env_manager import Settings
from sandbox.tcp_proxy import TcpProxy
from tests.waiting import until

STEP = 0.4


async def member(i: int, prefix: str, url: str, heartbeat: float = 0.2) -> AnswerGate:
    store = redis_store(i, url, prefix=prefix, heartbeat_interval=heartbeat)
    await store.start(lambda: InstanceStatus(str(i), "test", True, None, 0.0, "t", 1))
    return AnswerGate(Settings.build(instance_id=str(i)), store, claim_step=STEP)


async def seen_each_other(*gates: AnswerGate) -> None:
    """Until every member ranks all of them: joined (two beats), each read by the others."""
    everyone = {gate.instance for gate in gates}
    await until(
        lambda: all(gate.store.liveness.alive_view().alive == everyone for gate in gates),
        what=f"members {sorted(everyone)} never all saw each other",
    )


async def made_final(client: aioredis.Redis, key: str, gate: AnswerGate, what: str) -> None:
    """Until `key` is final for `gate`, from the moment its answer is in. Within a lease:
    the hold ends on the answer, not when it gives up a lease past the act deadline."""

    async def final() -> bool:
        return await client.get(key) == f"f:{gate.store.incarnation}"

    await until(final, timeout=LEASE_S, what=what)


async def test_a_slow_first_answer_keeps_its_claim_and_then_makes_it_final(
    key_prefix, redis_client, redis_url
):
    owner, peer = await member(1, key_prefix, redis_url), await member(4, key_prefix, redis_url)
    await seen_each_other(owner, peer)
    path = AnswerPath(owner, Counters())
    created = time.time()
    event = Event(EventKind.COMMAND, "slow-1", "핑", "채팅방-1", created_at=created)
    acked = False

    async def refuse(message: str) -> None:
        raise AssertionError(message)

    assert await path.admit(event, refuse, lambda: acked) is True
    # The owner takes longer than a lease to acknowledge: the peer, rank 1, keeps
    # finding the renewed lease and gives up once it would outlast the act deadline.
    peer_result = await peer.should_answer("slow-1", "채팅방-1", "핑", created)
    assert peer_result.verdict is Verdict.SILENT
    assert time.time() - created > 1.1, "the peer saw the lease renewed past its first end"
    value = await redis_client.get(f"{key_prefix}claim:slow-1")
    assert value.startswith("p:"), "it gave up at the act deadline, the claim still pending"
    acked = True
    await made_final(
        redis_client, f"{key_prefix}claim:slow-1", owner, "not final once Discord has the answer"
    )
    assert 890 < await redis_client.ttl(f"{key_prefix}claim:slow-1") <= 900
    await path.close()
    for gate in (owner, peer):
        await gate.store.close()


async def test_an_answer_in_time_makes_the_claim_final_at_once(key_prefix, redis_client, redis_url):
    owner = await member(2, key_prefix, redis_url)
    await seen_each_other(owner)  # joined: it ranks itself
    path = AnswerPath(owner, Counters())
    event = Event(EventKind.COMMAND, "quick-1", "핑", "이미지생성-1", created_at=time.time())

    async def refuse(message: str) -> None:
        raise AssertionError(message)

    assert await path.admit(event, refuse, lambda: True) is True
    await made_final(redis_client, f"{key_prefix}claim:quick-1", owner, "acknowledged, not final")
    await path.close()
    await owner.store.close()


async def test_the_winner_warns_when_a_connected_instance_never_saw_the_event(
    key_prefix, redis_url, monkeypatch
):
    owner, peer = await member(1, key_prefix, redis_url), await member(4, key_prefix, redis_url)
    await seen_each_other(owner, peer)
    warnings: list[tuple[str, dict]] = []

    class Recorder:
        def __getattr__(self, level):
            def record(event: str, **fields: object) -> None:
                if level == "warning":
                    warnings.append((event, fields))

            return record

    monkeypatch.setattr(answering, "log", Recorder())
    path = AnswerPath(owner, Counters())
    seen_by_both = Event(EventKind.COMMAND, "canary-1", "핑", "채팅방-1", created_at=time.time())
    await peer.store.claims.note_seen("canary-1")
    assert await path.admit(seen_by_both, refuse_nothing, lambda: True) is True
    only_owner = Event(EventKind.COMMAND, "canary-2", "핑", "채팅방-1", created_at=time.time())
    assert await path.admit(only_owner, refuse_nothing, lambda: True) is True
    # The canary looks 1.5 s after each event, at the end of its claim's hold: both looked
    # once nothing of the path runs in the background any more.
    await until(lambda: not path._background, timeout=15, what="the canary never looked")
    assert [(e, f["event_key"], f["seen_by"], f["connected"]) for e, f in warnings] == [
        ("event_not_seen_by_every_instance", "canary-2", 1, 2)
    ]
    await path.close()
    for gate in (owner, peer):
        await gate.store.close()


async def refuse_nothing(message: str) -> None:
    raise AssertionError(message)


# An outage of Redis right after the owner's answer went out (a `docker restart redis`):
# the owner's finalize fails, the lease it held lapses meanwhile, and the peer (rank 1)
# is waiting for its turn. Heartbeats of 1 s so the 1.2 s outage stays a stall (static
# routing only after 2 s of failures), the case where claims must keep the answer single.
OUTAGE_AT_S, OUTAGE_S = 0.05, 1.2
# The peer is back this long before the owner: well inside the holder's grace (0.5 s).
PEER_FIRST_S = 0.2


async def outage_after_the_answer(
    key_prefix: str,
    urls: tuple[str, str],
    key: str,
    go_away: Callable[[], None],
    come_back: Callable[[], Awaitable[None]],
    while_away: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[str, GateResult]:
    """The owner (1) answers `key` in #채팅방-1; Redis goes away before its finalize, for
    OUTAGE_S, while the peer (4, rank 1) waits for its turn; then Redis comes back.
    `urls`: the owner's and the peer's way to Redis. Returns the owner's incarnation and
    what the peer decided."""
    owner = await member(1, key_prefix, urls[0], heartbeat=1.0)
    peer = await member(4, key_prefix, urls[1], heartbeat=1.0)
    await seen_each_other(owner, peer)  # one beat
    path = AnswerPath(owner, Counters())
    created = time.time()
    event = Event(EventKind.COMMAND, key, "핑", "채팅방-1", created_at=created)
    acked = False
    assert await path.admit(event, refuse_nothing, lambda: acked) is True
    peer_answer = asyncio.create_task(peer.should_answer(key, "채팅방-1", "핑", created))
    await asyncio.sleep(OUTAGE_AT_S)
    go_away()
    acked = True  # Discord has the owner's answer; its finalize cannot reach Redis
    await asyncio.sleep(OUTAGE_S)
    if while_away is not None:
        await while_away(owner.store.incarnation)
    await come_back()
    decided = await peer_answer
    await path.close()
    for gate in (owner, peer):
        await gate.store.close()
    return owner.store.incarnation, decided


async def test_redis_gone_between_the_answer_and_its_finalize_does_not_let_a_peer_answer_again(
    key_prefix, redis_client, redis_url
):
    """Redis comes back with its data (append-only file): the owner's lease, lapsed. The
    peer reconnects first (instances never reconnect at the same instant): its first claim
    finds the lapsed lease before the owner's finalize can land."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    owner_link, peer_link = TcpProxy("127.0.0.1", port), TcpProxy("127.0.0.1", port)
    for link in (owner_link, peer_link):
        await link.start()

    def go_away() -> None:
        owner_link.down()
        peer_link.down()

    async def come_back() -> None:
        peer_link.up()
        await asyncio.sleep(PEER_FIRST_S)
        owner_link.up()

    async def lapsed(incarnation: str) -> None:
        value = await redis_client.get(f"{key_prefix}claim:restart-1")
        assert value.startswith(f"p:{incarnation}:"), "the lease, never made final"

    owner, peer_decided = await outage_after_the_answer(
        key_prefix, (owner_link.url, peer_link.url), "restart-1", go_away, come_back, lapsed
    )
    for link in (owner_link, peer_link):
        await link.stop()
    assert peer_decided.verdict is Verdict.SILENT, "the peer must not answer again"
    assert await redis_client.get(f"{key_prefix}claim:restart-1") == f"f:{owner}"


async def test_redis_back_without_its_data_gets_the_answered_claim_back(key_prefix, private_redis):
    """Redis comes back empty (no persistence): the owner writes its claim back as final."""

    async def come_back() -> None:
        private_redis.start()

    url = private_redis.url
    owner, peer_decided = await outage_after_the_answer(
        key_prefix, (url, url), "empty-1", private_redis.stop, come_back
    )
    assert peer_decided.verdict is Verdict.SILENT, "the peer must not answer again"
    client = aioredis.Redis.from_url(private_redis.url, decode_responses=True)
    try:
        assert await client.get(f"{key_prefix}claim:empty-1") == f"f:{owner}"
    finally:
        await client.aclose()


async def test_a_holder_gone_for_good_is_still_covered_after_an_outage(
    key_prefix, redis_client, redis_url
):
    """The grace is a wait, not a veto: an owner that died during the outage is covered."""
    proxy = TcpProxy("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    owner = await member(1, key_prefix, proxy.url, heartbeat=1.0)
    peer = await member(4, key_prefix, proxy.url, heartbeat=1.0)
    await seen_each_other(owner, peer)  # one beat
    created = time.time()
    assert (await owner.should_answer("dead-1", "채팅방-1", "핑", created)).claimed
    await owner.store.close()  # it dies holding the lease, before answering
    peer_answer = asyncio.create_task(peer.should_answer("dead-1", "채팅방-1", "핑", created))
    await asyncio.sleep(OUTAGE_AT_S)
    proxy.down()
    await asyncio.sleep(OUTAGE_S)
    proxy.up()
    result = await peer_answer
    assert (result.verdict, result.rank) == (Verdict.ANSWER, 1)
    await peer.store.close()
    await proxy.stop()


async def test_a_takeover_asks_discord_whether_the_dead_holder_had_answered(
    key_prefix, redis_client, redis_url
):
    """The owner claims and dies before making its claim final (SIGKILL right after
    Discord accepted its answer, or before it answered at all). The peer retakes the lapsed
    lease, asks Discord first, and answers only when there is no answer yet."""
    owner, peer = await member(1, key_prefix, redis_url), await member(4, key_prefix, redis_url)
    await seen_each_other(owner, peer)
    path = AnswerPath(peer, Counters())
    asked: list[str] = []

    def discord_says(answered: bool, key: str):
        async def probe() -> bool:
            asked.append(key)
            return answered

        return probe

    outcomes = {}
    for key, answered in (("died-after-answering", True), ("died-before-answering", False)):
        created = time.time()
        assert (await owner.should_answer(key, "채팅방-1", "핑", created)).claimed
        event = Event(EventKind.COMMAND, key, "핑", "채팅방-1", created_at=created)
        # The peer itself answers only when Discord had no answer yet.
        outcomes[key] = await path.admit(
            event,
            refuse_nothing,
            lambda answered=answered: not answered,
            discord_says(answered, key),
        )
        # Final either way (found answered, or answered now): no later rank asks again.
        await made_final(redis_client, f"{key_prefix}claim:{key}", peer, f"{key}: not final")
    # An event nobody held: won outright, Discord is not asked.
    fresh = Event(EventKind.COMMAND, "fresh", "핑", "general", created_at=time.time())
    outcomes["fresh"] = await path.admit(
        fresh, refuse_nothing, lambda: True, discord_says(True, "fresh")
    )
    assert outcomes == {
        "died-after-answering": False,
        "died-before-answering": True,
        "fresh": True,
    }
    assert asked == ["died-after-answering", "died-before-answering"]
    await path.close()
    for gate in (owner, peer):
        await gate.store.close()


async def test_a_claim_gone_with_redis_and_its_dead_holder_is_retaken_in_time(
    key_prefix, private_redis
):
    """The owner claims and dies; Redis restarts empty, late in the act window. The peer
    holds off (the holder might be alive), then takes the event before the deadline and
    flags it retaken, so Discord is asked whether the dead holder had answered.
    Heartbeats of 1.5 s: a 2 s outage stays a stall (static routing only after 3 s)."""
    owner = await member(1, key_prefix, private_redis.url, heartbeat=1.5)
    peer = await member(4, key_prefix, private_redis.url, heartbeat=1.5)
    await seen_each_other(owner, peer)  # one beat
    created = time.time()
    assert (await owner.should_answer("gone-1", "채팅방-1", "핑", created)).claimed
    await owner.store.close()  # dies holding the lease
    peer_answer = asyncio.create_task(peer.should_answer("gone-1", "채팅방-1", "핑", created))
    await asyncio.sleep(OUTAGE_AT_S)
    private_redis.stop()
    await asyncio.sleep(2.0 - OUTAGE_AT_S)  # back 2.0 s after the event: 0.4 s left
    private_redis.start()
    result = await peer_answer
    decided_after = time.time() - created
    assert (result.verdict, result.rank, result.retaken) == (Verdict.ANSWER, 1, True)
    # The hold-off (0.6 s for rank 1) is cut to the deadline (2.4 s): decided near 2.4 s.
    # A hold-off of a second or more would decide at 3 s, when Discord no longer takes
    # an answer. 0.35 s of room for a busy machine.
    assert decided_after < 2.75, decided_after
    await peer.store.close()
