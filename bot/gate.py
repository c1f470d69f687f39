"""Decides whether this instance answers an event; non-owners stay silent.

Static routing over the configured table for now: every instance is assumed
alive. Fleet coordination (liveness, claims) plugs in behind `should_answer`.
"""

from __future__ import annotations

from bot.router import COMMAND_SERVICES, INSTANCE_IDS, Decision, route
from env_manager import Settings

# Interactions whose name the router does not know route like a fleet utility.
UTILITY_ROUTE = "상태"


class AnswerGate:
    def __init__(self, settings: Settings) -> None:
        self.instance = settings.instance_number  # None in single-process mode
        self.table = settings.routing_table()

    def alive(self) -> frozenset[int]:
        return frozenset(INSTANCE_IDS)

    def decide(self, channel_name: str | None, command: str) -> Decision:
        if command not in COMMAND_SERVICES:
            command = UTILITY_ROUTE
        return route(channel_name, command, self.alive(), self.table)

    async def should_answer(self, event_id: int, channel_name: str | None, command: str) -> bool:
        """True when this instance must answer event `event_id` (interaction or message)."""
        if self.instance is None:
            return True
        return self.decide(channel_name, command).instance == self.instance
