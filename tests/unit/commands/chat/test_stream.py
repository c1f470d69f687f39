"""Driving a streamed answer onto a surface: it always finishes, whatever the stream does."""

from __future__ import annotations

import asyncio

import pytest

from bot.answering import AlreadyShown
from commands.chat._pages import WRITING_MARKER
from commands.chat._stream import stream_answer
from services.errors import ProviderRateLimited, ProviderUnavailable
from services.openai_service import Usage


class Surface:
    """Records what Discord would show; `gate`, when set, holds every write until released."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.writes: list[tuple[str, int, str]] = []
        self.gate: asyncio.Event | None = None

    async def send(self, index: int, content: str) -> None:
        await self._hold()
        assert index == len(self.pages)
        self.pages.append(content)
        self.writes.append(("send", index, content))

    async def edit(self, index: int, content: str) -> None:
        await self._hold()
        self.pages[index] = content
        self.writes.append(("edit", index, content))

    async def _hold(self) -> None:
        if self.gate is not None:
            await self.gate.wait()


async def chunks_of(*parts: object, delay: float = 0.0, error: Exception | None = None):
    for part in parts:
        if delay:
            await asyncio.sleep(delay)
        yield part
    if error is not None:
        raise error


async def run(surface: Surface, chunks, **kwargs):
    saved: list[str] = []

    async def save(text: str) -> None:
        saved.append(text)

    result = await asyncio.wait_for(
        stream_answer(chunks, surface, interval=0.01, save=save, **kwargs), timeout=5
    )
    return result, saved


async def test_the_answer_ends_complete_without_the_marker():
    surface = Surface()
    result, saved = await run(surface, chunks_of("안녕", "하세요", "!", Usage(12, 3), delay=0.02))
    assert surface.pages == ["안녕하세요!"]
    assert surface.writes[0] == ("send", 0, "✍️ 답변을 쓰는 중…")
    assert result.text == "안녕하세요!" and result.usage == Usage(12, 3)
    assert saved[-1] == "안녕하세요!"


async def test_the_end_arriving_during_a_write_is_not_slept_through():
    surface = Surface()
    surface.gate = asyncio.Event()

    async def release_after_the_stream_ended() -> None:
        await asyncio.sleep(0.1)  # the stream has ended while the first write hangs
        surface.gate.set()

    releaser = asyncio.create_task(release_after_the_stream_ended())
    result, _ = await run(surface, chunks_of("짧은 답"))
    await releaser
    assert surface.pages == ["짧은 답"]
    assert result.text == "짧은 답"


async def test_a_cut_stream_keeps_its_text_and_says_why():
    surface = Surface()
    cut = ProviderUnavailable("stream cut", provider="openai", mid_stream=True)
    with pytest.raises(AlreadyShown) as raised:
        await run(surface, chunks_of("절반까지 ", "썼어요", error=cut))
    assert raised.value.cause is cut
    (page,) = surface.pages
    assert page.startswith("절반까지 썼어요\n\n⚠️ 답변이 중간에 끊겼어요: ")
    assert cut.user_message in page
    assert WRITING_MARKER not in page


async def test_a_failure_before_any_text_replaces_the_placeholder():
    surface = Surface()
    limited = ProviderRateLimited("429", provider="openai")
    with pytest.raises(AlreadyShown):
        await run(surface, chunks_of(error=limited))
    assert surface.pages == [f"⚠️ {limited.user_message}"]


async def test_notes_follow_the_answer():
    surface = Surface()
    notes = ["ℹ️ 이미지는 빼고 답했어요."]
    await run(surface, chunks_of("답"), notes=notes)
    assert surface.pages == ["답\n\nℹ️ 이미지는 빼고 답했어요."]


async def test_a_long_answer_continues_in_new_messages_each_within_the_limit():
    surface = Surface()
    text = ("문장입니다. " * 50 + "\n\n") * 12  # about 4,000 characters
    parts = [text[i : i + 97] for i in range(0, len(text), 97)]
    result, _ = await run(surface, chunks_of(*parts))
    assert len(surface.pages) >= 3
    assert all(len(page) <= 2000 for page in surface.pages)
    no_space = str.maketrans("", "", " \n")
    assert "".join(surface.pages).translate(no_space) == text.translate(no_space)
    assert result.text == text


async def test_without_a_placeholder_the_first_write_is_the_first_text():
    surface = Surface()
    await run(surface, chunks_of("첫", " 글자", delay=0.02), placeholder=False)
    assert surface.writes[0][:2] == ("send", 0)
    assert surface.writes[0][2].startswith("첫")
    assert surface.pages == ["첫 글자"]
