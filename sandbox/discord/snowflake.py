"""Time-based snowflake ids, as Discord mints them.

discord.py derives `created_at` (and an interaction's expiry) from the id, so ids must
carry the real time: (ms since the Discord epoch) << 22, plus a counter in the low bits.
"""

from __future__ import annotations

import time

DISCORD_EPOCH_MS = 1420070400000


def snowflake_time_ms(snowflake: int) -> int:
    """Unix time in milliseconds encoded in a snowflake."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


class SnowflakeMinter:
    """Mints unique, strictly increasing, time-based ids."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        now_ms = int(time.time() * 1000)
        candidate = (now_ms - DISCORD_EPOCH_MS) << 22
        # Several ids in the same millisecond: bump the increment bits instead of reusing.
        self._last = max(candidate, self._last + 1)
        return self._last

    def next_str(self) -> str:
        return str(self.next())
