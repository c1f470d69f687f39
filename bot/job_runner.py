"""Runs durable jobs to the end, whatever restarts in between; knows nothing of Discord.

Each job this instance owns is driven by one task (`_drive`): wait for a running slot
(at most `max_running` at once; the rest wait in a `FairQueue`, served round-robin across
users so that one user's pile never starves another's single job), start the provider
task, poll it every `poll_interval`, deliver the result once. Every state change is saved
before it is acted on (`Jobs.save`), and a save that finds the job adopted by another
incarnation stops the driver at once (`Disowned`): a stalled process that wakes up never
acts twice.

What a job *does* is its kind's `JobHandler` (the video area registers one): the runner
calls it to start, poll, deliver, report failure or cancellation, and show progress.

At start the runner resumes the unfinished jobs of its own instance (a previous
incarnation of it died or restarted). Every `adopt_interval` it adopts jobs whose owner has
stopped announcing itself, when `should_adopt` says it is next in that job's order; the
store's compare-and-set lets exactly one instance win. See ARCHITECTURE.md, "Video".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.fair_queue import FairQueue
from bot.logging_setup import get_logger
from bot.store.base import Jobs
from bot.store.jobs import Job, JobState, JobStoreUnavailable
from bot.tasks import stop_task
from services.errors import UserFacingError

log = get_logger("bot.jobs")

STORE_RETRY_S = 1.0  # between tries of a save while the store is unreachable
MAX_POLL_FAILURES = 5  # provider polls failing in a row before the job fails
MAX_DELIVERY_TRIES = 5
# A waiting job whose place in the queue changed is shown again at once, but never sooner
# than this after its last show (nor sooner than `progress_interval`, if that is shorter):
# a burst of arrivals or freed slots is one edit of its message, not one per change.
MOVE_SHOW_GAP_S = 1.0
INTERRUPTED_START = (
    "작업을 시작하는 중에 봇이 다시 시작되어, 제공자에게 작업이 만들어졌는지 확인할 수 "
    "없었어요. 요금이 두 번 나가지 않도록 다시 시작하지 않았어요. 다시 요청해 주세요."
)
TIMED_OUT = "영상이 제한 시간 안에 완성되지 않았어요. 잠시 후 다시 시도해 주세요."
FAILED = "작업을 처리하지 못했어요. 잠시 후 다시 시도해 주세요."


@dataclass(frozen=True)
class Pending:
    progress: str  # the provider's status word


@dataclass(frozen=True)
class Ready:
    result: dict[str, object]


@dataclass(frozen=True)
class Failed:
    message: str  # Korean, for the user


PollResult = Pending | Ready | Failed


class JobHandler(Protocol):
    """One job kind's work. Implementations may raise `UserFacingError` (shown to the user
    when the job fails) or any exception (logged, a generic message shown)."""

    async def start(self, job: Job) -> str:
        """Ask the provider to start; the provider's task id. Never called twice per job."""

    async def poll(self, job: Job) -> PollResult: ...

    async def deliver(self, job: Job) -> None:
        """Post the result. Run again after a crash mid-delivery: must be safe to repeat."""

    async def report(self, job: Job) -> None:
        """Tell the user the job ended without a result (FAILED: `job.error`; CANCELLED)."""

    async def progress(self, job: Job, queue_position: int | None) -> None:
        """Show how the job is going (position in this instance's queue while waiting)."""


class Disowned(Exception):
    """Another incarnation adopted the job: this driver stops without acting."""


class _Ended(Exception):
    """The job ended (cancelled) before it got a slot: nothing more to drive."""


class _Place:
    """A job waiting for a slot. `wake` rings when the slot is handed to it (`granted`),
    when the queue changed (its position may have), or when it is nudged."""

    __slots__ = ("granted", "nudged", "wake")

    def __init__(self) -> None:
        self.granted = False
        self.nudged = False
        self.wake = asyncio.Event()


class JobRunner:
    def __init__(
        self,
        jobs: Jobs,
        *,
        owner: int | None,
        incarnation: str,
        max_running: int,
        poll_interval: float,
        deadline_s: float,
        progress_interval: float,
        adopt_interval: float = 5.0,
        should_adopt: Callable[[Job], Awaitable[bool]] | None = None,
        owner_alive: Callable[[int | None], bool] | None = None,
        move_show_gap: float = MOVE_SHOW_GAP_S,
    ) -> None:
        self.jobs = jobs
        self.owner = owner
        self.incarnation = incarnation
        self.max_running = max_running
        self.poll_interval = poll_interval
        self.deadline_s = deadline_s
        self.progress_interval = progress_interval
        self.move_show_gap = min(move_show_gap, progress_interval)
        self.adopt_interval = adopt_interval
        self.should_adopt = should_adopt
        # A cheap first look (our liveness view) before a job is read at all.
        self.owner_alive = owner_alive or (lambda owner: False)
        self.handlers: dict[str, JobHandler] = {}
        # Slots are handed over, never grabbed: a released slot goes to the queue's next
        # job (`_dispatch`), so a newcomer cannot overtake those already waiting.
        self._running = 0  # slots held
        self._queue: FairQueue[str] = FairQueue()  # job ids waiting for a slot, by user
        self._places: dict[str, _Place] = {}  # the same jobs' wake-ups
        self._closing = False
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._driven: dict[str, Job] = {}  # the jobs being driven, as their drivers see them
        self._nudges: dict[str, asyncio.Event] = {}
        self._loop_task: asyncio.Task[None] | None = None

    # ---- lifecycle ----

    def register(self, kind: str, handler: JobHandler) -> None:
        self.handlers[kind] = handler

    async def start(self) -> None:
        """Resume this instance's unfinished jobs, then keep looking for orphans (in the
        background: an unreachable store must not hold up the start)."""
        self._loop_task = asyncio.create_task(self._resume_then_adopt(), name="job-loop")

    async def _resume_then_adopt(self) -> None:
        await self._resume_own()
        await self._adopt_loop()

    async def close(self) -> None:
        """Stop driving (jobs stay recorded: this instance or another resumes them)."""
        self._closing = True  # no slot is handed to a waiting job any more
        if self._loop_task is not None:
            await stop_task(self._loop_task)
        for task in list(self._drivers.values()):
            await stop_task(task)

    # ---- what the areas call ----

    async def submit(self, job: Job) -> None:
        """Record `job` and start driving it; `JobStoreUnavailable` if it was not recorded
        (then nothing was started either)."""
        job.owner, job.incarnation, job.state = self.owner, self.incarnation, JobState.QUEUED
        await self.jobs.create(job)
        log.info("job_submitted", job_id=job.id, kind=job.kind)
        self._drive_later(job)

    def queue_position(self, job_id: str) -> int | None:
        """The place at which the job will get a slot (1: the next; the fair order, so a
        newcomer with no turn yet may come before a busy user's jobs); None when not
        waiting."""
        return self._queue.position(job_id)

    def nudge(self, job_id: str) -> None:
        """Look at the job now (a cancel was requested) instead of at its next poll."""
        event = self._nudges.get(job_id)
        if event is not None:
            event.set()
        place = self._places.get(job_id)
        if place is not None:
            place.nudged = True
            place.wake.set()

    @property
    def driving(self) -> int:
        return len(self._drivers)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def state_counts(self) -> dict[str, int]:
        """How many of the jobs this instance drives are in each state (for /metrics)."""
        counts: dict[str, int] = {}
        for job in self._driven.values():
            counts[job.state.value] = counts.get(job.state.value, 0) + 1
        return counts

    # ---- resuming and adopting ----

    async def _resume_own(self) -> None:
        while True:
            try:
                owners = await self.jobs.owners()
                break
            except JobStoreUnavailable as exc:
                log.warning("jobs_resume_waiting_for_store", error=str(exc))
                await asyncio.sleep(STORE_RETRY_S)
        for job in await self._read([i for i, owner in owners.items() if owner == self.owner]):
            if self._handles(job):
                await self._adopt(job, reason="own")

    async def _adopt_loop(self) -> None:
        while True:
            await asyncio.sleep(self.adopt_interval)
            if self.should_adopt is None:
                continue
            try:
                owners = await self.jobs.owners()
            except JobStoreUnavailable:
                continue
            # Every heartbeat: one read of the owners; jobs are read only when theirs is gone.
            suspects = [
                job_id
                for job_id, owner in owners.items()
                if job_id not in self._drivers
                and owner != self.owner
                and not self.owner_alive(owner)
            ]
            for job in await self._read(suspects):
                if self._handles(job) and await self.should_adopt(job):
                    await self._adopt(job, reason="orphaned")

    async def _read(self, job_ids: list[str]) -> list[Job]:
        """The unfinished jobs among `job_ids` (skipping any the store cannot give now)."""
        found = []
        for job_id in sorted(job_ids):
            if job_id in self._drivers:
                continue
            try:
                job = await self.jobs.get(job_id)
            except JobStoreUnavailable:
                continue
            if job is not None and not job.finished:
                found.append(job)
        return found

    def _handles(self, job: Job) -> bool:
        return job.kind in self.handlers

    async def _adopt(self, job: Job, *, reason: str) -> None:
        if job.incarnation != self.incarnation:
            try:
                won = await self.jobs.adopt(job.id, job.incarnation, self.owner, self.incarnation)
            except JobStoreUnavailable:
                return
            if not won:
                return
            log.info(
                "job_adopted",
                job_id=job.id,
                reason=reason,
                previous_owner=job.owner,
                state=job.state.value,
            )
            job.owner, job.incarnation = self.owner, self.incarnation
        self._drive_later(job)

    # ---- driving one job ----

    def _drive_later(self, job: Job) -> None:
        self._nudges[job.id] = asyncio.Event()
        task = asyncio.create_task(self._drive(job), name=f"job-{job.id}")
        self._drivers[job.id] = task
        self._driven[job.id] = job

        def forget(_: asyncio.Task[None]) -> None:
            self._drivers.pop(job.id, None)
            self._nudges.pop(job.id, None)
            self._driven.pop(job.id, None)

        task.add_done_callback(forget)

    async def _drive(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        try:
            job = await self._wait_for_slot(job, handler)
            try:
                await self._run(job, handler)
            finally:
                self._release()
        except Disowned:
            log.info("job_disowned", job_id=job.id)
        except _Ended:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job_driver_failed", job_id=job.id, state=job.state.value)

    async def _wait_for_slot(self, job: Job, handler: JobHandler) -> Job:
        """Queue the job (fairly, by its user) and return once it holds a slot. A job
        resumed past QUEUED waits too, silently (its provider task already exists)."""
        place = _Place()
        self._places[job.id] = place
        self._queue.add(job.user_id, job.id)
        try:
            self._dispatch()  # a free slot (then nobody else waits): it is ours at once
            self._moved()  # a user with no turn yet goes ahead of busier users' jobs
            if job.state is JobState.QUEUED:
                return await self._wait_shown(job, handler, place)
            while not place.granted:
                await place.wake.wait()
                place.wake.clear()
            return job
        except BaseException:
            if place.granted:  # handed a slot it will not use: pass it on
                self._release()
            raise
        finally:
            del self._places[job.id]
            if self._queue.remove(job.id):  # left before its turn (cancelled, disowned)
                self._moved()

    async def _wait_shown(self, job: Job, handler: JobHandler, place: _Place) -> Job:
        """Wait showing the job's place: at once, again as soon as it changes (but not
        within `move_show_gap` of the last show), and every `progress_interval` (when the
        store is read for a cancel, as it is at once when nudged)."""
        if place.granted:
            return job
        shown_at, shown = time.monotonic(), await self._show(job, handler)
        while not place.granted:
            now = time.monotonic()
            periodic = now >= shown_at + self.progress_interval
            moved = self.queue_position(job.id) != shown
            if not (periodic or place.nudged or (moved and now >= shown_at + self.move_show_gap)):
                due = shown_at + (self.move_show_gap if moved else self.progress_interval)
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that
                # lands as the event is set (a move while closing), and close would hang.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(due - now):
                        await place.wake.wait()
                place.wake.clear()
                continue
            if periodic or place.nudged:
                place.nudged = False
                job = await self._refreshed(job)
                if job.cancel_requested:
                    await self._end(job, handler, JobState.CANCELLED)
                    raise _Ended
                if place.granted:
                    break
            moved = self.queue_position(job.id) != shown
            if periodic or (moved and time.monotonic() >= shown_at + self.move_show_gap):
                shown_at, shown = time.monotonic(), await self._show(job, handler)
        return job

    def _dispatch(self) -> None:
        """Hand the free slots to the queue's next jobs (round-robin across users)."""
        handed = False
        while not self._closing and self._running < self.max_running:
            job_id = self._queue.pop_next()
            if job_id is None:
                break
            self._running += 1
            place = self._places[job_id]
            place.granted = True
            place.wake.set()
            handed = True
        if handed:
            self._moved()

    def _release(self) -> None:
        self._running -= 1
        self._dispatch()
        if self._running == 0:  # idle: the next busy spell starts with even turns
            self._queue.forget_served()

    def _moved(self) -> None:
        """The queue changed: every waiting job looks whether its place did."""
        for place in self._places.values():
            if not place.granted:
                place.wake.set()

    async def _run(self, job: Job, handler: JobHandler) -> None:
        if job.state is JobState.QUEUED:
            job = await self._start(job, handler)
        elif job.state is JobState.STARTING:
            # Killed between asking the provider and recording its answer: a task may
            # exist. Starting again could bill twice, so the user is told instead.
            job.error = INTERRUPTED_START
            await self._end(job, handler, JobState.FAILED)
            return
        if job.state is JobState.RUNNING:
            job = await self._follow(job, handler)
        if job.state is JobState.DELIVERING:
            await self._deliver(job, handler)
        elif job.state in (JobState.FAILED, JobState.CANCELLED):
            await self._report(job, handler)

    async def _start(self, job: Job, handler: JobHandler) -> Job:
        job.state = JobState.STARTING
        await self._persist(job)
        try:
            job.provider_task_id = await handler.start(job)
        except Exception as exc:
            job.error = self._message(exc, job, "job_start_failed")
            job.state = JobState.FAILED
            await self._persist(job)
            return job
        job.state = JobState.RUNNING
        await self._persist(job)
        log.info("job_started", job_id=job.id, provider_task_id=job.provider_task_id)
        await self._show(job, handler)
        return job

    async def _follow(self, job: Job, handler: JobHandler) -> Job:
        """Poll until the provider is done, the deadline passes, or the user cancels."""
        now = time.monotonic()
        next_poll, next_show = now + self.poll_interval, now + self.progress_interval
        while True:
            await self._sleep_until(min(next_poll, next_show), job.id)
            job = await self._refreshed(job)
            if job.cancel_requested:
                job.state = JobState.CANCELLED
                await self._persist(job)
                return job
            if time.time() - job.created_at > self.deadline_s:
                job.error, job.state = TIMED_OUT, JobState.FAILED
                log.warning("job_deadline_passed", job_id=job.id, deadline_s=self.deadline_s)
                await self._persist(job)
                return job
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + self.poll_interval
                outcome = await self._poll(job, handler)
                if outcome is not None:
                    await self._persist(job)
                    if job.state is not JobState.RUNNING:
                        return job
            if now >= next_show:
                next_show = now + self.progress_interval
                await self._show(job, handler)

    async def _poll(self, job: Job, handler: JobHandler) -> PollResult | None:
        """One poll; the job's new state is set on it. None: a transient failure."""
        try:
            outcome = await handler.poll(job)
        except Exception as exc:
            job.attempts += 1
            if job.attempts < MAX_POLL_FAILURES:
                log.warning("job_poll_failed", job_id=job.id, attempts=job.attempts, error=str(exc))
                return None
            outcome = Failed(self._message(exc, job, "job_poll_gave_up"))
        job.attempts = 0
        if isinstance(outcome, Pending):
            job.progress = outcome.progress
        elif isinstance(outcome, Ready):
            job.result, job.state = dict(outcome.result), JobState.DELIVERING
        else:
            job.error, job.state = outcome.message, JobState.FAILED
        return outcome

    async def _deliver(self, job: Job, handler: JobHandler) -> None:
        """The one delivery: fenced by the job's delivery mark, then marked DONE."""
        if not await self._retrying(self.jobs.claim_delivery, job.id, self.incarnation):
            log.warning("job_delivery_held_elsewhere", job_id=job.id)
            return
        for attempt in range(1, MAX_DELIVERY_TRIES + 1):
            try:
                await handler.deliver(job)
                break
            except Exception as exc:
                if attempt == MAX_DELIVERY_TRIES:
                    job.error = self._message(exc, job, "job_delivery_failed")
                    await self._end(job, handler, JobState.FAILED)
                    return
                log.warning("job_delivery_retry", job_id=job.id, attempt=attempt, error=str(exc))
                await asyncio.sleep(min(30.0, 2.0**attempt))
        job.state = JobState.DONE
        await self._persist(job)
        log.info("job_delivered", job_id=job.id, duration_s=round(time.time() - job.created_at))

    async def _end(self, job: Job, handler: JobHandler, state: JobState) -> None:
        job.state = state
        await self._persist(job)
        await self._report(job, handler)

    async def _report(self, job: Job, handler: JobHandler) -> None:
        log.info("job_ended", job_id=job.id, state=job.state.value)
        try:
            await handler.report(job)
        except Exception:
            log.exception("job_report_failed", job_id=job.id)

    async def _show(self, job: Job, handler: JobHandler) -> int | None:
        """Show the job's progress; the queue position shown."""
        position = self.queue_position(job.id)
        try:
            await handler.progress(job, position)
        except Exception as exc:  # progress is a courtesy: never fail the job on it
            log.debug("job_progress_failed", job_id=job.id, error=str(exc))
        return position

    # ---- the store ----

    async def _persist(self, job: Job) -> None:
        """Save before acting; wait out an unreachable store; stop if adopted elsewhere."""
        if not await self._retrying(self.jobs.save, job):
            raise Disowned

    async def _refreshed(self, job: Job) -> Job:
        """The job with the store's cancel flag (our own copy stays authoritative)."""
        try:
            stored = await self.jobs.get(job.id)
        except JobStoreUnavailable:
            return job
        if stored is not None and stored.incarnation != self.incarnation:
            raise Disowned
        job.cancel_requested = bool(stored and stored.cancel_requested)
        return job

    async def _retrying(self, call: Callable[..., object], *args: object) -> bool:
        while True:
            try:
                return bool(await call(*args))  # type: ignore[misc]
            except JobStoreUnavailable as exc:
                log.warning("job_store_unreachable_retrying", error=str(exc))
                await asyncio.sleep(STORE_RETRY_S)

    async def _sleep_until(self, monotonic_at: float, job_id: str) -> None:
        nudge = self._nudges.get(job_id)
        delay = max(0.0, monotonic_at - time.monotonic())
        if nudge is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(nudge.wait(), delay)
        nudge.clear()

    @staticmethod
    def _message(exc: BaseException, job: Job, event: str) -> str:
        if isinstance(exc, UserFacingError):
            log.info(event, job_id=job.id, reason=exc.log_message)
            return exc.user_message
        log.error(event, job_id=job.id, exc_info=exc)
        return FAILED
