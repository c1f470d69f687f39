"""Exactly-once claims: `{prefix}claim:{event}`, a short lease that becomes final.

The claimer takes a *lease* (about a second) and makes it *final* (as long as Discord's
interaction token) once Discord accepted its deferral or reply. A winner that dies or
stalls before that lets the lease lapse, and the next rank takes the event over, in rank
order. The value names the claimer's incarnation (instance
id plus a per-start id), so a claim retried after a timeout whose first try had landed
recognises its own win. See ARCHITECTURE.md, "The claim protocol".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from bot.store.base import Claims
from bot.store.redis_link import REDIS_ERRORS, RedisLink

CLAIM_TTL_S = 900  # Discord's interaction token lifetime: a claim never outlives the work
LEASE_S = 1.0  # a pending claim lapses this long after it was taken or last renewed
# After a lease lapses, rank r may take it over only r x RETAKE_STAGGER later, so the next
# rank wins the takeover and a later rank arriving just then does not race it.
RETAKE_STAGGER_S = 0.1
# A claimer that lost Redis while waiting gives the holder this long, once Redis answers
# again, to renew or finalize before it retakes: the holder's own writes failed meanwhile
# (a Redis restart), so a lapsed lease then says nothing about the holder being gone.
RECONNECT_GRACE_S = LEASE_S / 2
SEEN_TTL_S = 60  # the canary's per-event count of instances that received it

# Values: `p:<incarnation>:<lease end, Redis ms>` (pending) or `f:<incarnation>` (final).
# A lapsed lease stays as a trace until CLAIM_TTL_S so the retake order can be enforced.
# KEYS[1] claim key; ARGV: incarnation, lease ms, rank, stagger ms, ttl ms, hold-off ms.
# Returns {1, 0} won (new, or already ours), {1, 1} won by retaking another's lapsed lease
# (the holder may have answered before it died), {0, -1} final elsewhere, {0, ms} wait ms,
# {2, ms} held off: a claimer just back from an outage does not take a lapsed lease of
# another (or a key that vanished) before its holder had `hold-off` ms to confirm it.
CLAIM_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
if v then
  local state, owner, lease_end = string.match(v, '^(%a):([^:]+):?(%d*)$')
  if owner == ARGV[1] then return {1, 0} end
  if state == 'f' then return {0, -1} end
  local free_at = tonumber(lease_end) + tonumber(ARGV[3]) * tonumber(ARGV[4])
  if now < free_at then return {0, free_at - now} end
end
if tonumber(ARGV[6]) > 0 then return {2, tonumber(ARGV[6])} end
redis.call('SET', KEYS[1], 'p:' .. ARGV[1] .. ':' .. (now + tonumber(ARGV[2])), 'PX', ARGV[5])
if v then return {1, 1} end
return {1, 0}
"""
# KEYS[1] claim key; ARGV: incarnation, 'final' or 'renew', lease ms, ttl ms.
# Touches the claim while it is ours, or when it vanished (a Redis that came back without
# its data: we still hold the event); returns 1 if so, 0 when another instance holds it.
KEEP_LUA = """
local v = redis.call('GET', KEYS[1])
local state = 'p'
if v then
  local owner
  state, owner = string.match(v, '^(%a):([^:]+)')
  if owner ~= ARGV[1] then return 0 end
end
if ARGV[2] == 'final' then
  redis.call('SET', KEYS[1], 'f:' .. ARGV[1], 'PX', ARGV[4])
elseif state == 'p' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1] .. ':' .. (now + tonumber(ARGV[3])), 'PX', ARGV[4])
end
return 1
"""
RELEASE_LUA = """
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^%a:([^:]+)') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClaimState(StrEnum):
    WON = "won"  # ours: a new lease, or one we already held (a retried claim)
    LOST = "lost"  # final for another instance: it answered
    PENDING = "pending"  # another instance's lease: it may still answer, or lapse
    UNKNOWN = "unknown"  # the store could not be reached
    HELD_OFF = "held_off"  # back from an outage: the holder gets `retry_in_s` to confirm


@dataclass(frozen=True)
class ClaimResult:
    state: ClaimState
    # PENDING: when this claimer may try again (the holder's lease end, plus its rank's turn)
    retry_in_s: float = 0.0
    # WON from a holder that stopped confirming: it may have answered before it died.
    retaken: bool = False


WON = ClaimResult(ClaimState.WON)
RETAKEN = ClaimResult(ClaimState.WON, retaken=True)
LOST = ClaimResult(ClaimState.LOST)
UNKNOWN = ClaimResult(ClaimState.UNKNOWN)


class LocalClaims(Claims):
    """One process: a claim is ours or already taken; leases matter only across processes."""

    def __init__(self) -> None:
        self._claims: dict[str, float] = {}

    async def claim(self, key: str, rank: int = 0, *, after_outage: bool = False) -> ClaimResult:
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

    async def note_seen(self, key: str) -> None:
        return None  # one process: there is nobody to compare with

    async def seen_by(self, key: str) -> int | None:
        return None


class RedisClaims(Claims):
    def __init__(self, link: RedisLink, incarnation: str, *, lease_s: float = LEASE_S) -> None:
        self.link = link
        self.incarnation = incarnation
        self.lease_ms = int(lease_s * 1000)
        self.ttl_ms = CLAIM_TTL_S * 1000
        self._claim = link.redis.register_script(CLAIM_LUA)
        self._keep = link.redis.register_script(KEEP_LUA)
        self._release = link.redis.register_script(RELEASE_LUA)

    async def claim(self, key: str, rank: int = 0, *, after_outage: bool = False) -> ClaimResult:
        stagger_ms = int(RETAKE_STAGGER_S * 1000)
        # Ranks keep their order after an outage too: rank r waits r staggers longer.
        hold_off_ms = int(RECONNECT_GRACE_S * 1000) + rank * stagger_ms if after_outage else 0
        args = [self.incarnation, self.lease_ms, rank, stagger_ms, self.ttl_ms, hold_off_ms]
        try:
            won, wait_ms = await self._claim(keys=[self.link.key("claim", key)], args=args)
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return UNKNOWN
        self.link.succeeded()
        if int(won) == 2:
            return ClaimResult(ClaimState.HELD_OFF, retry_in_s=int(wait_ms) / 1000)
        if int(won):
            return RETAKEN if int(wait_ms) == 1 else WON
        if int(wait_ms) < 0:
            return LOST
        return ClaimResult(ClaimState.PENDING, retry_in_s=int(wait_ms) / 1000)

    async def _touch(self, key: str, mode: str) -> bool | None:
        args = [self.incarnation, mode, self.lease_ms, self.ttl_ms]
        try:
            kept = await self._keep(keys=[self.link.key("claim", key)], args=args)
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return None
        self.link.succeeded()
        return bool(int(kept))

    async def finalize(self, key: str) -> bool | None:
        return await self._touch(key, "final")

    async def renew(self, key: str) -> bool | None:
        return await self._touch(key, "renew")

    async def release(self, key: str) -> None:
        try:
            await self._release(keys=[self.link.key("claim", key)], args=[self.incarnation])
        except REDIS_ERRORS as exc:
            self.link.failed(exc)

    async def note_seen(self, key: str) -> None:
        try:
            async with self.link.redis.pipeline(transaction=False) as pipe:
                pipe.incr(self.link.key("seen", key))
                pipe.expire(self.link.key("seen", key), SEEN_TTL_S)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self.link.failed(exc)

    async def seen_by(self, key: str) -> int | None:
        try:
            count = await self.link.redis.get(self.link.key("seen", key))
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return None
        return int(count or 0)
