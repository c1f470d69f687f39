"""Drives one streamed answer onto a surface (Discord messages), knowing nothing of Discord.

The provider's chunks are read in one task; the display loop shows them through a
`Surface` at the page cadence `_pages.plan_updates` decides, saves the text so far (so
another instance could continue the conversation), and always finishes: the writing
marker goes away whether the answer completed, was cut by a provider error (what was
written stays, with a Korean note saying why) or never started.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.answering import AlreadyShown
from commands.chat._pages import next_due, plan_updates, render
from services.errors import UserFacingError
from services.openai_service import Usage

Clock = Callable[[], float]


class Surface(Protocol):
    """Where the pages of an answer appear: page 0 first, each later page a new message."""

    async def send(self, index: int, content: str) -> None: ...

    async def edit(self, index: int, content: str) -> None: ...


@dataclass
class StreamResult:
    text: str = ""
    usage: Usage | None = None
    error: UserFacingError | None = None
    first_token_at: float | None = None
    first_shown_at: float | None = None  # when text first became visible (an applied update)


@dataclass
class _Display:
    surface: Surface
    interval: float
    clock: Clock
    shown: list[str] = field(default_factory=list)
    last_edit_at: list[float] = field(default_factory=list)

    async def show(self, wanted: Sequence[str], *, final: bool) -> bool:
        """Apply what the cadence allows now; True if anything changed on Discord."""
        now = self.clock()
        updates = plan_updates(
            self.shown, wanted, self.last_edit_at, now, self.interval, final=final
        )
        for update in updates:
            # The cadence counts from when Discord had the write, not from when it was
            # planned: a slow request must not bring the next edit closer.
            if update.kind == "send":
                await self.surface.send(update.index, update.content)
                self.shown.append(update.content)
                self.last_edit_at.append(self.clock())
            else:
                await self.surface.edit(update.index, update.content)
                self.shown[update.index] = update.content
                self.last_edit_at[update.index] = self.clock()
        return bool(updates)

    def due_in(self, wanted: Sequence[str]) -> float | None:
        now = self.clock()
        due = next_due(self.shown, wanted, self.last_edit_at, now, self.interval)
        return None if due is None else max(0.0, due - now)

    def next_write_in(self) -> float:
        """How long until the page being written may be edited again (0: now)."""
        if not self.last_edit_at:
            return 0.0
        return max(0.0, self.last_edit_at[-1] + self.interval - self.clock())

    async def finish(self, wanted: Sequence[str]) -> None:
        """Show `wanted` completely, waiting out the cadence where it holds an edit back."""
        while True:
            await self.show(wanted, final=True)
            wait = self.due_in(wanted)
            if wait is None:
                return
            await asyncio.sleep(wait)


async def stream_answer(
    chunks: AsyncIterator[str | Usage],
    surface: Surface,
    *,
    interval: float,
    save: Callable[[str], Awaitable[None]],
    notes: Sequence[str] = (),
    placeholder: bool = True,
    clock: Clock = time.monotonic,
) -> StreamResult:
    """Show `chunks` as they come; return the whole text (raises `AlreadyShown` on a provider
    failure, after the answer shows what was written and why it stopped). `placeholder`:
    show a writing placeholder until the first text (a mention's reply); without it the
    surface's own waiting state stands until then (a deferred interaction)."""
    result = StreamResult()
    changed = asyncio.Event()
    done = asyncio.Event()

    async def read() -> None:
        try:
            async for chunk in chunks:
                if isinstance(chunk, Usage):
                    result.usage = chunk
                    continue
                if chunk:
                    if result.first_token_at is None:
                        result.first_token_at = clock()
                    result.text += chunk
                    changed.set()
        except UserFacingError as exc:
            result.error = exc
        finally:
            done.set()
            changed.set()

    display = _Display(surface, interval, clock)
    reader = asyncio.create_task(read(), name="chat-stream")
    saved = ""
    try:
        while not done.is_set():
            # Cleared before reading the text: a chunk (or the end) arriving while the
            # updates below are on their way sets it again and is never slept through.
            changed.clear()
            text = result.text
            # Where Discord already shows a waiting state ("thinking…" after a deferral),
            # the first write is the first text: no placeholder delays it by a cadence.
            wanted = render(text, done=False) if text or placeholder else []
            if await display.show(wanted, final=False) and text:
                if result.first_shown_at is None:
                    result.first_shown_at = clock()
                if text != saved:
                    saved = text
                    await save(saved)
            # Sleep until something can be written: text arriving sooner than the cadence
            # allows is not rendered again for nothing (rendering is O(text)).
            wait = display.due_in(wanted)
            if wait is None:
                await changed.wait()
                wait = display.next_write_in()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), wait)
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    await display.finish(_final_pages(result, notes))
    if result.text != saved:
        await save(result.text)
    if result.error is not None:
        raise AlreadyShown(result.error)
    return result


def _final_pages(result: StreamResult, notes: Sequence[str]) -> list[str]:
    lines = list(notes)
    if result.error is not None and not result.text:
        return render(f"⚠️ {result.error.user_message}", done=True, note="\n".join(lines) or None)
    if result.error is not None:
        lines.append(f"⚠️ 답변이 중간에 끊겼어요: {result.error.user_message}")
    return render(result.text, done=True, note="\n".join(lines) or None)
