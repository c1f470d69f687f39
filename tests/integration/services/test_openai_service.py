"""OpenAIChat against the loopback OpenAI double (sandbox/providers), through the real SDK."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable

import pytest

from sandbox.providers import FakeOpenAI, FakeReply
from sandbox.providers.openai_double import default_answer
from services.errors import (
    ContentRefused,
    ContextTooLong,
    ImagesNotSupported,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UserFacingError,
)
from services.openai_service import ChatOptions, ImagePart, OpenAIChat, Turn, Usage

KEY = "sk-sandbox-openai-key-integration-0123456789"
PNG = b"\x89PNG\r\n\x1a\n-pixels-"
APIS = ["chat", "responses"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(token_delay_s=0.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def make_chat(fake: FakeOpenAI) -> AsyncIterator[Callable[..., OpenAIChat]]:
    made: list[OpenAIChat] = []

    def make(
        api: str = "chat",
        *,
        model: str = "gpt-test",
        key: str = KEY,
        timeout_s: float = 10.0,
        max_retries: int = 0,
        base_url: str | None = None,
    ) -> OpenAIChat:
        chat = OpenAIChat(
            api_key=key,
            base_url=base_url or fake.base_url,
            options=ChatOptions(model=model, temperature=0.7, max_output_tokens=500, api=api),
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        made.append(chat)
        return chat

    yield make
    for chat in made:
        await chat.aclose()


async def collect(chat: OpenAIChat, turns: list[Turn]) -> list[str | Usage]:
    return [item async for item in chat.stream(turns)]


async def collect_until_error(
    chat: OpenAIChat, turns: list[Turn]
) -> tuple[list[str | Usage], ProviderError]:
    got: list[str | Usage] = []
    with pytest.raises(ProviderError) as caught:
        async for item in chat.stream(turns):
            got.append(item)
    return got, caught.value


def text_of(items: list[str | Usage]) -> str:
    return "".join(i for i in items if isinstance(i, str))


def assert_secret_free(error: ProviderError, key: str = KEY) -> None:
    for text in (str(error), error.log_message, error.user_message, repr(error), repr(error.args)):
        assert key not in text


@pytest.mark.parametrize("api", APIS)
async def test_streams_text_in_order_then_one_usage(fake, make_chat, api):
    fake.script(FakeReply(text="가나다라마바사", usage=(12, 5), chunk_chars=2))
    items = await collect(make_chat(api), [Turn("user", "안녕")])
    assert items == ["가나", "다라", "마바", "사", Usage(input_tokens=12, output_tokens=5)]


async def test_both_apis_yield_the_same_shape_for_the_default_answer(fake, make_chat):
    turns = [Turn("user", "하늘은 왜 파래?")]
    via_chat = await collect(make_chat("chat"), turns)
    via_responses = await collect(make_chat("responses"), turns)
    assert via_chat == via_responses
    assert isinstance(via_chat[-1], Usage) and via_chat[-1].output_tokens == len(via_chat) - 1
    assert text_of(via_chat) == default_answer([{"role": "user", "content": "하늘은 왜 파래?"}])
    assert all(isinstance(i, str) for i in via_chat[:-1])


async def test_chat_request_carries_the_options(fake, make_chat):
    await collect(make_chat("chat"), [Turn("user", "x")])
    body = fake.requests[-1].body
    assert body["model"] == "gpt-test" and body["temperature"] == 0.7
    assert body["max_completion_tokens"] == 500
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    await collect(make_chat("responses"), [Turn("user", "x")])
    body = fake.requests[-1].body
    assert fake.requests[-1].path == "/v1/responses"
    assert body["max_output_tokens"] == 500 and body["stream"] is True


@pytest.mark.parametrize("api", APIS)
async def test_history_and_an_inline_image_reach_the_provider(fake, make_chat, api):
    turns = [
        Turn("system", "친절한 한국어 도우미"),
        Turn("user", "첫 질문"),
        Turn("assistant", "첫 답"),
        Turn("user", "이 사진은 뭐야?", images=(ImagePart(PNG, "image/png"),)),
    ]
    text = text_of(await collect(make_chat(api), turns))
    assert "이미지 1장을 받았어요." in text and "앞선 대화 2개를 기억하고 있어요." in text
    record = fake.requests[-1]
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert record.image_urls() == [url]
    assert record.texts() == [
        ("system", "친절한 한국어 도우미"),
        ("user", "첫 질문"),
        ("assistant", "첫 답"),
        ("user", "이 사진은 뭐야?"),
    ]
    assert "authorization" not in record.headers


@pytest.mark.parametrize("api", APIS)
async def test_reasoning_never_reaches_the_user(fake, make_chat, api):
    text = text_of(await collect(make_chat(api), [Turn("user", "생각해 [[think]]")]))
    assert "<think>" not in text and "</think>" not in text and "차근차근" not in text
    assert text.startswith('"생각해"에 대한 답이에요.')


CASES = [
    ("[[401]]", ProviderAuthFailed, "관리자에게 알려 주세요"),
    ("[[500]]", ProviderUnavailable, "잠시 후 다시"),
    ("[[429]]", ProviderRateLimited, "잠시 후 다시"),
    ("[[context]]", ContextTooLong, "대화를 새로 시작해 주세요 (새대화:True)"),
    ("[[noimage]]", ImagesNotSupported, "이미지 없이"),
    ("[[refuse]]", ContentRefused, "질문을 바꿔서"),
]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("marker", "kind", "korean"), CASES, ids=[c[0] for c in CASES])
async def test_each_failure_maps_to_its_type(fake, make_chat, api, marker, kind, korean):
    got, error = await collect_until_error(make_chat(api), [Turn("user", f"질문 {marker}")])
    assert type(error) is kind and isinstance(error, UserFacingError)
    assert got == [] and error.mid_stream is False
    assert korean in error.user_message
    assert error.provider == "openai"
    request_id = fake.requests[-1].request_id
    assert error.request_id == request_id and request_id in error.log_message
    assert error.log_message.isascii(), "log messages are English"
    assert_secret_free(error)
    if kind is ProviderRateLimited:
        assert error.retry_after_s == 1.0


async def test_a_text_only_model_refuses_images(make_chat):
    chat = make_chat("chat", model="gpt-text-only")
    _, error = await collect_until_error(
        chat, [Turn("user", "봐줘", images=(ImagePart(PNG, "image/jpeg"),))]
    )
    assert isinstance(error, ImagesNotSupported)
    assert "이미지 없이" in error.user_message


async def test_a_bad_key_is_an_auth_failure_and_never_quoted(fake, make_chat):
    _, error = await collect_until_error(make_chat(key="bad-key"), [Turn("user", "x")])
    assert isinstance(error, ProviderAuthFailed)
    assert_secret_free(error, "bad-key")
    assert error.request_id == fake.requests[-1].request_id


async def test_the_key_is_scrubbed_from_any_provider_text(fake, make_chat):
    fake.script(FakeReply.failure(400, f"weird echo of {KEY} and sk-otherkey123456789"))
    _, error = await collect_until_error(make_chat(), [Turn("user", "x")])
    assert type(error) is ProviderError
    assert "[redacted]" in error.log_message and "sk-otherkey" not in error.log_message
    assert_secret_free(error)


async def test_429_is_retried_by_the_sdk_a_bounded_number_of_times(fake, make_chat):
    fake.script(*[FakeReply.rate_limited("0.05")] * 3, FakeReply(text="never sent"))
    _, error = await collect_until_error(make_chat(max_retries=2), [Turn("user", "x")])
    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after_s == pytest.approx(0.05)
    assert len(fake.requests) == 3, "the first try and max_retries=2 retries, then it gives up"
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]
    assert error.request_id == fake.requests[-1].request_id
    assert fake.scripted_left == 1


async def test_a_retried_429_that_then_succeeds_answers(fake, make_chat):
    fake.script(FakeReply.rate_limited("0.05"), FakeReply(text="성공"))
    items = await collect(make_chat(max_retries=2), [Turn("user", "x")])
    assert text_of(items) == "성공" and len(fake.requests) == 2


async def test_a_spent_quota_tells_the_user_to_call_the_admin(fake, make_chat):
    fake.script(FakeReply.rate_limited("0", code="insufficient_quota"))
    _, error = await collect_until_error(make_chat(), [Turn("user", "x")])
    assert isinstance(error, ProviderRateLimited) and "관리자에게" in error.user_message


@pytest.mark.parametrize("api", APIS)
async def test_a_mid_stream_cut_yields_the_text_first_then_raises(fake, make_chat, api):
    got, error = await collect_until_error(make_chat(api), [Turn("user", "[[cut]]")])
    expected = default_answer([{"role": "user", "content": "[[cut]]"}])[: 3 * fake.chunk_chars]
    assert text_of(got) == expected and not any(isinstance(i, Usage) for i in got)
    assert isinstance(error, ProviderUnavailable) and error.mid_stream is True
    assert "답변을 받는 도중에" in error.user_message
    assert error.request_id == fake.requests[-1].request_id
    assert error.request_id in error.log_message and "mid-stream" in error.log_message


async def test_a_refusal_mid_answer_keeps_the_text_received(fake, make_chat):
    fake.script(FakeReply(text="일부 답", finish_reason="content_filter", chunk_chars=2))
    got, error = await collect_until_error(make_chat(), [Turn("user", "x")])
    assert text_of(got) == "일부 답"
    assert isinstance(error, ContentRefused) and error.mid_stream is True


async def test_a_slow_answer_hits_the_total_deadline(fake, make_chat):
    # Each chunk comes well within the read timeout; the whole answer does not.
    fake.script(FakeReply(text="가" * 40, chunk_chars=1, token_delay_s=0.05))
    got, error = await collect_until_error(make_chat(timeout_s=0.6), [Turn("user", "x")])
    assert isinstance(error, ProviderTimeout) and "잠시 후 다시" in error.user_message
    assert 0 < len(text_of(got)) < 40, "the text before the deadline was yielded"
    assert error.request_id == fake.requests[-1].request_id


async def test_a_stalled_stream_times_out(fake, make_chat):
    fake.slow_token_delay_s = 2.0
    _, error = await collect_until_error(
        make_chat("responses", timeout_s=0.5), [Turn("user", "[[slow]]")]
    )
    assert isinstance(error, ProviderTimeout)


async def test_a_closed_port_is_unavailable(make_chat):
    chat = make_chat(base_url="http://127.0.0.1:9/v1")
    _, error = await collect_until_error(chat, [Turn("user", "x")])
    assert isinstance(error, ProviderUnavailable) and error.request_id is None
    assert "could not connect" in error.log_message
    assert_secret_free(error)


async def test_the_caller_may_stop_reading_early(fake, make_chat):
    fake.script(FakeReply(text="가" * 50, chunk_chars=1))
    chat = make_chat()
    stream = chat.stream([Turn("user", "x")])
    async for _ in stream:
        break
    await stream.aclose()
    items = await collect(chat, [Turn("user", "y")])
    assert isinstance(items[-1], Usage), "the client still works afterwards"


async def test_bad_arguments_are_programming_errors(make_chat):
    with pytest.raises(ValueError):
        await collect(make_chat(), [])
    with pytest.raises(ValueError):
        OpenAIChat(api_key="", base_url=None, options=ChatOptions("m", 0.5, 10))
