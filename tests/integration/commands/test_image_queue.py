"""/이미지 beyond IMAGE_MAX_RUNNING in a real single-process bot: requests wait their turn
round-robin per user, each placeholder says its place and is corrected when it moves."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.providers import FakeMiniMax, FakeStability
from tests.image_results import finished
from tests.integration.bot.inprocess import discord_double, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")


def places_shown(fake, handle) -> list[str]:
    """The places the request's placeholder showed while it waited, in order."""
    tokens = {r.token for r in handle._interaction.recipients}
    texts = [
        str(r.body.get("content"))
        for r in fake.requests
        if r.method == "PATCH"
        and any(token in r.path for token in tokens)
        and isinstance(r.body, dict)
        and "차례를 기다리는 중" in str(r.body.get("content"))
    ]
    return [text.split("(")[1].split(")")[0] for text in texts]


async def test_waiting_images_are_served_round_robin_and_told_their_place(tmp_path):
    minimax, stability = FakeMiniMax(slow_delay_s=1.5), FakeStability()
    await minimax.start()
    await stability.start()
    settings = {
        "health_file": str(tmp_path / "health.json"),
        "minimax_api_key": "mm-queue-key-0123456789",
        "stability_api_key": "sk-queue-key-0123456789",
        "minimax_base_url": minimax.base_url,
        "stability_base_url": stability.base_url,
        "image_timeout": 10.0,
        "image_max_running": 1,
        "limit_image_per_minute": 0,
    }
    try:
        async with (
            discord_double() as fake,
            running_bot(("commands.utility", "commands.image"), **settings),
        ):

            async def ask(prompt: str, user: str):
                handle = await fake.send_command(
                    channel="general", command="이미지", options={"설명": prompt}, user=user
                )
                await handle.wait_for_response(timeout=5, settle=0.2)  # acknowledged
                return handle

            a1 = await ask("[[slow]] 하나", "a")
            a2 = await ask("[[slow]] 둘", "a")
            b1 = await ask("[[slow]] 셋", "b")
            results = await asyncio.gather(*(finished(h, timeout=30) for h in (a1, a2, b1)))
            assert all(r.embeds for r in results)
            drawn = [r.body["prompt"] for r in minimax.requests if "image" in r.path]
            assert drawn == ["[[slow]] 하나", "[[slow]] 셋", "[[slow]] 둘"]
            # a2 waited first in line, then b1 (who had no turn yet) went ahead of it.
            assert places_shown(fake, a2) == ["대기 1번째", "대기 2번째", "대기 1번째"]
            assert places_shown(fake, b1) == ["대기 1번째"]
    finally:
        await minimax.stop()
        await stability.stop()
