"""Two instances' job runners on real Redis racing for the same orphaned job: exactly one
adopts it, drives it and delivers it."""

from __future__ import annotations

import asyncio

from bot.job_runner import JobRunner, Ready
from bot.store.jobs import Job, JobState, RedisJobs
from bot.store.redis_link import RedisLink
from tests.waiting import until


class Handler:
    def __init__(self, name: str, delivered: list[str]) -> None:
        self.name = name
        self.delivered = delivered
        self.started: list[str] = []

    async def start(self, job: Job) -> str:
        self.started.append(job.id)
        return "task"

    async def poll(self, job: Job):
        return Ready({"url": "https://x"})

    async def deliver(self, job: Job) -> None:
        self.delivered.append(self.name)

    async def report(self, job: Job) -> None:
        raise AssertionError("nothing fails here")

    async def progress(self, job: Job, queue_position: int | None) -> None:
        return None


async def owner_is_dead(job: Job) -> bool:
    # Both believe they are next in line for the dead owner's job (views can differ for a
    # beat): only the store's compare-and-set decides. A live owner (1 or 4) is never
    # taken from, as in production where its heartbeat is checked first.
    return job.owner == 3


async def test_two_racing_adopters_one_delivery(key_prefix, redis_url):
    links = [
        RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1) for _ in range(3)
    ]
    try:
        orphan = Job(
            id="orphan0000000001",
            kind="video",
            owner=3,
            incarnation="3.dead",
            user_id=1,
            channel_id=1,
            channel_name="비디오생성-1",
            application_id=1,
            interaction_token="t",
            state=JobState.RUNNING,
            provider_task_id="task-1",
        )
        await RedisJobs(links[0]).create(orphan)
        delivered: list[str] = []
        handlers = [Handler("1", delivered), Handler("4", delivered)]
        runners = [
            JobRunner(
                RedisJobs(link),
                owner=owner,
                incarnation=f"{owner}.alive",
                max_running=5,
                poll_interval=0.01,
                deadline_s=60,
                progress_interval=1,
                adopt_interval=0.01,
                should_adopt=owner_is_dead,
            )
            for owner, link in zip((1, 4), links[1:], strict=True)
        ]
        for runner, handler in zip(runners, handlers, strict=True):
            runner.register("video", handler)
        await asyncio.gather(*(r.start() for r in runners))
        await until(lambda: delivered, what="the orphan was never delivered")

        async def done() -> bool:
            stored = await RedisJobs(links[0]).get("orphan0000000001")
            return stored is not None and stored.state is JobState.DONE

        # Done and driven by nobody: a second adopter would be driving it or have delivered.
        await until(done, what="delivered, never marked done")
        await until(lambda: not any(r.driving for r in runners), what="a runner still drives it")
        await asyncio.sleep(0.3)  # a late second adoption would show by now; a pass never needs it
        assert len(delivered) == 1
        stored = await RedisJobs(links[0]).get("orphan0000000001")
        assert stored.incarnation == f"{delivered[0]}.alive"
        assert handlers[0].started == handlers[1].started == []  # the task already existed
        for runner in runners:
            await runner.close()
    finally:
        for link in links:
            await link.close()
