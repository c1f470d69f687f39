"""A snapshot of one instance's state: what /핑, /상태, the heartbeat and health file report.

`InstanceStatus` is the one typed shape of that snapshot, end to end: the bot builds it
(`MultiInstanceBot.status`), the liveness store publishes it as JSON and peers read it
back with `from_json`, the health file holds it, and the embeds and CLI read its fields.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

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
    refused: int = 0
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

    def record_refused(self) -> None:
        """Answered with a reason instead of the work (cooldown, access, nothing left)."""
        self.refused += 1

    def record_failed(self, work_id: str | None = None) -> None:
        self.running.discard(work_id or "")
        self.failed += 1
        self.failed_recent.add()

    def snapshot(self) -> CounterSnapshot:
        return CounterSnapshot(
            handled=self.handled,
            failed=self.failed,
            refused=self.refused,
            in_flight=self.in_flight,
            handled_1h=self.handled_recent.last_hour(),
            failed_1h=self.failed_recent.last_hour(),
        )


@dataclass(frozen=True)
class CounterSnapshot:
    """The counters at one moment, as peers and operators see them."""

    handled: int = 0
    failed: int = 0
    refused: int = 0
    in_flight: int = 0
    handled_1h: int = 0
    failed_1h: int = 0


@dataclass(frozen=True)
class InstanceStatus:
    instance_id: str  # "1".."4", or "all" in single-process mode
    role: str
    ready: bool
    latency_ms: float | None
    uptime_s: float
    version: str
    pid: int
    counters: CounterSnapshot = field(default_factory=CounterSnapshot)
    coordination: str = "local"  # a bot.store.Mode value: local | redis | warming | degraded
    providers: dict[str, bool] = field(default_factory=dict)  # provider -> key configured
    # Today's provider calls with this instance's keys: provider -> [used, limit (0: none)].
    quotas: dict[str, list[int]] = field(default_factory=dict)
    # Why this instance is not serving, in one English line (e.g. Discord closed the
    # session for good, or too few session starts are left); None when all is well.
    problem: str | None = None
    # Stopping: no new work is claimed, in-flight work is finishing (peers take the rest).
    draining: bool = False
    updated_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> InstanceStatus:
        """Parse a peer's snapshot; fields this version does not know are ignored and
        missing ones take their defaults, so a rolling update can mix versions."""
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        counters = values.get("counters") or {}
        counter_fields = {f.name for f in dataclasses.fields(CounterSnapshot)}
        values["counters"] = CounterSnapshot(
            **{k: int(v) for k, v in counters.items() if k in counter_fields}
        )
        values.setdefault("instance_id", "?")
        values.setdefault("role", "?")
        values.setdefault("ready", False)
        values.setdefault("latency_ms", None)
        values.setdefault("uptime_s", 0.0)
        values.setdefault("version", "?")
        values.setdefault("pid", 0)
        values["instance_id"] = str(values["instance_id"])
        return cls(**values)
