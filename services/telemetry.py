"""How the provider clients' callers report each provider call (no metrics library here).

`services/` know nothing of the bot: whoever wants the figures passes a plain callback
(`ProviderObserver`: provider, operation, seconds, error kind or None); the bot's is
`bot.metrics.Metrics.provider_call`, which feeds /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

ProviderObserver = Callable[[str, str, float, "str | None"], None]


@contextlib.asynccontextmanager
async def observed(
    observer: ProviderObserver | None, provider: str, operation: str
) -> AsyncIterator[None]:
    """Time the block as one `operation` of `provider`; an exception is its error kind
    (its class name). A cancelled or abandoned call is timed but not an error."""
    started = time.monotonic()
    kind: str | None = None
    try:
        yield
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception as exc:
        kind = type(exc).__name__
        raise
    finally:
        if observer is not None:
            observer(provider, operation, time.monotonic() - started, kind)
