"""The gate's claim loop against a scripted store, on a fake clock.

Each row scripts what the store answers, one claim after another, and states by hand what
the gate concludes (won, retaken, or gave up), what it asked the store each time
(rank, after an outage or not) and how long it waited between asks. The real store and
timings are in tests/integration/bot/test_gate.py and test_lease_holding.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import structlog

import bot.gate as gate_module
from bot.gate import (
    ACT_DEADLINE_S,
    NOBODY_CAN_SERVE,
    Admission,
    AdmissionKind,
    AnswerGate,
    GateResult,
    Verdict,
)
from bot.metrics import Metrics
from bot.store import Mode
from bot.store.base import AliveView
from bot.store.claims import LOST, RETAKEN, UNKNOWN, WON, ClaimResult, ClaimState
from env_manager import Settings
from tests.unit.bot.fakes import FakeClock

CREATED = 1_800_000_000.0  # the event's creation, on the fake wall clock


def pending(s: float) -> ClaimResult:
    return ClaimResult(ClaimState.PENDING, retry_in_s=s)


def held_off(s: float) -> ClaimResult:
    return ClaimResult(ClaimState.HELD_OFF, retry_in_s=s)


class ScriptedClaims:
    def __init__(self, answers: list[ClaimResult], store: SimpleNamespace) -> None:
        self.answers = answers
        self.store = store
        self.asked: list[tuple[int, bool]] = []

    async def claim(self, key: str, rank: int = 0, *, after_outage: bool = False) -> ClaimResult:
        self.asked.append((rank, after_outage))
        answer = self.answers.pop(0)
        if answer is UNKNOWN and not self.answers:
            self.store.mode = Mode.DEGRADED  # it stays down: the link gives up on it
        return answer


async def claim(
    answers: list[ClaimResult], monkeypatch, *, rank: int = 1, at: float = 0.5
) -> tuple[tuple[bool | None, bool], list[tuple[int, bool]], list[float]]:
    clock = FakeClock(CREATED + at)
    monkeypatch.setattr(gate_module, "time", clock)
    monkeypatch.setattr(gate_module, "asyncio", clock)
    store = SimpleNamespace(mode=Mode.REDIS)
    store.claims = ScriptedClaims(list(answers), store)
    gate = AnswerGate(Settings.build(instance_id="4"), store, claim_step=0.4)  # type: ignore[arg-type]
    outcome = await gate._claim("e1", CREATED, rank)
    return outcome, store.claims.asked, clock.slept


@pytest.mark.parametrize(
    ("answers", "outcome", "asked", "slept"),
    [
        ([WON], (True, False), [(1, False)], []),
        ([LOST], (False, False), [(1, False)], []),
        ([RETAKEN], (True, True), [(1, False)], []),
        # The holder's lease runs 0.3 s more: come back 10 ms after it, then win.
        ([pending(0.3), WON], (True, False), [(1, False), (1, False)], [0.31]),
        ([pending(0.3), pending(0.2), LOST], (False, False), [(1, False)] * 3, [0.31, 0.21]),
        # At 0.5 s of 2.4 s: a lease that frees after the deadline is left to its holder.
        ([pending(1.95)], (False, False), [(1, False)], []),
        ([pending(1.85), WON], (True, False), [(1, False), (1, False)], [1.86]),
        # Unreachable: ask again every 50 ms, saying it was cut off, until it answers.
        ([UNKNOWN, WON], (True, False), [(1, False), (1, True)], [0.05]),
        (
            [UNKNOWN, UNKNOWN, LOST],
            (False, False),
            [(1, False), (1, True), (1, True)],
            [0.05, 0.05],
        ),
        # Back from an outage: the holder gets its hold-off, then the claim counts as
        # retaken (the holder may have answered), asked again as a normal claim.
        (
            [UNKNOWN, held_off(0.6), WON],
            (True, True),
            [(1, False), (1, True), (1, False)],
            [0.05, 0.6],
        ),
        (
            [UNKNOWN, held_off(0.6), LOST],
            (False, False),
            [(1, False), (1, True), (1, False)],
            [0.05, 0.6],
        ),
        # Unreachable for good: the link says DEGRADED, static routing decides.
        ([UNKNOWN], (None, False), [(1, False)], []),
    ],
    ids=[
        "won",
        "lost",
        "retaken",
        "pending-then-won",
        "pending-twice-then-lost",
        "pending-past-deadline",
        "pending-just-in-time",
        "unknown-then-won",
        "unknown-twice-then-lost",
        "held-off-then-won",
        "held-off-then-lost",
        "unknown-for-good",
    ],
)
async def test_the_claim_loop(monkeypatch, answers, outcome, asked, slept) -> None:
    assert await claim(answers, monkeypatch) == (outcome, asked, slept)


async def test_a_hold_off_is_cut_50_ms_before_the_deadline(monkeypatch) -> None:
    # Cut off at 2.0 s, back at 2.05 s, 0.35 s before the deadline: a 0.7 s hold-off
    # waits 0.3 s only, so the claim is decided while Discord still takes an answer.
    outcome, _, slept = await claim([UNKNOWN, held_off(0.7), WON], monkeypatch, at=2.0)
    assert (outcome, slept) == ((True, True), [0.05, 0.3])


async def test_past_the_deadline_an_unreachable_store_gives_up_at_once(monkeypatch) -> None:
    outcome, asked, slept = await claim([UNKNOWN, WON], monkeypatch, at=ACT_DEADLINE_S + 0.1)
    assert (outcome, asked, slept) == ((None, False), [(1, False)], [])


async def test_an_unreachable_store_near_the_deadline_waits_only_what_is_left(monkeypatch):
    outcome, _, slept = await claim([UNKNOWN, WON], monkeypatch, at=ACT_DEADLINE_S - 0.02)
    assert (outcome, slept) == ((True, False), [0.02])


async def test_the_rank_is_passed_to_the_store(monkeypatch) -> None:
    _, asked, _ = await claim([pending(0.1), WON], monkeypatch, rank=3)
    assert asked == [(3, False), (3, False)]


# ---- should_answer: who acts, at which rank, after which wait ----


class Admits:
    """An admission that answers `kind` and counts what it gave back."""

    def __init__(self, kind: AdmissionKind, message: str | None = None) -> None:
        self.kind, self.message = kind, message
        self.asked: list[str] = []
        self.released = 0

    async def __call__(self, command: str) -> Admission:
        self.asked.append(command)

        async def release() -> None:
            self.released += 1

        return Admission(self.kind, self.message, release)


def fleet_gate(
    instance: str,
    answers: list[ClaimResult],
    alive: set[int],
    monkeypatch,
    *,
    mode: Mode = Mode.REDIS,
    trusted: bool = True,
) -> tuple[AnswerGate, FakeClock, ScriptedClaims]:
    clock = FakeClock(CREATED + 0.05)  # the event arrives 50 ms after its creation
    monkeypatch.setattr(gate_module, "time", clock)
    monkeypatch.setattr(gate_module, "asyncio", clock)
    store = SimpleNamespace(mode=mode)
    store.claims = ScriptedClaims(list(answers), store)
    view = AliveView(frozenset(alive), trusted)
    store.liveness = SimpleNamespace(alive_view=lambda: view)
    # Unsuffixed keys: every instance holds every area's key, so all four can cover.
    settings = Settings.build(instance_id=instance, **EVERY_KEY)
    gate = AnswerGate(settings, store, claim_step=0.4)  # type: ignore[arg-type]
    gate.metrics = Metrics(instance)
    return gate, clock, store.claims


ALL = {1, 2, 3, 4}
EVERY_KEY = {"openai_api_key": "o", "minimax_api_key": "m", "stability_api_key": "s"}


@pytest.mark.parametrize(
    ("instance", "alive", "answers", "verdict", "rank", "slept", "asked"),
    [
        # /채팅 in 채팅방-1 orders 1 -> 4 -> 2 -> 3 (every instance holds every key here).
        ("1", ALL, [WON], Verdict.ANSWER, 0, [], [(0, False)]),
        ("4", ALL, [LOST], Verdict.SILENT, None, [0.35], [(1, False)]),
        ("2", ALL, [LOST], Verdict.SILENT, None, [0.75], [(2, False)]),
        ("3", ALL, [LOST], Verdict.SILENT, None, [1.15], [(3, False)]),
        ("4", {2, 3, 4}, [WON], Verdict.ANSWER, 0, [], [(0, False)]),  # 1 is gone
        ("3", {2, 3}, [WON], Verdict.ANSWER, 1, [0.35], [(1, False)]),  # 1 and 4 gone
        ("3", {1, 2, 4}, [], Verdict.SILENT, None, [], []),  # 3 not connected: not asked
    ],
    ids=["owner", "rank-1", "rank-2", "rank-3", "owner-gone", "third-in-order", "not-connected"],
)
async def test_who_acts_at_which_rank(
    monkeypatch, instance, alive, answers, verdict, rank, slept, asked
) -> None:
    gate, clock, claims = fleet_gate(instance, answers, alive, monkeypatch)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.rank, clock.slept, claims.asked) == (
        verdict,
        rank,
        slept,
        asked,
    )
    assert result.claimed is (verdict is Verdict.ANSWER)


async def test_covering_for_the_owner_is_logged_and_counted(monkeypatch) -> None:
    gate, _, _ = fleet_gate("4", [RETAKEN], ALL, monkeypatch)
    with structlog.testing.capture_logs() as logs:
        result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.rank, result.claimed, result.retaken) == (
        Verdict.ANSWER,
        1,
        True,
        True,
    )
    assert [(e["event"], e["rank"], e["owner"], e["event_key"]) for e in logs] == [
        ("covered_for_owner", 1, 1, "e1")
    ]
    assert gate.metrics.sample("mib_takeovers_total", command="채팅") == 1.0
    assert gate.metrics.sample("mib_claims_total", result="won") == 1.0


async def test_the_owner_answering_is_not_a_takeover(monkeypatch) -> None:
    gate, _, _ = fleet_gate("1", [WON], ALL, monkeypatch)
    with structlog.testing.capture_logs() as logs:
        await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert logs == []
    assert gate.metrics.sample("mib_takeovers_total", command="채팅") is None


async def test_a_lost_claim_gives_back_what_admission_reserved(monkeypatch) -> None:
    gate, _, _ = fleet_gate("4", [LOST], ALL, monkeypatch)
    gate.admit = admits = Admits(AdmissionKind.SERVE)
    assert (await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)).verdict is Verdict.SILENT
    assert (admits.asked, admits.released) == (["채팅"], 1)
    assert gate.metrics.sample("mib_claims_total", result="lost") == 1.0


async def test_a_won_claim_keeps_what_admission_reserved(monkeypatch) -> None:
    gate, _, _ = fleet_gate("1", [WON], ALL, monkeypatch)
    gate.admit = admits = Admits(AdmissionKind.SERVE)
    assert (await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)).verdict is Verdict.ANSWER
    assert admits.released == 0


async def test_a_decline_before_the_last_rank_leaves_the_event_to_the_next(monkeypatch) -> None:
    gate, clock, claims = fleet_gate("1", [WON], ALL, monkeypatch)
    gate.admit = Admits(AdmissionKind.DECLINE, "키가 다 떨어졌어요")
    with structlog.testing.capture_logs() as logs:
        result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert result == GateResult(Verdict.SILENT, declined=True, rank=0)
    assert (claims.asked, clock.slept) == ([], []), "no claim, no wait"
    assert [(e["event"], e["event_key"], e["rank"], e["command"]) for e in logs] == [
        ("declined", "e1", 0, "채팅")
    ]


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (None, NOBODY_CAN_SERVE),
        ("오늘 쓸 수 있는 양을 다 썼어요.", "오늘 쓸 수 있는 양을 다 썼어요."),
    ],
)
async def test_the_last_rank_says_why_instead_of_declining(monkeypatch, message, shown) -> None:
    gate, _, _ = fleet_gate("3", [WON], ALL, monkeypatch)
    gate.admit = Admits(AdmissionKind.DECLINE, message)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.message, result.claimed, result.rank) == (
        Verdict.REFUSE,
        shown,
        True,
        3,
    )


async def test_a_refusal_is_the_winners_answer(monkeypatch) -> None:
    gate, _, _ = fleet_gate("1", [WON], ALL, monkeypatch)
    gate.admit = Admits(AdmissionKind.REFUSE, "1분에 세 번까지예요.")
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.message, result.claimed) == (
        Verdict.REFUSE,
        "1분에 세 번까지예요.",
        True,
    )


@pytest.mark.parametrize(
    ("instance", "verdict"), [("1", Verdict.ANSWER), ("4", Verdict.SILENT), ("2", Verdict.SILENT)]
)
async def test_without_redis_the_configured_owner_answers_alone(monkeypatch, instance, verdict):
    gate, clock, claims = fleet_gate(instance, [], {4}, monkeypatch, mode=Mode.DEGRADED)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.claimed, claims.asked, clock.slept) == (verdict, False, [], [])
    assert result.retaken is False, "nothing taken over: Discord is not asked first"


async def test_a_static_owner_that_cannot_serve_says_so(monkeypatch) -> None:
    gate, _, _ = fleet_gate("1", [], ALL, monkeypatch, mode=Mode.DEGRADED)
    gate.admit = Admits(AdmissionKind.DECLINE)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.message, result.rank) == (Verdict.REFUSE, NOBODY_CAN_SERVE, 0)


@pytest.mark.parametrize(("instance", "verdict"), [("1", Verdict.ANSWER), ("4", Verdict.SILENT)])
async def test_a_store_gone_for_good_mid_claim_falls_back_to_static(monkeypatch, instance, verdict):
    gate, _, _ = fleet_gate(instance, [UNKNOWN], ALL, monkeypatch)
    gate.admit = admits = Admits(AdmissionKind.SERVE)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.claimed) == (verdict, False)
    # The ranked admission is given back; the static owner asks again for its own.
    assert admits.released == 1 and len(admits.asked) == (2 if verdict is Verdict.ANSWER else 1)


async def test_warming_up_ranks_over_every_instance(monkeypatch) -> None:
    # The view after an outage may still miss 1: rank as if all were alive.
    gate, clock, claims = fleet_gate("4", [WON], {4}, monkeypatch, trusted=False)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.rank, clock.slept, claims.asked) == (1, [0.35], [(1, False)])


@pytest.mark.parametrize(("answer", "verdict"), [(WON, Verdict.ANSWER), (LOST, Verdict.SILENT)])
async def test_one_process_answers_each_event_once(monkeypatch, answer, verdict) -> None:
    gate, clock, claims = fleet_gate("all", [answer], set(), monkeypatch)
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.claimed, claims.asked, clock.slept) == (
        verdict,
        verdict is Verdict.ANSWER,
        [(0, False)],
        [],
    )
    assert result.rank == (0 if verdict is Verdict.ANSWER else None)
    assert result.retaken is False


async def test_an_unknown_command_routes_like_a_utility(monkeypatch) -> None:
    # A button of an old message names no command: it goes to the channel's owner.
    gate, _, _ = fleet_gate("2", [WON], ALL, monkeypatch)
    gate.admit = admits = Admits(AdmissionKind.SERVE)
    result = await gate.should_answer("e1", "이미지생성-1", "새로고침", CREATED)
    assert (result.verdict, result.rank, admits.asked) == (Verdict.ANSWER, 0, ["상태"])


def test_the_claim_step_comes_from_the_settings_unless_given() -> None:
    settings = Settings.build(instance_id="2", claim_step=0.3)
    assert AnswerGate(settings).claim_step == 0.3
    assert AnswerGate(settings, claim_step=0.1).claim_step == 0.1


async def test_a_gate_without_a_shared_store_announces_its_own_instance() -> None:
    gate = AnswerGate(Settings.build(instance_id="2"))
    assert await gate.store.liveness.announcing_now(2) is True
    assert await gate.store.liveness.announcing_now(4) is False


async def test_a_refusal_on_a_retaken_claim_says_so(monkeypatch) -> None:
    """The holder may have answered before it died: a retaken claim's refusal is checked
    with Discord first, like its work (AnswerPath.admit), so it must carry the flag."""
    gate, _, _ = fleet_gate("4", [RETAKEN], ALL, monkeypatch)
    gate.admit = Admits(AdmissionKind.REFUSE, "1분에 세 번까지예요.")
    result = await gate.should_answer("e1", "채팅방-1", "채팅", CREATED)
    assert (result.verdict, result.retaken, result.rank) == (Verdict.REFUSE, True, 1)
