"""MiniMaxImage against the loopback MiniMax double (sandbox/providers)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable

import pytest

from sandbox.providers import FakeMiniMax, MiniMaxReply
from sandbox.providers._png import solid_png
from services.errors import (
    ContentRefused,
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import ImageRequest, RetryPolicy, nearest_ratio
from services.minimax_image import ASPECT_RATIOS, MiniMaxImage

KEY = "sk-sandbox-minimax-key-integration-0123456789"
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02)


def assert_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    return struct.unpack(">II", data[16:24])


@pytest.fixture
async def fake() -> AsyncIterator[FakeMiniMax]:
    async with FakeMiniMax(slow_delay_s=5.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., MiniMaxImage]]:
    made: list[MiniMaxImage] = []

    def build(fake: FakeMiniMax, **options) -> MiniMaxImage:
        options.setdefault("retry", FAST)
        client = MiniMaxImage(api_key=options.pop("key", KEY), base_url=fake.base_url, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


async def failure(client: MiniMaxImage, request: ImageRequest) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await client.generate(request)
    error = caught.value
    for text in (str(error), error.log_message, error.user_message, repr(error)):
        assert KEY not in text
    return error


async def test_happy_path_returns_real_pngs_count_and_seed(fake, make):
    result = await make(fake).generate(ImageRequest("바다 위의 고래", count=3, seed=42))
    assert len(result.images) == 3
    assert [assert_png(image.data) for image in result.images] == [(64, 64)] * 3
    assert [image.data for image in result.images] == [solid_png(64, 64, 42 + i) for i in range(3)]
    assert {image.mime_type for image in result.images} == {"image/png"}
    assert result.seed == 42 and {image.seed for image in result.images} == {42}
    assert (result.provider, result.model, result.aspect_ratio) == ("minimax", "image-01", "1:1")
    assert result.notes == () and result.request_ids == (fake.requests[-1].request_id,)


async def test_request_body_and_auth(fake, make):
    client = make(fake, model="image-01-live", prompt_optimizer=True)
    await client.generate(ImageRequest("x", aspect_ratio="21:9", count=2, seed=5))
    (record,) = fake.requests
    assert record.path == "/v1/image_generation"
    assert record.body == {
        "model": "image-01-live",
        "prompt": "x",
        "aspect_ratio": "21:9",
        "n": 2,
        "response_format": "base64",
        "prompt_optimizer": True,
        "seed": 5,
    }
    assert "authorization" not in record.headers  # recorded without credentials


async def test_no_seed_is_sent_when_none_is_asked(fake, make):
    result = await make(fake).generate(ImageRequest("x"))
    assert "seed" not in fake.requests[-1].body and result.seed is None


async def test_unsupported_ratio_and_options_become_notes(fake, make):
    result = await make(fake).generate(
        ImageRequest("x", aspect_ratio="5:4", negative_prompt="흐림", style_preset="anime")
    )
    assert result.aspect_ratio == "4:3" and fake.requests[-1].body["aspect_ratio"] == "4:3"
    assert result.notes == (
        "MiniMax는 5:4 비율을 지원하지 않아 가장 가까운 4:3(으)로 만들었어요.",
        "MiniMax는 제외할 내용(negative prompt)을 지원하지 않아 빼고 만들었어요.",
        "MiniMax는 스타일 프리셋을 지원하지 않아 빼고 만들었어요.",
    )
    assert "negative_prompt" not in fake.requests[-1].body


async def test_fewer_images_than_asked_is_a_note(fake, make):
    fake.script(MiniMaxReply(success_count=2, counts_as_numbers=True))
    result = await make(fake).generate(ImageRequest("x", count=4))
    assert len(result.images) == 2
    assert result.notes == ("요청한 4장 중 2장만 만들어졌어요.",)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("1:1", "1:1"),
        ("16:9", "16:9"),
        ("21:9", "21:9"),
        ("4:5", "3:4"),
        ("5:4", "4:3"),
        ("9:21", "9:16"),
        ("2:1", "16:9"),
        ("32:9", "21:9"),
        ("1:3", "9:16"),
        ("2:2", "1:1"),
        (" 16 : 9 ", "16:9"),
    ],
)
def test_nearest_ratio_table(requested, expected):
    assert nearest_ratio(requested, ASPECT_RATIOS) == expected


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            ImageRequest("가" * 1501),
            "설명이 너무 길어요. 1,500자 이하로 줄여 주세요 (지금 1,501자).",
        ),
        (ImageRequest("   "), "만들 이미지를 설명해 주세요."),
        (ImageRequest("x", count=5), "이미지는 한 번에 1~4장까지 만들 수 있어요."),
        (ImageRequest("x", count=0), "이미지는 한 번에 1~4장까지 만들 수 있어요."),
        (
            ImageRequest("x", aspect_ratio="wide"),
            "화면 비율은 16:9처럼 '가로:세로' 숫자로 적어 주세요.",
        ),
        (ImageRequest("x", seed=-1), "시드는 0부터 4294967294까지의 정수로 적어 주세요."),
        (
            ImageRequest("x", model="image-02"),
            "MiniMax 모델은 image-01, image-01-live 중에서 골라 주세요.",
        ),
    ],
)
async def test_invalid_input_is_refused_before_sending(fake, make, request_, message):
    with pytest.raises(InvalidInputError) as caught:
        await make(fake).generate(request_)
    assert caught.value.user_message == message
    assert fake.requests == []


async def test_a_prompt_of_1500_characters_is_sent(fake, make):
    result = await make(fake).generate(ImageRequest("가" * 1500))
    assert len(result.images) == 1


AUTH_USER = (
    "MiniMax 인증에 실패했어요. 키가 다른 지역(글로벌/중국) 주소용일 수 있어요. "
    "관리자에게 알려 주세요."
)


@pytest.mark.parametrize(
    ("marker", "kind", "user_message", "log_part"),
    [
        ("1004", ProviderAuthFailed, AUTH_USER, "status 1004"),
        ("2049", ProviderAuthFailed, AUTH_USER, "status 2049"),
        ("1008", ProviderOutOfCredit, "MiniMax 잔액이 부족해요. 관리자에게 알려 주세요.", "1008"),
        (
            "1026",
            ContentRefused,
            "MiniMax가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요.",
            "sensitive input",
        ),
        (
            "1027",
            ContentRefused,
            "만든 이미지가 MiniMax의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요.",
            "sensitive output",
        ),
        (
            "2013",
            InvalidProviderRequest,
            "AI 서비스가 요청 내용을 받아들이지 않았어요. 옵션을 바꿔서 다시 시도해 주세요.",
            "status 2013",
        ),
        (
            "2056",
            ProviderQuotaExhausted,
            "MiniMax 사용 한도를 모두 썼어요. 관리자에게 알려 주세요.",
            "status 2056",
        ),
        (
            "refuse",
            ContentRefused,
            "MiniMax가 이 설명으로는 이미지를 만들지 않았어요. 설명을 바꿔서 다시 시도해 주세요.",
            "success_count 0",
        ),
    ],
)
async def test_final_errors_map_to_types_and_are_never_retried(
    fake, make, marker, kind, user_message, log_part
):
    error = await failure(make(fake), ImageRequest(f"고양이 [[{marker}]]"))
    assert type(error) is kind
    assert error.user_message == user_message
    assert log_part in error.log_message
    assert error.request_id == fake.requests[-1].request_id
    assert error.log_message.endswith(f"(request id {error.request_id})")
    assert len(fake.requests) == 1, "never retried"


async def test_auth_failure_names_the_regional_hosts_in_the_log(fake, make):
    error = await failure(make(fake, key="bad-key"), ImageRequest("x"))
    assert isinstance(error, ProviderAuthFailed)
    assert "https://api.minimax.io" in error.log_message
    assert "https://api.minimaxi.com" in error.log_message
    assert "MINIMAX_BASE_URL" in error.log_message


@pytest.mark.parametrize(
    ("marker", "kind", "user_message"),
    [
        ("1002", ProviderRateLimited, "지금 AI 요청이 몰려 있어요. 잠시 후 다시 시도해 주세요."),
        (
            "500",
            ProviderUnavailable,
            "AI 서비스에 지금 연결할 수 없어요. 잠시 후 다시 시도해 주세요.",
        ),
    ],
)
async def test_rate_limit_and_5xx_are_retried_a_bounded_number_of_times(
    fake, make, marker, kind, user_message
):
    error = await failure(make(fake), ImageRequest(f"x [[{marker}]]"))
    assert type(error) is kind and error.user_message == user_message
    assert len(fake.requests) == 3, "three attempts in all"
    assert error.request_id == fake.requests[-1].request_id
    assert f"(request id {fake.requests[-1].request_id})" in error.log_message


async def test_http_500_log_carries_the_trace_id(fake, make):
    error = await failure(make(fake, retry=RetryPolicy(attempts=1)), ImageRequest("[[500]]"))
    assert "HTTP 500" in error.log_message and error.request_id == fake.requests[0].request_id


async def test_a_retry_that_succeeds_returns_the_images(fake, make):
    fake.script(MiniMaxReply.status(1002), MiniMaxReply(http_status=502, body="Bad Gateway"))
    result = await make(fake).generate(ImageRequest("x", count=2))
    assert len(result.images) == 2 and len(fake.requests) == 3


async def test_timeouts_are_retried_then_raised(fake, make):
    client = make(fake, timeout_s=0.2, retry=RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02))
    error = await failure(client, ImageRequest("x [[slow]]"))
    assert type(error) is ProviderTimeout
    assert error.user_message == "AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."
    assert len(fake.requests) == 2


async def test_a_refused_connection_is_unavailable():
    async with FakeMiniMax() as gone:
        base_url = gone.base_url  # stopped on leaving: nothing listens there any more
    async with MiniMaxImage(api_key=KEY, base_url=base_url, retry=FAST) as client:
        error = await failure(client, ImageRequest("x"))
    assert type(error) is ProviderUnavailable and "connection failed" in error.log_message


async def test_a_key_echoed_by_the_provider_is_scrubbed(fake, make):
    fake.script(MiniMaxReply.status(2013, f"invalid params, bad key {KEY}"))
    error = await failure(make(fake), ImageRequest("x"))
    assert "bad key ***" in error.log_message


def test_the_client_needs_a_key_and_a_known_model():
    with pytest.raises(ValueError):
        MiniMaxImage(api_key="")
    with pytest.raises(ValueError):
        MiniMaxImage(api_key=KEY, model="image-02")
