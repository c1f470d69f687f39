"""A real JobRunner (LocalJobs, one running slot) serving several users' jobs fairly: the
order jobs start in, and every queue position each job's progress showed, as tables.

The handler holds each started job until the test releases it, and every wait is on an
event the handler sets when something is recorded (no sleeps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.job_runner import JobRunner, Ready
from bot.store.jobs import Job, JobState, LocalJobs

USERS = {"a": 1, "b": 2, "c": 3}  # a job's user is the first letter of its id


class HeldHandler:
    """Starts are recorded; a started job polls as ready once the test releases it."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.delivered: list[str] = []
        self.reported: list[tuple[str, JobState]] = []
        self.shown: dict[str, list[int | None]] = {}
        self.shown_at: dict[str, list[float]] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.running = 0
        self.most_running = 0
        self.changed = asyncio.Event()

    def _record(self) -> None:
        self.changed.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def start(self, job: Job) -> str:
        self.started.append(job.id)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self._record()
        return f"task-{job.id}"

    async def poll(self, job: Job):
        await self.release.setdefault(job.id, asyncio.Event()).wait()
        return Ready({"url": f"https://x/{job.id}"})

    async def deliver(self, job: Job) -> None:
        self.running -= 1
        self.delivered.append(job.id)
        self._record()

    async def report(self, job: Job) -> None:
        self.reported.append((job.id, job.state))
        self._record()

    async def progress(self, job: Job, queue_position: int | None) -> None:
        self.shown.setdefault(job.id, []).append(queue_position)
        self.shown_at.setdefault(job.id, []).append(time.monotonic())
        self._record()

    def finish(self, job_id: str) -> None:
        self.release.setdefault(job_id, asyncio.Event()).set()


def one_slot(store: LocalJobs, handler: HeldHandler, *, move_show_gap: float = 0.0) -> JobRunner:
    runner = JobRunner(
        store,
        owner=None,
        incarnation="solo",
        max_running=1,
        poll_interval=0.01,
        deadline_s=60.0,
        progress_interval=60.0,  # no periodic re-show during a test: only those on a move
        move_show_gap=move_show_gap,
    )
    runner.register("video", handler)
    return runner


def video(job_id: str) -> Job:
    return Job(
        id=job_id,
        kind="video",
        owner=None,
        incarnation="",
        user_id=USERS[job_id[0]],
        channel_id=1,
        channel_name="비디오생성-1",
        application_id=7,
        interaction_token="secret",
    )


async def submit_all(runner: JobRunner, handler: HeldHandler, job_ids: list[str]) -> None:
    """Submit one by one, each once it has shown itself (its place, or running)."""
    for job_id in job_ids:
        await runner.submit(video(job_id))
        await handler.until(lambda job_id=job_id: job_id in handler.shown)


async def serve_in_turn(runner: JobRunner, handler: HeldHandler, count: int) -> None:
    """Release the running job, wait for the next to start; `count` times in all."""
    for _ in range(count):
        running = handler.started[-1]
        handler.finish(running)
        started = len(handler.started)
        await handler.until(lambda started=started: len(handler.started) > started)
    await handler.until(lambda: runner.queued == 0)


async def test_a_users_pile_does_not_hold_back_a_later_users_single_job():
    store, handler = LocalJobs(), HeldHandler()
    runner = one_slot(store, handler)
    await submit_all(runner, handler, ["a1", "a2", "a3"])
    await runner.submit(video("b1"))
    # b1 goes ahead of a2 and a3 (a1 took the free slot: A has had its turn), which are
    # shown their new places at once.
    await handler.until(lambda: handler.shown.get("a3") == [2, 3])
    await serve_in_turn(runner, handler, 3)
    handler.finish("a3")
    await handler.until(lambda: len(handler.delivered) == 4)

    assert handler.started == ["a1", "b1", "a2", "a3"]
    assert handler.delivered == ["a1", "b1", "a2", "a3"]
    assert handler.shown == {
        "a1": [None],  # started at once (None: not waiting)
        "b1": [1, None],
        "a2": [1, 2, 1, None],
        "a3": [2, 3, 2, 1, None],
    }
    assert handler.most_running == 1
    await runner.close()


async def test_behind_another_users_job_the_queue_goes_round_robin():
    # c0 holds the slot; then A queues three, B one: A1 B1 A2 A3, B1 second in line.
    store, handler = LocalJobs(), HeldHandler()
    runner = one_slot(store, handler)
    await submit_all(runner, handler, ["c0", "a1", "a2", "a3", "b1"])
    await handler.until(lambda: handler.shown.get("a3") == [3, 4])
    assert [runner.queue_position(j) for j in ("a1", "b1", "a2", "a3")] == [1, 2, 3, 4]
    await serve_in_turn(runner, handler, 4)
    handler.finish("a3")
    await handler.until(lambda: len(handler.delivered) == 5)

    assert handler.started == ["c0", "a1", "b1", "a2", "a3"]
    assert handler.shown == {
        "c0": [None],
        "a1": [1, None],
        "b1": [2, 1, None],
        "a2": [2, 3, 2, 1, None],
        "a3": [3, 4, 3, 2, 1, None],
    }
    assert handler.most_running == 1
    await runner.close()


async def test_a_cancelled_waiting_job_leaves_the_line_and_those_behind_move_up():
    store, handler = LocalJobs(), HeldHandler()
    runner = one_slot(store, handler)
    await submit_all(runner, handler, ["c0", "a1", "b1"])
    await store.request_cancel("a1")
    runner.nudge("a1")  # the same instance took the 취소: looked at now, not in 60 s
    await handler.until(lambda: handler.shown["b1"] == [2, 1])
    assert handler.reported == [("a1", JobState.CANCELLED)]
    assert runner.queued == 1
    await serve_in_turn(runner, handler, 1)

    assert handler.started == ["c0", "b1"]
    assert handler.shown == {"c0": [None], "a1": [1], "b1": [2, 1, None]}
    await runner.close()


async def test_moves_in_a_burst_are_shown_once_and_not_sooner_than_the_gap():
    store, handler = LocalJobs(), HeldHandler()
    runner = one_slot(store, handler, move_show_gap=0.5)
    await submit_all(runner, handler, ["c0", "c1"])  # c1 waits for C's second turn
    await runner.submit(video("a1"))  # no turn yet: ahead of c1 (now 2nd)
    await runner.submit(video("b1"))  # the same (c1 now 3rd), within the gap
    await handler.until(lambda: len(handler.shown["c1"]) == 2)
    assert handler.shown["c1"] == [1, 3]
    first, second = handler.shown_at["c1"]
    assert second - first >= 0.45

    async with asyncio.timeout(0.9):  # no stop_task retry (1 s) needed: no cancel is lost
        await runner.close()  # three jobs still waiting: the line is emptied, nothing starts
    assert (runner.queued, runner.driving) == (0, 0)
    assert handler.started == ["c0"]
