"""Per-user limits shared by the fleet: uses in a sliding window, and things running at once.

`take(key, limit, window_s, now)` records one use unless `limit` uses already fall inside
the last `window_s` seconds; then it answers how long until the oldest one leaves the
window (the wait the user is told). `hold(key, item, limit, ttl_s, now)` admits `item`
(a job id) while fewer than `limit` items are held; `let_go` ends it. A held item also
expires after `ttl_s`, so one whose end was never reported (a crash between two writes)
frees its place by itself.

Redis layout (ARCHITECTURE.md, "Redis key layout"): `{prefix}rate:{key}` and
`{prefix}running:{key}`, sorted sets scored by time, each one Lua script per call.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from bot.store.redis_link import REDIS_ERRORS, RedisLink


class RateStoreUnavailable(Exception):
    """The shared counters cannot be reached: nothing was recorded."""


class Rates(ABC):
    @abstractmethod
    async def take(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        """None: recorded. Otherwise the seconds until one more use fits the window."""

    @abstractmethod
    async def hold(self, key: str, item: str, limit: int, ttl_s: float, now: float) -> bool:
        """True when `item` is held (or already was); False when `limit` others are."""

    @abstractmethod
    async def let_go(self, key: str, item: str) -> None: ...


class LocalRates(Rates):
    """Single-process mode, and a fleet member's stand-in while Redis is unreachable."""

    def __init__(self) -> None:
        self._uses: dict[str, list[float]] = {}
        self._held: dict[str, dict[str, float]] = {}  # key -> item -> expires at

    async def take(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        uses = [t for t in self._uses.get(key, []) if t > now - window_s]
        if len(uses) >= limit:
            self._uses[key] = uses
            return uses[0] + window_s - now
        self._uses[key] = [*uses, now]
        return None

    async def hold(self, key: str, item: str, limit: int, ttl_s: float, now: float) -> bool:
        held = {i: until for i, until in self._held.get(key, {}).items() if until > now}
        self._held[key] = held
        if item in held:
            return True
        if len(held) >= limit:
            return False
        held[item] = now + ttl_s
        return True

    async def let_go(self, key: str, item: str) -> None:
        self._held.get(key, {}).pop(item, None)


# KEYS[1] the user's uses; ARGV: now, window s, limit, a unique member.
# Returns "" when recorded, else the wait in seconds (a string: Lua floats become integers).
TAKE_LUA = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return ''
"""
# KEYS[1] the user's running items; ARGV: now, limit, item, expires at, ttl s. 1 held, 0 full.
HOLD_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisRates(Rates):
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._take = link.redis.register_script(TAKE_LUA)
        self._hold = link.redis.register_script(HOLD_LUA)
        self._uses = 0  # makes each recorded use a distinct member

    async def take(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        self._uses += 1
        member = f"{now}:{id(self)}:{self._uses}"
        try:
            wait = await self._take(
                keys=[self.link.key("rate", key)], args=[now, window_s, limit, member]
            )
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            raise RateStoreUnavailable(str(exc) or type(exc).__name__) from None
        self.link.succeeded()
        text = wait.decode() if isinstance(wait, bytes) else str(wait)
        return float(text) if text else None

    async def hold(self, key: str, item: str, limit: int, ttl_s: float, now: float) -> bool:
        try:
            held = await self._hold(
                keys=[self.link.key("running", key)],
                args=[now, limit, item, now + ttl_s, math.ceil(ttl_s)],
            )
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            raise RateStoreUnavailable(str(exc) or type(exc).__name__) from None
        self.link.succeeded()
        return bool(int(held))

    async def let_go(self, key: str, item: str) -> None:
        try:
            await self.link.redis.zrem(self.link.key("running", key), item)
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return  # the item expires after its ttl: a late place, never a stuck one
        self.link.succeeded()


class RatesWithStandIn(Rates):
    """The shared windows, and this process's own while those cannot be reached (a limit
    per instance instead of none)."""

    def __init__(self, shared: Rates) -> None:
        self.shared = shared
        self.local = LocalRates()

    async def take(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        try:
            return await self.shared.take(key, limit, window_s, now)
        except RateStoreUnavailable:
            return await self.local.take(key, limit, window_s, now)

    async def hold(self, key: str, item: str, limit: int, ttl_s: float, now: float) -> bool:
        try:
            return await self.shared.hold(key, item, limit, ttl_s, now)
        except RateStoreUnavailable:
            return await self.local.hold(key, item, limit, ttl_s, now)

    async def let_go(self, key: str, item: str) -> None:
        await self.shared.let_go(key, item)  # never raises: a lost let-go expires
        await self.local.let_go(key, item)
