"""The world a scenario runs in: a private Redis, the Discord and MiniMax doubles, and real
`python -m bot run` processes (sandbox/fleet.py), all on loopback, all stopped afterwards.

Timings are the production ones where they shape the steady state (the heartbeat, which
also paces the job runner's adoption scan); the sandbox's quick ones are kept for start-up
(IDENTIFY spacing, claim steps), which no scenario measures.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from sandbox.discord import FakeDiscord
from sandbox.fleet import Fleet
from sandbox.providers import FakeMiniMax
from sandbox.redis_server import LocalRedisServer

# Production defaults (env_manager.py) of the settings the sandbox shortens.
PRODUCTION_TIMINGS = {"HEARTBEAT_INTERVAL": "2.0"}
# Bot log lines that mean trouble: any warning or error, and the info-level ones that tell
# a user something failed.
TROUBLE_LEVELS = frozenset({"warning", "error", "critical"})
TROUBLE_EVENTS = frozenset({"event_rejected", "job_start_failed", "job_ended"})
CHANNELS = ("채팅방-1", "이미지생성-1", "비디오생성-1", "general")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """What the command line asked for; None means the scenario's own default."""

    quick: bool = False
    jobs: int | None = None  # jobs: how many /비디오 to hold
    rate: float = 50.0  # jobs: commands sent per second
    window: float | None = None  # jobs: seconds CPU and polls are measured over
    poll_interval: float | None = None  # jobs: VIDEO_POLL_INTERVAL (10, --quick 2)
    idle: float | None = None  # idle: seconds to wait after READY
    ack_rate: float | None = None  # ack: commands a second in the steady phase
    ack_seconds: float | None = None  # ack: length of the steady phase, s
    ack_ramp_to: float | None = None  # ack: last rate of the ramp (0: no ramp)
    streams: int | None = None  # stream: concurrent /채팅
    stream_tokens: int | None = None  # stream: tokens per answer
    stream_token_rate: float | None = None  # stream: tokens a second per stream
    chaos_kills: int | None = None  # chaos: instances SIGKILLed (and restarted)
    chaos_freezes: int | None = None  # chaos: Redis SIGSTOPs of 0.8 s
    chaos_videos: int | None = None  # chaos: /비디오 jobs running through it
    chaos_rate: float | None = None  # chaos: /핑 a second


class BenchFailed(Exception):
    """A scenario could not measure what it set out to; `partial` holds what it saw."""

    def __init__(self, message: str, partial: dict[str, Any]) -> None:
        super().__init__(message)
        self.partial = partial


# Every child process any world started, for `kill_leftovers` after an interrupted cleanup.
_children: set[int] = set()


@dataclass(frozen=True)
class Mark:
    """How far each record of a world went at one moment: `problems(since=mark)` reports
    only what came after it, for scenarios that take turns on one world."""

    events: dict[str, int]
    discord_errors: int = 0
    spec_violations: int = 0
    discord_internal: int = 0
    minimax_errors: int = 0


@dataclass
class World:
    fake: FakeDiscord
    minimax: FakeMiniMax
    redis: LocalRedisServer
    fleet: Fleet
    workdir: Path

    def pid(self, label: str | int) -> int:
        process = self.fleet.instances[str(label)].process
        assert process is not None, f"instance {label} was never started"
        return process.pid

    @property
    def redis_pid(self) -> int:
        assert self.redis.process is not None
        return self.redis.process.pid

    def redis_calls(self) -> dict[str, int]:
        """Calls the Redis server has processed so far, by command (INFO commandstats, which
        counts the commands a Lua script runs too; this method's own INFO left out)."""
        client = redis.Redis.from_url(self.redis.url)
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        calls = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
        calls.pop("info", None)
        return calls

    def mark(self) -> Mark:
        return Mark(
            events={label: len(i.events) for label, i in self.fleet.instances.items()},
            discord_errors=len(self.fake.errors),
            spec_violations=len(self.fake.spec_violations),
            discord_internal=len(self.fake.internal_errors),
            minimax_errors=len(self.minimax.errors),
        )

    def problems(self, since: Mark | None = None) -> dict[str, Any]:
        """What went wrong anywhere (since `since`): bot log lines at warning or above (by
        event, with a sample), REST calls the Discord double refused, failures of the
        doubles themselves. Empty when the run was clean."""
        since = since or Mark(events={})
        found: dict[str, Any] = {}
        for label, instance in self.fleet.instances.items():
            counts: collections.Counter[str] = collections.Counter()
            samples: dict[str, dict[str, object]] = {}
            for event in instance.events[since.events.get(label, 0) :]:
                if event.get("event") in TROUBLE_EVENTS or event.get("level") in TROUBLE_LEVELS:
                    name = str(event.get("event")).partition("\n")[0]  # a traceback follows
                    counts[name] += 1
                    samples.setdefault(name, {k: _short(v) for k, v in event.items()})
            if counts:
                found[f"bot_{label}_log"] = {
                    name: {"count": n, "first": samples[name]} for name, n in counts.items()
                }
        refused = collections.Counter(
            f"{r.method} {r.route or r.path} -> {r.status} ({r.code})"
            for r in self.fake.errors[since.discord_errors :]
            if not _is_takeover_probe(r)
        )
        if refused:
            found["discord_refused"] = dict(refused)
        for name, items in (
            ("discord_spec_violations", self.fake.spec_violations[since.spec_violations :]),
            ("discord_double_errors", self.fake.internal_errors[since.discord_internal :]),
            ("minimax_double_errors", self.minimax.errors[since.minimax_errors :]),
        ):
            if items:
                found[name] = [str(item) for item in items[:5]] + (
                    [f"... {len(items) - 5} more"] if len(items) > 5 else []
                )
        return found


@contextlib.asynccontextmanager
async def open_world(
    workdir: Path,
    *,
    instances: tuple[int, ...],
    extra_env: Mapping[str, str] | None = None,
    minimax: Mapping[str, Any] | None = None,
    progress: Progress = lambda _: None,
    ready_timeout: float = 90.0,
) -> AsyncIterator[World]:
    """Start everything, yield it once every instance is READY, stop everything."""
    redis = LocalRedisServer()
    fake = FakeDiscord(channels=CHANNELS)
    double = FakeMiniMax(**dict(minimax or {}))
    fleet: Fleet | None = None
    try:
        progress("starting redis-server and the doubles")
        redis.start()
        _children.add(redis.process.pid)  # type: ignore[union-attr]
        await fake.start()
        await double.start()
        fleet = Fleet(
            rest_url=fake.rest_url,
            gateway_url=fake.gateway_url,
            workdir=workdir,
            instances=instances,
            redis_url=redis.url,
            extra_env=PRODUCTION_TIMINGS | dict(extra_env or {}),
            provider_urls={"minimax": double.base_url},
        )
        progress(f"starting bot instance(s) {', '.join(map(str, instances))}")
        for label in fleet.instances:
            await fleet.start_instance(label, wait=False)
            _children.update(fleet.pids())
        for label in fleet.instances:
            await fleet.wait_ready(label, ready_timeout)
        yield World(fake, double, redis, fleet, workdir)
    finally:
        progress("stopping")
        if fleet is not None:
            await fleet.close()
        await double.stop()
        await fake.stop()
        redis.stop()
        _children.clear()


def _is_takeover_probe(record: Any) -> bool:
    """A rank that took over a lapsed claim asks GET @original first; 10015 (no answer
    yet, so it answers) is the expected reply, not a refusal (bot/answering.py)."""
    return record.method == "GET" and record.path.endswith("/@original") and record.code == 10015


def _short(value: object, limit: int = 300) -> object:
    """A log field cut to `limit` characters, keeping the end (where a traceback says why)."""
    if isinstance(value, str) and len(value) > limit:
        return f"...{value[-limit:]}"
    return value


def kill_leftovers() -> None:
    """SIGKILL any child a world started and did not stop (a second Ctrl-C mid-cleanup)."""
    for pid in sorted(_children):
        with contextlib.suppress(OSError):
            if _parent_of(pid) == os.getpid():
                os.kill(pid, signal.SIGKILL)
    _children.clear()


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])
