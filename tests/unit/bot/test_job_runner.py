"""The job runner with a scripted handler: every path a job can take, on fast clocks."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.job_runner import (
    INTERRUPTED_START,
    TIMED_OUT,
    Failed,
    JobRunner,
    Pending,
    Ready,
)
from bot.store.jobs import Job, JobState, LocalJobs
from services.errors import ProviderOutOfCredit, ProviderUnavailable


class Handler:
    """Polls answer from `script` (an exception is raised); then Ready."""

    def __init__(self, *script: object, start_error: Exception | None = None) -> None:
        self.script = list(script)
        self.start_error = start_error
        self.started: list[str] = []
        self.polled: list[str] = []
        self.delivered: list[str] = []
        self.reported: list[tuple[str, JobState, str | None]] = []
        self.shown: list[tuple[str, int | None]] = []
        self.done = asyncio.Event()

    async def start(self, job: Job) -> str:
        self.started.append(job.id)
        if self.start_error is not None:
            raise self.start_error
        return f"task-{job.id}"

    async def poll(self, job: Job):
        self.polled.append(job.id)
        outcome = self.script.pop(0) if self.script else Ready({"url": f"https://x/{job.id}"})
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def deliver(self, job: Job) -> None:
        self.delivered.append(job.id)
        self.done.set()

    async def report(self, job: Job) -> None:
        self.reported.append((job.id, job.state, job.error))
        self.done.set()

    async def progress(self, job: Job, queue_position: int | None) -> None:
        self.shown.append((job.id, queue_position))


def runner(store: LocalJobs, handler: Handler, **overrides: object) -> JobRunner:
    values: dict[str, object] = {
        "owner": 3,
        "incarnation": "3.first",
        "max_running": 10,
        "poll_interval": 0.01,
        "deadline_s": 30.0,
        "progress_interval": 0.02,
    } | overrides
    built = JobRunner(store, **values)  # type: ignore[arg-type]
    built.register("video", handler)
    return built


def job(job_id: str = "j1", **fields: object) -> Job:
    values: dict[str, object] = {
        "id": job_id,
        "kind": "video",
        "owner": None,
        "incarnation": "",
        "user_id": 42,
        "channel_id": 1,
        "channel_name": "비디오생성-1",
        "application_id": 7,
        "interaction_token": "secret",
    } | fields
    return Job(**values)  # type: ignore[arg-type]


async def settle(handler: Handler, timeout: float = 3.0) -> None:
    await asyncio.wait_for(handler.done.wait(), timeout)
    await asyncio.sleep(0.05)  # the final save after delivering


async def test_a_job_starts_once_polls_until_ready_and_is_delivered_once():
    store, handler = LocalJobs(), Handler(Pending("Queueing"), Pending("Processing"))
    jobs = runner(store, handler)
    await jobs.submit(job())
    await settle(handler)
    assert handler.started == ["j1"]
    assert handler.polled == ["j1", "j1", "j1"]
    assert handler.delivered == ["j1"]
    stored = await store.get("j1")
    assert (stored.state, stored.provider_task_id) == (JobState.DONE, "task-j1")
    assert stored.result == {"url": "https://x/j1"}
    assert await store.open_jobs() == []
    await jobs.close()


async def test_jobs_beyond_the_running_slots_wait_in_order_and_see_their_place():
    store = LocalJobs()
    handler = Handler(*[Pending("Processing")] * 30)
    jobs = runner(store, handler, max_running=1, progress_interval=0.05)
    for name in ("a", "b", "c"):
        await jobs.submit(job(name))
    await asyncio.sleep(0.02)
    assert (jobs.queue_position("a"), jobs.queue_position("b"), jobs.queue_position("c")) == (
        None,
        1,
        2,
    )
    assert ("b", 1) in handler.shown and ("c", 2) in handler.shown
    await asyncio.wait_for(_until(lambda: len(handler.delivered) == 3), 5)
    assert handler.delivered == ["a", "b", "c"]
    assert handler.started == ["a", "b", "c"]
    await jobs.close()


async def test_a_cancel_request_stops_a_running_job_without_delivering():
    store, handler = LocalJobs(), Handler(*[Pending("Processing")] * 100)
    jobs = runner(store, handler)
    await jobs.submit(job())
    await asyncio.wait_for(_until(lambda: len(handler.polled) >= 2), 3)
    await store.request_cancel("j1")
    jobs.nudge("j1")
    await settle(handler)
    assert handler.delivered == []
    assert handler.reported == [("j1", JobState.CANCELLED, None)]
    assert (await store.get("j1")).state is JobState.CANCELLED
    await jobs.close()


async def test_a_queued_job_can_be_cancelled_before_it_costs_anything():
    store = LocalJobs()
    handler = Handler(*[Pending("Processing")] * 100)
    jobs = runner(store, handler, max_running=1)
    await jobs.submit(job("first"))
    await jobs.submit(job("second"))
    await store.request_cancel("second")
    await asyncio.wait_for(_until(lambda: handler.reported), 3)
    assert handler.reported == [("second", JobState.CANCELLED, None)]
    assert handler.started == ["first"]
    await jobs.close()


@pytest.mark.parametrize(
    ("script", "start_error", "expected_error"),
    [
        ([Failed("영상을 만들지 못했어요.")], None, "영상을 만들지 못했어요."),
        (
            [],
            ProviderOutOfCredit("1008", provider="minimax", user_message="잔액 부족"),
            "잔액 부족",
        ),
        (
            [ProviderUnavailable("down", provider="minimax")] * 5,
            None,
            "AI 서비스에 지금 연결할 수 없어요. 잠시 후 다시 시도해 주세요.",
        ),
    ],
)
async def test_a_failure_is_reported_with_its_korean_message(script, start_error, expected_error):
    store, handler = LocalJobs(), Handler(*script, start_error=start_error)
    jobs = runner(store, handler)
    await jobs.submit(job())
    await settle(handler)
    assert handler.reported == [("j1", JobState.FAILED, expected_error)]
    assert handler.delivered == []
    await jobs.close()


async def test_four_failed_polls_in_a_row_are_survived():
    store = LocalJobs()
    handler = Handler(*[ProviderUnavailable("blip", provider="minimax")] * 4)
    jobs = runner(store, handler)
    await jobs.submit(job())
    await settle(handler)
    assert handler.delivered == ["j1"]
    await jobs.close()


async def test_past_the_deadline_the_job_fails_as_timed_out():
    store, handler = LocalJobs(), Handler(*[Pending("Processing")] * 1000)
    jobs = runner(store, handler, deadline_s=0.15)
    await jobs.submit(job())
    await settle(handler)
    assert handler.reported == [("j1", JobState.FAILED, TIMED_OUT)]
    await jobs.close()


async def test_a_restarted_instance_resumes_its_jobs_without_starting_them_again():
    store = LocalJobs()
    running = job("running", owner=3, incarnation="3.dead", state=JobState.RUNNING)
    running.provider_task_id = "task-running"
    queued = job("queued", owner=3, incarnation="3.dead")
    starting = job("starting", owner=3, incarnation="3.dead", state=JobState.STARTING)
    elsewhere = job("elsewhere", owner=1, incarnation="1.alive", state=JobState.RUNNING)
    for item in (running, queued, starting, elsewhere):
        await store.create(item)
    handler = Handler()
    jobs = runner(store, handler, incarnation="3.second")
    await jobs.start()
    await asyncio.wait_for(_until(lambda: len(handler.delivered) == 2), 3)
    assert sorted(handler.delivered) == ["queued", "running"]
    assert handler.started == ["queued"]  # the running one kept its provider task
    assert handler.reported == [("starting", JobState.FAILED, INTERRUPTED_START)]
    assert (await store.get("elsewhere")).incarnation == "1.alive"
    await jobs.close()


async def test_an_orphan_is_adopted_and_its_old_driver_stops_at_its_next_save():
    store = LocalJobs()
    slow = Handler(*[Pending("Processing")] * 1000)
    old = runner(store, slow, owner=3, incarnation="3.stalled", poll_interval=0.05)
    await old.submit(job())
    await asyncio.wait_for(_until(lambda: slow.polled), 3)
    adopter_handler = Handler()
    adopter = runner(
        store,
        adopter_handler,
        owner=4,
        incarnation="4.alive",
        adopt_interval=0.02,
        should_adopt=owned_by_3,
    )
    await adopter.start()
    await settle(adopter_handler)
    assert adopter_handler.delivered == ["j1"]
    assert adopter_handler.started == []  # the task was already running
    await asyncio.sleep(0.2)
    assert old.driving == 0, "the old driver noticed it no longer owns the job"
    assert slow.delivered == [] and slow.reported == []
    await old.close()
    await adopter.close()


async def test_a_delivery_mark_held_by_another_incarnation_blocks_delivery():
    store, handler = LocalJobs(), Handler()
    jobs = runner(store, handler)
    await store.claim_delivery("j1", "someone-else")
    await jobs.submit(job())
    await asyncio.sleep(0.3)
    assert handler.delivered == []
    await jobs.close()


async def owned_by_3(candidate: Job) -> bool:
    return candidate.owner == 3


async def _until(predicate, step: float = 0.01) -> None:
    while not predicate():  # noqa: ASYNC110 - polling a test double's lists
        await asyncio.sleep(step)


def test_time_is_real():  # the deadline is measured on the wall clock of created_at
    assert abs(job().created_at - time.time()) < 5
