"""Holding a claim until the answer is in, against a scripted store on a fake clock.

The holder renews its lease every third of a lease while the work runs, retries a renewal
or finalize the store did not answer every 50 ms (so it lands within the grace peers give
a holder back from an outage), makes the claim final once Discord has the answer or the
work is over, and stops holding once the event is too old for anyone to take it over.
Each row states by hand which calls the store gets, and when (seconds after the event's
creation). tests/integration/bot/test_lease_holding.py does the same on real Redis.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
import structlog

import bot.answering as answering_module
from bot.answering import AnswerPath, Event, EventKind
from bot.status import Counters
from bot.store.base import AliveView
from tests.unit.bot.fakes import FakeClock

CREATED = 1_800_000_000.0


class ScriptedClaims:
    """Renewals and finalizes answer from their scripts (True, False, or None: no answer);
    the last answer repeats. `calls` holds (call, seconds after creation)."""

    def __init__(self, clock: FakeClock, renew=(True,), finalize=(True,), seen=None) -> None:
        self.clock = clock
        self.renews, self.finalizes = list(renew), list(finalize)
        self.seen = seen
        self.calls: list[tuple[str, float]] = []

    def _at(self, name: str) -> None:
        self.calls.append((name, round(self.clock.now - CREATED, 2)))

    async def renew(self, key: str) -> bool | None:
        self._at("renew")
        return self.renews.pop(0) if len(self.renews) > 1 else self.renews[0]

    async def finalize(self, key: str) -> bool | None:
        self._at("finalize")
        return self.finalizes.pop(0) if len(self.finalizes) > 1 else self.finalizes[0]

    async def seen_by(self, key: str) -> int | None:
        self._at("seen_by")
        return self.seen


async def hold(monkeypatch, *, acked_at: float | None, over_at: float | None = None, **script):
    over = asyncio.Event()

    def end_the_work_at_its_time(now: float) -> None:
        if over_at is not None and now >= CREATED + over_at:
            over.set()

    clock = FakeClock(CREATED, end_the_work_at_its_time)  # created as the hold starts
    monkeypatch.setattr(answering_module, "time", clock)
    shim = SimpleNamespace(sleep=clock.sleep, create_task=asyncio.create_task, Event=asyncio.Event)
    monkeypatch.setattr(answering_module, "asyncio", shim)
    claims = ScriptedClaims(clock, **script)
    store = SimpleNamespace(
        claims=claims, liveness=SimpleNamespace(alive_view=lambda: AliveView(frozenset({1}), True))
    )
    path = AnswerPath(SimpleNamespace(store=store), Counters())  # type: ignore[arg-type]
    event = Event(EventKind.COMMAND, "e1", "핑", "채팅방-1", created_at=CREATED)

    def acknowledged() -> bool:
        return acked_at is not None and clock.now >= CREATED + acked_at

    await path._hold_claim(event, over, acknowledged)
    return [call for call in claims.calls if call[0] != "seen_by"], path


RENEWS_TO_ACK = [("renew", 0.34), ("renew", 0.68)]


@pytest.mark.parametrize(
    ("when", "script", "calls"),
    [
        # Discord has the answer at 0.99 s, seen at the next 20 ms poll: two renewals
        # on the way, then final once.
        ({"acked_at": 0.99}, {}, [*RENEWS_TO_ACK, ("finalize", 1.0)]),
        # Acknowledged at once: final at once, nothing renewed.
        ({"acked_at": 0.0}, {}, [("finalize", 0.0)]),
        # The work ends (a routed message has no acknowledgement to wait for).
        ({"acked_at": None, "over_at": 0.49}, {}, [("renew", 0.34), ("finalize", 0.5)]),
        # The store does not answer a renewal: the next try comes 50 ms later, not 333.
        (
            {"acked_at": 0.49},
            {"renew": (None, True)},
            [("renew", 0.34), ("renew", 0.4), ("finalize", 0.5)],
        ),
        # Nor the finalize: retried every 50 ms until it lands.
        (
            {"acked_at": 0.09},
            {"finalize": (None, None, True)},
            [("finalize", 0.1), ("finalize", 0.15), ("finalize", 0.2)],
        ),
        # Another instance holds it now (False): final is refused once, not retried.
        ({"acked_at": 0.09}, {"finalize": (False,)}, [("finalize", 0.1)]),
    ],
    ids=["ack-at-1s", "ack-at-once", "work-over", "renew-retried", "finalize-retried", "lost"],
)
async def test_holding_a_claim(monkeypatch, when, script, calls) -> None:
    made, path = await hold(monkeypatch, **when, **script)
    assert made == calls
    assert not path.settling, "nothing held once the claim is final"


async def test_an_answer_that_never_comes_is_held_no_longer_than_peers_may_take_over(
    monkeypatch,
) -> None:
    # Peers take over until the act deadline (2.4 s); a lease (1 s) later nobody can.
    made, _ = await hold(monkeypatch, acked_at=None)
    renewals = [at for call, at in made if call == "renew"]
    # Every third of a lease, at the 20 ms poll that reaches it; the tenth falls on the
    # give-up time itself, where the clock's last digit decides.
    assert renewals[:9] == [0.34, 0.68, 1.02, 1.36, 1.7, 2.04, 2.38, 2.72, 3.06]
    assert len(renewals) in (9, 10)
    call, at = made[-1]
    assert call == "finalize" and 3.4 <= at <= 3.42, "then final, once it gave up"


async def test_a_finalize_lost_to_an_outage_is_retried_only_while_peers_may_take_over(
    monkeypatch,
) -> None:
    made, _ = await hold(monkeypatch, acked_at=2.99, finalize=(None,))
    finalizes = [at for call, at in made if call == "finalize"]
    # Every 50 ms from 3.0 s until the give-up at 3.4 s: the try that finds the clock
    # past it is the last (3.4 or 3.45, as the clock's last digit falls).
    assert finalizes[:9] == [3.0, 3.05, 3.1, 3.15, 3.2, 3.25, 3.3, 3.35, 3.4]
    assert len(finalizes) in (9, 10) and finalizes[-1] <= 3.45


@pytest.mark.parametrize(("seen", "warned"), [(0, True), (1, False), (None, False)])
async def test_the_canary_warns_when_fewer_instances_saw_the_event_than_are_connected(
    monkeypatch, seen, warned
) -> None:
    with structlog.testing.capture_logs() as logs:
        await hold(monkeypatch, acked_at=0.0, seen=seen)
    warnings = [e for e in logs if e["event"] == "event_not_seen_by_every_instance"]
    assert [(w["seen_by"], w["connected"], w["log_level"]) for w in warnings] == (
        [(0, 1, "warning")] if warned else []
    )
