"""Spending a provider's daily budget around one paid call, without knowing where it is kept.

The bot gives provider-calling code a `Budget` (bot/quota_budget.py, over the fleet's
shared counters). `spending(budget, provider)` reserves one unit before the call, so
many requests at once never exceed the day's limit, and gives it back when the provider
failed without doing the work (it refused the request outright), so a provider outage
does not eat the day's budget. A failure after the provider may have worked (a timeout,
a stream cut short) keeps the unit: a budget that errs must err towards fewer calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from services.errors import (
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderUnavailable,
)


class DailyQuotaSpent(ProviderError):
    """This instance's key for the provider used its calls for today; `user_message`
    says when they come back."""


class Budget(Protocol):
    async def reserve(self, provider: str) -> Any:
        """A reservation to give back with `release`, or None when nothing is counted
        (no limit set). Raises DailyQuotaSpent when today's calls are used up."""

    async def release(self, reservation: Any) -> None: ...


# Failures that come back before the provider did any work: it charges nothing for them.
UNCHARGED: tuple[type[Exception], ...] = (
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderUnavailable,
)


def charged(exc: BaseException) -> bool:
    """Whether a failed call may still have cost a unit of the provider's budget."""
    if isinstance(exc, ProviderError) and exc.mid_stream:
        return True  # part of an answer arrived: the provider worked
    return not isinstance(exc, UNCHARGED)


@asynccontextmanager
async def spending(budget: Budget | None, provider: str) -> AsyncIterator[None]:
    """One paid call to `provider`: reserved before, given back if it cost nothing."""
    if budget is None:
        yield
        return
    reservation = await budget.reserve(provider)
    try:
        yield
    except BaseException as exc:
        if reservation is not None and not charged(exc):
            await budget.release(reservation)
        raise
