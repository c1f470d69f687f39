"""Faults injected for real into a running fleet: Redis frozen, an owner frozen right after
it claimed, a static owner dead while the fleet warms up after an outage, one instance
cut off from Redis by a proxy that stops forwarding.

Each test states the figure it guards (unanswered, doubled, takeover time) and prints it,
so `pytest -s tests/e2e/test_chaos.py` shows the numbers the operator guide reports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from sandbox.tcp_proxy import TcpProxy
from tests.e2e.conftest import claims_since, settled_claims, until_routed_to

pytestmark = pytest.mark.e2e

# Sandbox timings (sandbox/fleet.py): heartbeat 0.5 s -> liveness TTL 1.5 s; claim step 0.4 s.
CLAIM_STEP_MS = 400
TARGETS = [
    ("채팅방-1", "1"),
    ("이미지생성-1", "2"),
    ("비디오생성-1", "3"),
    ("general", "4"),
    (None, "4"),
]


async def wait_for_event(sb, label: str, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not sb.fleet.events(label, name):
        if time.monotonic() > deadline:
            raise TimeoutError(f"instance {label} never logged {name}")
        await asyncio.sleep(0.05)


async def test_redis_frozen_three_times_under_load_loses_and_doubles_nothing(sandbox_factory):
    async with sandbox_factory(private_redis=True) as sb:
        await sb.ask("general", "핑")  # every instance has loaded the claim script
        redis_pid = sb.redis.process.pid
        started = time.monotonic()
        handles = []

        async def freeze_redis() -> None:
            for at in (1.0, 3.0, 5.0):
                await asyncio.sleep(max(0.0, started + at - time.monotonic()))
                os.kill(redis_pid, signal.SIGSTOP)  # what an fsync stall or a fork does
                try:
                    await asyncio.sleep(0.8)
                finally:
                    os.kill(redis_pid, signal.SIGCONT)

        async def ten_a_second() -> None:
            for n in range(70):
                channel, _ = TARGETS[n % len(TARGETS)]
                await asyncio.sleep(max(0.0, started + n * 0.1 - time.monotonic()))
                handles.append(await sb.fake.send_command(channel=channel, command="핑"))

        await asyncio.gather(freeze_redis(), ten_a_second())
        results = await asyncio.gather(
            *(h.wait_for_response(timeout=10, settle=0.05) for h in handles),
            return_exceptions=True,
        )
        unanswered = [r for r in results if isinstance(r, BaseException)]
        answered = [r for r in results if not isinstance(r, BaseException)]
        print(
            f"\nfreeze x3 under 10/s: {len(answered)}/70 answered, {len(unanswered)} unanswered,"
            f" {len(sb.codes(40060))} x 40060, {len(sb.codes(10062))} x 10062,"
            f" slowest ack {max(r.ack_ms for r in answered):.0f} ms"
        )
        assert unanswered == []
        assert sb.codes(40060) == [], "no second callback was even attempted"
        assert sb.codes(10062) == [], "no answer came too late"
        assert all(len(r.callback_attempts) == 1 for r in answered)
        assert all(r.ack_ms < 3000 for r in answered)
        sb.assert_clean()


async def test_an_owner_frozen_right_after_claiming_is_covered_by_the_next_rank(
    sandbox_factory,
):
    async with sandbox_factory(private_redis=True) as sb:
        warm = await sb.ask("채팅방-1", "핑")
        assert warm.answered_by == "1"
        settled = await settled_claims(sb, ("1", "2", "3", "4"))
        redis_pid = sb.redis.process.pid
        owner_pid = sb.fleet.instances["1"].process.pid
        # Hold Redis so instance 1's claim is queued, freeze instance 1, then let the
        # claim land: instance 1 has won a lease it will never acknowledge.
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            handle = await sb.fake.send_command(channel="채팅방-1", command="핑")
            await asyncio.sleep(0.15)
            os.kill(owner_pid, signal.SIGSTOP)
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        result = await handle.wait_for_response(timeout=5)
        print(
            f"\nowner frozen after claiming: answered by {result.answered_by} "
            f"after {result.ack_ms:.0f} ms"
        )
        assert result.answered_by == "4"
        # Ranks 2 and 3 got it too and lost their claims; 4 retook the lapsed lease.
        await claims_since(sb, settled, {"2": (0, 1), "3": (0, 1), "4": (1, 0)})
        assert [a.instance for a in result.callback_attempts] == ["4"]
        assert 1000 <= result.ack_ms < 3000, "after the owner's 1 s lease lapsed, inside 3 s"
        await sb.fleet.kill(1)  # still frozen: it never answers twice
        sb.assert_clean()


async def test_a_static_owner_dead_during_the_warm_up_is_covered(sandbox_factory):
    # A 1 s heartbeat makes the warm-up 3 s: room to act in it even on a loaded machine.
    async with sandbox_factory(private_redis=True, extra_env={"HEARTBEAT_INTERVAL": "1"}) as sb:
        sb.redis.stop()
        await wait_for_event(sb, "4", "redis_unreachable_static_routing")
        sb.redis.start()  # the same port, empty, as after a crash
        await wait_for_event(sb, "4", "redis_reconnected")
        await sb.fleet.kill(1)  # the static owner of 채팅방-1 dies while 4 warms up
        result = await sb.ask("채팅방-1", "핑")
        print(
            f"\nstatic owner dead in warm-up: answered by {result.answered_by} "
            f"after {result.ack_ms:.0f} ms"
        )
        assert result.answered_by == "4", "rank 1 of the static order covers"
        assert [a.instance for a in result.callback_attempts] == ["4"]
        assert CLAIM_STEP_MS * 0.9 <= result.ack_ms < 3000
        covered = [e for e in sb.fleet.events("4", "covered_for_owner") if e["rank"] == 1]
        assert covered, "instance 4 took it as rank 1, during the warm-up"
        sb.assert_clean()


async def test_an_instance_cut_off_from_redis_never_shows_a_second_answer(
    sandbox_factory, redis_url
):
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    proxy = TcpProxy(host, int(port))  # instance 2 reaches Redis only through this
    await proxy.start()
    try:
        async with sandbox_factory(per_instance_env={"2": {"REDIS_URL": proxy.url}}) as sb:
            assert (await sb.ask("이미지생성-1", "핑")).answered_by == "2"
            proxy.stall()  # its gateway works; its Redis connection hangs
            # Before it notices, after it goes static, after its heartbeat expired.
            for _ in range(3):
                for channel, _owner in TARGETS:
                    result = await sb.ask(channel, "핑")
                    assert len(result.messages) == 1, f"one visible answer in {channel}"
                    assert result.ack_ms < 3000
                await asyncio.sleep(1.0)
            assert sb.fleet.events("2", "redis_unreachable_static_routing")
            print(
                f"\ncut off from Redis: 15/15 answered once visibly; Discord refused "
                f"{len(sb.codes(40060))} late second callback(s)"
            )
            proxy.resume()
            await wait_for_event(sb, "2", "redis_reconnected")
            await until_routed_to(sb, "이미지생성-1", "2")  # peers see it again
            back = await sb.ask("이미지생성-1", "핑")
            assert back.answered_by == "2" and len(back.callback_attempts) == 1
            assert sb.fake.spec_violations == []
    finally:
        await proxy.stop()
