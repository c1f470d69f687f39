"""What the bot needs from the fleet's shared state, one interface per concern.

Each concern (liveness, claims, start-up coordination, conversation memory, jobs,
quotas) has an in-process implementation for single-process mode and a Redis one
for the fleet. See ARCHITECTURE.md, "The fleet store".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.status import InstanceStatus

if TYPE_CHECKING:
    from bot.store.claims import ClaimResult
    from bot.store.jobs import Job
    from bot.store.memory import MemoryTurn
    from bot.store.quotas import Reservation
    from bot.store.startup import FatalRecord

StatusSource = Callable[[], InstanceStatus]


class Mode(StrEnum):
    LOCAL = "local"  # single process, nothing shared
    REDIS = "redis"  # connected and trusted
    WARMING = "warming"  # reconnected; liveness view not yet complete
    DEGRADED = "degraded"  # Redis unreachable: static routing


@dataclass(frozen=True)
class AliveView:
    alive: frozenset[int]
    trusted: bool  # False: use static routing, the view may be incomplete
    # Instances still heartbeating, connected or not (one restarting resumes its own jobs).
    announcing: frozenset[int] = frozenset()


class Liveness(ABC):
    """Who is alive: this instance announces itself; peers' snapshots are readable."""

    @abstractmethod
    async def start(self, status: StatusSource) -> None:
        """Announce this instance and keep announcing it until `close`."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def alive_view(self) -> AliveView: ...

    @abstractmethod
    def poke(self) -> None:
        """Publish our status now rather than at the next beat."""

    @abstractmethod
    async def snapshots(self) -> dict[int, InstanceStatus] | None:
        """Latest status of every alive instance, or None when shared state is unreachable."""

    @abstractmethod
    async def announcing_now(self, instance_id: int) -> bool | None:
        """Whether `instance_id` heartbeats, read now rather than at our last beat (None:
        unknown). Taking a peer's job over must not rest on a view up to a beat old."""


class Claims(ABC):
    """Exactly-once: the first claimer of an event answers it (bot/store/claims.py)."""

    @abstractmethod
    async def claim(self, key: str, rank: int = 0, *, after_outage: bool = False) -> ClaimResult:
        """Try to take `key` (e.g. `123` or `msg:456`) as a lease; ours again if we hold it.

        `rank` orders takeovers of a lapsed lease: lower ranks get their turn first.
        `after_outage`: the claimer could not reach the store since it began waiting, so
        a lapsed or vanished claim is not taken before its holder had time to confirm it
        (HELD_OFF)."""

    @abstractmethod
    async def finalize(self, key: str) -> bool | None:
        """Make our lease final (Discord accepted the answer), also when the store lost it.
        None: store unreachable."""

    @abstractmethod
    async def renew(self, key: str) -> bool | None:
        """Extend our lease while the answer is still on its way."""

    @abstractmethod
    async def release(self, key: str) -> None:
        """Give our claim up so the next rank can take the event."""

    @abstractmethod
    async def note_seen(self, key: str) -> None:
        """Count this instance among those that received the event (the canary)."""

    @abstractmethod
    async def seen_by(self, key: str) -> int | None:
        """How many instances received the event; None when unknown."""


class ConversationMemory(ABC):
    """Chat history per conversation, shared by the fleet (bot/store/memory.py)."""

    @abstractmethod
    async def history(self, conversation: str) -> list[MemoryTurn]:
        """The turns so far, oldest first (empty when unknown or expired)."""

    @abstractmethod
    async def save(self, conversation: str, turn: MemoryTurn) -> None:
        """Add `turn`, or replace the turn with the same id (an answer still streaming)."""

    @abstractmethod
    async def forget(self, conversation: str) -> None:
        """Start the conversation afresh."""


class Jobs(ABC):
    """Durable jobs shared by the fleet (bot/store/jobs.py)."""

    @abstractmethod
    async def create(self, job: Job) -> None:
        """Record a new job (raises `JobStoreUnavailable` when it cannot)."""

    @abstractmethod
    async def save(self, job: Job) -> bool:
        """Write `job` while its incarnation still owns it; False once another adopted it."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def open_jobs(self) -> list[Job]:
        """Every unfinished job, whoever owns it."""

    @abstractmethod
    async def owners(self) -> dict[str, int | None]:
        """Every unfinished job's owner instance, by job id (one cheap read)."""

    @abstractmethod
    async def adopt(self, job_id: str, expected: str, owner: int | None, incarnation: str) -> bool:
        """Move an unfinished job from incarnation `expected` to ours; True for one caller."""

    @abstractmethod
    async def request_cancel(self, job_id: str) -> bool:
        """Ask the job's owner to cancel it; False if there is no such job."""

    @abstractmethod
    async def claim_delivery(self, job_id: str, incarnation: str) -> bool:
        """The job's one delivery mark: True if `incarnation` holds it (now or already)."""


class Quotas(ABC):
    """Counters that never pass a limit, however many reserve at once."""

    @abstractmethod
    async def reserve(self, counter: str, limit: int) -> Reservation | None:
        """One more unit of `counter`, or None when `limit` units are already used."""

    @abstractmethod
    async def release(self, reservation: Reservation) -> None:
        """Give a unit back (never below zero)."""

    @abstractmethod
    async def used(self, counter: str) -> int: ...


class StartupGuard(ABC):
    """Start-up steps the fleet must take one at a time (Discord's limits are per token)."""

    @abstractmethod
    async def wait_identify_slot(self, *, initial: bool) -> None:
        """Return when this process may IDENTIFY without breaking the fleet's spacing.

        `initial` is discord.py's flag for the first IDENTIFY of the process.
        """

    @abstractmethod
    async def restart_delay(self) -> float:
        """Seconds to wait before connecting, growing when this instance restarts in a loop."""

    @abstractmethod
    async def begin_sync(self, scope: str, digest: str) -> bool:
        """True if this instance must upload the command tree for `scope` now."""

    @abstractmethod
    async def end_sync(self, scope: str, digest: str | None) -> None:
        """Record the uploaded `digest` (None: the upload failed) and release the lock."""

    @abstractmethod
    async def record_fatal(self, record: FatalRecord) -> None:
        """Remember that Discord ended this instance's session for good (survives a restart)."""

    @abstractmethod
    async def fatal_record(self) -> FatalRecord | None:
        """The last fatal close still being held against this instance, if any."""

    @abstractmethod
    async def clear_fatal(self) -> None:
        """Forget the fatal close (the configuration changed, or a session worked)."""
