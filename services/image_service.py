"""One image request, several providers: failover and cooldowns, no Discord types.

`ImageService.generate` tries the providers it is given in order. A provider that fails
for reasons of its own (down, too slow, rate limited, out of credit, quota spent, key
rejected, parameters it alone refuses) hands the request to the next one; a content
refusal never does (the next provider would be asked to draw the same refused thing), and
neither does our own input validation. Nothing is retried here: each client retries its
own transient failures (tenacity, `services.image_types.with_retries`) before it gives up.

A provider that failed is then skipped for a while (`Cooldowns`): a short pause after a
rate limit or an outage, a long one after a failure only an operator can fix (balance,
quota, key). Cooldowns are per process, as keys may differ per instance; `usable()` is what
the bot's admission asks, so an instance whose providers are all cooling lets the next
instance serve.

Each attempt spends one unit of that provider's daily budget (`services.budget`): a
provider whose calls for today are used up fails at once (DailyQuotaSpent), like any
other failure of its own, and the next one is asked.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from services.budget import Budget, spending
from services.errors import (
    ContentRefused,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import ImageRequest, ImageResult
from services.minimax_image import MODELS as MINIMAX_MODELS
from services.stability_image import MODELS as STABILITY_MODELS
from services.telemetry import ProviderObserver, observed

LABELS: dict[str, str] = {"minimax": "MiniMax", "stability": "Stability"}
MODELS: dict[str, tuple[str, ...]] = {"minimax": MINIMAX_MODELS, "stability": STABILITY_MODELS}


class ImageClient(Protocol):
    model: str  # the default model

    async def generate(self, request: ImageRequest) -> ImageResult: ...

    async def aclose(self) -> None: ...


class AllProvidersFailed(ProviderError):
    """Every provider tried failed; the message lists each one's reason in Korean."""

    def __init__(self, failures: Sequence[tuple[str, ProviderError]]) -> None:
        reasons = "; ".join(f"{provider}: {exc.log_message}" for provider, exc in failures)
        lines = "\n".join(f"• {label(p)}: {exc.user_message}" for p, exc in failures)
        super().__init__(
            f"every image provider failed ({reasons})",
            provider=",".join(p for p, _ in failures),
            user_message=f"이미지를 만들지 못했어요.\n{lines}",
        )
        self.failures = tuple(failures)


@dataclass(frozen=True)
class Served:
    """The result, and the providers that failed before one served (in order)."""

    result: ImageResult
    failed: tuple[tuple[str, ProviderError], ...] = ()


# Told before each provider is asked: (provider, failures so far).
AttemptHook = Callable[[str, Sequence[tuple[str, ProviderError]]], Awaitable[None]]


class Cooldowns:
    """Until when each provider is skipped (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._clock = clock

    def cool(self, provider: str, seconds: float) -> None:
        if seconds > 0:
            until = self._clock() + seconds
            self._until[provider] = max(until, self._until.get(provider, 0.0))

    def remaining(self, provider: str) -> float:
        return max(0.0, self._until.get(provider, 0.0) - self._clock())

    def clear(self, provider: str) -> None:
        self._until.pop(provider, None)


def label(provider: str) -> str:
    return LABELS.get(provider, provider)


class ImageService:
    def __init__(
        self,
        clients: Mapping[str, ImageClient],
        *,
        order: Sequence[str],
        rate_limit_cooldown_s: float,
        account_cooldown_s: float,
        cooldowns: Cooldowns | None = None,
        observer: ProviderObserver | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.clients = dict(clients)
        self.observer = observer
        self.budget = budget  # today's calls per provider: a spent one is skipped
        # The automatic order, limited to providers this process holds a key for.
        self.order = tuple(p for p in order if p in self.clients)
        self.rate_limit_cooldown_s = rate_limit_cooldown_s
        self.account_cooldown_s = account_cooldown_s
        self.cooldowns = cooldowns or Cooldowns()

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def usable(self) -> tuple[str, ...]:
        """Providers in the automatic order that are not cooling down."""
        return tuple(p for p in self.order if self.cooldowns.remaining(p) == 0)

    def soonest_usable_s(self) -> float:
        """Seconds until the first cooling provider may be asked again."""
        waits = [self.cooldowns.remaining(p) for p in self.order]
        return min((w for w in waits if w > 0), default=0.0)

    def automatic(self) -> tuple[str, ...]:
        """The providers `자동` tries: the usable ones; if all are cooling, all of them
        (a cooldown is a guess: asking is better than refusing outright)."""
        return self.usable() or self.order

    async def generate(
        self,
        request: ImageRequest,
        providers: Sequence[str],
        *,
        on_attempt: AttemptHook | None = None,
    ) -> Served:
        """Images from the first of `providers` that makes them.

        `request.model` is sent only to the provider it belongs to (the caller pins the
        provider when the user chose a model); the others use their default model.
        """
        failures: list[tuple[str, ProviderError]] = []
        for provider in providers:
            client = self.clients[provider]
            if on_attempt is not None:
                await on_attempt(provider, tuple(failures))
            try:
                async with (
                    spending(self.budget, provider),
                    observed(self.observer, provider, "image"),
                ):
                    result = await client.generate(self._for(provider, request))
            except ContentRefused:
                raise
            except ProviderError as exc:
                self._cool(provider, exc)
                failures.append((provider, exc))
                continue
            self.cooldowns.clear(provider)
            return Served(result, tuple(failures))
        if len(failures) == 1:
            raise failures[0][1]
        raise AllProvidersFailed(failures)

    def _for(self, provider: str, request: ImageRequest) -> ImageRequest:
        if request.model is not None and request.model not in MODELS.get(provider, ()):
            return replace(request, model=None)
        return request

    def _cool(self, provider: str, exc: ProviderError) -> None:
        if isinstance(exc, ProviderOutOfCredit | ProviderQuotaExhausted | ProviderAuthFailed):
            self.cooldowns.cool(provider, self.account_cooldown_s)
        elif isinstance(exc, ProviderRateLimited):
            # A provider's own lockout (Stability: 60 s) outlasts a shorter setting; a
            # setting of 0 turns skipping off altogether.
            if self.rate_limit_cooldown_s > 0:
                wait = max(self.rate_limit_cooldown_s, exc.retry_after_s or 0.0)
                self.cooldowns.cool(provider, wait)
        elif isinstance(exc, ProviderUnavailable | ProviderTimeout):
            self.cooldowns.cool(provider, self.rate_limit_cooldown_s)
