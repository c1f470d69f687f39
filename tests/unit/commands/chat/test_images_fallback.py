"""A model that refuses images is asked again with the text only, and the user is told."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.metrics import Metrics
from commands.chat._cog import IMAGES_DROPPED, ChatCommands
from services.errors import ImagesNotSupported
from services.openai_service import ImagePart, Turn


class TextOnlyModel:
    def __init__(self) -> None:
        self.calls: list[list[Turn]] = []

    async def stream(self, turns):
        self.calls.append(list(turns))
        if turns[-1].images:
            raise ImagesNotSupported("image input is not supported", provider="openai")
        yield "글만 보고 답했어요."


def cog() -> ChatCommands:
    bot = SimpleNamespace(
        settings=SimpleNamespace(chat=SimpleNamespace(chat_model="text-only")),
        metrics=Metrics("1"),
        budget=None,  # nothing counted: quotas are tested in tests/integration
    )
    return ChatCommands(bot)  # type: ignore[arg-type]


async def collect(chunks) -> list[object]:
    return [chunk async for chunk in chunks]


async def test_images_are_dropped_and_the_user_told():
    model, notes = TextOnlyModel(), []
    turns = [Turn("system", "s"), Turn("user", "이게 뭐야?", (ImagePart(b"png", "image/png"),))]
    assert await collect(cog()._chunks(model, turns, notes)) == ["글만 보고 답했어요."]
    assert notes == [IMAGES_DROPPED]
    assert [t.images for t in model.calls[1]] == [(), ()], "asked again without the image"
    assert model.calls[1][-1].text == "이게 뭐야?"


async def test_without_images_the_refusal_is_not_retried():
    model, notes = TextOnlyModel(), []

    class Refusing(TextOnlyModel):
        async def stream(self, turns):
            raise ImagesNotSupported("no", provider="openai")
            yield  # pragma: no cover - makes this an async generator

    with pytest.raises(ImagesNotSupported):
        await collect(cog()._chunks(Refusing(), [Turn("user", "글만")], notes))
    assert notes == []
    assert model.calls == []
