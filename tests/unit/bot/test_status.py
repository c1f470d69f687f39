"""Counters behind /상태: work in flight and the last hour's totals."""

from __future__ import annotations

from bot.status import Counters, RecentCount


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_recent_count_forgets_after_an_hour():
    clock = Clock()
    recent = RecentCount(clock)
    recent.add(3)
    clock.now += 30 * 60
    recent.add()
    assert recent.last_hour() == 4
    clock.now += 31 * 60
    assert recent.last_hour() == 1
    clock.now += 60 * 60
    assert recent.last_hour() == 0


def test_in_flight_follows_started_and_finished_work():
    counters = Counters()
    counters.started("a")
    counters.started("b")
    assert counters.in_flight == 2
    counters.record_handled("a")
    counters.record_failed("b")
    assert counters.in_flight == 0
    assert counters.as_dict() == {
        "handled": 1,
        "failed": 1,
        "in_flight": 0,
        "handled_1h": 1,
        "failed_1h": 1,
    }
