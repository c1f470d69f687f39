"""Exactly-once claims: `{prefix}claim:{event}`, a short lease that becomes final.

The claimer takes a *lease* (`p:<incarnation>`, about a second) and makes it *final*
(`f:<incarnation>`, as long as Discord's interaction token) once Discord accepted its
deferral or reply. A winner that dies or stalls before that lets the lease lapse, and
the next rank takes the event over. The value names the claimer's incarnation (instance
id plus a per-start id), so a claim retried after a timeout whose first try had landed
recognises its own win. See ARCHITECTURE.md, "The claim protocol".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from bot.store.base import Claims
from bot.store.redis_link import REDIS_ERRORS, RedisLink

CLAIM_TTL_S = 900  # Discord's interaction token lifetime: a final claim outlives the work
LEASE_S = 1.0  # a pending claim lapses this long after it was taken or last renewed

# KEYS[1] claim key; ARGV[1] incarnation, ARGV[2] lease in ms.
# Returns {1, 0} won (new or already ours), {0, -1} final elsewhere, {0, pttl} pending.
CLAIM_LUA = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return {1, 0}
end
if string.sub(v, 3) == ARGV[1] then return {1, 0} end
if string.sub(v, 1, 1) == 'f' then return {0, -1} end
return {0, redis.call('PTTL', KEYS[1])}
"""
# KEYS[1] claim key; ARGV[1] incarnation; ARGV[2] 'final' or 'renew'; ARGV[3] ttl in ms.
# Touches the claim only while it is ours; returns 1 if it was, 0 otherwise.
KEEP_LUA = """
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 3) ~= ARGV[1] then return 0 end
if ARGV[2] == 'final' then
  redis.call('SET', KEYS[1], 'f:' .. ARGV[1], 'PX', ARGV[3])
elseif string.sub(v, 1, 1) == 'p' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""
RELEASE_LUA = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 3) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClaimState(StrEnum):
    WON = "won"  # ours: a new lease, or one we already held (a retried claim)
    LOST = "lost"  # final for another instance: it answered
    PENDING = "pending"  # another instance's lease: it may still answer, or lapse
    UNKNOWN = "unknown"  # the store could not be reached


@dataclass(frozen=True)
class ClaimResult:
    state: ClaimState
    lapses_in_s: float = 0.0  # PENDING: when the holder's lease runs out unless renewed


WON = ClaimResult(ClaimState.WON)
LOST = ClaimResult(ClaimState.LOST)
UNKNOWN = ClaimResult(ClaimState.UNKNOWN)


class LocalClaims(Claims):
    """One process: a claim is ours or already taken; leases matter only across processes."""

    def __init__(self) -> None:
        self._claims: dict[str, float] = {}

    async def claim(self, key: str) -> ClaimResult:
        now = time.monotonic()
        # Forget old claims so a long-running process does not grow without bound.
        for old in [k for k, t in self._claims.items() if now - t > CLAIM_TTL_S]:
            del self._claims[old]
        if key in self._claims:
            return LOST
        self._claims[key] = now
        return WON

    async def finalize(self, key: str) -> bool | None:
        return key in self._claims

    async def renew(self, key: str) -> bool | None:
        return key in self._claims

    async def release(self, key: str) -> None:
        self._claims.pop(key, None)


class RedisClaims(Claims):
    def __init__(self, link: RedisLink, incarnation: str, *, lease_s: float = LEASE_S) -> None:
        self.link = link
        self.incarnation = incarnation
        self.lease_ms = int(lease_s * 1000)
        self._claim = link.redis.register_script(CLAIM_LUA)
        self._keep = link.redis.register_script(KEEP_LUA)
        self._release = link.redis.register_script(RELEASE_LUA)

    async def claim(self, key: str) -> ClaimResult:
        try:
            won, pttl = await self._claim(
                keys=[self.link.key("claim", key)], args=[self.incarnation, self.lease_ms]
            )
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return UNKNOWN
        self.link.succeeded()
        if int(won):
            return WON
        if int(pttl) < 0:
            return LOST
        return ClaimResult(ClaimState.PENDING, lapses_in_s=int(pttl) / 1000)

    async def _touch(self, key: str, mode: str, ttl_ms: int) -> bool | None:
        try:
            kept = await self._keep(
                keys=[self.link.key("claim", key)], args=[self.incarnation, mode, ttl_ms]
            )
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return None
        self.link.succeeded()
        return bool(int(kept))

    async def finalize(self, key: str) -> bool | None:
        return await self._touch(key, "final", CLAIM_TTL_S * 1000)

    async def renew(self, key: str) -> bool | None:
        return await self._touch(key, "renew", self.lease_ms)

    async def release(self, key: str) -> None:
        try:
            await self._release(keys=[self.link.key("claim", key)], args=[self.incarnation])
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
