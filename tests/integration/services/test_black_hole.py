"""Every provider client against a provider that accepts the connection and never answers
(sandbox/black_hole.py): each gives up on its own read timeout with its timeout error and
its Korean message; none hangs. The outer deadline is generous on purpose: what is checked
is the outcome and that the request went out, not how fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sandbox.black_hole import BlackHole
from services.errors import ProviderError, ProviderTimeout
from services.image_types import ImageRequest, RetryPolicy
from services.minimax_image import MiniMaxImage
from services.minimax_video import MiniMaxVideo, VideoRequest
from services.openai_service import ChatOptions, OpenAIChat, Turn
from services.stability_image import StabilityImage

KEY = "sk-black-hole-test-key"
GENEROUS_S = 20.0  # far beyond each client's own timeout below
ONCE = RetryPolicy(attempts=1, initial_s=0.01, max_s=0.01)
TOO_LATE = "AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."


@pytest.fixture
async def hole() -> AsyncIterator[BlackHole]:
    async with BlackHole() as server:
        yield server


async def error_of(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await asyncio.wait_for(call, GENEROUS_S)
    return caught.value


async def test_chat_gives_up_with_a_timeout(hole: BlackHole) -> None:
    chat = OpenAIChat(
        api_key=KEY,
        base_url=f"{hole.base_url}/v1",
        options=ChatOptions(model="gpt-test", temperature=0.7, max_output_tokens=50, api="chat"),
        timeout_s=0.5,
        max_retries=0,
    )

    async def read_all() -> None:
        async for _ in chat.stream([Turn("user", "안녕")]):
            pass

    error = await error_of(read_all())
    assert type(error) is ProviderTimeout
    assert (hole.connections, hole.bytes_received > 0) == (1, True)
    assert KEY not in f"{error} {error.log_message}"


@pytest.mark.parametrize("client_type", [MiniMaxImage, StabilityImage])
async def test_image_clients_give_up_with_a_timeout(hole: BlackHole, client_type) -> None:
    client = client_type(api_key=KEY, base_url=hole.base_url, timeout_s=0.5, retry=ONCE)
    error = await error_of(client.generate(ImageRequest("바다")))
    assert (type(error), error.user_message) == (ProviderTimeout, TOO_LATE)
    assert (hole.connections, hole.bytes_received > 0) == (1, True)


async def test_video_create_gives_up_with_a_timeout_and_is_not_retried(hole: BlackHole) -> None:
    """A create that timed out may have made a paid task: asked once, never twice."""
    client = MiniMaxVideo(KEY, base_url=hole.base_url, timeout_s=0.5)  # default retries
    error = await error_of(client.create(VideoRequest("파도")))
    assert type(error) is ProviderTimeout
    assert hole.connections == 1
