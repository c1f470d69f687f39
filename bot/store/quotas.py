"""Daily provider quotas, exact under concurrency and shared by whoever uses the same key.

A call first *reserves* a unit (`reserve`: atomic check-and-increment, so many requests
at once never exceed the limit) and gives it back (`release`) when the provider failed
without charging. Counters are keyed by provider, a fingerprint of the API key (never
the key) and the day in the operator's timezone, so instances sharing one key share one
budget and each day starts afresh at local midnight.

Redis layout (ARCHITECTURE.md, "Redis key layout"): `{prefix}quota:{provider}:{key
fingerprint}:{YYYYMMDD}`, a counter that expires two days after its first use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.logging_setup import get_logger
from bot.store.base import Quotas
from bot.store.redis_link import REDIS_ERRORS, RedisLink

log = get_logger("bot.store.quotas")

DAY_TTL_S = 2 * 24 * 3600


class QuotaStoreUnavailable(Exception):
    """The shared counters cannot be reached: nothing was reserved."""


def key_fingerprint(api_key: str) -> str:
    """A short, stable name for an API key that reveals nothing of it."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def quota_day(now: datetime, timezone: ZoneInfo) -> str:
    """The operator's calendar day of `now` (an aware datetime), as YYYYMMDD."""
    return now.astimezone(timezone).strftime("%Y%m%d")


def next_reset(now: datetime, timezone: ZoneInfo) -> datetime:
    """The next local midnight after `now`: when a spent quota comes back."""
    local = now.astimezone(timezone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=timezone)
    return midnight + timedelta(days=1)


@dataclass(frozen=True)
class Reservation:
    """One reserved unit: give it back with `release` if the provider charged nothing."""

    counter: str
    used: int  # units used today, this one included
    stand_in: bool = False  # counted by `QuotasWithStandIn`'s local counters


class LocalQuotas(Quotas):
    """Single-process mode: the counters live as long as the process."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    async def reserve(self, counter: str, limit: int) -> Reservation | None:
        used = self._used.get(counter, 0)
        if used >= limit:
            return None
        self._used[counter] = used + 1
        return Reservation(counter, used + 1)

    async def release(self, reservation: Reservation) -> None:
        self._used[reservation.counter] = max(0, self._used.get(reservation.counter, 0) - 1)

    async def used(self, counter: str) -> int:
        return self._used.get(counter, 0)


# KEYS[1] the day's counter; ARGV: limit, ttl s. Returns the new count, or -1 when spent.
RESERVE_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return -1 end
used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return used
"""
# KEYS[1] the day's counter. Never below zero.
RELEASE_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisQuotas(Quotas):
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._reserve = link.redis.register_script(RESERVE_LUA)
        self._release = link.redis.register_script(RELEASE_LUA)

    def _key(self, counter: str) -> str:
        return self.link.key("quota", counter)

    async def reserve(self, counter: str, limit: int) -> Reservation | None:
        try:
            used = int(await self._reserve(keys=[self._key(counter)], args=[limit, DAY_TTL_S]))
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            raise QuotaStoreUnavailable(str(exc) or type(exc).__name__) from None
        self.link.succeeded()
        return None if used < 0 else Reservation(counter, used)

    async def release(self, reservation: Reservation) -> None:
        try:
            await self._release(keys=[self._key(reservation.counter)])
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return  # a unit lost to an outage costs one call of budget, never correctness
        self.link.succeeded()

    async def used(self, counter: str) -> int:
        try:
            value = await self.link.redis.get(self._key(counter))
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            raise QuotaStoreUnavailable(str(exc) or type(exc).__name__) from None
        self.link.succeeded()
        return int(value or 0)


class QuotasWithStandIn(Quotas):
    """The shared counters, and this process's own while those cannot be reached: an
    outage of Redis neither stops the bot nor lets it count without bound (one limit per
    process while it lasts)."""

    def __init__(self, shared: Quotas) -> None:
        self.shared = shared
        self.local = LocalQuotas()

    async def reserve(self, counter: str, limit: int) -> Reservation | None:
        try:
            return await self.shared.reserve(counter, limit)
        except QuotaStoreUnavailable as exc:
            log.warning("quota_counted_locally", counter=counter, error=str(exc))
            reservation = await self.local.reserve(counter, limit)
        return None if reservation is None else replace(reservation, stand_in=True)

    async def release(self, reservation: Reservation) -> None:
        await (self.local if reservation.stand_in else self.shared).release(reservation)

    async def used(self, counter: str) -> int:
        try:
            return await self.shared.used(counter)
        except QuotaStoreUnavailable:
            return await self.local.used(counter)


def counter_name(provider: str, api_key: str, day: str) -> str:
    return f"{provider}:{key_fingerprint(api_key)}:{day}"
