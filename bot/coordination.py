"""Shared state of the fleet: liveness, exactly-once claims, IDENTIFY spacing, sync lock.

One interface, two implementations: Redis for the four-process fleet, in-process for
single-process mode. Everything else depends on `Coordinator` only. When Redis cannot
be reached the Redis implementation reports itself untrusted and callers fall back to
static routing; it reconnects on its own, with backoff, and trusts its liveness view
again only after one full TTL so every instance has had the chance to re-announce.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from bot.logging_setup import get_logger
from bot.router import INSTANCE_IDS
from bot.tasks import stop_task

log = get_logger("bot.coordination")

CLAIM_TTL_S = 900  # Discord's interaction token lifetime: a claim never outlives the work.
IDENTIFY_SPACING_S = 5.5  # Discord allows one IDENTIFY per 5 s per bucket; keep a margin.
SYNC_LOCK_TTL_S = 120
# Restart backoff: the first few quick restarts are free, then the wait doubles.
FREE_RESTARTS = 3
RESTART_WINDOW_S = 600
RESTART_BACKOFF_BASE_S = 5.0
RESTART_BACKOFF_CAP_S = 300.0
IDENTIFY_DAILY_WARN = 800  # of Discord's 1000 session starts per day and token

Snapshot = dict[str, object]
SnapshotSource = Callable[[], Snapshot]


class Mode(StrEnum):
    LOCAL = "local"  # single process, nothing shared
    REDIS = "redis"  # connected and trusted
    WARMING = "warming"  # reconnected; liveness view not yet complete
    DEGRADED = "degraded"  # Redis unreachable: static routing


@dataclass(frozen=True)
class AliveView:
    alive: frozenset[int]
    trusted: bool  # False: use static routing, the view may be incomplete


class Coordinator(ABC):
    """What the bot needs from shared state."""

    @property
    @abstractmethod
    def mode(self) -> Mode: ...

    @abstractmethod
    async def start(self, snapshot: SnapshotSource) -> None:
        """Announce this instance and keep announcing it until `close`."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def alive_view(self) -> AliveView: ...

    @abstractmethod
    async def claim(self, key: str) -> bool | None:
        """Atomically take `key` (e.g. `123` or `msg:456`): True won, False lost, None unknown."""

    @abstractmethod
    async def snapshots(self) -> dict[int, Snapshot] | None:
        """Latest status of every alive instance, or None when shared state is unreachable."""

    @abstractmethod
    async def wait_identify_slot(self, *, initial: bool) -> None:
        """Return when this process may IDENTIFY without breaking the fleet's spacing.

        `initial` is discord.py's flag for the first IDENTIFY of the process.
        """

    @abstractmethod
    async def restart_delay(self) -> float:
        """Seconds to wait before connecting, growing when this instance restarts in a loop."""

    @abstractmethod
    async def begin_sync(self, scope: str, digest: str) -> bool:
        """True if this instance must upload the command tree for `scope` now."""

    @abstractmethod
    async def end_sync(self, scope: str, digest: str | None) -> None:
        """Record the uploaded `digest` (None: the upload failed) and release the lock."""


class LocalCoordinator(Coordinator):
    """Single-process mode: one process is the whole fleet."""

    def __init__(
        self, instance_id: int | None = None, *, identify_spacing: float = IDENTIFY_SPACING_S
    ) -> None:
        self.instance_id = instance_id
        self.identify_spacing = identify_spacing
        self._claims: dict[str, float] = {}
        self._snapshot: SnapshotSource | None = None

    @property
    def mode(self) -> Mode:
        return Mode.LOCAL

    async def start(self, snapshot: SnapshotSource) -> None:
        self._snapshot = snapshot

    async def close(self) -> None:
        self._snapshot = None

    def alive_view(self) -> AliveView:
        return AliveView(frozenset(INSTANCE_IDS), trusted=False)

    async def claim(self, key: str) -> bool | None:
        now = time.monotonic()
        # Forget old claims so a long-running process does not grow without bound.
        for old in [k for k, t in self._claims.items() if now - t > CLAIM_TTL_S]:
            del self._claims[old]
        if key in self._claims:
            return False
        self._claims[key] = now
        return True

    async def snapshots(self) -> dict[int, Snapshot] | None:
        if self._snapshot is None:
            return {}
        return {self.instance_id or 0: self._snapshot()}

    async def wait_identify_slot(self, *, initial: bool) -> None:
        # Alone on the token: only a re-IDENTIFY after a drop needs Discord's 5 s spacing.
        if not initial:
            await asyncio.sleep(self.identify_spacing)

    async def restart_delay(self) -> float:
        return 0.0

    async def begin_sync(self, scope: str, digest: str) -> bool:
        return True

    async def end_sync(self, scope: str, digest: str | None) -> None:
        return None


class RedisCoordinator(Coordinator):
    """The fleet's coordinator on a shared Redis (key layout in DESIGN.md)."""

    def __init__(
        self,
        instance_id: int,
        url: str,
        *,
        prefix: str = "mib:",
        heartbeat_interval: float = 2.0,
        identify_spacing: float = IDENTIFY_SPACING_S,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.prefix = prefix
        self.interval = heartbeat_interval
        self.identify_spacing = identify_spacing
        self.ttl_ms = int(heartbeat_interval * 3 * 1000)
        # Short timeouts: a dead Redis must not eat the 3 s acknowledgement window.
        self.redis = client or aioredis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), retries=1),
            decode_responses=True,
        )
        self._reconnect_backoff = ExponentialBackoff(cap=max(2.0, heartbeat_interval), base=0.25)
        # Nothing is known before `start`: untrusted until the first heartbeat succeeds.
        self._mode = Mode.WARMING
        self._trusted_after = float("inf")
        self._alive: frozenset[int] = frozenset({instance_id})
        self._failures = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._snapshot: SnapshotSource | None = None

    # ---- keys ----

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    @property
    def mode(self) -> Mode:
        if self._mode is Mode.WARMING and time.monotonic() >= self._trusted_after:
            self._mode = Mode.REDIS
        return self._mode

    # ---- liveness ----

    async def start(self, snapshot: SnapshotSource) -> None:
        self._snapshot = snapshot
        if await self._beat():
            # At start every live peer is already announcing: trust the view at once.
            self._mode = Mode.REDIS
        self._task = asyncio.create_task(self._run(), name="redis-heartbeat")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            await stop_task(self._task)
        with contextlib.suppress(RedisError, OSError):
            # Leave at once instead of after the TTL so peers take over immediately.
            await self.redis.delete(self.key("instance", self.instance_id))
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose()

    async def _run(self) -> None:
        while not self._closing:
            delay = self.interval
            try:
                beat_ok = await self._beat()
            except Exception:
                # A bug in building the snapshot must not silence the heartbeat for good:
                # peers would think this live instance dead and answer in its place.
                log.exception("heartbeat_failed")
                beat_ok = True
            if not beat_ok:
                delay = self._reconnect_backoff.compute(self._failures)
            await asyncio.sleep(delay)

    async def _beat(self) -> bool:
        """Publish our snapshot and refresh the alive set; track reachability."""
        assert self._snapshot is not None
        payload = json.dumps(self._snapshot(), ensure_ascii=False, default=str)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.key("instance", self.instance_id), payload, px=self.ttl_ms)
                pipe.mget([self.key("instance", i) for i in INSTANCE_IDS])
                _, values = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._on_failure(exc)
            return False
        self._alive = frozenset(i for i, v in zip(INSTANCE_IDS, values, strict=True) if v)
        if self._mode is Mode.DEGRADED:
            self._mode = Mode.WARMING
            self._trusted_after = time.monotonic() + self.ttl_ms / 1000
            log.info("redis_reconnected", warmup_s=self.ttl_ms / 1000)
        self._failures = 0
        return True

    def _on_failure(self, exc: BaseException) -> None:
        self._failures += 1
        if self._mode is not Mode.DEGRADED:
            log.warning(
                "redis_unreachable_static_routing", error=exc.__class__.__name__, detail=str(exc)
            )
        self._mode = Mode.DEGRADED

    def alive_view(self) -> AliveView:
        trusted = self.mode is Mode.REDIS
        return AliveView(self._alive | {self.instance_id}, trusted=trusted)

    async def snapshots(self) -> dict[int, Snapshot] | None:
        if self._mode is Mode.DEGRADED:
            return None  # a read would only time out; the heartbeat loop will reconnect
        try:
            return await read_snapshots(self.redis, self.prefix)
        except (RedisError, OSError) as exc:
            self._on_failure(exc)
            return None

    # ---- exactly-once ----

    async def claim(self, key: str) -> bool | None:
        try:
            won = await self.redis.set(
                self.key("claim", key), self.instance_id, nx=True, ex=CLAIM_TTL_S
            )
        except (RedisError, OSError) as exc:
            self._on_failure(exc)
            return None
        return bool(won)

    # ---- IDENTIFY and restarts ----

    async def wait_identify_slot(self, *, initial: bool) -> None:
        lock = self.key("identify", "lock")
        waited = 0.0
        while True:
            try:
                if await self.redis.set(
                    lock, self.instance_id, nx=True, px=int(self.identify_spacing * 1000)
                ):
                    break
            except (RedisError, OSError) as exc:
                self._on_failure(exc)
                # Without Redis, stagger by id so four containers never IDENTIFY together.
                stagger = (self.instance_id - 1) * self.identify_spacing
                log.info("identify_without_redis", staggered_s=stagger)
                await asyncio.sleep(stagger)
                return
            step = min(0.25, self.identify_spacing / 4)
            await asyncio.sleep(step)
            waited += step
        await self._count_identify(waited)

    async def _count(self, key: str, ttl_s: int) -> int | None:
        """Increment a counter that expires `ttl_s` after its last use; None if unreachable."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl_s)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._on_failure(exc)
            return None
        return int(count)

    async def _count_identify(self, waited: float) -> None:
        day = time.strftime("%Y%m%d", time.gmtime())
        count = await self._count(self.key("identify", "count", day), 2 * 86400)
        if count is None:
            return
        level = log.warning if count >= IDENTIFY_DAILY_WARN else log.info
        level("identify_slot", waited_s=round(waited, 2), fleet_identifies_today=count)

    async def restart_delay(self) -> float:
        starts = await self._count(self.key("starts", self.instance_id), RESTART_WINDOW_S)
        return 0.0 if starts is None else restart_backoff(starts)

    # ---- command sync ----

    async def begin_sync(self, scope: str, digest: str) -> bool:
        try:
            if not await self.redis.set(
                self.key("lock", "sync"), self.instance_id, nx=True, ex=SYNC_LOCK_TTL_S
            ):
                return False
            if await self.redis.get(self.key("commands", "hash", scope)) == digest:
                await self.redis.delete(self.key("lock", "sync"))
                return False
        except (RedisError, OSError) as exc:
            self._on_failure(exc)
            return False
        return True

    async def end_sync(self, scope: str, digest: str | None) -> None:
        try:
            if digest is not None:
                await self.redis.set(self.key("commands", "hash", scope), digest)
            await self.redis.delete(self.key("lock", "sync"))
        except (RedisError, OSError) as exc:
            self._on_failure(exc)


async def read_snapshots(redis: aioredis.Redis, prefix: str) -> dict[int, Snapshot]:
    """The latest heartbeat of every alive instance (raises on Redis errors)."""
    values = await redis.mget([f"{prefix}instance:{i}" for i in INSTANCE_IDS])
    return {i: json.loads(v) for i, v in zip(INSTANCE_IDS, values, strict=True) if v}


def restart_backoff(starts_in_window: int) -> float:
    """Seconds to wait before connecting after the n-th start within the window."""
    extra = starts_in_window - FREE_RESTARTS
    if extra <= 0:
        return 0.0
    return min(RESTART_BACKOFF_CAP_S, RESTART_BACKOFF_BASE_S * 2 ** (extra - 1))
