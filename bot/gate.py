"""Decides whether this instance answers an event; non-owners stay silent.

Ranked claiming (ARCHITECTURE.md, "The claim protocol"): every instance in the router's
preference order watches the event; the one at alive-rank r waits r x CLAIM_STEP and
then tries the atomic claim, so an owner that died a moment ago is covered inside
Discord's 3-second window. Without a trusted liveness view (Redis down or just
reconnected) the static table decides, which every instance computes alike: no
duplicates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.logging_setup import get_logger
from bot.router import COMMAND_AREAS, Decision, alive_rank, route
from bot.routing_table import routing_table
from bot.store import FleetStore, Mode, local_store
from env_manager import INSTANCE_IDS, Settings

log = get_logger("bot.gate")

# Interactions whose name the router does not know route like a fleet utility.
UTILITY_ROUTE = "상태"
# Whether this instance can serve a command right now (quota left, provider up).
Availability = Callable[[str], bool]


def _always_available(command: str) -> bool:
    return True


class AnswerGate:
    def __init__(
        self,
        settings: Settings,
        store: FleetStore | None = None,
        *,
        claim_step: float | None = None,
    ) -> None:
        self.instance = settings.instance_number  # None in single-process mode
        self.table = routing_table(settings)
        self.store = store or local_store(self.instance)
        self.claim_step = settings.fleet.claim_step if claim_step is None else claim_step
        self.available: Availability = _always_available

    def alive(self) -> frozenset[int]:
        view = self.store.liveness.alive_view()
        return view.alive if view.trusted else frozenset(INSTANCE_IDS)

    def decide(self, channel_name: str | None, command: str) -> Decision:
        """Who answers now, as far as this instance can tell (for display and the CLI)."""
        return route(channel_name, routable(command), self.alive(), self.table)

    async def should_answer(self, event_key: str, channel_name: str | None, command: str) -> bool:
        """True when this instance won event `event_key` (interaction id or `msg:<id>`)."""
        claims = self.store.claims
        if self.instance is None:
            return await claims.claim(event_key) is not False
        command = routable(command)
        view = self.store.liveness.alive_view()
        if not view.trusted:
            return await self._static_answer(event_key, channel_name, command)
        decision = route(channel_name, command, view.alive, self.table)
        rank = alive_rank(decision.order, view.alive, self.instance)
        if rank is None:
            return False
        if not self.available(command):
            log.info("declined_unavailable", event_key=event_key, command=command)
            return False
        if rank:
            await asyncio.sleep(rank * self.claim_step)
        won = await claims.claim(event_key)
        if won is None:  # Redis failed just now: fall back like everyone else will
            return await self._static_answer(event_key, channel_name, command)
        if won and rank:
            log.info("covered_for_owner", event_key=event_key, rank=rank, owner=decision.instance)
        return won

    async def _static_answer(self, event_key: str, channel_name: str | None, command: str) -> bool:
        static_owner = route(channel_name, command, INSTANCE_IDS, self.table).instance
        if static_owner != self.instance:
            return False
        if self.store.mode is Mode.DEGRADED:
            return True  # a claim would only time out
        # Reconnected but warming up: a claim still guards against a peer's answer.
        return await self.store.claims.claim(event_key) is not False


def routable(command: str) -> str:
    """The router's name for an event's command (unknown names route like a utility)."""
    return command if command in COMMAND_AREAS else UTILITY_ROUTE
