"""Instances die and Redis falls over: every command is still answered, exactly once."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import (
    CHANNELS,
    claims,
    claims_since,
    expected_owner,
    logged,
    logged_now,
    metrics,
    series,
    settled_claims,
    until,
    until_routed_to,
)

pytestmark = pytest.mark.e2e

# Sandbox timings (sandbox/fleet.py): heartbeat 0.5 s -> liveness TTL 1.5 s; claim step 0.4 s.
HEARTBEAT = 0.5
TTL = 3 * HEARTBEAT
CLAIM_STEP_MS = 400


async def answered_at_rank_0(sb, label: str, result) -> bool:
    """`label` answered `result` as the owner, without waiting a claim step: once its
    line for the answered request is read, it logged no `covered_for_owner` (rank > 0)."""
    key = str(result.interaction_id)
    await logged(sb, label, "event_answered", interaction_id=key)
    return not logged_now(sb, label, "covered_for_owner", event_key=key)


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
        covered = logged_now(sb, "4", "covered_for_owner", event_key=str(ping.interaction_id))
        assert [e["rank"] for e in covered] == [1], "before the TTL: rank 1, covering"

        await asyncio.sleep(TTL + 2 * HEARTBEAT)
        after_ttl = await sb.ask("채팅방-1", "핑")
        assert after_ttl.answered_by == "4"
        assert await answered_at_rank_0(sb, "4", after_ttl), "instance 4 now owns it"
        status = await sb.ask("general", "상태")
        assert status.embeds[0]["title"] == "📊 봇 상태 — 3/4 온라인"
        assert "#1 채팅" in [f["name"] for f in status.embeds[0]["fields"]]

        await sb.fleet.start_instance(1)
        await until_routed_to(sb, "채팅방-1", "1")  # instance 4 counts it alive again
        back = await sb.ask("채팅방-1", "핑")
        assert back.answered_by == "1"
        # The restarted instance made its sync decision (skipped) before it served.
        decisions = [
            e["event"]
            for e in sb.fleet.instances["1"].events
            if e.get("event") in ("commands_synced", "command_sync_skipped")
        ]
        assert len(decisions) == 2 and decisions[-1] == "command_sync_skipped", decisions
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
        assert await answered_at_rank_0(sb, "1", general), "1 owns general now, no claim step"
        sb.assert_clean()


async def test_graceful_stop_hands_over_at_once(sandbox_factory):
    async with sandbox_factory() as sb:
        await sb.fleet.stop(2)  # deletes its heartbeat key on the way out
        await asyncio.sleep(2 * HEARTBEAT)
        result = await sb.ask("이미지생성-1", "핑")
        assert result.answered_by == "4"
        assert await answered_at_rank_0(sb, "4", result), "4 owns it at once, no claim step"
        sb.assert_clean()


async def test_redis_outage_static_routing_then_failover_again(sandbox_factory):
    async with sandbox_factory(private_redis=True) as sb:
        sb.redis.stop()

        def mode_is(mode: str, labels: tuple[str, ...]):
            async def check() -> bool:
                for label in labels:
                    page = await metrics(sb, label)
                    if page.get(series("mib_redis_mode", instance=label, mode=mode)) != 1:
                        return False
                return True

            return check

        await until(mode_is("degraded", ("1", "2", "3", "4")), what="never went static")
        for channel in [*CHANNELS, None]:
            result = await sb.ask(channel, "핑")
            assert result.answered_by == str(expected_owner(channel, "핑")), channel
            assert len(result.callback_attempts) == 1
        status = await sb.ask("general", "상태")
        assert "Redis 연결 끊김" in status.embeds[0]["description"]

        # Static routing has no failover: a dead owner's channel goes unanswered.
        await sb.fleet.kill(3)
        survivors = ("1", "2", "4")

        async def pings_received() -> dict[str, float]:
            found = {}
            for label in survivors:
                page = await metrics(sb, label)
                ping = {"instance": label, "command": "핑", "kind": "command"}
                found[label] = page.get(series("mib_events_received_total", **ping), 0)
            return found

        before = await pings_received()
        handle = await sb.fake.send_command(channel="비디오생성-1", command="핑")
        with pytest.raises(TimeoutError):
            await handle.wait_for_response(timeout=4)
        # ...though the survivors got it and each decided it was not theirs.
        assert sorted(handle.delivered_to) == ["1", "2", "4"]
        after = await pings_received()
        assert {k: after[k] - before[k] for k in survivors} == {"1": 1, "2": 1, "4": 1}
        assert handle.result().callback_attempts == []

        sb.redis.start()
        # Reconnect backoff, one TTL of warm-up, and every survivor has announced itself
        # again: each trusts a view in which 3 is dead and 4 alive.
        await until(mode_is("redis", survivors), timeout=30, what="never trusted Redis again")
        viewers = {"채팅방-1": "1", "이미지생성-1": "2", "general": "4"}
        await until_routed_to(sb, "비디오생성-1", "4", viewers=viewers)
        status = await sb.ask("general", "상태")
        assert "Redis 연결됨" in status.embeds[0]["description"]
        covered = await sb.ask("비디오생성-1", "핑")
        assert covered.answered_by == "4", "failover works again without a restart"
        sb.assert_clean()


async def test_one_process_cut_off_from_redis_never_doubles_an_answer(sandbox_factory):
    dead = {"REDIS_URL": "redis://127.0.0.1:1/0"}
    async with sandbox_factory(per_instance_env={"2": dead}) as sb:
        answerers = {
            "채팅방-1": {"1"},
            "이미지생성-1": {"2", "4"},
            "비디오생성-1": {"3"},
            "general": {"4"},
        }
        for channel in CHANNELS:
            result = await sb.ask(channel, "핑")
            assert len(result.messages) == 1, "one visible answer"
            assert result.answered_by in answerers[channel], channel
        handle = await sb.fake.send_command(channel="이미지생성-1", command="핑")
        image = await handle.wait_for_response()
        # Instance 2 routes statically and answers its channel; instance 4, never having
        # seen it alive, owns it too: Discord's first-callback-wins keeps the answer single.
        assert image.answered_by in ("2", "4")
        assert sb.fake.spec_violations == []
        log = sb.fleet.instances["2"].log_path.read_text()
        assert "redis_unreachable_static_routing" in log
        # Both did try, and the loser has handled Discord's refusal before the logs are read.
        assert await sb.fake.wait_until(lambda: len(handle.result().callback_attempts) == 2)
        attempts = handle.result().callback_attempts
        assert sorted((a.instance, a.code) for a in attempts) in (
            [("2", None), ("4", 40060)],
            [("2", 40060), ("4", None)],
        )
        (loser,) = [a.instance for a in attempts if a.code == 40060]
        await logged(sb, loser, "answer_rejected_by_discord", event_key=str(image.interaction_id))
        for label in sb.fleet.instances:
            text = sb.fleet.instances[label].log_path.read_text()
            # A lost race (40060) is expected and quiet: never an error, never a traceback.
            assert "command_failed" not in text and "Traceback" not in text, label
            assert '"event_failed"' not in text, label


async def test_a_press_on_a_dead_instances_message_is_answered_once_by_the_next(sandbox_factory):
    async with sandbox_factory() as sb:
        status = await sb.ask("general", "상태")
        assert status.answered_by == "4"
        message_id = int(status.messages[0]["id"])
        settled = await settled_claims(sb, ("1", "2", "3", "4"))

        await sb.fleet.kill(4)  # its heartbeat lives on for a TTL: ranked claiming covers it
        early = await (
            await sb.fake.press_component(message_id, "mib:status:refresh")
        ).wait_for_response()
        assert early.answered_by == "1", "order for general is 4 -> 1 -> 2 -> 3"
        # Ranks 2 and 3 got the press too and lost their claims (after 0.8 and 1.2 s).
        await claims_since(sb, settled, {"1": (1, 0), "2": (0, 1), "3": (0, 1)})
        assert [a.instance for a in early.callback_attempts] == ["1"], "nobody else tried"
        assert early.callback_type == 7 and early.message_updated
        assert CLAIM_STEP_MS * 0.9 <= early.ack_ms < 3000

        await asyncio.sleep(TTL + 2 * HEARTBEAT)
        before_late = await claims(sb, ("1", "2", "3"))
        late = await (
            await sb.fake.press_component(message_id, "mib:status:refresh")
        ).wait_for_response()
        assert late.answered_by == "1"
        await claims_since(sb, before_late, {"1": (1, 0), "2": (0, 1), "3": (0, 1)})
        assert len(late.callback_attempts) == 1
        assert late.embeds[0]["title"] == "📊 봇 상태 — 3/4 온라인"
        assert late.embeds[0]["footer"]["text"].startswith("응답: 인스턴스 #1")
        sb.assert_clean()
