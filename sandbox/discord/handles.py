"""Handles returned by the driver calls: wait for what the bot did and summarise it."""

from __future__ import annotations

import copy
import time
from typing import Any

from .interactions import (
    APPLICATION_COMMAND_AUTOCOMPLETE,
    CALLBACK_DEFERRED,
    CALLBACK_DEFERRED_UPDATE,
    UPDATE_CALLBACKS,
    InteractionState,
)
from .messages import StoredMessage
from .models import InteractionResult, MessageResult
from .state import DiscordState


def _attachments(payload: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("id", "filename", "size", "content_type", "url")
    return [{k: a.get(k) for k in keys} for a in payload.get("attachments", [])]


def _since(state: DiscordState, at: float, limit: int = 12) -> str:
    lines = [
        f"{r.method} {r.path} -> {r.status}{f' ({r.code})' if r.code else ''}"
        f" by {r.instance or '-'}"
        for r in state.requests
        if r.at >= at
    ]
    if not lines:
        return "no REST requests since"
    shown = lines[-limit:]
    more = f" (+{len(lines) - limit} earlier)" if len(lines) > limit else ""
    return "REST requests since" + more + ": " + "; ".join(shown)


class InteractionHandle:
    """An interaction the fake dispatched; see `wait_for_response`."""

    def __init__(self, state: DiscordState, interaction: InteractionState) -> None:
        self._state = state
        self._interaction = interaction

    @property
    def interaction_id(self) -> int:
        return self._interaction.id

    @property
    def delivered_to(self) -> list[str | None]:
        """Instance labels of the sessions that received INTERACTION_CREATE."""
        return [r.instance for r in self._interaction.recipients]

    def _messages(self) -> list[StoredMessage]:
        ids = [self._interaction.original_id, *self._interaction.followup_ids]
        found = [self._state.store.get(i) for i in ids if i is not None]
        return [m for m in found if m is not None and not m.deleted]

    def visible(self) -> bool:
        """The user sees an answer: a message (not the "thinking" placeholder), a modal,
        autocomplete choices, or, for a component, the acknowledged (6) or updated (7)
        message."""
        it = self._interaction
        if it.modal is not None or it.choices is not None:
            return True
        if it.callback_type in UPDATE_CALLBACKS:
            return True
        return any(not m.loading for m in self._messages())

    def result(self) -> InteractionResult:
        """The current state, whether or not it is visible yet."""
        it = self._interaction
        messages = self._messages()
        primary = next((m for m in messages if not m.loading), None)
        original = self._state.store.get(it.original_id or -1)
        if original is not None and original.deleted:
            original = None  # a deleted placeholder: what the user sees is the followup
        payload = primary.payload if primary else {}
        accepted = it.accepted
        component = self._state.store.get(it.message_id)
        if component is not None and component.deleted:
            component = None
        return InteractionResult(
            interaction_id=it.id,
            content=primary.content if primary else None,
            embeds=copy.deepcopy(payload.get("embeds", [])),
            attachments=_attachments(payload),
            components=copy.deepcopy(payload.get("components", [])),
            ephemeral=bool(original.ephemeral if original else primary and primary.ephemeral),
            deferred=it.callback_type in (CALLBACK_DEFERRED, CALLBACK_DEFERRED_UPDATE),
            answered_by=accepted.instance if accepted else None,
            ack_ms=accepted.ms if accepted else None,
            callback_attempts=sorted(it.attempts, key=lambda a: a.at),
            messages=[copy.deepcopy(m.payload) for m in messages],
            modal=copy.deepcopy(it.modal),
            delivered_to=self.delivered_to,
            interaction_type=it.type,
            callback_type=it.callback_type,
            component_message=copy.deepcopy(component.payload) if component else None,
            message_updated=it.updated,
            choices=copy.deepcopy(it.choices),
        )

    async def wait_for_response(
        self, timeout: float = 10.0, settle: float = 0.3
    ) -> InteractionResult:
        """Wait until the answer is visible and nothing changed for `settle` seconds.

        Raises TimeoutError (asyncio.TimeoutError) naming what was seen if nothing became
        visible in `timeout`; if something is visible but still changing then, returns it.
        """
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if self.visible():
                quiet = now - self._interaction.last_change
                if quiet >= settle or now >= deadline:
                    return self.result()
                wait = min(settle - quiet, deadline - now)
            elif now >= deadline:
                raise TimeoutError(self.describe(timeout))
            else:
                wait = deadline - now
            await self._state.wait_changed(wait)

    def describe(self, timeout: float | None = None) -> str:
        it = self._interaction
        within = f" within {timeout:.1f}s" if timeout is not None else ""
        delivered = (
            f"delivered to {len(it.recipients)} session(s) of instance(s) {self.delivered_to}"
            if it.recipients
            else "delivered to no session (no ready gateway session when it was sent)"
        )
        attempts = (
            "; ".join(
                f"{a.instance}: type {a.type} -> {a.status}{f' ({a.code})' if a.code else ''}"
                f" at {a.ms:.0f} ms"
                for a in sorted(it.attempts, key=lambda a: a.at)
            )
            or "none"
        )
        state = "deferred, still 'thinking'" if it.deferred else "not acknowledged"
        if it.type == APPLICATION_COMMAND_AUTOCOMPLETE and not it.acknowledged:
            state = "no autocomplete choices (callback 8) yet"
        if it.acknowledged and not it.deferred:
            state = f"acknowledged with callback type {it.callback_type}"
        hooks = "; ".join(it.webhook_calls) or "none"
        return (
            f"no visible response to {it.label} (interaction {it.id}){within}: {delivered}; "
            f"callbacks: {attempts}; webhook calls: {hooks}; state: {state}; "
            f"{_since(self._state, it.dispatched_at)}"
        )


class MessageHandle:
    """A user message the fake dispatched; collects the bot's channel messages after it."""

    def __init__(self, state: DiscordState, message: StoredMessage, label: str) -> None:
        self._state = state
        self.message = message
        self.label = label

    @property
    def message_id(self) -> int:
        return self.message.id

    @property
    def channel_id(self) -> int:
        return self.message.channel_id

    def replies(self) -> list[StoredMessage]:
        """Bot messages posted to the channel (not interaction answers) after this one."""
        return sorted(
            (
                m
                for m in self._state.store.in_channel(self.channel_id)
                if m.id > self.message.id and m.via == "channel"
            ),
            key=lambda m: m.id,
        )

    def _last_activity(self) -> float:
        marker = f"/channels/{self.channel_id}/"
        times = [
            r.at for r in self._state.requests if r.at >= self.message.at and marker in r.path + "/"
        ]
        return max(times, default=self.message.at)

    def result(self) -> MessageResult:
        replies = self.replies()
        first = replies[0] if replies else None
        payload = first.payload if first else {}
        typing = f"/channels/{self.channel_id}/typing"
        return MessageResult(
            message_id=self.message.id,
            messages=[copy.deepcopy(m.payload) for m in replies],
            instances=[m.instance for m in replies],
            content=first.content if first else None,
            embeds=copy.deepcopy(payload.get("embeds", [])),
            attachments=_attachments(payload),
            answered_by=first.instance if first else None,
            reply_ms=(first.at - self.message.at) * 1000 if first else None,
            typed=any(r.path == typing and r.at >= self.message.at for r in self._state.requests),
        )

    async def wait_for_response(
        self, timeout: float = 10.0, settle: float = 0.3, count: int = 1
    ) -> MessageResult:
        """Wait for `count` bot messages, then until the channel was quiet for `settle` s."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if len(self.replies()) >= count:
                quiet = now - self._last_activity()
                if quiet >= settle or now >= deadline:
                    return self.result()
                wait = min(settle - quiet, deadline - now)
            elif now >= deadline:
                raise TimeoutError(
                    f"{len(self.replies())} of {count} bot message(s) after {self.label} "
                    f"(message {self.message.id}) within {timeout:.1f}s; "
                    f"{_since(self._state, self.message.at)}"
                )
            else:
                wait = deadline - now
            await self._state.wait_changed(wait)
