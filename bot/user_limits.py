"""Per-user limits of the paid commands, fleet-wide: uses a minute, uses a day, and
videos running at once. Members with an exempt role skip them.

An area calls `take` once its input passed every check and just before it acknowledges,
so a typo never costs a use; the refusal is a UserFacingError whose Korean message says
how long to wait. Counters live in the fleet store (`store.rates`, `store.quotas`), so a
user cannot dodge a limit by being answered by another instance. When Redis cannot be
reached the store's stand-ins count in this process: a limit per instance, never none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.logging_setup import get_logger
from bot.quota_budget import reset_text
from bot.store.base import Quotas
from bot.store.quotas import next_reset, quota_day
from bot.store.rates import Rates
from env_manager import LimitsSettings
from services.errors import UserFacingError

log = get_logger("bot.limits")

MINUTE_S = 60.0
# The areas' commands and the settings prefix of each.
AREAS: dict[str, str] = {"채팅": "chat", "이미지": "image", "비디오": "video"}


class LimitReached(UserFacingError):
    """The user used a command as often as allowed; the message says when to come back."""


@dataclass(frozen=True)
class Limits:
    per_minute: int  # 0: no limit
    per_day: int
    running: int  # at once (video only); 0: no limit


def wait_text(seconds: float) -> str:
    """`45초`, `2분`, `1분 5초`: a wait rounded up to the second."""
    total = max(1, math.ceil(seconds))
    minutes, secs = divmod(total, 60)
    if not minutes:
        return f"{secs}초"
    return f"{minutes}분" if not secs else f"{minutes}분 {secs}초"


class UserLimits:
    def __init__(
        self,
        rates: Rates,
        quotas: Quotas,
        settings: LimitsSettings,
        *,
        running_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rates, self.quotas = rates, quotas
        self.settings = settings
        self.exempt_roles = frozenset(settings.limit_exempt_roles)
        self.running_ttl_s = running_ttl_s  # a held video frees its place after this
        self._clock = clock

    def limits(self, command: str) -> Limits:
        area = AREAS.get(command)
        if area is None:
            return Limits(0, 0, 0)
        read = self.settings
        return Limits(
            per_minute=getattr(read, f"limit_{area}_per_minute"),
            per_day=getattr(read, f"limit_{area}_per_day"),
            running=getattr(read, f"limit_{area}_running", 0),
        )

    def exempt(self, role_ids: Iterable[int]) -> bool:
        return not self.exempt_roles.isdisjoint(role_ids)

    async def take(self, command: str, user_id: int, role_ids: Iterable[int] = ()) -> None:
        """Count one use of `command` by `user_id`, or raise LimitReached saying why."""
        limits = self.limits(command)
        if not (limits.per_minute or limits.per_day) or self.exempt(role_ids):
            return
        now = self._clock()
        daily = None
        if limits.per_day:
            day = quota_day(datetime.fromtimestamp(now, UTC), self.settings.timezone)
            daily = await self.quotas.reserve(f"user:{command}:{user_id}:{day}", limits.per_day)
            if daily is None:
                reset = next_reset(datetime.fromtimestamp(now, UTC), self.settings.timezone)
                self._refused(command, user_id, "per_day", limits.per_day)
                raise LimitReached(
                    f"user reached the daily limit of {limits.per_day} for /{command}",
                    user_message=(
                        f"/{command} 명령은 하루에 {limits.per_day}번까지 쓸 수 있어요. "
                        f"{reset_text(reset)}에 다시 쓸 수 있어요."
                    ),
                )
        if limits.per_minute:
            wait = await self.rates.take(f"{command}:{user_id}", limits.per_minute, MINUTE_S, now)
            if wait is not None:
                if daily is not None:
                    await self.quotas.release(daily)  # refused: not a use of the day
                self._refused(command, user_id, "per_minute", limits.per_minute)
                raise LimitReached(
                    f"user reached {limits.per_minute} uses a minute of /{command}",
                    user_message=(
                        f"/{command} 명령은 1분에 {limits.per_minute}번까지 쓸 수 있어요. "
                        f"{wait_text(wait)} 뒤에 다시 시도해 주세요."
                    ),
                )

    async def hold(
        self, command: str, user_id: int, item: str, role_ids: Iterable[int] = ()
    ) -> None:
        """Count `item` (a job) as running for `user_id` until `let_go`, or raise."""
        limit = self.limits(command).running
        if not limit or self.exempt(role_ids):
            return
        key, now = f"{command}:{user_id}", self._clock()
        if not await self.rates.hold(key, item, limit, self.running_ttl_s, now):
            self._refused(command, user_id, "running", limit)
            raise LimitReached(
                f"user already has {limit} /{command} running",
                user_message=(
                    f"이미 만들고 있는 영상이 있어요 (한 사람당 동시에 {limit}개까지). "
                    "끝난 뒤에 다시 시도해 주세요."
                ),
            )

    async def let_go(self, command: str, user_id: int, item: str) -> None:
        if not self.limits(command).running:
            return
        await self.rates.let_go(f"{command}:{user_id}", item)

    def _refused(self, command: str, user_id: int, rule: str, limit: int) -> None:
        log.info("user_limit_reached", command=command, user_id=user_id, rule=rule, limit=limit)
