"""Durable jobs, in-process and on real Redis: fenced saves, one adopter, one delivery."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from bot.store.jobs import Job, JobState, JobStoreUnavailable, LocalJobs, RedisJobs
from bot.store.redis_link import RedisLink

TOKEN = "interaction-token-secret"


@pytest.fixture(params=["local", "redis"])
async def store_factory(request, key_prefix, redis_url):
    links: list[RedisLink] = []
    local = LocalJobs()  # one in-process store: "instances" share it as they share Redis

    def make():
        if request.param == "local":
            return local
        link = RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
        links.append(link)
        return RedisJobs(link)

    yield make
    for link in links:
        await link.close()


def job(job_id: str = "j1", *, incarnation: str = "3.aaaa", owner: int | None = 3) -> Job:
    return Job(
        id=job_id,
        kind="video",
        owner=owner,
        incarnation=incarnation,
        user_id=42,
        channel_id=1001,
        channel_name="비디오생성-1",
        application_id=77,
        interaction_token=TOKEN,
        token_issued_at=1_700_000_000.0,
        options={"prompt": "파도", "duration": 6},
    )


async def test_a_job_comes_back_as_it_was_written(store_factory):
    store = store_factory()
    written = job()
    await store.create(written)
    read = await store.get("j1")
    assert read is not None
    assert (read.id, read.state, read.owner, read.incarnation) == (
        "j1",
        JobState.QUEUED,
        3,
        "3.aaaa",
    )
    assert read.options == {"prompt": "파도", "duration": 6}
    assert read.interaction_token == TOKEN
    assert [j.id for j in await store.open_jobs()] == ["j1"]
    assert await store.get("nope") is None


async def test_the_token_never_shows_in_a_repr():
    assert TOKEN not in repr(job())


async def test_saves_change_the_record_and_finished_jobs_leave_the_open_set(store_factory):
    store = store_factory()
    mine = job()
    await store.create(mine)
    mine.state, mine.provider_task_id = JobState.RUNNING, "task-1"
    assert await store.save(mine) is True
    read = await store.get("j1")
    assert (read.state, read.provider_task_id) == (JobState.RUNNING, "task-1")
    mine.state = JobState.DONE
    assert await store.save(mine) is True
    assert await store.open_jobs() == []
    assert (await store.get("j1")).state is JobState.DONE


async def test_an_adopted_job_refuses_its_old_owners_saves(store_factory):
    store = store_factory()
    old = job(incarnation="3.old")
    await store.create(old)
    assert await store.adopt("j1", "3.old", 4, "4.new") is True
    read = await store.get("j1")
    assert (read.owner, read.incarnation) == (4, "4.new")
    old.state = JobState.DELIVERING
    assert await store.save(old) is False  # a stalled process waking up acts no more
    assert (await store.get("j1")).state is JobState.QUEUED
    assert await store.adopt("j1", "3.old", 1, "1.late") is False


async def test_of_many_racing_adopters_exactly_one_wins(store_factory):
    stores = [store_factory() for _ in range(20)]
    await stores[0].create(job(incarnation="3.dead"))
    results = await asyncio.gather(
        *(s.adopt("j1", "3.dead", 4, f"4.{i:04d}") for i, s in enumerate(stores))
    )
    assert sum(results) == 1
    winner = results.index(True)
    assert (await stores[0].get("j1")).incarnation == f"4.{winner:04d}"


async def test_a_finished_job_cannot_be_adopted(store_factory):
    store = store_factory()
    done = job()
    await store.create(done)
    done.state = JobState.CANCELLED
    await store.save(done)
    assert await store.adopt("j1", "3.aaaa", 4, "4.new") is False


async def test_one_delivery_mark_per_job_and_it_follows_an_adoption(store_factory):
    store = store_factory()
    await store.create(job(incarnation="3.old"))
    assert await store.claim_delivery("j1", "3.old") is True
    assert await store.claim_delivery("j1", "3.old") is True  # ours already: a retry
    assert await store.claim_delivery("j1", "4.other") is False
    assert await store.adopt("j1", "3.old", 4, "4.new") is True
    assert await store.claim_delivery("j1", "4.new") is True
    assert await store.claim_delivery("j1", "3.old") is False


async def test_a_cancel_request_is_seen_by_the_owner_and_survives_its_saves(store_factory):
    store = store_factory()
    mine = job()
    await store.create(mine)
    assert await store.request_cancel("j1") is True
    assert await store.request_cancel("missing") is False
    mine.state = JobState.RUNNING
    await store.save(mine)
    assert (await store.get("j1")).cancel_requested is True
    assert [j.cancel_requested for j in await store.open_jobs()] == [True]


async def test_a_finished_redis_job_expires_after_the_retention(key_prefix, redis_link):
    store = RedisJobs(redis_link)
    finished = job()
    await store.create(finished)
    await store.claim_delivery("j1", "3.aaaa")
    mark = f"{key_prefix}job:j1:delivery"
    assert 7 * 24 * 3600 - 5 <= await redis_link.redis.ttl(mark) <= 7 * 24 * 3600
    assert await redis_link.redis.ttl(f"{key_prefix}job:j1") == -1  # open: kept
    await redis_link.redis.expire(mark, 60)  # finishing starts the retention afresh
    finished.state = JobState.DONE
    await store.save(finished)
    for key in (f"{key_prefix}job:j1", f"{key_prefix}job:j1:delivery"):
        assert 7 * 24 * 3600 - 5 <= await redis_link.redis.ttl(key) <= 7 * 24 * 3600


async def test_an_unreachable_redis_raises_instead_of_pretending(key_prefix):
    link = RedisLink(
        "redis://127.0.0.1:1/0",
        prefix=key_prefix,
        warmup_s=1,
        degrade_after_s=1,
        client=aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2),
    )
    store = RedisJobs(link)
    try:
        # The reason goes to the log line of whoever gave up (which Redis, and why).
        with pytest.raises(JobStoreUnavailable, match=r"127\.0\.0\.1:1\b"):
            await store.create(job())
        with pytest.raises(JobStoreUnavailable):
            await store.save(job())
    finally:
        await link.close()


async def test_two_adopters_that_read_the_old_owner_before_either_wrote_one_wins(
    store_factory, monkeypatch
):
    first, second = store_factory(), store_factory()
    await first.create(job(incarnation="3.dead"))
    stale = await second.get("j1")

    async def still_stale(job_id: str) -> Job | None:
        return stale

    monkeypatch.setattr(second, "get", still_stale)  # the second's read came before the win
    assert await first.adopt("j1", "3.dead", 4, "4.first") is True
    assert await second.adopt("j1", "3.dead", 1, "1.second") is False
    monkeypatch.undo()
    assert (await first.get("j1")).incarnation == "4.first"


async def test_the_owners_of_open_jobs_are_one_read(store_factory):
    store = store_factory()
    first, second = job("j1", owner=3, incarnation="3.a"), job("j2", owner=3, incarnation="3.a")
    await store.create(first)
    await store.create(second)
    assert await store.owners() == {"j1": 3, "j2": 3}
    assert await store.adopt("j1", "3.a", 4, "4.b") is True
    assert await store.owners() == {"j1": 4, "j2": 3}
    second.state = JobState.DONE
    await store.save(second)
    assert await store.owners() == {"j1": 4}


async def test_redis_layout_of_open_jobs(key_prefix, redis_link):
    """ARCHITECTURE.md, "Redis key layout": `{prefix}job:{id}` (data as readable JSON,
    incarnation), `{prefix}jobs:open` and `{prefix}jobs:owners` ("" in single mode)."""
    store = RedisJobs(redis_link)
    await store.create(job("j1", owner=3))
    await store.create(job("j2", owner=None, incarnation="all.b"))
    assert await redis_link.redis.hget(f"{key_prefix}job:j1", "incarnation") == "3.aaaa"
    assert '"prompt": "파도"' in await redis_link.redis.hget(f"{key_prefix}job:j1", "data")
    assert await redis_link.redis.smembers(f"{key_prefix}jobs:open") == {"j1", "j2"}
    assert await redis_link.redis.hgetall(f"{key_prefix}jobs:owners") == {"j1": "3", "j2": ""}
    assert await store.owners() == {"j1": 3, "j2": None}


async def test_an_open_set_entry_without_its_job_is_skipped(key_prefix, redis_link):
    store = RedisJobs(redis_link)
    await store.create(job("j1"))
    await redis_link.redis.sadd(f"{key_prefix}jobs:open", "gone")  # its hash expired or was lost
    assert [j.id for j in await store.open_jobs()] == ["j1"]


async def test_a_fenced_out_finish_leaves_the_new_owners_delivery_alone(key_prefix, redis_link):
    store = RedisJobs(redis_link)
    stale = job(incarnation="3.old")
    await store.create(stale)
    assert await store.adopt("j1", "3.old", 4, "4.new") is True
    assert await store.claim_delivery("j1", "4.new") is True
    await redis_link.redis.expire(f"{key_prefix}job:j1:delivery", 60)
    stale.state = JobState.DONE
    assert await store.save(stale) is False
    assert await redis_link.redis.ttl(f"{key_prefix}job:j1:delivery") <= 60, "not touched"


async def test_a_save_records_when_it_was_made(store_factory):
    store = store_factory()
    mine = job()
    mine.updated_at = 1_700_000_000.0
    await store.create(mine)
    before = time.time()
    mine.state = JobState.RUNNING
    assert await store.save(mine) is True
    assert before <= (await store.get("j1")).updated_at <= time.time()
