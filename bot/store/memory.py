"""Conversation memory shared by the fleet, so any instance continues a conversation.

Key layout (ARCHITECTURE.md): `{prefix}memory:{conversation}` is a list of turns as JSON,
oldest first. A conversation is a thread, or a channel and user outside threads, or a
DM. Saving a turn with an id already present replaces it: the answer is saved as it
streams, so an instance that takes over mid-conversation has it. Turns beyond the
character budget are dropped oldest first (the newest is always kept); the whole
conversation expires `ttl_s` after its last save.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Literal

from bot.store.base import ConversationMemory
from bot.store.redis_link import REDIS_ERRORS, RedisLink

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class MemoryTurn:
    role: Role
    text: str
    turn_id: str  # stable per event and role, so a streamed answer replaces itself
    input_tokens: int | None = None
    output_tokens: int | None = None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "chars": len(self.text)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> MemoryTurn:
        data = json.loads(raw)
        data.pop("chars", None)
        return cls(**data)


def trimmed(turns: list[MemoryTurn], budget_chars: int) -> list[MemoryTurn]:
    """The newest turns that fit in `budget_chars` (always at least the newest one)."""
    kept: list[MemoryTurn] = []
    total = 0
    for turn in reversed(turns):
        total += len(turn.text)
        if kept and total > budget_chars:
            break
        kept.append(turn)
    return kept[::-1]


class LocalMemory(ConversationMemory):
    def __init__(self, *, budget_chars: int, ttl_s: float) -> None:
        self.budget_chars = budget_chars
        self.ttl_s = ttl_s
        self._conversations: dict[str, tuple[float, list[MemoryTurn]]] = {}

    async def history(self, conversation: str) -> list[MemoryTurn]:
        expires, turns = self._conversations.get(conversation, (0.0, []))
        if time.monotonic() >= expires:
            self._conversations.pop(conversation, None)
            return []
        return list(turns)

    async def save(self, conversation: str, turn: MemoryTurn) -> None:
        turns = await self.history(conversation)
        for i, earlier in enumerate(turns):
            if earlier.turn_id == turn.turn_id:
                turns[i] = turn
                break
        else:
            turns.append(turn)
        self._conversations[conversation] = (
            time.monotonic() + self.ttl_s,
            trimmed(turns, self.budget_chars),
        )

    async def forget(self, conversation: str) -> None:
        self._conversations.pop(conversation, None)


# KEYS[1] the conversation's list; ARGV: turn id, turn JSON, budget chars, ttl ms.
# Replace the turn with the same id (looking at the newest few) or append it; then drop
# the oldest turns beyond the budget, keeping the newest; then refresh the expiry.
SAVE_LUA = """
local n = redis.call('LLEN', KEYS[1])
local replaced = false
for i = n - 1, math.max(0, n - 6), -1 do
  local v = redis.call('LINDEX', KEYS[1], i)
  if v and cjson.decode(v)['turn_id'] == ARGV[1] then
    redis.call('LSET', KEYS[1], i, ARGV[2])
    replaced = true
    break
  end
end
if not replaced then redis.call('RPUSH', KEYS[1], ARGV[2]) end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local total = 0
local keep_from = 1
for i = #items, 1, -1 do
  total = total + cjson.decode(items[i])['chars']
  if total > tonumber(ARGV[3]) and i < #items then
    keep_from = i + 1
    break
  end
end
if keep_from > 1 then redis.call('LTRIM', KEYS[1], keep_from - 1, -1) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisMemory(ConversationMemory):
    def __init__(self, link: RedisLink, *, budget_chars: int, ttl_s: float) -> None:
        self.link = link
        self.budget_chars = budget_chars
        self.ttl_ms = int(ttl_s * 1000)
        self._save = link.redis.register_script(SAVE_LUA)

    def _key(self, conversation: str) -> str:
        return self.link.key("memory", conversation)

    async def history(self, conversation: str) -> list[MemoryTurn]:
        """The conversation so far; empty (logged) when the store cannot be reached, so a
        Redis outage costs the context of one answer, never the answer."""
        try:
            raw = await self.link.redis.lrange(self._key(conversation), 0, -1)
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return []
        self.link.succeeded()
        return [MemoryTurn.from_json(item) for item in raw]

    async def save(self, conversation: str, turn: MemoryTurn) -> None:
        try:
            await self._save(
                keys=[self._key(conversation)],
                args=[turn.turn_id, turn.to_json(), self.budget_chars, self.ttl_ms],
            )
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
            return
        self.link.succeeded()

    async def forget(self, conversation: str) -> None:
        try:
            await self.link.redis.delete(self._key(conversation))
        except REDIS_ERRORS as exc:
            self.link.failed(exc)
