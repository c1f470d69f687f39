"""The demo saves the files of an answer from the Discord double's CDN, never overwriting."""

from __future__ import annotations

import argparse
import io
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.demo import Demo
from sandbox.discord import FakeDiscord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=["이미지생성-1"]) as server:
        yield server
    assert server.internal_errors == []


def upload(fake: FakeDiscord, name: str, data: bytes) -> dict[str, object]:
    """An attachment as the double stores one a bot uploaded (its url served by /attachments)."""
    return fake.state.store.new_attachment(fake.channel_id("이미지생성-1"), name, data, None)


@pytest.fixture
def demo_on(fake: FakeDiscord) -> Iterator[Callable[..., tuple[Demo, io.StringIO]]]:
    """A Demo on the started double (nothing else started); its temp folder removed after."""
    made: list[Demo] = []

    def make(save_dir: Path | None) -> tuple[Demo, io.StringIO]:
        out = io.StringIO()
        args = argparse.Namespace(json=False, save_dir=save_dir, fleet=False, channels=None)
        demo = Demo(args, out)
        demo.fake = fake
        made.append(demo)
        return demo, out

    yield make
    for demo in made:
        shutil.rmtree(demo.workdir, ignore_errors=True)


def result(*messages) -> SimpleNamespace:
    return SimpleNamespace(messages=list(messages), attachments=[])


async def test_each_file_is_saved_once_under_its_message_id_without_overwriting(
    fake, demo_on, tmp_path
):
    demo, _ = demo_on(tmp_path / "images")
    first, second = upload(fake, "image-1.png", b"one"), upload(fake, "image-1.png", b"two")
    saved = await demo._save_files(
        result({"id": "77", "attachments": [first, second]}, {"id": "78", "attachments": []})
    )
    assert saved == {
        first["id"]: tmp_path / "images" / "77-image-1.png",
        second["id"]: tmp_path / "images" / "77-image-1-2.png",
    }
    assert (tmp_path / "images" / "77-image-1.png").read_bytes() == b"one"
    assert (tmp_path / "images" / "77-image-1-2.png").read_bytes() == b"two"
    # Shown again (a press edited the message but kept the file): the same path, no copy.
    again = await demo._save_files(result({"id": "77", "attachments": [first]}))
    assert again == {first["id"]: tmp_path / "images" / "77-image-1.png"}
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "77-image-1-2.png",
        "77-image-1.png",
    ]


async def test_the_default_folder_is_images_in_the_demo_folder(fake, demo_on):
    demo, _ = demo_on(None)
    file = upload(fake, "cat.png", b"\x89PNG")
    saved = await demo._save_files(result({"id": "5", "attachments": [file]}))
    assert saved == {file["id"]: demo.workdir / "images" / "5-cat.png"}
    assert (demo.workdir / "images" / "5-cat.png").read_bytes() == b"\x89PNG"


async def test_a_missing_file_is_reported_and_a_foreign_url_never_fetched(fake, demo_on, tmp_path):
    demo, out = demo_on(tmp_path)
    gone = {**upload(fake, "gone.png", b"x"), "id": "1"}
    gone["url"] = f"{fake.base_url}/attachments/1/999999/gone.png"
    foreign = {"id": "2", "filename": "far.png", "url": "https://cdn.example.com/far.png"}
    saved = await demo._save_files(result({"id": "9", "attachments": [gone, foreign]}))
    assert saved == {}
    assert list(tmp_path.iterdir()) == []
    assert out.getvalue().startswith("error: could not save gone.png: ")
    assert "404" in out.getvalue() and "far.png" not in out.getvalue()
