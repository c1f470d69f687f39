"""Start-up guards on a real Redis: a rolling update never uploads an older command tree
over a newer one, and a fatal close is remembered across a restart."""

from __future__ import annotations

import time

from bot.store import redis_store
from bot.store.startup import FatalRecord
from sandbox.redis_server import free_port


def release(version: str, prefix: str, url: str, instance: int = 1):
    return redis_store(instance, url, prefix=prefix, heartbeat_interval=0.2, version=version)


async def upload(store, digest: str) -> bool:
    """What sync_commands does: upload only if begin_sync says so, then record it."""
    if not await store.startup.begin_sync("global", digest):
        return False
    await store.startup.end_sync("global", digest)
    return True


async def test_an_older_release_never_replaces_a_newer_command_tree(
    key_prefix, redis_client, redis_url
):
    old, new, newest = (
        release("1.9.2", key_prefix, redis_url, 1),
        release("1.10.0", key_prefix, redis_url, 2),
        release("1.10.1", key_prefix, redis_url, 3),
    )
    assert await upload(new, "tree-v1.10") is True
    assert await redis_client.get(f"{key_prefix}commands:hash:global") == "tree-v1.10"
    assert await redis_client.get(f"{key_prefix}commands:version:global") == "1.10.0"

    # bot-1 still runs 1.9.2 and restarts mid-update: its tree differs, but it is older.
    assert await upload(old, "tree-v1.9") is False
    assert await redis_client.get(f"{key_prefix}commands:hash:global") == "tree-v1.10"
    assert await redis_client.exists(f"{key_prefix}lock:sync") == 0, "the lock is released"

    assert await upload(new, "tree-v1.10") is False, "unchanged: nothing to upload"
    assert await upload(newest, "tree-v1.10.1") is True
    assert await redis_client.get(f"{key_prefix}commands:version:global") == "1.10.1"
    for store in (old, new, newest):
        await store.close()


async def test_a_tree_from_before_versions_were_stored_is_replaced(
    key_prefix, redis_client, redis_url
):
    await redis_client.set(f"{key_prefix}commands:hash:global", "tree-from-0.1")
    store = release("0.2.0", key_prefix, redis_url)
    assert await upload(store, "tree-0.2") is True
    assert await redis_client.get(f"{key_prefix}commands:hash:global") == "tree-0.2"
    await store.close()


async def test_a_fatal_close_is_kept_in_redis_for_20_minutes(key_prefix, redis_client, redis_url):
    store = release("1.0.0", key_prefix, redis_url, 2)
    record = FatalRecord.now(4014, "disallowed intents", "fp-1")
    await store.startup.record_fatal(record)
    key = f"{key_prefix}fatal:2"
    assert 1190 <= await redis_client.ttl(key) <= 1201
    await store.close()
    # A restarted process (a new store) finds it.
    again = release("1.0.0", key_prefix, redis_url, 2)
    assert await again.startup.fatal_record() == record
    await again.startup.clear_fatal()
    assert await redis_client.exists(key) == 0
    await again.close()


async def test_a_fatal_close_is_recorded_even_after_the_store_closed(
    key_prefix, redis_client, redis_url
):
    """discord.py closes the client (and so the store) before it raises the close code."""
    store = release("1.0.0", key_prefix, redis_url, 3)
    await store.close()
    record = FatalRecord.now(4004, "authentication failed", "fp-2")
    await store.startup.record_fatal(record)
    assert FatalRecord.from_json(await redis_client.get(f"{key_prefix}fatal:3")) == record


async def test_without_redis_a_fatal_close_goes_to_the_file(key_prefix, tmp_path):
    fatal_file = tmp_path / "bot-health.json.fatal"
    url = f"redis://127.0.0.1:{free_port()}/0"
    store = redis_store(4, url, prefix=key_prefix, fatal_file=fatal_file, version="1.0.0")
    record = FatalRecord.now(4013, "invalid intents", "fp-3")
    await store.startup.record_fatal(record)
    assert FatalRecord.from_json(fatal_file.read_text(encoding="utf-8")) == record
    assert await store.startup.fatal_record() == record
    assert record.retry_at > time.time() + 1190
    await store.startup.clear_fatal()
    assert not fatal_file.exists()
    await store.close()
