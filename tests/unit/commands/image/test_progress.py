"""The placeholder's progress edits: shown per attempt and on a tick, never after stop()."""

from __future__ import annotations

import asyncio

from commands.image._cog import Progress
from services.errors import ProviderUnavailable


class Interaction:
    def __init__(self) -> None:
        self.edits: list[str] = []
        self.third_edit = asyncio.Event()

    async def edit_original_response(self, *, content: str, allowed_mentions: object) -> None:
        self.edits.append(content)
        if len(self.edits) >= 3:
            self.third_edit.set()


async def test_each_attempt_is_shown_and_ticks_repeat_it():
    interaction = Interaction()
    progress = Progress(interaction, count=1, interval=0.05)  # type: ignore[arg-type]
    await progress.attempt("minimax", ())
    assert len(interaction.edits) == 1  # shown at once
    await asyncio.wait_for(interaction.third_edit.wait(), 2)  # then on every tick
    await progress.stop()
    assert all(e.startswith("⏳ MiniMax로 이미지 1장을") for e in interaction.edits)


async def test_nothing_is_edited_after_stop_even_if_another_provider_is_tried():
    interaction = Interaction()
    progress = Progress(interaction, count=2, interval=0.05)  # type: ignore[arg-type]
    await progress.attempt("minimax", ())
    await progress.stop()
    failures = [("minimax", ProviderUnavailable("down", provider="minimax"))]
    await progress.attempt("stability", failures)
    await asyncio.sleep(0.12)
    assert interaction.edits == ["⏳ MiniMax로 이미지 2장을 그리는 중이에요… (0초 경과)"]
