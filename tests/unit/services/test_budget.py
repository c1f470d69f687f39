"""Which failed provider calls keep their unit of the daily budget, and `spending`'s
reserve / give-back around one call."""

from __future__ import annotations

import pytest

from services.budget import DailyQuotaSpent, charged, spending
from services.errors import (
    ContentRefused,
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

P = {"provider": "minimax"}


@pytest.mark.parametrize(
    ("failure", "kept"),
    [
        (ProviderRateLimited("429", **P), False),
        (ProviderUnavailable("503", **P), False),
        (ProviderAuthFailed("401", **P), False),
        (ProviderOutOfCredit("1008", **P), False),
        (ProviderQuotaExhausted("2056", **P), False),
        (InvalidProviderRequest("2013", **P), False),
        (InvalidInputError("empty"), False),
        # The provider may have worked: a budget that errs errs towards fewer calls.
        (ProviderTimeout("read timeout", **P), True),
        (ProviderUnavailable("cut mid-answer", mid_stream=True, **P), True),
        (ContentRefused("1027 output", **P), True),
        (ProviderError("unknown", **P), True),
        (RuntimeError("our own bug"), True),
    ],
)
def test_which_failures_keep_the_unit(failure, kept):
    assert charged(failure) is kept


class CountingBudget:
    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.released = limit, 0, 0

    async def reserve(self, provider: str) -> str:
        if self.used >= self.limit:
            raise DailyQuotaSpent("spent", provider=provider, user_message="내일 다시")
        self.used += 1
        return f"{provider}#{self.used}"

    async def release(self, reservation: str) -> None:
        self.used -= 1
        self.released += 1


async def test_spending_gives_back_a_refused_call_and_keeps_a_timed_out_one():
    budget = CountingBudget(limit=5)
    with pytest.raises(ProviderRateLimited):
        async with spending(budget, "minimax"):
            raise ProviderRateLimited("429", **P)
    with pytest.raises(ProviderTimeout):
        async with spending(budget, "minimax"):
            raise ProviderTimeout("slow", **P)
    async with spending(budget, "minimax"):
        pass
    assert (budget.used, budget.released) == (2, 1)


async def test_a_spent_budget_stops_the_call_before_it_is_made():
    budget, called = CountingBudget(limit=0), []
    with pytest.raises(DailyQuotaSpent):
        async with spending(budget, "openai"):
            called.append(True)
    assert called == [] and budget.released == 0


async def test_no_budget_counts_nothing():
    async with spending(None, "openai"):
        pass
