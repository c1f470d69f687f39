"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio

from bot.logging_setup import get_logger

log = get_logger("bot.tasks")


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it, repeating the cancel if it gets lost.

    On Python 3.11 a cancel that races with an expiring `asyncio.timeout` (redis-py uses
    one per command) can come out as a TimeoutError, which a loop built to survive
    outages would outlive; waiting forever on it hung shutdown. Cancelling again ends it.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.cancelled() and task.exception() is not None:
        log.warning("background_task_failed", task=task.get_name(), error=repr(task.exception()))
