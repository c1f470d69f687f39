"""This instance's daily provider budgets: the `services.budget.Budget` the areas spend.

One counter per provider key and day (`bot/store/quotas.py`), shared by every instance
using the same key. An area's admission asks `spent` first, so an instance whose key is
used up declines and the next instance in the channel's order serves; the call itself
reserves a unit (`reserve`), which is what keeps the count exact under concurrency.

When the shared counters cannot be reached, the fleet store's `QuotasWithStandIn` counts
in this process against the same limit: never unlimited, never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.gate import SERVE, Admission, AdmissionKind, Admit
from bot.logging_setup import get_logger
from bot.store.base import Quotas
from bot.store.quotas import Reservation, counter_name, next_reset, quota_day
from env_manager import PROVIDER_NAMES, PROVIDERS, Provider, Settings
from services.budget import DailyQuotaSpent

log = get_logger("bot.quota")


def reset_text(reset: datetime) -> str:
    """`11월 30일 0시 (KST)`: when a spent quota comes back, in the operator's zone."""
    return f"{reset.month}월 {reset.day}일 {reset.hour}시 ({reset.tzname()})"


class ProviderBudget:
    def __init__(
        self, quotas: Quotas, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.quotas = quotas
        self._clock = clock
        self._timezone = settings.limits.timezone
        self._keys = {
            p: key.get_secret_value() for p in PROVIDERS if (key := settings.api_key(p)) is not None
        }
        self._limits = {p: settings.limits.daily_quota(p) for p in PROVIDERS}
        # Latest count seen per provider, for /metrics (read at scrape time, no I/O).
        self.last_used: dict[str, int] = {}

    def limit(self, provider: str) -> int:
        return self._limits.get(provider, 0)  # type: ignore[call-overload]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _counter(self, provider: str) -> str | None:
        """Today's counter of this instance's key, or None when nothing is counted."""
        key = self._keys.get(provider)  # type: ignore[call-overload]
        if key is None or not self.limit(provider):
            return None
        return counter_name(provider, key, quota_day(self._now(), self._timezone))

    def reset_at(self) -> datetime:
        return next_reset(self._now(), self._timezone)

    def spent_message(self, provider: str) -> str:
        name = PROVIDER_NAMES.get(provider, provider)  # type: ignore[call-overload]
        return (
            f"오늘 쓸 수 있는 {name} 사용량(하루 {self.limit(provider):,}회)을 모두 썼어요. "
            f"{reset_text(self.reset_at())}에 다시 쓸 수 있어요."
        )

    async def reserve(self, provider: str) -> Reservation | None:
        counter = self._counter(provider)
        if counter is None:
            return None
        limit = self.limit(provider)
        reservation = await self.quotas.reserve(counter, limit)
        if reservation is None:
            self.last_used[provider] = limit
            log.info("quota_spent", provider=provider, limit=limit)
            raise DailyQuotaSpent(
                f"{provider} daily quota of {limit} calls is used up for this key",
                provider=provider,
                user_message=self.spent_message(provider),
            )
        self.last_used[provider] = reservation.used
        return reservation

    async def release(self, reservation: Reservation) -> None:
        await self.quotas.release(reservation)
        provider = reservation.counter.split(":", 1)[0]
        self.last_used[provider] = max(0, self.last_used.get(provider, 1) - 1)

    async def used(self, provider: str) -> int | None:
        """Calls used today with this instance's key (None: not counted)."""
        counter = self._counter(provider)
        if counter is None:
            return None
        used = await self.quotas.used(counter)
        self.last_used[provider] = used
        return used

    async def spent(self, provider: str) -> bool:
        used = await self.used(provider)
        return used is not None and used >= self.limit(provider)

    async def refresh(self) -> None:
        """Read today's counts of every key this instance holds (peers spend them too)."""
        for provider in self._keys:
            await self.used(provider)

    def snapshot(self) -> dict[str, list[int]]:
        """provider -> [used, limit] from the latest counts seen (for /상태, no I/O)."""
        return {p: [self.last_used[p], self.limit(p)] for p in PROVIDERS if p in self.last_used}

    def gauges(self) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
        """(used, remaining) by provider, from the latest counts seen."""
        used = {(p,): float(n) for p, n in self.last_used.items()}
        remaining = {
            (p,): float(max(0, self.limit(p) - n))
            for p, n in self.last_used.items()
            if self.limit(p)
        }
        return used, remaining


def quota_admission(budget: ProviderBudget, providers: Sequence[Provider]) -> Admit:
    """An area's admission: serve while any of `providers` has calls left today;
    otherwise decline (the next instance, with its own key, serves), saying when the
    first one comes back."""

    async def admit(command: str) -> Admission:
        spent = [p for p in providers if await budget.spent(p)]
        if len(spent) < len(providers):
            return SERVE
        return Admission(AdmissionKind.DECLINE, message=budget.spent_message(spent[0]))

    return admit
