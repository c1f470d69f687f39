"""The answering path on real Redis: it holds a won claim until Discord has the answer,
then makes it final, and checks that every connected instance received the event."""

from __future__ import annotations

import asyncio
import time

from bot import answering
from bot.answering import AnswerPath, Event, EventKind
from bot.gate import AnswerGate, Verdict
from bot.status import Counters, InstanceStatus
from bot.store import redis_store
from env_manager import Settings

STEP = 0.4


async def member(i: int, prefix: str, url: str) -> AnswerGate:
    store = redis_store(i, url, prefix=prefix, heartbeat_interval=0.2)
    await store.start(lambda: InstanceStatus(str(i), "test", True, None, 0.0, "t", 1))
    return AnswerGate(Settings.build(instance_id=str(i)), store, claim_step=STEP)


async def test_a_slow_first_answer_keeps_its_claim_and_then_makes_it_final(
    key_prefix, redis_client, redis_url
):
    owner, peer = await member(1, key_prefix, redis_url), await member(4, key_prefix, redis_url)
    await asyncio.sleep(0.45)  # both have seen each other
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
    acked = True
    await asyncio.sleep(0.1)
    value = await redis_client.get(f"{key_prefix}claim:slow-1")
    assert value == f"f:{owner.store.incarnation}", "final once Discord has the answer"
    assert 890 < await redis_client.ttl(f"{key_prefix}claim:slow-1") <= 900
    await path.close()
    for gate in (owner, peer):
        await gate.store.close()


async def test_an_answer_in_time_makes_the_claim_final_at_once(key_prefix, redis_client, redis_url):
    owner = await member(2, key_prefix, redis_url)
    await asyncio.sleep(0.45)
    path = AnswerPath(owner, Counters())
    event = Event(EventKind.COMMAND, "quick-1", "핑", "이미지생성-1", created_at=time.time())

    async def refuse(message: str) -> None:
        raise AssertionError(message)

    assert await path.admit(event, refuse, lambda: True) is True
    await asyncio.sleep(0.1)
    assert await redis_client.get(f"{key_prefix}claim:quick-1") == f"f:{owner.store.incarnation}"
    await path.close()
    await owner.store.close()


async def test_the_winner_warns_when_a_connected_instance_never_saw_the_event(
    key_prefix, redis_url, monkeypatch
):
    owner, peer = await member(1, key_prefix, redis_url), await member(4, key_prefix, redis_url)
    await asyncio.sleep(0.45)
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
    await asyncio.sleep(1.7)  # the canary looks 1.5 s after the event
    assert [(e, f["event_key"], f["seen_by"], f["connected"]) for e, f in warnings] == [
        ("event_not_seen_by_every_instance", "canary-2", 1, 2)
    ]
    await path.close()
    for gate in (owner, peer):
        await gate.store.close()


async def refuse_nothing(message: str) -> None:
    raise AssertionError(message)
