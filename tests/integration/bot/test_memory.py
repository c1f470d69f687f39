"""Conversation memory, in-process and on real Redis: the same behaviour from both."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.memory import LocalMemory, MemoryTurn, RedisMemory
from bot.store.redis_link import RedisLink


@pytest.fixture(params=["local", "redis"])
async def memory_factory(request, key_prefix, redis_url):
    links: list[RedisLink] = []

    def make(budget_chars: int = 100, ttl_s: float = 60.0):
        if request.param == "local":
            return LocalMemory(budget_chars=budget_chars, ttl_s=ttl_s)
        link = RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
        links.append(link)
        return RedisMemory(link, budget_chars=budget_chars, ttl_s=ttl_s)

    yield make
    for link in links:
        await link.close()


def user(n: int, text: str) -> MemoryTurn:
    return MemoryTurn("user", text, f"e{n}:user")


def answer(n: int, text: str, **usage: int) -> MemoryTurn:
    return MemoryTurn("assistant", text, f"e{n}:assistant", **usage)


async def test_turns_come_back_in_order(memory_factory):
    memory = memory_factory()
    await memory.save("thread:1", user(1, "안녕?"))
    await memory.save("thread:1", answer(1, "안녕하세요!", input_tokens=12, output_tokens=5))
    await memory.save("thread:2", user(2, "다른 대화"))
    assert await memory.history("thread:1") == [
        user(1, "안녕?"),
        answer(1, "안녕하세요!", input_tokens=12, output_tokens=5),
    ]
    assert await memory.history("thread:3") == []


async def test_a_streamed_answer_replaces_itself(memory_factory):
    memory = memory_factory()
    await memory.save("c", user(1, "질문"))
    for partial in ("답", "답변이", "답변이 끝났어요."):
        await memory.save("c", answer(1, partial))
    await memory.save("c", user(2, "다음 질문"))
    assert [t.text for t in await memory.history("c")] == ["질문", "답변이 끝났어요.", "다음 질문"]


async def test_the_oldest_turns_go_first_beyond_the_budget(memory_factory):
    memory = memory_factory(budget_chars=10)
    await memory.save("c", user(1, "가나다라"))  # 4
    await memory.save("c", answer(1, "마바사"))  # 3
    await memory.save("c", user(2, "아자차카"))  # 4: 11 > 10, the first turn goes
    assert [t.text for t in await memory.history("c")] == ["마바사", "아자차카"]
    await memory.save("c", answer(2, "가" * 30))  # alone over the budget: still kept
    assert [t.text for t in await memory.history("c")] == ["가" * 30]


async def test_forget_starts_afresh(memory_factory):
    memory = memory_factory()
    await memory.save("c", user(1, "기억해"))
    await memory.forget("c")
    assert await memory.history("c") == []


async def test_a_conversation_expires_after_its_ttl(memory_factory):
    memory = memory_factory(ttl_s=1.0)
    await memory.save("c", user(1, "곧 잊혀요"))
    await asyncio.sleep(0.6)
    await memory.save("c", answer(1, "네"))  # a save refreshes the expiry
    await asyncio.sleep(0.6)  # 1.2 s after the first save, 0.6 s after the last
    assert len(await memory.history("c")) == 2
    await asyncio.sleep(0.6)  # 1.2 s after the last save
    assert await memory.history("c") == []


async def test_redis_keeps_the_conversation_for_every_instance(key_prefix, redis_url):
    one = RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
    four = RedisLink(redis_url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
    await RedisMemory(one, budget_chars=100, ttl_s=60).save("c", user(1, "1번에게 한 말"))
    assert await RedisMemory(four, budget_chars=100, ttl_s=60).history("c") == [
        user(1, "1번에게 한 말")
    ]
    await one.close()
    await four.close()


async def test_a_conversation_of_exactly_the_budget_is_kept_whole(memory_factory):
    memory = memory_factory(budget_chars=10)
    for turn in (user(1, "가나다"), answer(1, "라마바사"), user(2, "아자차")):  # 3 + 4 + 3
        await memory.save("c", turn)
    assert [t.text for t in await memory.history("c")] == ["가나다", "라마바사", "아자차"]
    await memory.save("c", answer(2, "카"))  # 11: the oldest goes
    assert [t.text for t in await memory.history("c")] == ["라마바사", "아자차", "카"]


async def test_forgetting_a_conversation_never_had_is_fine(memory_factory):
    memory = memory_factory()
    await memory.forget("never-saved")
    assert await memory.history("never-saved") == []


async def test_redis_layout_one_readable_list_per_conversation(key_prefix, redis_link):
    """`{prefix}memory:{conversation}`, a list of turns as UTF-8 JSON with their length
    (ARCHITECTURE.md, "Redis key layout"); it expires `ttl_s` after the last save."""
    await RedisMemory(redis_link, budget_chars=100, ttl_s=60).save("thread:7", user(1, "안녕"))
    key = f"{key_prefix}memory:thread:7"
    assert await redis_link.redis.lrange(key, 0, -1) == [
        '{"role": "user", "text": "안녕", "turn_id": "e1:user", "input_tokens": null, '
        '"output_tokens": null, "chars": 2}'
    ]
    assert 59_000 < await redis_link.redis.pttl(key) <= 60_000
