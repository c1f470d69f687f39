"""A status file the running bot refreshes, read by `python -m bot health`.

The container HEALTHCHECK needs an answer without Discord or Redis access; a file
written by the bot loop proves the loop is alive and connected.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bot.status import InstanceStatus

# A snapshot older than this many refresh intervals means the event loop is stuck.
STALE_AFTER_INTERVALS = 3


def write_status(path: Path, status: InstanceStatus) -> None:
    """Replace the file atomically so a reader never sees half a snapshot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(status.to_json(), encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class HealthVerdict:
    healthy: bool
    reason: str


def judge(path: Path, interval: float, now: float | None = None) -> HealthVerdict:
    now = time.time() if now is None else now
    try:
        status = InstanceStatus.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return HealthVerdict(False, f"no status file at {path}: the bot has not started yet")
    except (OSError, ValueError, TypeError) as exc:
        return HealthVerdict(False, f"unreadable status file {path}: {exc.__class__.__name__}")
    age = now - status.updated_at
    if status.problem:
        # Shown even when the file is old: a bot that stopped for a reason left it here.
        return HealthVerdict(
            False, f"instance {status.instance_id}: {status.problem} (status {age:.0f}s old)"
        )
    limit = STALE_AFTER_INTERVALS * interval
    if age > limit:
        return HealthVerdict(
            False, f"status is {age:.0f}s old (limit {limit:.0f}s): bot loop stalled"
        )
    if status.draining:
        return HealthVerdict(
            False, f"instance {status.instance_id} is draining: finishing its work before it stops"
        )
    if not status.ready:
        return HealthVerdict(False, "bot is running but not connected to the Discord gateway")
    return HealthVerdict(True, f"instance {status.instance_id} ready, status {age:.0f}s old")
