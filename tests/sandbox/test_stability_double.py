"""FakeStability answers in Stability's v2beta shapes, validates like it and obeys its markers."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.providers import FakeStability, StabilityReply
from sandbox.providers._png import noise_png, solid_png

from .png_check import decode_png

KEY = "sandbox-stability-key-test"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    return struct.unpack(">II", data[16:24])


@pytest.fixture
async def fake() -> AsyncIterator[FakeStability]:
    async with FakeStability(slow_delay_s=5.0) as server:
        yield server
    assert server.errors == []


async def post(
    fake: FakeStability,
    fields: dict[str, str] | None = None,
    *,
    endpoint: str = "core",
    key: str | None = KEY,
    accept: str | None = "image/*",
    timeout: float = 10,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if accept is not None:
        headers["Accept"] = accept
    parts = {name: (None, value) for name, value in {"prompt": "a cat", **(fields or {})}.items()}
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await client.post(
            f"{fake.base_url}/v2beta/stable-image/generate/{endpoint}", files=parts, headers=headers
        )


async def test_image_accept_answers_png_bytes_with_finish_reason_and_seed(fake):
    response = await post(fake, {"seed": "42", "aspect_ratio": "9:21"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["finish-reason"] == "SUCCESS" and response.headers["seed"] == "42"
    assert png_size(response.content) == (64, 64) and response.content == solid_png(64, 64, 42)
    record = fake.requests[-1]
    assert record.content_type == "multipart/form-data"
    assert record.body == {"prompt": "a cat", "seed": "42", "aspect_ratio": "9:21"}
    assert "authorization" not in record.headers


async def test_no_accept_header_means_image_bytes(fake):
    response = await post(fake, accept=None)
    assert response.headers["content-type"] == "image/png"


async def test_json_accept_answers_base64_finish_reason_and_seed(fake):
    response = await post(fake, {"seed": "7"}, accept="application/json")
    answer = response.json()
    assert set(answer) == {"image", "finish_reason", "seed"}
    assert answer["finish_reason"] == "SUCCESS" and answer["seed"] == 7
    assert base64.b64decode(answer["image"]) == solid_png(64, 64, 7)


async def test_seed_zero_or_none_is_random_and_reported(fake):
    first = await post(fake, {"seed": "0"})
    second = await post(fake)
    assert int(first.headers["seed"]) > 0 and first.headers["seed"] != second.headers["seed"]


@pytest.mark.parametrize("endpoint", ["core", "ultra", "sd3"])
async def test_every_endpoint_answers(fake, endpoint):
    assert (await post(fake, endpoint=endpoint)).status_code == 200


async def test_json_body_is_refused_multipart_is_required(fake):
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake.base_url}/v2beta/stable-image/generate/core",
            json={"prompt": "a cat"},
            headers={"Authorization": f"Bearer {KEY}", "Accept": "image/*"},
        )
    assert response.status_code == 400
    answer = response.json()
    assert answer["name"] == "bad_request" and answer["id"] == fake.requests[-1].request_id
    assert answer["errors"] == ["content-type: must be multipart/form-data"]


@pytest.mark.parametrize("key", [None, "bad-key"])
async def test_missing_or_bad_key_is_401(fake, key):
    response = await post(fake, key=key)
    assert response.status_code == 401 and response.json()["name"] == "unauthorized"


@pytest.mark.parametrize(
    ("fields", "endpoint", "problem"),
    [
        ({"prompt": ""}, "core", "prompt: cannot be empty"),
        ({"prompt": "a" * 10_001}, "core", "prompt: must be at most 10000"),
        ({"aspect_ratio": "4:3"}, "core", "aspect_ratio: must be one of"),
        ({"seed": "4294967295"}, "core", "seed: must be an integer"),
        ({"seed": "-1"}, "core", "seed: must be an integer"),
        ({"output_format": "jpeg"}, "core", "output_format"),
        ({"style_preset": "anime"}, "ultra", "style_preset: only core"),
        ({"style_preset": "watercolour"}, "core", "style_preset: only core"),
        ({"model": "sd3.5-large"}, "core", "model: only sd3"),
        ({"model": "sd4"}, "sd3", "model: only sd3"),
    ],
)
async def test_invalid_fields_are_400(fake, fields, endpoint, problem):
    response = await post(fake, fields, endpoint=endpoint)
    assert response.status_code == 400
    assert response.json()["name"] == "bad_request" and problem in response.json()["errors"][0]


async def test_valid_options_are_accepted(fake):
    assert (await post(fake, {"style_preset": "anime", "prompt": "a" * 10_000})).status_code == 200
    for model in ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"):
        assert (await post(fake, {"model": model}, endpoint="sd3")).status_code == 200


async def test_unknown_accept_is_400(fake):
    assert (await post(fake, accept="text/html")).status_code == 400


@pytest.mark.parametrize(
    ("marker", "status", "name"),
    [
        ("429", 429, "rate_limit_exceeded"),
        ("402", 402, "payment_required"),
        ("403", 403, "content_moderation"),
        ("422", 422, "invalid_language"),
        ("500", 500, "internal_error"),
    ],
)
async def test_error_markers(fake, marker, status, name):
    response = await post(fake, {"prompt": f"a cat [[{marker}]]"})
    answer = response.json()
    assert response.status_code == status and answer["name"] == name
    assert answer["id"] == fake.requests[-1].request_id and answer["errors"]


async def test_filtered_marker_is_a_200_with_content_filtered(fake):
    response = await post(fake, {"prompt": "[[filtered]]"})
    assert response.status_code == 200 and response.headers["finish-reason"] == "CONTENT_FILTERED"
    json_answer = (await post(fake, {"prompt": "[[filtered]]"}, accept="application/json")).json()
    assert json_answer["finish_reason"] == "CONTENT_FILTERED"


async def test_slow_marker_outlasts_a_short_client_timeout(fake):
    with pytest.raises(httpx.ReadTimeout):
        await post(fake, {"prompt": "[[slow]]"}, timeout=0.3)


async def test_english_only_refuses_korean_prompts():
    async with FakeStability(english_only=True) as fake:
        assert (await post(fake, {"prompt": "고양이"})).status_code == 422
        assert (await post(fake, {"prompt": "a cat"})).status_code == 200


async def test_scripted_replies_come_first(fake):
    fake.script(StabilityReply(status=429, headers={"retry-after": "0"}))
    response = await post(fake, {"prompt": "[[402]]"})
    assert response.status_code == 429 and response.headers["retry-after"] == "0"
    assert fake.scripted_left == 0 and (await post(fake)).status_code == 200


async def test_big_marker_serves_a_large_valid_png_that_follows_the_seed(fake):
    response = await post(fake, {"prompt": "a cat [[big]]", "seed": "42"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["finish-reason"] == "SUCCESS" and response.headers["seed"] == "42"
    assert decode_png(response.content)[:2] == (512, 512)
    assert len(response.content) == 787_247 and len(response.content) > 300_000
    assert response.content == noise_png(512, 512, 42)
    as_json = await post(fake, {"prompt": "[[big]]", "seed": "42"}, accept="application/json")
    assert base64.b64decode(as_json.json()["image"]) == noise_png(512, 512, 42)


async def test_big_scripted_and_other_markers_unchanged(fake):
    fake.script(StabilityReply(big=True))
    assert decode_png((await post(fake, {"seed": "9"})).content)[:2] == (512, 512)
    small = await post(fake, {"seed": "9"})
    assert decode_png(small.content)[:2] == (64, 64) and small.content == solid_png(64, 64, 9)
    filtered = await post(fake, {"prompt": "[[filtered]] [[big]]", "seed": "9"})
    assert filtered.headers["finish-reason"] == "CONTENT_FILTERED"
    assert len(filtered.content) < 1_000, "the first marker wins, as documented"
