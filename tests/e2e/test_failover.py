"""Instances die and Redis falls over: every command is still answered, exactly once."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import CHANNELS, expected_owner

pytestmark = pytest.mark.e2e

# Sandbox timings (sandbox/fleet.py): heartbeat 0.5 s -> liveness TTL 1.5 s; claim step 0.4 s.
HEARTBEAT = 0.5
TTL = 3 * HEARTBEAT
CLAIM_STEP_MS = 400


async def test_killed_owner_is_covered_before_and_after_its_ttl_and_takes_back(sandbox_factory):
    async with sandbox_factory() as sb:
        await sb.fleet.kill(1)
        # Before instance 1's heartbeat expires: rank 1 (instance 4) claims after one step.
        ping, instances = await asyncio.gather(
            sb.ask("채팅방-1", "핑"), sb.ask("채팅방-1", "인스턴스")
        )
        for result in (ping, instances):
            assert result.answered_by == "4"
            assert CLAIM_STEP_MS * 0.9 <= result.ack_ms < 3000
        assert "인스턴스 **#4**" in ping.embeds[0]["description"]

        await asyncio.sleep(TTL + 2 * HEARTBEAT)
        after_ttl = await sb.ask("채팅방-1", "핑")
        assert after_ttl.answered_by == "4"
        assert after_ttl.ack_ms < CLAIM_STEP_MS, "instance 4 now owns it and does not wait"
        status = await sb.ask("general", "상태")
        assert status.embeds[0]["title"] == "📊 봇 상태 — 3/4 온라인"
        assert "#1 채팅" in [f["name"] for f in status.embeds[0]["fields"]]

        await sb.fleet.start_instance(1)
        await asyncio.sleep(2 * HEARTBEAT)
        back = await sb.ask("채팅방-1", "핑")
        assert back.answered_by == "1"
        uploads = [r for r in sb.fake.requests if r.method == "PUT" and "commands" in r.path]
        assert len(uploads) == 1, "a restart with an unchanged tree uploads nothing"
        assert [r.instance for r in sb.fake.identify_log].count("1") == 2
        sb.assert_clean()


async def test_with_the_fallback_dead_the_next_in_order_answers(sandbox_factory):
    async with sandbox_factory() as sb:
        await sb.fleet.kill(4)
        await asyncio.sleep(TTL + 2 * HEARTBEAT)
        chat = await sb.ask("채팅방-1", "핑")
        general = await sb.ask("general", "핑")
        dm = await sb.ask(None, "상태")
        assert chat.answered_by == "1"
        assert general.answered_by == "1", "order for general is 4 -> 1 -> 2 -> 3"
        assert dm.answered_by == "1"
        assert general.ack_ms < CLAIM_STEP_MS
        sb.assert_clean()


async def test_graceful_stop_hands_over_at_once(sandbox_factory):
    async with sandbox_factory() as sb:
        await sb.fleet.stop(2)  # deletes its heartbeat key on the way out
        await asyncio.sleep(2 * HEARTBEAT)
        result = await sb.ask("이미지생성-1", "핑")
        assert result.answered_by == "4" and result.ack_ms < CLAIM_STEP_MS
        sb.assert_clean()


async def test_redis_outage_static_routing_then_failover_again(sandbox_factory):
    async with sandbox_factory(private_redis=True) as sb:
        sb.redis.stop()
        await asyncio.sleep(3 * HEARTBEAT)
        for channel in [*CHANNELS, None]:
            result = await sb.ask(channel, "핑")
            assert result.answered_by == str(expected_owner(channel, "핑")), channel
            assert len(result.callback_attempts) == 1
        status = await sb.ask("general", "상태")
        assert "Redis 연결 끊김" in status.embeds[0]["description"]

        # Static routing has no failover: a dead owner's channel goes unanswered.
        await sb.fleet.kill(3)
        handle = await sb.fake.send_command(channel="비디오생성-1", command="핑")
        with pytest.raises(TimeoutError):
            await handle.wait_for_response(timeout=4)

        sb.redis.start()
        await asyncio.sleep(TTL + 6 * HEARTBEAT)  # reconnect backoff, then one TTL of warm-up
        status = await sb.ask("general", "상태")
        assert "Redis 연결됨" in status.embeds[0]["description"]
        covered = await sb.ask("비디오생성-1", "핑")
        assert covered.answered_by == "4", "failover works again without a restart"
        sb.assert_clean()


async def test_one_process_cut_off_from_redis_never_doubles_an_answer(sandbox_factory):
    dead = {"REDIS_URL": "redis://127.0.0.1:1/0"}
    async with sandbox_factory(per_instance_env={"2": dead}) as sb:
        for channel in CHANNELS:
            result = await sb.ask(channel, "핑")
            assert len(result.messages) == 1, "one visible answer"
        image = await sb.ask("이미지생성-1", "핑")
        # Instance 2 routes statically and answers its channel; its peers, not seeing it
        # alive, may try too: Discord's first-callback-wins keeps the answer single.
        assert image.answered_by in ("2", "4")
        assert sb.fake.spec_violations == []
        log = sb.fleet.instances["2"].log_path.read_text()
        assert "redis_unreachable_static_routing" in log
        for label in sb.fleet.instances:
            text = sb.fleet.instances[label].log_path.read_text()
            # A lost race (40060) is expected and quiet: never an error, never a traceback.
            assert "command_failed" not in text and "Traceback" not in text, label


async def test_a_press_on_a_dead_instances_message_is_answered_once_by_the_next(sandbox_factory):
    async with sandbox_factory() as sb:
        status = await sb.ask("general", "상태")
        assert status.answered_by == "4"
        message_id = int(status.messages[0]["id"])

        await sb.fleet.kill(4)  # its heartbeat lives on for a TTL: ranked claiming covers it
        early = await (
            await sb.fake.press_component(message_id, "mib:status:refresh")
        ).wait_for_response()
        assert early.answered_by == "1", "order for general is 4 -> 1 -> 2 -> 3"
        assert [a.instance for a in early.callback_attempts] == ["1"], "nobody else tried"
        assert early.callback_type == 7 and early.message_updated
        assert CLAIM_STEP_MS * 0.9 <= early.ack_ms < 3000

        await asyncio.sleep(TTL + 2 * HEARTBEAT)
        late = await (
            await sb.fake.press_component(message_id, "mib:status:refresh")
        ).wait_for_response()
        assert late.answered_by == "1" and len(late.callback_attempts) == 1
        assert late.embeds[0]["title"] == "📊 봇 상태 — 3/4 온라인"
        assert late.embeds[0]["footer"]["text"].startswith("응답: 인스턴스 #1")
        sb.assert_clean()
