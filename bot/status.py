"""A snapshot of one instance's state: what /핑, /상태, the heartbeat and health file report."""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata

WINDOW_MINUTES = 60


@functools.cache
def package_version() -> str:
    try:
        return metadata.version("multi-instance-discord-bot")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class RecentCount:
    """Events in the last hour, in minute buckets (cheap, and exact to the minute)."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._buckets: Counter[int] = Counter()

    def add(self, n: int = 1) -> None:
        minute = int(self._clock() // 60)
        self._buckets[minute] += n
        for old in [m for m in self._buckets if m <= minute - WINDOW_MINUTES]:
            del self._buckets[old]

    def last_hour(self) -> int:
        minute = int(self._clock() // 60)
        return sum(c for m, c in self._buckets.items() if m > minute - WINDOW_MINUTES)


@dataclass
class Counters:
    """Work this instance answered or failed, since start and in the last hour."""

    handled: int = 0
    failed: int = 0
    handled_recent: RecentCount = field(default_factory=RecentCount, repr=False)
    failed_recent: RecentCount = field(default_factory=RecentCount, repr=False)
    # Ids of the work this instance has claimed and not finished yet.
    running: set[str] = field(default_factory=set, repr=False)

    @property
    def in_flight(self) -> int:
        return len(self.running)

    def started(self, work_id: str) -> None:
        self.running.add(work_id)

    def dropped(self, work_id: str) -> None:
        """Work another instance took over: neither handled nor failed here."""
        self.running.discard(work_id)

    def record_handled(self, work_id: str | None = None) -> None:
        self.running.discard(work_id or "")
        self.handled += 1
        self.handled_recent.add()

    def record_failed(self, work_id: str | None = None) -> None:
        self.running.discard(work_id or "")
        self.failed += 1
        self.failed_recent.add()

    def as_dict(self) -> dict[str, int]:
        return {
            "handled": self.handled,
            "failed": self.failed,
            "in_flight": self.in_flight,
            "handled_1h": self.handled_recent.last_hour(),
            "failed_1h": self.failed_recent.last_hour(),
        }


@dataclass
class InstanceStatus:
    instance_id: str
    role: str
    ready: bool
    latency_ms: float | None
    uptime_s: float
    version: str
    pid: int
    counters: Counters = field(default_factory=Counters)
    coordination: str = "local"  # local | redis | warming | degraded
    providers: dict[str, bool] = field(default_factory=dict)  # service -> key configured
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in asdict(self).items() if k != "counters"}
        data["counters"] = self.counters.as_dict()
        return data
