"""Everything the fake Discord knows, shared by the gateway, the REST routes and the handles."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .commands import CommandRegistry
from .interactions import InteractionState
from .messages import MessageStore, StoredMessage
from .models import IdentifyRecord, RequestRecord, SessionInfo, SpecViolation
from .rules import Rules
from .snowflake import SnowflakeMinter
from .spec import SpecValidator, default_validator
from .world import World

# Gateway intents that gate message events.
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15


class Session(Protocol):
    """A gateway connection as the state sees it (implemented in gateway.py)."""

    info: SessionInfo

    async def dispatch(self, event: str, data: dict[str, Any]) -> None: ...

    async def close(self, code: int) -> None: ...


class DiscordState:
    def __init__(
        self,
        rules: Rules,
        channels: Iterable[str],
        threads: dict[str, list[str]] | None,
        guild_name: str,
        spec: SpecValidator | None = None,
    ) -> None:
        self.rules = rules
        self.ids = SnowflakeMinter()
        self.world = World(self.ids, guild_name=guild_name)
        for name in channels:
            self.world.add_text_channel(name)
        for parent_name, names in (threads or {}).items():
            parent = self.world.text_channel(parent_name)
            if parent is None:
                raise ValueError(f"thread parent {parent_name!r} is not one of the channels")
            for name in names:
                self.world.add_thread(parent, name)
        self.store = MessageStore(self.world)
        self.commands = CommandRegistry(
            self.ids, self.world.app_id, lambda: self.rules.command_creates_per_day
        )
        self.spec = spec or default_validator()
        self.sessions: list[Session] = []
        self.identify_log: list[IdentifyRecord] = []
        self.requests: list[RequestRecord] = []
        self.spec_violations: list[SpecViolation] = []
        self.internal_errors: list[str] = []
        self.interactions: dict[int, InteractionState] = {}
        self.tokens: dict[str, InteractionState] = {}
        self.base_url = ""
        self.rest_url = ""
        self.gateway_url = ""
        self._pulse = asyncio.Event()

    # --- change notification ----------------------------------------------------------------

    def changed(self, interaction: InteractionState | None = None) -> None:
        """Wake every waiter; waiters re-check their own condition."""
        if interaction is not None:
            interaction.last_change = time.monotonic()
        self._pulse.set()
        self._pulse = asyncio.Event()

    async def wait_changed(self, timeout: float) -> None:
        pulse = self._pulse
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pulse.wait(), max(timeout, 0.0))

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await self.wait_changed(left)
        return True

    # --- sessions ---------------------------------------------------------------------------

    def ready_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.info.open and s.info.ready]

    async def broadcast_message(self, event: str, message: StoredMessage) -> None:
        """MESSAGE_CREATE/UPDATE to every ready session whose intents ask for it."""
        if message.ephemeral:
            return  # ephemeral messages exist only for the one user
        channel = self.world.channels.get(message.channel_id)
        if channel is None:
            return
        body = self.store.gateway_shape(message)
        bot_id = str(self.world.bot.id)
        mentions_bot = any(m.get("id") == bot_id for m in body.get("mentions", []))
        for session in self.ready_sessions():
            intents = session.info.intents
            needed = INTENT_DIRECT_MESSAGES if channel.is_dm else INTENT_GUILD_MESSAGES
            if not intents & needed:
                continue
            data = body
            privileged = channel.is_dm or mentions_bot or message.author_id == self.world.bot.id
            if not intents & INTENT_MESSAGE_CONTENT and not privileged:
                # Without the MESSAGE_CONTENT intent Discord blanks these fields.
                data = {**body, "content": "", "embeds": [], "attachments": [], "components": []}
                data.pop("poll", None)
            await session.dispatch(event, data)

    async def broadcast_delete(self, message: StoredMessage) -> None:
        if message.ephemeral:
            return
        channel = self.world.channels.get(message.channel_id)
        if channel is None:
            return
        data: dict[str, Any] = {"id": str(message.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        needed = INTENT_DIRECT_MESSAGES if channel.is_dm else INTENT_GUILD_MESSAGES
        for session in self.ready_sessions():
            if session.info.intents & needed:
                await session.dispatch("MESSAGE_DELETE", data)

    # --- records ----------------------------------------------------------------------------

    @property
    def errors(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.status >= 400]
