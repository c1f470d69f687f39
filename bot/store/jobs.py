"""Durable jobs: long work (a video) recorded before it starts, resumable by any instance.

A `Job` is plain data (it knows nothing of Discord beyond the ids and token it must keep to
deliver). The store writes a job before its provider is called and every state change
before it is acted on (`save`), so a kill at any point leaves a record to resume from.

Ownership is fenced: a record names its owner instance and incarnation, and `save` only
writes while the caller still owns it; `adopt` moves a job from a gone incarnation to a
new one by compare-and-set, so exactly one instance adopts. `claim_delivery` is the one
"delivered" mark per job, taken before posting (and handed over by `adopt`).

Redis layout (ARCHITECTURE.md, "Redis key layout"):
`{prefix}job:{id}` a hash: `data` (the job's JSON, token included: Redis needs a password),
`incarnation`, `cancel` (set by a requester's 취소, read by the owner);
`{prefix}jobs:open` the set of unfinished job ids;
`{prefix}jobs:owners` a hash of unfinished job id -> owner instance ("" in single mode), so
the adoption scan reads one key, not every job;
`{prefix}job:{id}:delivery` the incarnation delivering the job.
A finished job's keys expire after `RETENTION_S`.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from bot.store.base import Jobs
from bot.store.redis_link import REDIS_ERRORS, RedisLink

RETENTION_S = 7 * 24 * 3600  # finished jobs are kept this long (a late press, a question)


class JobState(StrEnum):
    QUEUED = "queued"  # recorded, waiting for a running slot: no provider task yet
    STARTING = "starting"  # the provider is being asked to start: a task may exist
    RUNNING = "running"  # the provider task is known and polled
    DELIVERING = "delivering"  # the result is ready and being posted
    DONE = "done"
    FAILED = "failed"  # the user is told why (`error`)
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


class JobStoreUnavailable(Exception):
    """The shared store cannot be reached: nothing was written."""


def new_job_id() -> str:
    return secrets.token_hex(8)


@dataclass
class Job:
    """One durable job. `interaction_token` is a secret: it never appears in a repr or log."""

    id: str
    kind: str  # "video"
    owner: int | None  # instance number; None in single-process mode
    incarnation: str
    user_id: int
    channel_id: int | None
    channel_name: str | None  # routes adoption like the command (a thread's parent name)
    application_id: int
    interaction_token: str = field(repr=False)
    token_issued_at: float = 0.0  # epoch seconds: the token lives 15 minutes from here
    options: dict[str, Any] = field(default_factory=dict)
    state: JobState = JobState.QUEUED
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    provider_task_id: str | None = None
    progress: str | None = None  # the provider's last status word
    attempts: int = 0  # provider polls that failed in a row
    error: str | None = None  # the Korean message shown when FAILED
    result: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False  # read from the store, never written by `save`

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("cancel_requested")
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str, *, cancel_requested: bool = False) -> Job:
        data = json.loads(raw)
        data["state"] = JobState(data["state"])
        return cls(**data, cancel_requested=cancel_requested)


class LocalJobs(Jobs):
    """Single-process mode: jobs live as long as the process (nothing to resume from)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._delivery: dict[str, str] = {}
        self._cancel: set[str] = set()

    async def create(self, job: Job) -> None:
        self._jobs[job.id] = replace(job)

    async def save(self, job: Job) -> bool:
        stored = self._jobs.get(job.id)
        if stored is None or stored.incarnation != job.incarnation:
            return False
        job.updated_at = time.time()
        self._jobs[job.id] = replace(job, cancel_requested=False)
        return True

    async def get(self, job_id: str) -> Job | None:
        stored = self._jobs.get(job_id)
        if stored is None:
            return None
        return replace(stored, cancel_requested=job_id in self._cancel)

    async def open_jobs(self) -> list[Job]:
        return [
            replace(j, cancel_requested=j.id in self._cancel)
            for j in self._jobs.values()
            if not j.finished
        ]

    async def owners(self) -> dict[str, int | None]:
        return {j.id: j.owner for j in self._jobs.values() if not j.finished}

    async def adopt(self, job_id: str, expected: str, owner: int | None, incarnation: str) -> bool:
        stored = self._jobs.get(job_id)
        if stored is None or stored.incarnation != expected or stored.finished:
            return False
        self._jobs[job_id] = replace(stored, owner=owner, incarnation=incarnation)
        if self._delivery.get(job_id) == expected:
            self._delivery[job_id] = incarnation
        return True

    async def request_cancel(self, job_id: str) -> bool:
        if job_id not in self._jobs:
            return False
        self._cancel.add(job_id)
        return True

    async def claim_delivery(self, job_id: str, incarnation: str) -> bool:
        return self._delivery.setdefault(job_id, incarnation) == incarnation


# KEYS[1] job hash, KEYS[2] open set, KEYS[3] owners; ARGV: incarnation, data, finished
# (0/1), id, retention ms. Writes only while the stored incarnation is the caller's.
SAVE_LUA = """
if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
if ARGV[3] == '1' then
  redis.call('SREM', KEYS[2], ARGV[4])
  redis.call('HDEL', KEYS[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
"""
# KEYS[1] job hash, KEYS[2] delivery mark, KEYS[3] owners; ARGV: expected incarnation, new
# incarnation, new data (the job with its new owner), job id, new owner. The delivery mark
# follows the job.
ADOPT_LUA = """
if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'incarnation', ARGV[2], 'data', ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL')
end
return 1
"""
# KEYS[1] job hash. Marks a cancel request on an existing job only.
CANCEL_LUA = """
if redis.call('HEXISTS', KEYS[1], 'data') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
return 1
"""
# KEYS[1] delivery mark; ARGV: incarnation, ttl ms. Ours if free or already ours.
DELIVERY_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class RedisJobs(Jobs):
    """The fleet's jobs. Every call raises `JobStoreUnavailable` when Redis cannot be
    reached: a caller must not act on a change it could not record."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._save = link.redis.register_script(SAVE_LUA)
        self._adopt = link.redis.register_script(ADOPT_LUA)
        self._delivery = link.redis.register_script(DELIVERY_LUA)
        self._cancel = link.redis.register_script(CANCEL_LUA)

    def _key(self, job_id: str) -> str:
        return self.link.key("job", job_id)

    def _open(self) -> str:
        return self.link.key("jobs", "open")

    def _owners(self) -> str:
        return self.link.key("jobs", "owners")

    def _mark(self, job_id: str) -> str:
        return self.link.key("job", job_id, "delivery")

    async def _call(self, coro: Any) -> Any:
        try:
            result = await coro
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            raise JobStoreUnavailable(str(exc) or type(exc).__name__) from None
        self.link.succeeded()
        return result

    async def create(self, job: Job) -> None:
        async def write() -> None:
            async with self.link.redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    self._key(job.id),
                    mapping={"data": job.to_json(), "incarnation": job.incarnation},
                )
                pipe.sadd(self._open(), job.id)
                pipe.hset(self._owners(), job.id, _owner_text(job.owner))
                await pipe.execute()

        await self._call(write())

    async def save(self, job: Job) -> bool:
        job.updated_at = time.time()
        written = await self._call(
            self._save(
                keys=[self._key(job.id), self._open(), self._owners()],
                args=[
                    job.incarnation,
                    job.to_json(),
                    "1" if job.finished else "0",
                    job.id,
                    RETENTION_S * 1000,
                ],
            )
        )
        if written and job.finished:
            await self._call(self.link.redis.pexpire(self._mark(job.id), RETENTION_S * 1000))
        return bool(written)

    async def get(self, job_id: str) -> Job | None:
        data, cancel = await self._call(self.link.redis.hmget(self._key(job_id), "data", "cancel"))
        return None if data is None else Job.from_json(data, cancel_requested=bool(cancel))

    async def open_jobs(self) -> list[Job]:
        ids = sorted(await self._call(self.link.redis.smembers(self._open())))
        jobs = []
        for job_id in ids:
            job = await self.get(job_id)
            if job is not None and not job.finished:
                jobs.append(job)
        return jobs

    async def owners(self) -> dict[str, int | None]:
        raw = await self._call(self.link.redis.hgetall(self._owners()))
        return {job_id: int(owner) if owner else None for job_id, owner in raw.items()}

    async def adopt(self, job_id: str, expected: str, owner: int | None, incarnation: str) -> bool:
        job = await self.get(job_id)
        if job is None or job.finished or job.incarnation != expected:
            return False
        job.owner, job.incarnation = owner, incarnation
        adopted = await self._call(
            self._adopt(
                keys=[self._key(job_id), self._mark(job_id), self._owners()],
                args=[expected, incarnation, job.to_json(), job_id, _owner_text(owner)],
            )
        )
        return bool(adopted)

    async def request_cancel(self, job_id: str) -> bool:
        return bool(await self._call(self._cancel(keys=[self._key(job_id)])))

    async def claim_delivery(self, job_id: str, incarnation: str) -> bool:
        won = await self._call(
            self._delivery(keys=[self._mark(job_id)], args=[incarnation, RETENTION_S * 1000])
        )
        return bool(won)


def _owner_text(owner: int | None) -> str:
    return "" if owner is None else str(owner)
