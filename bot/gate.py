"""Decides whether this instance answers an event; non-owners stay silent.

Ranked claiming (ARCHITECTURE.md, "The claim protocol"): every instance in the router's
preference order watches the event. The one at alive-rank r acts at the event's
creation time + r x CLAIM_STEP: it asks itself whether it can serve (admission), then
takes the claim, a lease that the answering path makes final once Discord accepted the
answer. A lease held by a peer that lapses (the peer died or stalled) is taken over while
the event is young enough to acknowledge. Without Redis (DEGRADED) the static table
decides, which every instance computes alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.logging_setup import get_logger
from bot.metrics import Metrics
from bot.router import COMMAND_AREAS, Decision, route
from bot.routing_table import routing_table
from bot.store import FleetStore, Mode, local_store
from bot.store.claims import ClaimState
from env_manager import INSTANCE_IDS, Settings

log = get_logger("bot.gate")

# Interactions whose name the router does not know route like a fleet utility.
UTILITY_ROUTE = "상태"
# Nobody starts acting on an event later than this after its creation: the answer must
# reach Discord within 3 s, with room for gateway lag and the callback round trip.
ACT_DEADLINE_S = 2.4
# When every alive instance declines, the last one says so instead of leaving silence.
NOBODY_CAN_SERVE = "지금은 이 요청을 처리할 수 있는 인스턴스가 없어요. 잠시 후 다시 시도해 주세요."


class AdmissionKind(StrEnum):
    SERVE = "serve"
    DECLINE = "decline"  # cannot serve now (quota spent, provider down): the next rank takes it
    REFUSE = "refuse"  # will not serve (cooldown, access): the user is told why


@dataclass(frozen=True)
class Admission:
    kind: AdmissionKind
    message: str | None = None  # Korean, for the user (REFUSE, or DECLINE at the last rank)
    # Gives back what admission reserved (a quota unit) when the claim is lost.
    release: Callable[[], Awaitable[None]] | None = None


SERVE = Admission(AdmissionKind.SERVE)
Admit = Callable[[str], Awaitable[Admission]]


async def serve_everything(command: str) -> Admission:
    return SERVE


class Verdict(StrEnum):
    ANSWER = "answer"
    SILENT = "silent"
    REFUSE = "refuse"  # this instance answers, with `message` instead of the work


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    message: str | None = None
    claimed: bool = False  # a claim was taken: the answering path must make it final
    rank: int | None = None
    declined: bool = False  # silent because admission declined (the next rank serves)
    # The claim was taken from a holder that stopped confirming it (its lease lapsed, or
    # the claim vanished in an outage): the holder may have answered before it went.
    retaken: bool = False


SILENT = GateResult(Verdict.SILENT)


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
        self.admit: Admit = serve_everything
        self.metrics: Metrics | None = None

    def alive(self) -> frozenset[int]:
        view = self.store.liveness.alive_view()
        return view.alive if view.trusted else frozenset(INSTANCE_IDS)

    def decide(self, channel_name: str | None, command: str) -> Decision:
        """Who answers now, as far as this instance can tell (for display and the CLI)."""
        return route(channel_name, routable(command), self.alive(), self.table)

    async def should_answer(
        self, event_key: str, channel_name: str | None, command: str, created_at: float
    ) -> GateResult:
        """Whether this instance answers event `event_key` (interaction id or `msg:<id>`),
        created at `created_at` (epoch seconds, from its snowflake)."""
        command = routable(command)
        if self.instance is None:
            return await self._single(event_key, command)
        if self.store.mode is Mode.DEGRADED:
            return await self._static(channel_name, command)
        # Warming up after an outage, the view may miss peers: rank over the static order
        # with everyone assumed alive; claims keep it single, ranks cover a dead owner.
        alive = self.alive()
        order = route(channel_name, command, alive, self.table).order
        ranked = [i for i in order if i in alive]
        if self.instance not in ranked:
            return SILENT
        rank = ranked.index(self.instance)
        last = rank == len(ranked) - 1
        admission = await self.admit(command)
        if admission.kind is AdmissionKind.DECLINE and not last:
            log.info("declined", event_key=event_key, command=command, rank=rank)
            return GateResult(Verdict.SILENT, declined=True, rank=rank)
        await _sleep_until(created_at + rank * self.claim_step)
        won, retaken = await self._claim(event_key, created_at, rank)
        if won is None:  # the store stayed unreachable until the deadline
            await _release(admission)
            return await self._static(channel_name, command)
        if self.metrics is not None:
            self.metrics.claim(won)
        if not won:
            await _release(admission)
            return SILENT
        if rank:
            log.info("covered_for_owner", event_key=event_key, rank=rank, owner=ranked[0])
            if self.metrics is not None:
                self.metrics.takeover(command)
        return _result(admission, claimed=True, rank=rank, retaken=retaken)

    async def _claim(
        self, event_key: str, created_at: float, rank: int
    ) -> tuple[bool | None, bool]:
        """Take the claim, waiting out a peer's lapsing lease: (won, retaken from a holder
        that stopped confirming); won is None if the store stayed unreachable.

        When a lease lapses, the store lets ranks retake it in their order, so the next
        rank takes the event over and the ones after it find its new lease. After the
        store was unreachable, its holder's renewals and finalize failed too: it gets a
        moment (HELD_OFF) to confirm its claim before a lapsed lease counts as abandoned.
        """
        claims = self.store.claims
        cut_off = held_off = False
        while True:
            result = await claims.claim(event_key, rank, after_outage=cut_off)
            if result.state is ClaimState.WON:
                return True, result.retaken or held_off
            if result.state is ClaimState.LOST:
                return False, False
            remaining = created_at + ACT_DEADLINE_S - time.time()
            if result.state is ClaimState.HELD_OFF:
                cut_off, held_off = False, True
                # Never past the deadline: the holder may be gone for good.
                await asyncio.sleep(max(0.0, min(result.retry_in_s, remaining - 0.05)))
                continue
            if result.state is ClaimState.PENDING:
                wait = result.retry_in_s + 0.01
                if wait >= remaining:
                    return False, False  # still held at the deadline: the holder answers
                await asyncio.sleep(wait)
                continue
            cut_off = True
            if self.store.mode is Mode.DEGRADED or remaining <= 0:
                return None, False
            await asyncio.sleep(min(0.05, remaining))

    async def _static(self, channel_name: str | None, command: str) -> GateResult:
        """No shared state: the configured owner answers, nobody covers for it."""
        static_owner = route(channel_name, command, INSTANCE_IDS, self.table).instance
        if static_owner != self.instance:
            return SILENT
        admission = await self.admit(command)
        # Nobody else will answer: a decline becomes a polite refusal.
        return _result(admission, claimed=False, rank=0)

    async def _single(self, event_key: str, command: str) -> GateResult:
        """One process is the whole fleet; the in-process claim only drops replays."""
        if (await self.store.claims.claim(event_key)).state is not ClaimState.WON:
            return SILENT
        return _result(await self.admit(command), claimed=True, rank=0)


def _result(admission: Admission, *, claimed: bool, rank: int, retaken: bool = False) -> GateResult:
    """What an instance that takes the event does: the work, or a refusal."""
    if admission.kind is AdmissionKind.SERVE:
        return GateResult(Verdict.ANSWER, claimed=claimed, rank=rank, retaken=retaken)
    message = admission.message or NOBODY_CAN_SERVE
    return GateResult(Verdict.REFUSE, message=message, claimed=claimed, rank=rank, retaken=retaken)


async def _release(admission: Admission) -> None:
    if admission.release is not None:
        await admission.release()


async def _sleep_until(wall_time: float) -> None:
    delay = wall_time - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


def routable(command: str) -> str:
    """The router's name for an event's command (unknown names route like a utility)."""
    return command if command in COMMAND_AREAS else UTILITY_ROUTE
