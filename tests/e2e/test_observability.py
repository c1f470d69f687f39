"""/healthz and /metrics of real bot processes: the health flips with the gateway, and the
counters hold exactly what a known sequence of commands should leave."""

from __future__ import annotations

import asyncio
import itertools
import json
import re

import pytest

from tests.e2e.conftest import http_get, logged, metrics, series, settled_claims, until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="function")]


async def healthz(sb, label: str) -> tuple[int, dict]:
    status, body = await asyncio.to_thread(http_get, sb.fleet.health_url(label))
    return status, json.loads(body)


async def test_healthz_follows_the_gateway_connection(sandbox_factory):
    async with sandbox_factory(instances=(1,)) as sb:
        status, body = await healthz(sb, "1")
        assert (status, body["healthy"], body["reason"]) == (200, True, "serving")
        assert (body["instance_id"], body["role"], body["connected"]) == ("1", "chat", True)
        # Discord drops the session and, for a while, closes every new one: 503 meanwhile.
        sb.fake.rules.identify_close_code = 4000
        await sb.fake.close_sessions("1")

        async def unhealthy() -> bool:
            status, body = await healthz(sb, "1")
            return status == 503 and body["reason"] == "not connected to the Discord gateway"

        await until(unhealthy)
        sb.fake.rules.identify_close_code = None

        async def healthy_again() -> bool:
            return (await healthz(sb, "1"))[0] == 200

        await until(healthy_again, timeout=30)


async def test_a_dropped_gateway_connection_is_covered_then_re_identified(sandbox_factory):
    """Discord drops instance 1's gateway session and, for a while, refuses its new ones.
    Meanwhile /healthz says why, and /핑 in its channel is answered once by the fallback;
    then it identifies again (a fresh IDENTIFY: the double keeps no session to resume),
    spaced from every other IDENTIFY of the fleet, and answers its channel again."""
    async with sandbox_factory(instances=(1, 4)) as sb:
        assert (await sb.ask("채팅방-1", "핑")).answered_by == "1"
        identifies_before = len(sb.fake.identify_log)
        sb.fake.rules.identify_close_code = 4000
        assert await sb.fake.close_sessions("1") == 1

        async def unhealthy() -> bool:
            status, body = await healthz(sb, "1")
            return status == 503 and body["reason"] == "not connected to the Discord gateway"

        await until(unhealthy)
        covered = await sb.ask("채팅방-1", "핑", timeout=10)
        attempts = [(a.instance, a.status) for a in covered.callback_attempts]
        assert (covered.answered_by, attempts) == ("4", [("4", 200)]), "once, by the fallback"
        sb.fake.rules.identify_close_code = None

        async def healthy_again() -> bool:
            return (await healthz(sb, "1"))[0] == 200

        await until(healthy_again, timeout=30)

        async def owner_again() -> bool:  # peers count it from its next connected heartbeat
            return (await sb.ask("채팅방-1", "핑")).answered_by == "1"

        await until(owner_again, timeout=15)
        again = [r for r in sb.fake.identify_log[identifies_before:] if r.instance == "1"]
        assert again, "instance 1 identified again"
        assert all(r.instance == "1" for r in sb.fake.identify_log[identifies_before:])
        times = sorted(r.at for r in sb.fake.identify_log)
        spacing = float(sb.fleet.instances["1"].env["IDENTIFY_SPACING"])
        assert min(b - a for a, b in itertools.pairwise(times)) >= spacing * 0.95
        assert sb.codes(40060) == [], "nothing was answered twice"


async def test_metrics_count_a_known_sequence_exactly(sandbox_factory):
    async with sandbox_factory(instances=(1, 4)) as sb:
        for _ in range(3):
            assert (await sb.ask("채팅방-1", "핑")).answered_by == "1"
        assert (await sb.ask("general", "핑")).answered_by == "4"
        await settled_claims(sb, ("1", "4"))  # rank 1's claim attempts are over
        one, four = await metrics(sb, "1"), await metrics(sb, "4")
        ping = {"command": "핑", "kind": "command"}
        assert one[series("mib_events_received_total", instance="1", **ping)] == 4
        assert one[series("mib_events_total", instance="1", outcome="answered", **ping)] == 3
        assert one[series("mib_claims_total", instance="1", result="won")] == 3
        assert one[series("mib_claims_total", instance="1", result="lost")] == 1
        assert four[series("mib_events_received_total", instance="4", **ping)] == 4
        assert four[series("mib_events_total", instance="4", outcome="answered", **ping)] == 1
        assert four[series("mib_claims_total", instance="4", result="won")] == 1
        assert four[series("mib_claims_total", instance="4", result="lost")] == 3
        assert one[series("mib_ack_seconds_count", instance="1", command="핑")] == 3
        assert one[series("mib_completion_seconds_count", instance="1", command="핑")] == 3
        assert one[series("mib_up", instance="1")] == 1
        assert one[series("mib_gateway_connected", instance="1")] == 1
        assert one[series("mib_redis_mode", instance="1", mode="redis")] == 1
        assert one[series("mib_redis_mode", instance="1", mode="degraded")] == 0
        assert one["process_resident_memory_bytes"] > 0
        assert not [k for k in one if k.startswith("mib_takeovers_total")]

        await sb.fleet.kill("1")
        assert (await sb.ask("채팅방-1", "핑")).answered_by == "4"
        ack_count = series("mib_ack_seconds_count", instance="4", command="핑")

        async def ack_observed() -> bool:  # after Discord's reply reached instance 4
            return (await metrics(sb, "4")).get(ack_count, 0) >= 2

        await until(ack_observed)
        four = await metrics(sb, "4")
        assert four[series("mib_takeovers_total", instance="4", command="핑")] == 1
        acks = [v for k, v in four.items() if re.match(r'mib_ack_seconds_count\{.*"핑"', k)]
        assert acks == [2]


REQUEST_FIELDS = {"command", "guild_id", "channel", "user_id", "duration_ms"}


async def test_every_log_line_is_json_and_request_lines_carry_the_request(sandbox_factory):
    async with sandbox_factory(instances=(1,)) as sb:
        ping = await sb.ask("채팅방-1", "핑")
        chat = await sb.ask("채팅방-1", "채팅", options={"질문": "하늘은 왜 파래?"}, settle=1.5)
        # The lines of both requests have been written (the log is read in order).
        for result in (ping, chat):
            await logged(sb, "1", "event_answered", interaction_id=str(result.interaction_id))
        await logged(sb, "1", "chat_answered", event_key=str(chat.interaction_id))
        lines = sb.fleet.instances["1"].log_path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
        assert all(r["instance_id"] == "1" for r in records)
        for result, command in ((ping, "핑"), (chat, "채팅")):
            mine = [r for r in records if r.get("interaction_id") == str(result.interaction_id)]
            assert mine, f"no line of the {command} request"
            for record in mine:
                assert record.keys() >= REQUEST_FIELDS, record
                assert (record["command"], record["channel"]) == (command, "채팅방-1")
        answered = [r for r in records if r["event"] == "chat_answered"]
        assert [r["prompt_chars"] for r in answered] == [len("하늘은 왜 파래?")]
        assert "prompt" not in answered[0]
        assert "하늘은 왜 파래?" not in "\n".join(lines), "prompts are logged by length only"
