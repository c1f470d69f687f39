"""Start-up steps Discord limits per token: IDENTIFY spacing, restart backoff, command sync.

Keys: `identify:lock` (spacing), `identify:count:{day}` (daily session starts),
`starts:{id}` (restarts in the last 10 min), `lock:sync` and `commands:hash:{scope}`.
"""

from __future__ import annotations

import asyncio
import time

from bot.logging_setup import get_logger
from bot.store.base import StartupGuard
from bot.store.redis_link import REDIS_ERRORS, RedisLink

log = get_logger("bot.store.startup")

IDENTIFY_SPACING_S = 5.5  # Discord allows one IDENTIFY per 5 s per bucket; keep a margin.
SYNC_LOCK_TTL_S = 120
# Restart backoff: the first few quick restarts are free, then the wait doubles.
FREE_RESTARTS = 3
RESTART_WINDOW_S = 600
RESTART_BACKOFF_BASE_S = 5.0
RESTART_BACKOFF_CAP_S = 300.0
IDENTIFY_DAILY_WARN = 800  # of Discord's 1000 session starts per day and token


def restart_backoff(starts_in_window: int) -> float:
    """Seconds to wait before connecting after the n-th start within the window."""
    extra = starts_in_window - FREE_RESTARTS
    if extra <= 0:
        return 0.0
    return min(RESTART_BACKOFF_CAP_S, RESTART_BACKOFF_BASE_S * 2 ** (extra - 1))


class LocalStartup(StartupGuard):
    """Alone on the token: only a re-IDENTIFY after a drop needs Discord's 5 s spacing."""

    def __init__(self, *, identify_spacing: float = IDENTIFY_SPACING_S) -> None:
        self.identify_spacing = identify_spacing

    async def wait_identify_slot(self, *, initial: bool) -> None:
        if not initial:
            await asyncio.sleep(self.identify_spacing)

    async def restart_delay(self) -> float:
        return 0.0

    async def begin_sync(self, scope: str, digest: str) -> bool:
        return True

    async def end_sync(self, scope: str, digest: str | None) -> None:
        return None


class RedisStartup(StartupGuard):
    def __init__(
        self, link: RedisLink, instance_id: int, *, identify_spacing: float = IDENTIFY_SPACING_S
    ) -> None:
        self.link = link
        self.instance_id = instance_id
        self.identify_spacing = identify_spacing

    async def wait_identify_slot(self, *, initial: bool) -> None:
        link = self.link
        lock = link.key("identify", "lock")
        waited = 0.0
        while True:
            try:
                if await link.redis.set(
                    lock, self.instance_id, nx=True, px=int(self.identify_spacing * 1000)
                ):
                    break
            except REDIS_ERRORS as exc:
                link.failed(exc)
                # Without Redis, stagger by id so four containers never IDENTIFY together.
                stagger = (self.instance_id - 1) * self.identify_spacing
                log.info("identify_without_redis", staggered_s=stagger)
                await asyncio.sleep(stagger)
                return
            step = min(0.25, self.identify_spacing / 4)
            await asyncio.sleep(step)
            waited += step
        await self._count_identify(waited)

    async def _count_identify(self, waited: float) -> None:
        day = time.strftime("%Y%m%d", time.gmtime())
        count = await self.link.count(self.link.key("identify", "count", day), 2 * 86400)
        if count is None:
            return
        level = log.warning if count >= IDENTIFY_DAILY_WARN else log.info
        level("identify_slot", waited_s=round(waited, 2), fleet_identifies_today=count)

    async def restart_delay(self) -> float:
        starts = await self.link.count(self.link.key("starts", self.instance_id), RESTART_WINDOW_S)
        return 0.0 if starts is None else restart_backoff(starts)

    async def begin_sync(self, scope: str, digest: str) -> bool:
        link = self.link
        try:
            if not await link.redis.set(
                link.key("lock", "sync"), self.instance_id, nx=True, ex=SYNC_LOCK_TTL_S
            ):
                return False
            if await link.redis.get(link.key("commands", "hash", scope)) == digest:
                await link.redis.delete(link.key("lock", "sync"))
                return False
        except REDIS_ERRORS as exc:
            link.failed(exc)
            return False
        return True

    async def end_sync(self, scope: str, digest: str | None) -> None:
        link = self.link
        try:
            if digest is not None:
                await link.redis.set(link.key("commands", "hash", scope), digest)
            await link.redis.delete(link.key("lock", "sync"))
        except REDIS_ERRORS as exc:
            link.failed(exc)
