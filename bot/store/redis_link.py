"""The fleet's one Redis connection: client, key prefix, reachability and mode.

Every Redis-backed store goes through a `RedisLink`, so a failure anywhere is seen
everywhere: once calls have kept failing for `degrade_after_s` the instance switches to
static routing (DEGRADED) and, once a call succeeds again, trusts its liveness view only
after a warm-up (WARMING -> REDIS).
See ARCHITECTURE.md, "Failure modes".
"""

from __future__ import annotations

import contextlib
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from bot.logging_setup import get_logger
from bot.store.base import Mode

log = get_logger("bot.store")

# Errors that mean "Redis is unreachable or misbehaving", never a bug of ours.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


# Connections one instance may open. The default pool fails at once when all are busy
# ("Too many connections"), which read as "Redis is down" under 1,000 polling jobs
# (bench/jobs); a blocking pool makes a caller wait for a free one instead.
MAX_CONNECTIONS = 64
POOL_WAIT_S = 1.0


def connect(url: str) -> aioredis.Redis:
    # Short timeouts: a dead Redis must not eat the 3 s acknowledgement window.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), retries=1),
        decode_responses=True,
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes its pool


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        warmup_s: float,
        degrade_after_s: float,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.redis = client or connect(url)
        self.prefix = prefix
        self.warmup_s = warmup_s
        self.degrade_after_s = degrade_after_s
        # Nothing is known before the first heartbeat: untrusted until it succeeds.
        self._mode = Mode.WARMING
        self._trusted_after = float("inf")
        self._ever_reached = False
        self._failing_since: float | None = None
        self.failures = 0

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    @property
    def mode(self) -> Mode:
        now = time.monotonic()
        if self._mode is Mode.WARMING and now >= self._trusted_after:
            self._mode = Mode.REDIS
        since = self._failing_since
        failing_for = 0.0 if since is None else now - since
        if (
            since is not None
            and self._mode is not Mode.DEGRADED
            and (failing_for >= self.degrade_after_s)
        ):
            log.warning("redis_unreachable_static_routing", failing_for_s=round(failing_for, 2))
            self._mode = Mode.DEGRADED
        return self._mode

    def trust_now(self) -> None:
        """At start every live peer is already announcing: no warm-up needed."""
        self._mode = Mode.REDIS

    def failed(self, exc: BaseException) -> None:
        """A call failed. DEGRADED only once calls have kept failing for a while: a stall
        (fsync, fork) or one lost reply must not switch the fleet to static routing."""
        self.failures += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            log.info("redis_call_failed", error=exc.__class__.__name__, detail=str(exc))
        if not self._ever_reached and self._mode is not Mode.DEGRADED:
            # Never reached at all: there is no trust to protect, go static at once.
            log.warning("redis_unreachable_static_routing", error=exc.__class__.__name__)
            self._mode = Mode.DEGRADED

    def succeeded(self) -> None:
        """A round trip worked: leave DEGRADED through a warm-up (peers re-announce)."""
        self._failing_since = None
        self.failures = 0
        if self._mode is Mode.DEGRADED:
            self._mode = Mode.WARMING
            self._trusted_after = time.monotonic() + self.warmup_s
            log.info("redis_reconnected", warmup_s=self.warmup_s)
        self._ever_reached = True

    async def count(self, key: str, ttl_s: int) -> int | None:
        """Increment a counter that expires `ttl_s` after its last use; None if unreachable."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl_s)
                count, _ = await pipe.execute()
        except REDIS_ERRORS as exc:
            self.failed(exc)
            return None
        self.succeeded()
        return int(count)

    async def close(self) -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            await self.redis.aclose()
