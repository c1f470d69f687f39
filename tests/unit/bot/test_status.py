"""Counters behind /상태: work in flight and the last hour's totals."""

from __future__ import annotations

from bot.status import Counters, CounterSnapshot, InstanceStatus, RecentCount


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
    assert counters.snapshot() == CounterSnapshot(
        handled=1, failed=1, in_flight=0, handled_1h=1, failed_1h=1
    )


def test_dropped_work_is_neither_handled_nor_failed():
    counters = Counters()
    counters.started("a")
    counters.dropped("a")
    assert counters.snapshot() == CounterSnapshot()


def test_status_travels_as_json_and_comes_back_equal():
    status = InstanceStatus(
        instance_id="3",
        role="video",
        ready=True,
        latency_ms=None,
        uptime_s=12.5,
        version="0.1.0",
        pid=42,
        counters=CounterSnapshot(handled=2, in_flight=1),
        coordination="warming",
        providers={"minimax": True, "openai": False},
        updated_at=1_700_000_000.0,
    )
    assert InstanceStatus.from_json(status.to_json()) == status


def test_status_from_an_older_or_newer_peer_is_read_with_defaults():
    peer = InstanceStatus.from_json('{"instance_id": 2, "ready": true, "extra": [1]}')
    assert peer.instance_id == "2"
    assert peer.ready is True
    assert peer.counters == CounterSnapshot()
    assert peer.latency_ms is None and peer.version == "?"
