"""Every provider client keeps at most `max_concurrent` requests in flight; the rest wait
(many requests piled into one httpx pool starved the event loop at 1,000 video jobs)."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from services.image_types import ImageRequest
from services.minimax_image import MiniMaxImage
from services.minimax_video import MiniMaxVideo
from services.stability_image import StabilityImage

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class SlowProvider(httpx.AsyncBaseTransport):
    """Answers every request after a pause, counting how many are in flight at once."""

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.in_flight = 0
        self.most = 0
        self.served = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.02)
        self.in_flight -= 1
        self.served += 1
        return httpx.Response(
            self.answer.status_code, headers=self.answer.headers, content=self.answer.content
        )


def minimax_image_answer() -> httpx.Response:
    body = {
        "id": "r",
        "data": {"image_base64": [base64.b64encode(PNG).decode()]},
        "metadata": {"success_count": 1, "failed_count": 0},
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    return httpx.Response(200, content=json.dumps(body).encode())


async def run_minimax_image(transport: SlowProvider) -> None:
    client = MiniMaxImage(api_key="k", transport=transport, max_concurrent=3)
    await asyncio.gather(*(client.generate(ImageRequest("고양이")) for _ in range(12)))
    await client.aclose()


async def run_stability(transport: SlowProvider) -> None:
    client = StabilityImage(api_key="k", transport=transport, max_concurrent=3)
    await asyncio.gather(*(client.generate(ImageRequest("cat")) for _ in range(12)))
    await client.aclose()


async def run_minimax_video(transport: SlowProvider) -> None:
    client = MiniMaxVideo("k", transport=transport, max_concurrent=3)
    await asyncio.gather(*(client.query("1") for _ in range(12)))
    await client.aclose()


VIDEO_STATUS = {
    "task_id": "1",
    "status": "Processing",
    "file_id": "",
    "base_resp": {"status_code": 0, "status_msg": "success"},
}


@pytest.mark.parametrize(
    ("run", "answer"),
    [
        (run_minimax_image, minimax_image_answer()),
        (
            run_stability,
            httpx.Response(200, headers={"finish-reason": "SUCCESS", "seed": "1"}, content=PNG),
        ),
        (run_minimax_video, httpx.Response(200, content=json.dumps(VIDEO_STATUS).encode())),
    ],
)
async def test_at_most_three_requests_in_flight_and_all_served(run, answer):
    transport = SlowProvider(answer)
    await run(transport)
    assert (transport.most, transport.served) == (3, 12)
