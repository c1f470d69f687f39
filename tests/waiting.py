"""Waiting on state, not on the clock: a slow machine makes a test slower, never red."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 10.0,
    what: str = "the awaited state never came",
    every: float = 0.01,
) -> None:
    """Poll `predicate` (plain or async) every `every` seconds until it holds; fail after
    `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        held = predicate()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        assert time.monotonic() < deadline, f"{what} (waited {timeout:.0f} s)"
        await asyncio.sleep(every)
