"""Ranked claiming on a real Redis: one answer per event, covered within Discord's window."""

from __future__ import annotations

import asyncio
import time

from bot.gate import (
    NOBODY_CAN_SERVE,
    Admission,
    AdmissionKind,
    AnswerGate,
    Verdict,
)
from bot.status import InstanceStatus
from bot.store import Mode, redis_store
from env_manager import Settings
from sandbox.redis_server import free_port

STEP = 0.4
DECLINE = Admission(AdmissionKind.DECLINE, "MiniMax 한도를 다 썼어요.")


def alive_status(i: int, ready: bool = True):
    return lambda: InstanceStatus(str(i), "test", ready, None, 0.0, "t", 1)


async def fleet(prefix: str, url: str, ids=(1, 2, 3, 4)) -> dict[int, AnswerGate]:
    gates = {}
    for i in ids:
        store = redis_store(i, url, prefix=prefix, heartbeat_interval=0.2)
        await store.start(alive_status(i))
        gates[i] = AnswerGate(Settings.build(instance_id=str(i)), store, claim_step=STEP)
    await asyncio.sleep(0.45)  # two beats: everyone has seen everyone connected
    return gates


async def close(gates: dict[int, AnswerGate]) -> None:
    for gate in gates.values():
        await gate.store.close()


async def answers(
    gates, event, channel, command, *, finalize=True, created_at=None
) -> dict[int, tuple[Verdict, float, str | None]]:
    """Every gate's verdict and when it came; a winner acknowledges at once (finalize)."""
    created_at = time.time() if created_at is None else created_at
    started = time.monotonic()

    async def one(i, gate):
        result = await gate.should_answer(event, channel, command, created_at)
        if result.claimed and finalize:
            await gate.store.claims.finalize(event)
        return i, (result.verdict, time.monotonic() - started, result.message)

    return dict(await asyncio.gather(*(one(i, g) for i, g in gates.items())))


def winners(result) -> list[int]:
    return [i for i, (verdict, _, _) in result.items() if verdict is not Verdict.SILENT]


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
        assert result[owner][0] is Verdict.ANSWER
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


async def test_ranks_wait_from_the_events_creation_not_its_receipt(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    gates[1].store.liveness._task.cancel()
    survivors = {i: g for i, g in gates.items() if i != 1}
    for gate in survivors.values():
        gate.claim_step = 1.0  # wide apart, so a loaded machine cannot blur the two cases
    # Delivered 0.9 s late (gateway lag): rank 1 acts 1.0 s after creation, 0.1 s after
    # receipt; counted from receipt it would wait the whole 1.0 s.
    result = await answers(survivors, "e-late", "채팅방-1", "핑", created_at=time.time() - 0.9)
    assert winners(result) == [4]
    assert result[4][1] < 0.55
    await close(gates)


async def test_a_winner_that_stalls_before_answering_is_taken_over(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    created = time.time()
    # Instance 1 wins the lease and then never acknowledges (frozen, or dead).
    owner = await gates[1].should_answer("e-stall", "채팅방-1", "핑", created)
    assert owner.verdict is Verdict.ANSWER and owner.claimed
    others = {i: g for i, g in gates.items() if i != 1}
    result = await answers(others, "e-stall", "채팅방-1", "핑", created_at=created)
    assert winners(result) == [4], "the next rank takes the lapsed lease, nobody else"
    assert 1.0 <= time.time() - created <= 2.4, "after the 1 s lease, inside the window"
    await close(gates)


async def test_the_next_rank_takes_a_stalled_lease_even_on_a_slower_link(key_prefix, redis_url):
    """Ranks retake a lapsed lease in their order (the store enforces it, by rank): rank 1
    (instance 4) wins though its every claim call takes 50 ms longer than ranks 2 and 3's."""
    gates = await fleet(key_prefix, redis_url)
    created = time.time()
    owner = await gates[1].should_answer("e-slow-link", "채팅방-1", "핑", created)
    assert owner.verdict is Verdict.ANSWER and owner.claimed  # and it never acknowledges
    claims = gates[4].store.claims
    claim = claims.claim

    async def slower(*args, **kwargs):
        await asyncio.sleep(0.05)
        return await claim(*args, **kwargs)

    claims.claim = slower  # type: ignore[method-assign]
    others = {i: g for i, g in gates.items() if i != 1}
    result = await answers(others, "e-slow-link", "채팅방-1", "핑", created_at=created)
    assert winners(result) == [4]
    await close(gates)


async def test_a_final_claim_is_never_taken_over(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    created = time.time()
    owner = await gates[1].should_answer("e-final", "채팅방-1", "핑", created)
    assert await gates[1].store.claims.finalize("e-final") is True
    others = {i: g for i, g in gates.items() if i != 1}
    result = await answers(others, "e-final", "채팅방-1", "핑", created_at=created)
    assert owner.verdict is Verdict.ANSWER and winners(result) == []
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


async def test_an_instance_not_connected_to_the_gateway_is_never_owner(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url, ids=(2, 3, 4))
    deaf = redis_store(1, redis_url, prefix=key_prefix, heartbeat_interval=0.2)
    await deaf.start(alive_status(1, ready=False))  # announcing, but still identifying
    await asyncio.sleep(0.3)
    assert 1 not in gates[4].alive()
    result = await answers(gates, "e-deaf", "채팅방-1", "핑")
    assert winners(result) == [4] and result[4][1] < STEP
    await deaf.close()
    await close(gates)


async def test_next_in_order_covers_when_the_fallback_is_dead_too(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url, ids=(1, 2, 3))
    assert winners(await answers(gates, "g1", "general", "핑")) == [1]
    assert winners(await answers(gates, "g2", "채팅방-1", "채팅")) == [1]
    assert winners(await answers(gates, "g3", "이미지생성-1", "비디오")) == []
    await close(gates)


async def test_an_instance_that_cannot_serve_declines_to_the_next_rank(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)
    released = []

    async def chat_spent(command: str) -> Admission:
        return DECLINE if command == "채팅" else Admission(AdmissionKind.SERVE)

    gates[1].admit = chat_spent
    assert winners(await answers(gates, "d1", "채팅방-1", "채팅")) == [4]
    assert winners(await answers(gates, "d2", "채팅방-1", "핑")) == [1]

    async def reserve(command: str) -> Admission:
        async def give_back() -> None:
            released.append(command)

        return Admission(AdmissionKind.SERVE, release=give_back)

    gates[4].admit = reserve  # rank 1 reserves, then loses the claim to the owner
    assert winners(await answers(gates, "d3", "채팅방-1", "핑")) == [1]
    assert released == ["핑"], "a reservation is given back when the claim is lost"
    await close(gates)


async def test_when_every_instance_declines_the_last_one_says_why(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)

    async def spent(command: str) -> Admission:
        return DECLINE

    for gate in gates.values():
        gate.admit = spent
    result = await answers(gates, "d-all", "이미지생성-1", "이미지")
    # Order for an image in its channel: 2 -> 4 (nobody else holds an image key).
    assert winners(result) == [4]
    assert result[4][0] is Verdict.REFUSE and result[4][2] == "MiniMax 한도를 다 썼어요."
    await close(gates)


async def test_a_refusal_is_answered_by_the_owner_with_its_reason(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url)

    async def cooldown(command: str) -> Admission:
        return Admission(AdmissionKind.REFUSE, "30초 뒤에 다시 써 주세요.")

    gates[1].admit = cooldown
    result = await answers(gates, "r1", "채팅방-1", "핑")
    assert winners(result) == [1]
    assert result[1][0] is Verdict.REFUSE and result[1][2] == "30초 뒤에 다시 써 주세요."
    await close(gates)


async def test_warming_up_ranks_over_the_static_order_and_covers_a_dead_owner(
    key_prefix, redis_url
):
    gates = await fleet(key_prefix, redis_url, ids=(2, 3, 4))
    for gate in gates.values():
        # As right after Redis came back: the alive view is not trusted yet.
        gate.store.link._mode = Mode.WARMING
        gate.store.link._trusted_after = float("inf")
    # Instance 1 (static owner of 채팅방-1) is dead: rank 1 of the static order covers.
    result = await answers(gates, "w1", "채팅방-1", "핑")
    assert winners(result) == [4]
    assert STEP * 0.9 < result[4][1] < 3.0
    assert winners(await answers(gates, "w2", "이미지생성-1", "핑")) == [2]
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

    asked: list[str] = []

    async def chat_spent(command: str) -> Admission:
        asked.append(command)
        return DECLINE if command == "채팅" else Admission(AdmissionKind.SERVE)

    gates[4].admit = chat_spent  # the static path admits too: nobody else will answer
    result = await answers(gates, "s4", "general", "채팅")
    assert result[4][0] is Verdict.REFUSE
    served = await gates[4].should_answer("s5", "general", "핑", time.time())
    # Nothing was claimed (nothing to make final) and the static owner is rank 0.
    assert (served.verdict, served.claimed, served.rank) == (Verdict.ANSWER, False, 0)
    assert asked == ["채팅", "핑"], "admission is asked for the event's own command"
    await close(gates)


async def test_decide_shows_the_routers_choice_over_the_alive_view(key_prefix, redis_url):
    gates = await fleet(key_prefix, redis_url, ids=(1, 4))
    one = gates[1]
    image = one.decide("이미지생성-1", "이미지")
    assert (image.instance, image.order) == (4, (2, 4)), "2 is down: the fallback"
    status = one.decide("이미지생성-1", "상태")  # a utility: the channel's specialist, if up
    assert (status.instance, status.order) == (4, (2, 4, 1, 3))
    unknown = one.decide("채팅방-1", "없는명령")  # routes like a utility
    assert (unknown.instance, unknown.order) == (1, (1, 4, 2, 3))
    await close(gates)


async def test_single_process_mode_answers_everything_once():
    gate = AnswerGate(Settings.build())
    now = time.time()
    assert (await gate.should_answer("1", "채팅방-1", "채팅", now)).verdict is Verdict.ANSWER
    replay = await gate.should_answer("1", "채팅방-1", "채팅", now)
    assert replay.verdict is Verdict.SILENT, "a replayed event"
    assert (await gate.should_answer("2", "이미지생성-1", "이미지", now)).verdict is Verdict.ANSWER

    async def spent(command: str) -> Admission:
        return Admission(AdmissionKind.DECLINE)

    gate.admit = spent
    alone = await gate.should_answer("3", "general", "핑", now)
    assert (alone.verdict, alone.message) == (Verdict.REFUSE, NOBODY_CAN_SERVE)
