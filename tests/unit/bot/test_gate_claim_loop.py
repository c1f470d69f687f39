"""The gate's claim loop against a scripted store, on a fake clock.

Each row scripts what the store answers, one claim after another, and states by hand what
the gate concludes (won, retaken, or gave up), what it asked the store each time
(rank, after an outage or not) and how long it waited between asks. The real store and
timings are in tests/integration/bot/test_gate.py and test_lease_holding.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import bot.gate as gate_module
from bot.gate import ACT_DEADLINE_S, AnswerGate
from bot.store import Mode
from bot.store.claims import LOST, RETAKEN, UNKNOWN, WON, ClaimResult, ClaimState
from env_manager import Settings

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


class FakeClock:
    """`time.time` and `asyncio.sleep` for bot.gate: a sleep moves the clock on."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


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
