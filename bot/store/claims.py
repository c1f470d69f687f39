"""Exactly-once claims: `{prefix}claim:{event}` set once, by the first claimer.

The value names the claimer; the key lives as long as Discord's interaction token,
so a claim never outlives the work it guards.
"""

from __future__ import annotations

import time

from bot.store.base import Claims
from bot.store.redis_link import REDIS_ERRORS, RedisLink

CLAIM_TTL_S = 900  # Discord's interaction token lifetime


class LocalClaims(Claims):
    def __init__(self) -> None:
        self._claims: dict[str, float] = {}

    async def claim(self, key: str) -> bool | None:
        now = time.monotonic()
        # Forget old claims so a long-running process does not grow without bound.
        for old in [k for k, t in self._claims.items() if now - t > CLAIM_TTL_S]:
            del self._claims[old]
        if key in self._claims:
            return False
        self._claims[key] = now
        return True


class RedisClaims(Claims):
    def __init__(self, link: RedisLink, instance_id: int) -> None:
        self.link = link
        self.instance_id = instance_id

    async def claim(self, key: str) -> bool | None:
        try:
            won = await self.link.redis.set(
                self.link.key("claim", key), self.instance_id, nx=True, ex=CLAIM_TTL_S
            )
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return None
        return bool(won)
