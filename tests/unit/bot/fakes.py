"""Test doubles shared by the unit tables of the gate and the answering path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace

import discord


class FakeClock:
    """Wall and monotonic time for a module under test (patched in as its `time`, and its
    `asyncio.sleep`): a sleep moves the clock on, is recorded in `slept`, then `on_tick`
    sees the new time and the loop gets a turn."""

    def __init__(self, now: float, on_tick: Callable[[float], None] | None = None) -> None:
        self.now = now
        self.on_tick = on_tick
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += max(0.0, seconds)
        if self.on_tick is not None:
            self.on_tick(self.now)
        await asyncio.sleep(0)


def http_error(code: int, status: int = 400) -> discord.HTTPException:
    """What discord.py raises when Discord refuses a request with this JSON error code."""
    return discord.HTTPException(
        SimpleNamespace(status=status, reason="x"), {"code": code, "message": "x"}
    )
