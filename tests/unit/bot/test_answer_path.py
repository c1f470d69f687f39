"""The answering path's bookkeeping, one outcome at a time, without Discord or Redis.

A scripted gate hands `AnswerPath.handle` a verdict; the work succeeds or fails in each way
the path knows. Each row states by hand what the user is shown, what the counters, the
metrics and the log say. (tests/integration/bot/test_answering.py runs the same path in a
real bot on the Discord double; this table pins its every branch and field.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import structlog

from bot.access import AccessPolicy
from bot.answering import (
    GENERIC_FAILURE,
    AlreadyShown,
    AnswerPath,
    Event,
    EventKind,
    RefusalShown,
)
from bot.gate import GateResult, Verdict
from bot.metrics import Metrics
from bot.status import Counters
from bot.store import local_store
from env_manager import Settings
from services.errors import UserFacingError
from tests.unit.bot.fakes import http_error
from tests.waiting import until

KEY = "1300000000000000001"
FIELDS = {
    "event_kind": "command",
    "event_key": KEY,
    "command": "채팅",
    "channel": "채팅방-1",
    "guild_id": 5,
    "user_id": 7,
}
REQUEST = {
    "interaction_id": KEY,
    "command": "채팅",
    "guild_id": 5,
    "channel": "채팅방-1",
    "user_id": 7,
}


class ScriptedGate:
    """Says what the real gate would have decided; keeps an in-process store."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        self.store = local_store(1)
        self.asked: list[tuple[str, str | None, str]] = []

    async def should_answer(self, key, channel_name, command, created_at) -> GateResult:
        self.asked.append((key, channel_name, command))
        return self.result


def event(kind: EventKind = EventKind.COMMAND, key: str = KEY) -> Event:
    # Ten seconds old: the held claim gives up and the canary looks at once.
    return Event(
        kind=kind,
        key=key,
        command="채팅",
        channel_name="채팅방-1",
        created_at=time.time() - 10,
        guild_id=5,
        user_id=7,
        channel_id=9,
    )


async def no_work() -> None:
    """Work that is done at once."""


async def no_reply(text: str) -> None:
    raise AssertionError(f"nothing should be shown here, but {text!r} was")


ANSWER = GateResult(Verdict.ANSWER, claimed=True, rank=0)


@dataclass
class Ran:
    did_work: bool
    replies: list[str]
    counters: tuple[int, int, int, int]  # handled, failed, refused, in flight
    outcome: dict[str, float]  # mib_events_total samples that are set
    logs: list[dict]
    metrics: Metrics
    kept: tuple[set, dict]  # what the path still holds for events once they are over


async def run(result: GateResult, work_raises: BaseException | None, **kwargs) -> Ran:
    gate = ScriptedGate(result)
    counters, metrics = Counters(), Metrics("1")
    path = AnswerPath(gate, counters, metrics)  # type: ignore[arg-type]
    replies: list[str] = []

    async def reply(text: str) -> None:
        replies.append(text)

    shows_first = kwargs.pop("shows_first", False)
    the_event = kwargs.pop("event", event())

    async def work() -> None:
        if shows_first:  # a first streamed text or progress line went out
            path.first_output(the_event.key, the_event.command, the_event.created_at)
        if work_raises is not None:
            raise work_raises

    with structlog.testing.capture_logs() as logs:
        did = await path.handle(the_event, work, reply, **kwargs)
        # Ten seconds old: the claim is made final and the canary looks at once.
        await until(lambda: not path._background, what="background work never ended")
    snap = counters.snapshot()
    outcomes = {
        outcome: value
        for outcome in ("answered", "failed", "declined", "refused", "dropped")
        if (
            value := metrics.sample(
                "mib_events_total", command="채팅", kind="command", outcome=outcome
            )
        )
    }
    return Ran(
        did,
        replies,
        (snap.handled, snap.failed, snap.refused, snap.in_flight),
        outcomes,
        [e for e in logs if e["event"] != "event_not_seen_by_every_instance"],
        metrics,
        (path._shown, path._holding),
    )


def only(logs: list[dict], name: str) -> dict:
    [line] = [e for e in logs if e["event"] == name]
    return line


async def test_work_that_succeeds_is_counted_answered_and_logged_once() -> None:
    ran = await run(ANSWER, None)
    assert (ran.did_work, ran.replies, ran.counters) == (True, [], (1, 0, 0, 0))
    assert ran.outcome == {"answered": 1.0}
    line = only(ran.logs, "event_answered")
    assert {k: line[k] for k in REQUEST} == REQUEST
    assert line["log_level"] == "info" and line["duration_ms"] >= 10_000


@pytest.mark.parametrize(
    ("raised", "replies", "counters", "outcome", "log_event", "log_fields"),
    [
        (
            UserFacingError("prompt too long", user_message="설명이 너무 길어요."),
            ["설명이 너무 길어요."],
            (0, 1, 0, 0),
            "failed",
            "event_rejected",
            {"log_level": "info", "reason": "prompt too long"},
        ),
        (
            RuntimeError("bug"),
            [GENERIC_FAILURE],
            (0, 1, 0, 0),
            "failed",
            "event_failed",
            {"log_level": "error"},
        ),
        (
            http_error(40060),  # another instance answered first
            [],
            (0, 0, 0, 0),
            "dropped",
            "answer_rejected_by_discord",
            {"log_level": "warning", "code": 40060, "age_ms": "about 10 s"},
        ),
        (
            http_error(10062),  # the interaction expired
            [],
            (0, 0, 0, 0),
            "dropped",
            "answer_rejected_by_discord",
            {"log_level": "warning", "code": 10062, "age_ms": "about 10 s"},
        ),
        (
            RefusalShown("flagged by moderation"),
            [],
            (0, 0, 1, 0),
            "refused",
            "event_refused",
            {"log_level": "info", "reason": "flagged by moderation", "rule": "screening"},
        ),
        (
            AlreadyShown(UserFacingError("stream cut short")),
            [],
            (0, 1, 0, 0),
            "failed",
            "event_failed_shown",
            {"log_level": "warning", "reason": "stream cut short"},
        ),
    ],
    ids=["user-facing", "bug", "40060", "10062", "refusal-shown", "already-shown"],
)
async def test_each_failure_is_shown_counted_and_logged_its_way(
    raised, replies, counters, outcome, log_event, log_fields
) -> None:
    ran = await run(ANSWER, raised, shows_first=True)
    assert ran.did_work is True, "the work was ours, whatever became of it"
    assert (ran.replies, ran.counters, ran.outcome) == (replies, counters, {outcome: 1.0})
    line = only(ran.logs, log_event)
    if "age_ms" in log_fields:  # the event's age when Discord said no
        assert 10_000 <= line["age_ms"] < 15_000
        line = {**line, "age_ms": "about 10 s"}
    assert {k: line[k] for k in log_fields} == log_fields
    assert ran.kept == (set(), {}), "nothing kept for an event that is over"
    assert {k: line[k] for k in FIELDS} == FIELDS
    assert not [e for e in ran.logs if e["event"] == "event_answered"]


async def test_a_bug_is_logged_with_its_traceback_never_shown() -> None:
    boom = RuntimeError("internal detail: /srv/secret.py line 3")
    ran = await run(ANSWER, boom)
    assert only(ran.logs, "event_failed")["exc_info"] is boom
    assert "internal detail" not in " ".join(ran.replies)


async def test_a_refusal_from_admission_is_answered_instead_of_the_work() -> None:
    refused = GateResult(Verdict.REFUSE, message="오늘 쓸 수 있는 양을 다 썼어요.", claimed=True)
    ran = await run(refused, AssertionError("the work must not run"))
    assert (ran.did_work, ran.replies) == (False, ["오늘 쓸 수 있는 양을 다 썼어요."])
    assert (ran.counters, ran.outcome) == ((0, 0, 1, 0), {"refused": 1.0})
    line = only(ran.logs, "event_refused")
    assert (line["rule"], line["reason"]) == ("admission", "오늘 쓸 수 있는 양을 다 썼어요.")
    assert {k: line[k] for k in FIELDS} == FIELDS


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (GateResult(Verdict.SILENT), {}),
        (GateResult(Verdict.SILENT, declined=True, rank=0), {"declined": 1.0}),
    ],
    ids=["not-ours", "declined"],
)
async def test_a_silent_instance_does_nothing_visible(result, outcome) -> None:
    ran = await run(result, AssertionError("the work must not run"))
    assert (ran.did_work, ran.replies, ran.counters) == (False, [], (0, 0, 0, 0))
    assert ran.outcome == outcome
    assert [e["event"] for e in ran.logs] == ["event_not_ours"]
    assert {k: ran.logs[0][k] for k in FIELDS} == FIELDS


@pytest.mark.parametrize(
    ("found", "did_work", "log_events"),
    [(True, False, ["takeover_found_answer"]), (False, True, ["event_answered"])],
)
async def test_a_retaken_claim_asks_discord_first(found, did_work, log_events) -> None:
    asked: list[str] = []

    async def answered_elsewhere() -> bool:
        asked.append("asked")
        return found

    retaken = GateResult(Verdict.ANSWER, claimed=True, rank=1, retaken=True)
    ran = await run(retaken, None, answered_elsewhere=answered_elsewhere)
    assert (asked, ran.did_work, ran.replies) == (["asked"], did_work, [])
    assert [e["event"] for e in ran.logs] == log_events
    if found:
        line = only(ran.logs, "takeover_found_answer")
        assert line["rank"] == 1 and {k: line[k] for k in FIELDS} == FIELDS
        assert ran.counters == (0, 0, 0, 0), "not our work: nothing counted"


async def test_a_claim_won_plainly_never_asks_discord() -> None:
    async def answered_elsewhere() -> bool:
        raise AssertionError("only a retaken claim asks")

    ran = await run(ANSWER, None, answered_elsewhere=answered_elsewhere)
    assert ran.did_work is True


async def test_autocomplete_is_answered_but_not_counted_as_work() -> None:
    gate = ScriptedGate(ANSWER)
    counters, metrics = Counters(), Metrics("1")
    path = AnswerPath(gate, counters, metrics)  # type: ignore[arg-type]

    with structlog.testing.capture_logs() as logs:
        assert await path.handle(event(EventKind.AUTOCOMPLETE), no_work, no_reply) is True
        await path.close()
    assert counters.snapshot().handled == 0
    assert not [e for e in logs if e["event"] == "event_answered"]
    labels = {"command": "채팅", "kind": "autocomplete"}
    assert metrics.sample("mib_events_total", outcome="answered", **labels) == 1.0
    assert metrics.sample("mib_events_received_total", **labels) == 1.0


async def test_a_draining_instance_leaves_every_event_to_its_peers() -> None:
    gate = ScriptedGate(ANSWER)
    metrics = Metrics("1")
    path = AnswerPath(gate, Counters(), metrics)  # type: ignore[arg-type]
    path.draining = True

    async def work() -> None:
        raise AssertionError("no new work while draining")

    with structlog.testing.capture_logs() as logs:
        assert await path.handle(event(), work, no_reply) is False
    assert gate.asked == [], "not even routed"
    line = only(logs, "event_left_to_peers")
    assert line["reason"] == "draining" and {k: line[k] for k in FIELDS} == FIELDS
    assert metrics.sample("mib_events_received_total", command="채팅", kind="command") is None


async def test_the_gate_is_asked_with_the_events_key_channel_and_command() -> None:
    gate = ScriptedGate(GateResult(Verdict.SILENT))
    path = AnswerPath(gate, Counters(), Metrics("1"))  # type: ignore[arg-type]

    await path.handle(event(), no_work, no_reply)
    await path.close()
    assert gate.asked == [(KEY, "채팅방-1", "채팅")]


async def test_the_first_output_is_measured_once_per_event() -> None:
    metrics = Metrics("1")
    path = AnswerPath(ScriptedGate(ANSWER), Counters(), metrics)  # type: ignore[arg-type]
    created = time.time() - 2
    path.first_output(KEY, "채팅", created, at=created + 0.4)
    path.first_output(KEY, "채팅", created, at=created + 9.0)  # a later edit: not counted
    labels = {"command": "채팅"}
    assert metrics.sample("mib_first_output_seconds_count", **labels) == 1.0
    assert metrics.sample("mib_first_output_seconds_sum", **labels) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("access", "shown"),
    [
        (
            {"access_deny_users": "7"},
            "이 봇을 사용할 수 없는 계정이에요. 관리자에게 문의해 주세요.",
        ),
        (
            {"access_deny_users": "채팅:7"},
            "이 계정으로는 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        ),
        (
            {"access_allow_channels": "채팅:10"},  # the event's channel is 9
            "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        ),
        ({"access_allow_channels": "채팅:9"}, "ok"),
        ({"access_deny_users": "8"}, "ok"),
    ],
)
async def test_the_winner_asks_the_access_lists_with_the_events_requester(access, shown):
    policy = AccessPolicy(Settings.build(**access).access)
    path = AnswerPath(ScriptedGate(ANSWER), Counters(), Metrics("1"), access=policy)  # type: ignore[arg-type]
    replies: list[str] = []

    async def reply(text: str) -> None:
        replies.append(text)

    async def work() -> None:
        replies.append("ok")

    with structlog.testing.capture_logs() as logs:
        await path.handle(event(), work, reply)
        await path.close()
    assert replies == [shown]
    refused = [e["rule"] for e in logs if e["event"] == "event_refused"]
    assert refused == ([] if shown == "ok" else ["access"])


@pytest.mark.parametrize(
    ("claimed", "acked", "ack_count"),
    [
        (True, True, 1.0),  # the held claim sees Discord take the answer
        (False, True, 1.0),  # static routing (Redis down): no claim, still timed
        (False, False, None),  # never acknowledged: nothing to time
    ],
)
async def test_the_acknowledgement_is_timed_once_with_or_without_a_claim(
    claimed, acked, ack_count
) -> None:
    metrics = Metrics("1")
    gate = ScriptedGate(GateResult(Verdict.ANSWER, claimed=claimed, rank=0))
    path = AnswerPath(gate, Counters(), metrics)  # type: ignore[arg-type]

    await path.handle(event(), no_work, no_reply, acknowledged=lambda: acked)
    # The event is ten seconds old: holding or watching it ends at once, then the canary.
    await until(lambda: not path._background, what="the path's background work never ended")
    assert metrics.sample("mib_ack_seconds_count", command="채팅") == ack_count
    if ack_count:  # from the event's creation, ten seconds ago
        assert 10.0 <= metrics.sample("mib_ack_seconds_sum", command="채팅") < 20.0


async def test_the_end_of_the_work_is_timed_once_per_event_from_its_creation() -> None:
    ran = await run(ANSWER, None)
    labels = {"command": "채팅"}
    assert ran.metrics.sample("mib_completion_seconds_count", **labels) == 1.0
    assert 10.0 <= ran.metrics.sample("mib_completion_seconds_sum", **labels) < 15.0
    # It never showed anything before the end: its first output is its end.
    assert ran.metrics.sample("mib_first_output_seconds_count", **labels) == 1.0
    assert ran.kept == (set(), {})


async def test_every_event_gets_its_own_first_output_measure() -> None:
    metrics = Metrics("1")
    path = AnswerPath(ScriptedGate(ANSWER), Counters(), metrics)  # type: ignore[arg-type]

    for key in ("1300000000000000011", "1300000000000000012", "1300000000000000013"):
        await path.handle(event(key=key), no_work, no_reply)
    await path.close()
    assert metrics.sample("mib_first_output_seconds_count", command="채팅") == 3.0


async def test_a_late_acknowledgement_without_a_claim_is_still_timed() -> None:
    """Static routing: Discord takes the answer 1.7 s after the event's creation."""
    metrics = Metrics("1")
    static = GateResult(Verdict.ANSWER, claimed=False, rank=0)
    path = AnswerPath(ScriptedGate(static), Counters(), metrics)  # type: ignore[arg-type]
    young = Event(EventKind.COMMAND, KEY, "채팅", "채팅방-1", created_at=time.time() - 1.5)

    await path.handle(
        young, no_work, no_reply, acknowledged=lambda: time.time() >= young.created_at + 1.7
    )
    await until(
        lambda: metrics.sample("mib_ack_seconds_count", command="채팅") == 1.0,
        timeout=3.0,
        what="the acknowledgement was never timed",
    )
    assert 1.7 <= metrics.sample("mib_ack_seconds_sum", command="채팅") < 2.5
    await path.close()


async def test_the_end_of_the_work_makes_the_claim_final_without_an_acknowledgement() -> None:
    """A routed chat message has no interaction to acknowledge: its claim is made final
    when the reply is out, not a lease after the act deadline."""
    finalized: list[str] = []
    gate = ScriptedGate(ANSWER)
    claims = gate.store.claims

    async def finalize(key: str) -> bool:
        finalized.append(key)
        return True

    claims.finalize = finalize  # type: ignore[method-assign]
    path = AnswerPath(gate, Counters(), Metrics("1"))  # type: ignore[arg-type]
    young = Event(EventKind.MESSAGE, "msg:5", "채팅", "채팅방-1", created_at=time.time())

    await path.handle(young, no_work, no_reply)
    await until(lambda: finalized == ["msg:5"], timeout=1.0, what="not final after the work")
    assert not path.settling
    await path.close()
