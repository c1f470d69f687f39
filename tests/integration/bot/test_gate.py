"""Ranked claiming on a real Redis: one answer per event, covered within Discord's window."""

from __future__ import annotations

import asyncio
import time

from bot.gate import AnswerGate
from bot.status import InstanceStatus
from bot.store import Mode, redis_store
from env_manager import Settings
from sandbox.redis_server import free_port

STEP = 0.4


async def fleet(prefix: str, url: str, ids=(1, 2, 3, 4)) -> dict[int, AnswerGate]:
    gates = {}
    for i in ids:
        store = redis_store(i, url, prefix=prefix, heartbeat_interval=0.2)
        await store.start(lambda i=i: InstanceStatus(str(i), "test", True, None, 0.0, "t", 1))
        gates[i] = AnswerGate(Settings.build(instance_id=str(i)), store, claim_step=STEP)
    await asyncio.sleep(0.25)
    return gates


async def close(gates: dict[int, AnswerGate]) -> None:
    for gate in gates.values():
        await gate.store.close()


async def answers(gates, event, channel, command) -> dict[int, tuple[bool, float]]:
    started = time.monotonic()

    async def one(i, gate):
        won = await gate.should_answer(event, channel, command)
        return i, (won, time.monotonic() - started)

    return dict(await asyncio.gather(*(one(i, g) for i, g in gates.items())))


def winners(result) -> list[int]:
    return [i for i, (won, _) in result.items() if won]


async def test_each_event_has_exactly_one_winner_the_owner(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    cases = [
        ("채팅방-1", "핑", 1),
        ("이미지생성-1", "이미지", 2),
        ("비디오생성-2", "비디오", 3),
        ("general", "상태", 4),
        (None, "채팅", 4),
        ("채팅방-1", "이미지", 4),
    ]
    for n, (channel, command, owner) in enumerate(cases):
        result = await answers(gates, f"e{n}", channel, command)
        assert winners(result) == [owner], (channel, command, result)
        assert result[owner][1] < STEP, "the owner claims at once"
    await close(gates)


async def test_owner_dead_but_not_yet_expired_is_covered_by_next_rank(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    gates[1].store.liveness._task.cancel()  # instance 1 dies; its heartbeat key lives on
    survivors = {i: g for i, g in gates.items() if i != 1}
    assert 1 in survivors[4].alive()
    result = await answers(survivors, "e-dead", "채팅방-1", "핑")
    assert winners(result) == [4]
    assert STEP * 0.9 < result[4][1] < 3.0, "rank 1 waits one step, well inside 3 s"
    await close(gates)


async def test_after_the_ttl_the_fallback_answers_without_waiting(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    await gates[1].store.close()
    await asyncio.sleep(0.3)  # one heartbeat: the survivors refresh their alive set
    survivors = {i: g for i, g in gates.items() if i != 1}
    assert 1 not in survivors[4].alive()
    result = await answers(survivors, "e-gone", "채팅방-1", "핑")
    assert winners(result) == [4] and result[4][1] < STEP
    await close(survivors)


async def test_next_in_order_covers_when_the_fallback_is_dead_too(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url, ids=(1, 2, 3))
    assert winners(await answers(gates, "g1", "general", "핑")) == [1]
    assert winners(await answers(gates, "g2", "채팅방-1", "채팅")) == [1]
    assert winners(await answers(gates, "g3", "이미지생성-1", "비디오")) == []
    await close(gates)


async def test_an_instance_that_cannot_serve_declines_to_the_next_rank(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    gates[1].available = lambda command: command != "채팅"
    assert winners(await answers(gates, "d1", "채팅방-1", "채팅")) == [4]
    assert winners(await answers(gates, "d2", "채팅방-1", "핑")) == [1]
    await close(gates)


async def test_redis_unreachable_means_static_routing_without_duplicates(key_prefix):
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    gates = await fleet(key_prefix, url=dead_url)
    assert all(g.store.mode is Mode.DEGRADED for g in gates.values())
    # Static: the configured owner answers, at once, even though nobody can claim.
    assert winners(await answers(gates, "s1", "채팅방-1", "채팅")) == [1]
    assert winners(await answers(gates, "s2", "general", "핑")) == [4]
    del gates[1]
    assert winners(await answers(gates, "s3", "채팅방-1", "채팅")) == [], "no failover"
    await close(gates)


async def test_single_process_mode_answers_everything_once():
    gate = AnswerGate(Settings.build())
    assert await gate.should_answer("1", "채팅방-1", "채팅") is True
    assert await gate.should_answer("1", "채팅방-1", "채팅") is False, "a replayed event"
    assert await gate.should_answer("2", "이미지생성-1", "이미지") is True
