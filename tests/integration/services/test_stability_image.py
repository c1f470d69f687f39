"""StabilityImage against the loopback Stability double (sandbox/providers)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable

import pytest

from sandbox.providers import FakeStability, StabilityReply
from sandbox.providers._png import solid_png
from services.errors import (
    ContentRefused,
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import ImageRequest, RetryPolicy, nearest_ratio
from services.stability_image import ASPECT_RATIOS, StabilityImage

KEY = "sk-sandbox-stability-key-integration-0123456789"
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02)


def assert_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    return struct.unpack(">II", data[16:24])


@pytest.fixture
async def fake() -> AsyncIterator[FakeStability]:
    async with FakeStability(slow_delay_s=5.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., StabilityImage]]:
    made: list[StabilityImage] = []

    def build(fake: FakeStability, **options) -> StabilityImage:
        options.setdefault("retry", FAST)
        client = StabilityImage(api_key=options.pop("key", KEY), base_url=fake.base_url, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


async def failure(client: StabilityImage, request: ImageRequest) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await client.generate(request)
    error = caught.value
    for text in (str(error), error.log_message, error.user_message, repr(error)):
        assert KEY not in text
    return error


async def test_happy_path_returns_real_pngs_count_and_seeds(fake, make):
    result = await make(fake).generate(ImageRequest("a whale", count=3, seed=42))
    assert [assert_png(image.data) for image in result.images] == [(64, 64)] * 3
    assert [image.seed for image in result.images] == [42, 43, 44]
    assert [image.data for image in result.images] == [solid_png(64, 64, s) for s in (42, 43, 44)]
    assert {image.mime_type for image in result.images} == {"image/png"}
    assert (result.provider, result.model, result.seed) == ("stability", "core", 42)
    assert result.aspect_ratio == "1:1" and result.notes == ()
    assert len(fake.requests) == 3
    assert sorted(r.body["seed"] for r in fake.requests) == ["42", "43", "44"]


async def test_without_a_seed_the_provider_seed_is_reported(fake, make):
    result = await make(fake).generate(ImageRequest("a whale"))
    assert "seed" not in fake.requests[0].body
    assert result.seed is not None and result.seed == result.images[0].seed > 0


async def test_request_is_multipart_with_the_documented_fields(fake, make):
    await make(fake).generate(
        ImageRequest("a cat", aspect_ratio="9:21", negative_prompt="blur", style_preset="anime")
    )
    (record,) = fake.requests
    assert record.path == "/v2beta/stable-image/generate/core"
    assert record.content_type == "multipart/form-data"
    assert record.headers["accept"] == "image/*"
    assert record.body == {
        "prompt": "a cat",
        "aspect_ratio": "9:21",
        "output_format": "png",
        "negative_prompt": "blur",
        "style_preset": "anime",
    }


@pytest.mark.parametrize(
    ("model", "path", "model_field"),
    [
        ("ultra", "/ultra", None),
        ("sd3.5-large", "/sd3", "sd3.5-large"),
        ("sd3.5-large-turbo", "/sd3", "sd3.5-large-turbo"),
        ("sd3.5-medium", "/sd3", "sd3.5-medium"),
        ("sd3.5-flash", "/sd3", "sd3.5-flash"),
    ],
)
async def test_the_model_picks_the_endpoint(fake, make, model, path, model_field):
    result = await make(fake).generate(ImageRequest("a cat", model=model, style_preset="anime"))
    record = fake.requests[-1]
    assert record.path == f"/v2beta/stable-image/generate{path}"
    assert record.body.get("model") == model_field and "style_preset" not in record.body
    assert result.model == model
    assert result.notes == (f"{model} 모델은 스타일 프리셋을 지원하지 않아 빼고 만들었어요.",)


async def test_an_unsupported_ratio_is_mapped_with_a_note(fake, make):
    result = await make(fake).generate(ImageRequest("a cat", aspect_ratio="4:3"))
    assert result.aspect_ratio == "5:4" and fake.requests[-1].body["aspect_ratio"] == "5:4"
    assert result.notes == (
        "Stability는 4:3 비율을 지원하지 않아 가장 가까운 5:4(으)로 만들었어요.",
    )


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("1:1", "1:1"),
        ("4:5", "4:5"),
        ("9:21", "9:21"),
        ("4:3", "5:4"),
        ("3:4", "4:5"),
        ("2:1", "16:9"),
        ("1:2", "9:16"),
        ("32:9", "21:9"),
        ("1:4", "9:21"),
    ],
)
def test_nearest_ratio_table(requested, expected):
    assert nearest_ratio(requested, ASPECT_RATIOS) == expected


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            ImageRequest("a" * 10_001),
            "설명이 너무 길어요. 10,000자 이하로 줄여 주세요 (지금 10,001자).",
        ),
        (ImageRequest("a", count=5), "이미지는 한 번에 1~4장까지 만들 수 있어요."),
        (
            ImageRequest("a", seed=4_294_967_295),
            "시드는 0부터 4294967294까지의 정수로 적어 주세요.",
        ),
        (ImageRequest("a", model="sd4"), None),
    ],
)
async def test_invalid_input_is_refused_before_sending(fake, make, request_, message):
    with pytest.raises(InvalidInputError) as caught:
        await make(fake).generate(request_)
    if message is not None:
        assert caught.value.user_message == message
    else:
        assert caught.value.user_message.startswith("Stability 모델은 core, ultra, sd3.5-large")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("marker", "kind", "user_message"),
    [
        ("402", ProviderOutOfCredit, "Stability 크레딧이 부족해요. 관리자에게 알려 주세요."),
        (
            "403",
            ContentRefused,
            "Stability가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요.",
        ),
        ("422", InvalidProviderRequest, "Stability는 영어 설명만 받아요. 영어로 다시 적어 주세요."),
    ],
)
async def test_final_errors_map_and_carry_the_error_id(fake, make, marker, kind, user_message):
    error = await failure(make(fake), ImageRequest(f"a cat [[{marker}]]"))
    assert type(error) is kind and error.user_message == user_message
    assert error.request_id == fake.requests[-1].request_id
    assert error.log_message.endswith(f"(request id {error.request_id})")
    assert f"HTTP {marker}" in error.log_message
    assert len(fake.requests) == 1, "never retried"


async def test_a_bad_key_is_auth_failed(fake, make):
    error = await failure(make(fake, key="bad-key"), ImageRequest("a cat"))
    assert type(error) is ProviderAuthFailed
    assert error.user_message == "Stability 인증에 실패했어요. 관리자에게 알려 주세요."
    assert error.request_id == fake.requests[-1].request_id


@pytest.mark.parametrize(
    ("status", "name", "kind", "user_message"),
    [
        (
            400,
            "bad_request",
            InvalidProviderRequest,
            "AI 서비스가 요청 내용을 받아들이지 않았어요. 옵션을 바꿔서 다시 시도해 주세요.",
        ),
        (
            413,
            "payload_too_large",
            InvalidProviderRequest,
            "요청이 너무 커요. 설명을 줄여서 다시 시도해 주세요.",
        ),
        (
            422,
            "invalid_prompt",
            InvalidProviderRequest,
            "AI 서비스가 요청 내용을 받아들이지 않았어요. 옵션을 바꿔서 다시 시도해 주세요.",
        ),
    ],
)
async def test_scripted_client_errors(fake, make, status, name, kind, user_message):
    fake.script(StabilityReply(status=status, name=name))
    error = await failure(make(fake), ImageRequest("a cat"))
    assert type(error) is kind and error.user_message == user_message
    assert len(fake.requests) == 1


async def test_filtered_is_a_refusal_never_retried(fake, make):
    error = await failure(make(fake), ImageRequest("a cat [[filtered]]"))
    assert type(error) is ContentRefused
    assert error.user_message == (
        "만든 이미지가 Stability의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요."
    )
    assert "CONTENT_FILTERED" in error.log_message and len(fake.requests) == 1


async def test_429_carries_the_60_s_lockout_and_is_not_waited_out(fake, make):
    error = await failure(make(fake), ImageRequest("a cat [[429]]"))
    assert type(error) is ProviderRateLimited and error.retry_after_s == 60.0
    assert error.user_message == "Stability 요청 한도를 넘었어요. 1분 뒤에 다시 시도해 주세요."
    assert error.request_id == fake.requests[-1].request_id
    assert len(fake.requests) == 1, "a 60 s lockout is longer than any retry may wait"


async def test_a_429_with_a_short_retry_after_is_retried(fake, make):
    fake.script(*[StabilityReply(status=429, headers={"retry-after": "0"})] * 2)
    result = await make(fake).generate(ImageRequest("a cat"))
    assert len(result.images) == 1 and len(fake.requests) == 3


async def test_a_429_with_a_short_retry_after_is_retried_a_bounded_number_of_times(fake, make):
    fake.script(*[StabilityReply(status=429, headers={"retry-after": "0"})] * 5)
    error = await failure(make(fake), ImageRequest("a cat"))
    assert type(error) is ProviderRateLimited and len(fake.requests) == 3


async def test_5xx_is_retried_a_bounded_number_of_times(fake, make):
    error = await failure(make(fake), ImageRequest("a cat [[500]]"))
    assert type(error) is ProviderUnavailable
    assert error.user_message == "AI 서비스에 지금 연결할 수 없어요. 잠시 후 다시 시도해 주세요."
    assert len(fake.requests) == 3
    assert error.request_id == fake.requests[-1].request_id


async def test_a_5xx_then_success_returns_the_image(fake, make):
    fake.script(StabilityReply(status=500), StabilityReply(status=503))
    result = await make(fake).generate(ImageRequest("a cat"))
    assert assert_png(result.images[0].data) == (64, 64) and len(fake.requests) == 3


async def test_timeouts_are_retried_then_raised(fake, make):
    client = make(fake, timeout_s=0.2, retry=RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02))
    error = await failure(client, ImageRequest("a cat [[slow]]"))
    assert type(error) is ProviderTimeout
    assert error.user_message == "AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."
    assert len(fake.requests) == 2


async def test_some_images_failing_leaves_a_note(fake, make):
    fake.script(StabilityReply(), StabilityReply(finish_reason="CONTENT_FILTERED"))
    result = await make(fake).generate(ImageRequest("a cat", count=2, seed=1))
    assert len(result.images) == 1
    assert result.notes == ("요청한 2장 중 1장만 만들어졌어요.",)
    assert len(fake.requests) == 2


async def test_a_key_echoed_by_the_provider_is_scrubbed(fake, make):
    fake.script(StabilityReply(status=400, errors=(f"bad key {KEY}",)))
    error = await failure(make(fake), ImageRequest("a cat"))
    assert "bad key ***" in error.log_message


def test_the_client_needs_a_key_and_a_known_model():
    with pytest.raises(ValueError):
        StabilityImage(api_key="")
    with pytest.raises(ValueError):
        StabilityImage(api_key=KEY, model="sd4")
