"""A snapshot of one instance's state: what /핑, /상태 and the health file report."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from importlib import metadata


def package_version() -> str:
    try:
        return metadata.version("multi-instance-discord-bot")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass
class Counters:
    """Work this instance answered or failed since start."""

    handled: int = 0
    failed: int = 0
    in_flight: int = 0


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
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
