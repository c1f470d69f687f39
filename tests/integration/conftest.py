"""Integration fixtures: the session's Redis (see redis_url), a unique key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from bot.store.redis_link import RedisLink
from sandbox.redis_server import LocalRedisServer


@pytest.fixture
def key_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_client(key_prefix: str, redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await client.ping()
    except OSError as exc:  # pragma: no cover - environment problem, not a test result
        pytest.fail(f"Redis at {redis_url} does not answer ({exc})")
    yield client
    keys = [k async for k in client.scan_iter(match=f"{key_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def redis_link(key_prefix: str, redis_url: str) -> AsyncIterator[RedisLink]:
    """A store's link to the session's Redis under this test's prefix, closed afterwards."""
    link = RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
    yield link
    await link.close()


@pytest.fixture
def private_redis() -> Iterator[LocalRedisServer]:
    """A private redis-server the test may stop and restart (to simulate an outage)."""
    server = LocalRedisServer()
    server.start()
    yield server
    server.stop()
