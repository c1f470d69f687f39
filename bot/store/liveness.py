"""Liveness: each instance publishes its status snapshot with a TTL; alive = key present.

Key layout (ARCHITECTURE.md): `{prefix}instance:{id}` holds the instance's
`InstanceStatus` as JSON, expiring after three heartbeat intervals. A peer counts as
alive while its key exists and its snapshot says it is connected to the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff

from bot.logging_setup import get_logger
from bot.status import InstanceStatus
from bot.store.base import AliveView, Liveness, Mode, StatusSource
from bot.store.redis_link import REDIS_ERRORS, RedisLink
from bot.tasks import stop_task

log = get_logger("bot.store.liveness")


class LocalLiveness(Liveness):
    """Single-process mode: this process is the whole fleet; it reports only itself."""

    def __init__(self, instance_ids: Sequence[int], instance_id: int | None = None) -> None:
        self.instance_ids = frozenset(instance_ids)
        self.instance_id = instance_id
        self._status: StatusSource | None = None

    async def start(self, status: StatusSource) -> None:
        self._status = status

    async def close(self) -> None:
        self._status = None

    def poke(self) -> None:
        return None  # nobody to tell

    def alive_view(self) -> AliveView:
        return AliveView(self.instance_ids, trusted=False, announcing=self.instance_ids)

    async def snapshots(self) -> dict[int, InstanceStatus] | None:
        if self._status is None:
            return {}
        return {self.instance_id or 0: self._status()}

    async def announcing_now(self, instance_id: int) -> bool | None:
        return instance_id == self.instance_id


class RedisLiveness(Liveness):
    def __init__(
        self,
        link: RedisLink,
        instance_id: int,
        instance_ids: Sequence[int],
        *,
        heartbeat_interval: float,
    ) -> None:
        self.link = link
        self.instance_id = instance_id
        self.instance_ids = tuple(instance_ids)
        self.interval = heartbeat_interval
        self.ttl_ms = int(heartbeat_interval * 3 * 1000)
        # A failed beat is retried sooner, never later than a beat: peers that come out of an
        # outage trust their view after 3 beats (warm-up), and must find us in it by then.
        self._reconnect_backoff = ExponentialBackoff(cap=heartbeat_interval, base=0.25)
        self._alive: frozenset[int] = frozenset({instance_id})
        self._announcing: frozenset[int] = frozenset({instance_id})
        self._status: StatusSource | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._wake = asyncio.Event()
        # Successful beats in a row that published us as connected. Peers read our key at
        # their own beats, so from the second one on they all rank us as we rank ourselves;
        # counting ourselves earlier would make us and a peer both act as owner.
        self._connected_beats = 0

    def poke(self) -> None:
        """Beat now (the gateway connected or dropped): peers learn it without waiting."""
        self._wake.set()

    @property
    def joined(self) -> bool:
        return self._connected_beats >= 2

    async def start(self, status: StatusSource) -> None:
        self._status = status
        if await self._beat():
            self.link.trust_now()
        self._task = asyncio.create_task(self._run(), name="redis-heartbeat")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            await stop_task(self._task)
        with contextlib.suppress(*REDIS_ERRORS):
            # Leave at once instead of after the TTL so peers take over immediately.
            await self.link.redis.delete(self.link.key("instance", self.instance_id))

    async def _run(self) -> None:
        delay = self.interval  # `start` has just beaten
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            delay = self.interval
            try:
                beat_ok = await self._beat()
            except Exception:
                # A bug in building the snapshot must not silence the heartbeat for good:
                # peers would think this live instance dead and answer in its place.
                log.exception("heartbeat_failed")
                beat_ok = True
            if not beat_ok:
                delay = self._reconnect_backoff.compute(self.link.failures)

    async def _beat(self) -> bool:
        """Publish our snapshot and refresh the alive set; track reachability."""
        assert self._status is not None
        status = self._status()
        payload = status.to_json()
        link = self.link
        try:
            async with link.redis.pipeline(transaction=False) as pipe:
                pipe.set(link.key("instance", self.instance_id), payload, px=self.ttl_ms)
                pipe.mget([link.key("instance", i) for i in self.instance_ids])
                _, values = await pipe.execute()
        except REDIS_ERRORS as exc:
            link.failed(exc)
            return False
        self._alive = frozenset(
            i for i, v in zip(self.instance_ids, values, strict=True) if v and _connected(v)
        )
        self._announcing = frozenset(i for i, v in zip(self.instance_ids, values, strict=True) if v)
        link.succeeded()
        was_joined = self.joined
        self._connected_beats = self._connected_beats + 1 if status.ready else 0
        if self.joined and not was_joined:
            log.info("serving", reason="fleet_joined", alive=sorted(self._alive))
        return True

    def alive_view(self) -> AliveView:
        trusted = self.link.mode is Mode.REDIS
        alive = self._alive - {self.instance_id}
        return AliveView(
            alive | {self.instance_id} if self.joined else alive,
            trusted=trusted,
            announcing=self._announcing | {self.instance_id},
        )

    async def snapshots(self) -> dict[int, InstanceStatus] | None:
        if self.link.mode is Mode.DEGRADED:
            return None  # a read would only time out; the heartbeat loop will reconnect
        try:
            return await read_snapshots(self.link.redis, self.link.prefix, self.instance_ids)
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return None

    async def announcing_now(self, instance_id: int) -> bool | None:
        try:
            found = await self.link.redis.exists(self.link.key("instance", instance_id))
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return None
        self.link.succeeded()
        return bool(found)


def _connected(snapshot: str) -> bool:
    """Alive means announcing *and* connected to the gateway: an instance still backing
    off, identifying or reconnecting would never see the event it is ranked for."""
    try:
        return InstanceStatus.from_json(snapshot).ready
    except (ValueError, TypeError):
        return False


async def read_snapshots(
    redis: aioredis.Redis, prefix: str, instance_ids: Sequence[int]
) -> dict[int, InstanceStatus]:
    """The latest heartbeat of every alive instance (raises on Redis errors)."""
    values = await redis.mget([f"{prefix}instance:{i}" for i in instance_ids])
    return {i: InstanceStatus.from_json(v) for i, v in zip(instance_ids, values, strict=True) if v}
