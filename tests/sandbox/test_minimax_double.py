"""FakeMiniMax answers in MiniMax's documented shapes, validates like it, and obeys its markers."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.providers import FakeMiniMax, MiniMaxReply
from sandbox.providers._png import noise_png, seed_colour, solid_png

from .png_check import decode_png

KEY = "sandbox-minimax-key-test"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
async def fake() -> AsyncIterator[FakeMiniMax]:
    async with FakeMiniMax(slow_delay_s=5.0) as server:
        yield server
    assert server.errors == []


async def post(fake: FakeMiniMax, body: object, *, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{fake.base_url}/v1/image_generation", json=body, headers=headers)


def body(**fields: object) -> dict[str, object]:
    return {"model": "image-01", "prompt": "고양이", "response_format": "base64", **fields}


def test_solid_png_is_a_real_png_whose_colour_follows_the_seed():
    png = solid_png(64, 64, 3)
    assert png_size(png) == (64, 64)
    idat_len = struct.unpack(">I", png[33:37])[0]
    pixels = zlib.decompress(png[41 : 41 + idat_len])
    assert len(pixels) == 64 * (1 + 3 * 64)
    assert pixels[1:4] == bytes(seed_colour(3))
    assert solid_png(64, 64, 3) == png and solid_png(64, 64, 4) != png


def test_noise_png_is_a_real_png_too_random_to_compress():
    png = noise_png(512, 512, 3)
    width, height, rows = decode_png(png)
    assert (width, height) == (512, 512)
    assert len(png) == 787_247  # raw pixels are 786_432 bytes: zlib saved nothing
    assert len(set(rows[1:1537])) > 200, "the first row's bytes are noise, not one colour"
    assert noise_png(512, 512, 3) == png and noise_png(512, 512, 4) != png
    assert decode_png(noise_png(7, 5, 1))[:2] == (7, 5)


async def test_base64_answer_has_the_documented_shape(fake):
    response = await post(fake, body(n=3, seed=11, aspect_ratio="16:9"))
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"id", "data", "metadata", "base_resp"}
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert answer["metadata"] == {"success_count": "3", "failed_count": "0"}
    assert response.headers["trace-id"] == answer["id"] == fake.requests[-1].request_id
    images = [base64.b64decode(item) for item in answer["data"]["image_base64"]]
    assert [png_size(image) for image in images] == [(64, 64)] * 3
    assert images == [solid_png(64, 64, 11 + i) for i in range(3)]
    record = fake.requests[-1]
    assert record.body["n"] == 3 and "authorization" not in record.headers


async def test_url_answer_points_back_at_the_double(fake):
    response = await post(fake, body(response_format="url"))
    (url,) = response.json()["data"]["image_urls"]
    assert url.startswith(fake.base_url + "/files/")
    async with httpx.AsyncClient() as client:
        image = await client.get(url)
    assert image.headers["content-type"] == "image/png" and png_size(image.content) == (64, 64)


@pytest.mark.parametrize("key", [None, "bad-key"])
async def test_missing_or_bad_key_is_status_1004_on_http_200(fake, key):
    response = await post(fake, body(), key=key)
    assert response.status_code == 200
    assert response.json()["base_resp"]["status_code"] == 1004
    assert "login fail" in response.json()["base_resp"]["status_msg"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"model": "image-02"}, "model must be one of"),
        ({"prompt": ""}, "prompt is required"),
        ({"prompt": "가" * 1501}, "at most 1500"),
        ({"aspect_ratio": "4:5"}, "aspect_ratio must be one of"),
        ({"n": 0}, "n must be an integer in 1..9"),
        ({"n": 10}, "n must be an integer in 1..9"),
        ({"n": True}, "n must be an integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"response_format": "png"}, "response_format must be url or base64"),
        ({"prompt_optimizer": "yes"}, "prompt_optimizer must be a boolean"),
    ],
)
async def test_invalid_parameters_are_status_2013(fake, fields, problem):
    response = await post(fake, body(**fields))
    base = response.json()["base_resp"]
    assert response.status_code == 200 and base["status_code"] == 2013
    assert problem in base["status_msg"]


async def test_prompt_of_exactly_1500_characters_and_nine_images_are_accepted(fake):
    response = await post(fake, body(prompt="가" * 1500, n=9))
    assert len(response.json()["data"]["image_base64"]) == 9


async def test_a_body_that_is_not_json_is_2013(fake):
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake.base_url}/v1/image_generation",
            content=b"prompt=x",
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert response.json()["base_resp"]["status_code"] == 2013


@pytest.mark.parametrize("code", [1002, 1004, 1008, 1026, 1027, 2013, 2049, 2056])
async def test_status_markers(fake, code):
    response = await post(fake, body(prompt=f"고양이 [[{code}]]"))
    answer = response.json()
    assert response.status_code == 200
    assert answer["base_resp"]["status_code"] == code and "data" not in answer
    assert answer["id"] == fake.requests[-1].request_id


async def test_500_marker_is_a_plain_text_http_500(fake):
    response = await post(fake, body(prompt="[[500]]"))
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert response.headers["trace-id"] == fake.requests[-1].request_id


async def test_refuse_marker_makes_no_image(fake):
    answer = (await post(fake, body(prompt="[[refuse]]", n=2))).json()
    assert answer["base_resp"]["status_code"] == 0
    assert answer["metadata"] == {"success_count": "0", "failed_count": "2"}
    assert answer["data"]["image_base64"] == []


async def test_slow_marker_outlasts_a_short_client_timeout(fake):
    with pytest.raises(httpx.ReadTimeout):
        async with httpx.AsyncClient(timeout=0.3) as client:
            await client.post(
                f"{fake.base_url}/v1/image_generation",
                json=body(prompt="[[slow]]"),
                headers={"Authorization": f"Bearer {KEY}"},
            )
    assert fake.slow_delay_s > 0.3


async def test_scripted_replies_come_first_and_in_order(fake):
    fake.script(MiniMaxReply.status(1002), MiniMaxReply(success_count=1, counts_as_numbers=True))
    first = (await post(fake, body(prompt="[[2056]]"))).json()
    second = (await post(fake, body(n=2))).json()
    assert first["base_resp"]["status_code"] == 1002
    assert second["metadata"] == {"success_count": 1, "failed_count": 1}
    assert fake.scripted_left == 0
    assert [r.status for r in fake.requests] == [200, 200]


async def test_big_marker_serves_large_valid_pngs_that_follow_the_seed(fake):
    answer = (await post(fake, body(prompt="고양이 [[big]]", n=2, seed=21))).json()
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert answer["metadata"] == {"success_count": "2", "failed_count": "0"}
    images = [base64.b64decode(item) for item in answer["data"]["image_base64"]]
    assert [decode_png(image)[:2] for image in images] == [(512, 512), (512, 512)]
    assert [len(image) > 300_000 for image in images] == [True, True]
    assert images == [noise_png(512, 512, 21), noise_png(512, 512, 22)]


async def test_big_marker_by_url_and_scripted(fake):
    fake.script(MiniMaxReply(big=True))
    scripted = (await post(fake, body(seed=5))).json()
    assert base64.b64decode(scripted["data"]["image_base64"][0]) == noise_png(512, 512, 5)
    answer = (await post(fake, body(prompt="[[BIG]]", response_format="url"))).json()
    (url,) = answer["data"]["image_urls"]
    async with httpx.AsyncClient() as client:
        image = await client.get(url)
    assert image.headers["content-type"] == "image/png"
    assert decode_png(image.content)[:2] == (512, 512) and len(image.content) == 787_247


async def test_without_big_the_images_stay_small(fake):
    answer = (await post(fake, body(prompt="고양이", seed=21))).json()
    (image,) = [base64.b64decode(item) for item in answer["data"]["image_base64"]]
    assert decode_png(image)[:2] == (64, 64) and len(image) < 1_000
    refused = (await post(fake, body(prompt="[[refuse]] [[big]]", n=2))).json()
    assert refused["data"]["image_base64"] == [], "the first marker wins, as documented"
