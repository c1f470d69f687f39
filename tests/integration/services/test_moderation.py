"""Moderation.check against the loopback OpenAI double, through the real SDK."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from sandbox.providers import FakeOpenAI
from services.errors import (
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.moderation import Moderation, ModerationVerdict

KEY = "sk-sandbox-openai-key-moderation-0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(token_delay_s=0.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def make_moderation(fake: FakeOpenAI) -> AsyncIterator[Callable[..., Moderation]]:
    made: list[Moderation] = []

    def make(
        *,
        key: str = KEY,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 0,
        **kwargs: str,
    ) -> Moderation:
        moderation = Moderation(
            api_key=key,
            base_url=base_url or fake.base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            **kwargs,
        )
        made.append(moderation)
        return moderation

    yield make
    for moderation in made:
        await moderation.aclose()


def assert_secret_free(error: Exception) -> None:
    for text in (str(error), repr(error), repr(error.args), getattr(error, "user_message", "")):
        assert KEY not in text


async def test_clean_text_is_not_flagged(fake, make_moderation):
    verdict = await make_moderation().check("귀여운 고양이가 춤추는 영상")
    assert verdict == ModerationVerdict(flagged=False, categories=())
    body = fake.moderation_requests[-1].body
    assert body == {"model": "omni-moderation-latest", "input": "귀여운 고양이가 춤추는 영상"}


async def test_the_flag_marker_is_flagged_for_violence(make_moderation):
    verdict = await make_moderation().check("싸우는 장면 [[flag]]")
    assert verdict == ModerationVerdict(flagged=True, categories=("violence",))


async def test_the_configured_model_is_sent(fake, make_moderation):
    await make_moderation(model="text-moderation-stable").check("x")
    assert fake.moderation_requests[-1].body["model"] == "text-moderation-stable"


async def test_the_double_recorded_exactly_the_inputs_sent(fake, make_moderation):
    moderation = make_moderation()
    await moderation.check("첫째")
    await moderation.check("둘째 [[flag]]")
    assert fake.moderated_inputs == ["첫째", "둘째 [[flag]]"]
    assert [r.status for r in fake.moderation_requests] == [200, 200]
    assert all(r.path == "/v1/moderations" for r in fake.requests)
    assert KEY not in repr(fake.requests)


async def test_a_server_error_is_unavailable_after_one_retry(fake):
    async with Moderation(api_key=KEY, base_url=fake.base_url) as moderation:  # default retries
        with pytest.raises(ProviderUnavailable) as caught:
            await moderation.check("[[500]]")
    error = caught.value
    assert error.provider == "openai" and not error.mid_stream
    assert error.log_message.startswith("OpenAI moderation request failed: HTTP 500")
    assert error.request_id == fake.requests[-1].request_id
    assert error.user_message == "AI 서비스에 지금 연결할 수 없어요. 잠시 후 다시 시도해 주세요."
    assert fake.moderated_inputs == ["[[500]]", "[[500]]"], "the SDK retried once"
    assert_secret_free(error)


async def test_a_closed_port_is_unavailable(make_moderation):
    with pytest.raises(ProviderUnavailable) as caught:
        await make_moderation(base_url="http://127.0.0.1:9/v1").check("x")
    assert caught.value.request_id is None
    assert "could not connect" in caught.value.log_message
    assert_secret_free(caught.value)


async def test_a_rate_limit_carries_retry_after(make_moderation):
    with pytest.raises(ProviderRateLimited) as caught:
        await make_moderation().check("[[429]]")
    assert caught.value.retry_after_s == 1.0 and caught.value.provider == "openai"


async def test_a_bad_key_is_auth_failed_without_the_providers_text(make_moderation):
    with pytest.raises(ProviderAuthFailed) as caught:
        await make_moderation(key="bad-key").check("x")
    assert "bad-key" not in caught.value.log_message
    assert "Incorrect API key" not in caught.value.log_message


async def test_the_deadline_covers_the_retry_wait(make_moderation):
    # [[429]] asks the SDK to wait 1 s before retrying; a 0.3 s budget ends the check first.
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        await make_moderation(max_retries=1, timeout_s=0.3).check("[[429]]")
    assert time.monotonic() - started < 0.9
    assert "exceeded its deadline" in caught.value.log_message


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError):
        Moderation(api_key="", base_url=None)
    with pytest.raises(ValueError):
        Moderation(api_key="k", base_url=None, timeout_s=0)
