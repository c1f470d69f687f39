"""FakeOpenAI speaks the contract the official SDK parses: driven by the real AsyncOpenAI."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from sandbox.providers import FakeOpenAI, FakeReply
from sandbox.providers.openai_double import default_answer

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
KEY = "sandbox-openai-key-test"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(token_delay_s=0.0) as server:
        yield server
    assert server.errors == []


def client(fake: FakeOpenAI, *, key: str = KEY, retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=fake.base_url, max_retries=retries, timeout=10)


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


async def stream_chat(c: openai.AsyncOpenAI, messages, model: str = "gpt-test"):
    stream = await c.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    return [chunk async for chunk in stream]


async def test_chat_stream_chunks_parse_and_usage_comes_last(fake):
    async with client(fake) as c:
        chunks = await stream_chat(c, user("하늘은 왜 파래?"))
    assert all(isinstance(ch, ChatCompletionChunk) for ch in chunks)
    assert {ch.object for ch in chunks} == {"chat.completion.chunk"}
    assert len({ch.id for ch in chunks}) == 1 and chunks[0].model == "gpt-test"
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.startswith('"하늘은 왜 파래?"에 대한 답이에요.')
    assert text == default_answer(user("하늘은 왜 파래?"))
    assert len([ch for ch in chunks if ch.choices and ch.choices[0].delta.content]) > 3
    finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert last.usage.completion_tokens == len(finish) - 2  # the role chunk and the stop chunk


async def test_chat_stream_without_include_usage_has_no_usage_chunk(fake):
    async with client(fake) as c:
        stream = await c.chat.completions.create(model="m", messages=user("hi"), stream=True)
        chunks = [chunk async for chunk in stream]
    assert all(ch.choices for ch in chunks) and all(ch.usage is None for ch in chunks)


async def test_the_sse_stream_ends_with_done(fake):
    body = {"model": "m", "messages": user("hi"), "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{fake.base_url}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"].startswith("req_")
        raw = (await response.read()).decode()
    events = [block for block in raw.split("\n\n") if block]
    assert events[-1] == "data: [DONE]"
    assert all(block.startswith("data: ") for block in events)


async def test_chat_non_streaming(fake):
    async with client(fake) as c:
        completion = await c.chat.completions.create(model="m", messages=user("안녕"))
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == default_answer(user("안녕"))
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert completion._request_id == fake.requests[-1].request_id


async def test_responses_stream_events_parse_and_usage_arrives(fake):
    async with client(fake) as c:
        stream = await c.responses.create(
            model="m",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "안녕"}]}],
            stream=True,
        )
        events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 3
    assert "".join(deltas) == default_answer(user("안녕"))
    assert events[-4].text == "".join(deltas)
    usage = events[-1].response.usage
    assert usage.input_tokens > 0 and usage.output_tokens == len(deltas)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert events[-1].response.status == "completed"


async def test_responses_accepts_a_plain_string_input_and_answers_non_streaming(fake):
    async with client(fake) as c:
        response = await c.responses.create(model="m", input="안녕")
    assert response.output_text == default_answer(user("안녕"))
    assert response.usage is not None and response.usage.output_tokens > 0


async def test_429_marker_carries_retry_after_and_the_sdk_retries_it(fake):
    async with client(fake, retries=1) as c:
        started = time.monotonic()
        with pytest.raises(openai.RateLimitError) as caught:
            await c.chat.completions.create(model="m", messages=user("빨리 [[429]]"))
        elapsed = time.monotonic() - started
    error = caught.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert error.response.headers["retry-after"] == "1"
    assert error.request_id == fake.requests[-1].request_id
    assert len(fake.requests) == 2, "one retry, as max_retries=1 allows"
    assert elapsed >= 0.9, "the SDK waited the retry-after second"
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


async def test_401_marker_and_the_bad_key(fake):
    async with client(fake) as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.chat.completions.create(model="m", messages=user("[[401]]"))
    assert caught.value.code == "invalid_api_key"
    async with client(fake, key="bad-key") as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.responses.create(model="m", input="hi")
    assert caught.value.code == "invalid_api_key" and caught.value.type == "invalid_request_error"
    assert "bad-key" not in str(caught.value)


async def test_missing_auth_is_401(fake):
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base_url}/chat/completions", json={"model": "m"}) as response,
    ):
        assert response.status == 401
        assert "API key" in (await response.json())["error"]["message"]


async def test_500_marker(fake):
    async with client(fake) as c:
        with pytest.raises(openai.InternalServerError) as caught:
            await c.chat.completions.create(model="m", messages=user("[[500]]"))
    assert caught.value.status_code == 500


async def test_cut_marker_is_a_mid_stream_error_after_some_chunks(fake):
    received: list[str] = []
    async with client(fake) as c:
        stream = await c.chat.completions.create(model="m", messages=user("[[cut]]"), stream=True)
        with pytest.raises(openai.APIError) as caught:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "server_error"
    assert len([r for r in received if r]) == 3
    async with client(fake) as c:
        stream = await c.responses.create(model="m", input="[[cut]]", stream=True)
        events = [event async for event in stream]
    assert len([e for e in events if e.type == "response.output_text.delta"]) == 3
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "server_error"


async def test_long_think_refuse_context_and_slow_markers(fake):
    fake.slow_token_delay_s = 0.05
    async with client(fake) as c:
        chunks = await stream_chat(c, user("코드 보여줘 [[long 700]]"))
        long_text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        chunks = await stream_chat(c, user("생각해 [[think]]"))
        think_text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        chunks = await stream_chat(c, user("나쁜 질문 [[refuse]]"))
        finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
        with pytest.raises(openai.BadRequestError) as caught:
            await c.chat.completions.create(model="m", messages=user("[[context]]"))
        started = time.monotonic()
        await stream_chat(c, user("천천히 [[slow]]"))
        slow = time.monotonic() - started
    assert len(long_text) == 700 and "```python\n" in long_text and "\n```" in long_text
    assert think_text.startswith("<think>") and "</think>" in think_text
    assert think_text.split("</think>")[1].strip().startswith('"생각해"에 대한 답이에요.')
    assert finish[-1] == "content_filter"
    assert caught.value.code == "context_length_exceeded"
    assert slow >= 0.05 * 5


async def test_images_only_as_data_urls(fake):
    def with_image(url: str) -> list[dict[str, object]]:
        parts = [
            {"type": "text", "text": "이게 뭐야?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        return [{"role": "user", "content": parts}]

    async with client(fake) as c:
        with pytest.raises(openai.BadRequestError) as caught:
            await c.chat.completions.create(
                model="m", messages=with_image("https://cdn.example/cat.png")
            )
        assert caught.value.code == "invalid_image_url"
        with pytest.raises(openai.BadRequestError) as caught:
            await c.responses.create(
                model="m",
                input=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_image", "image_url": "http://x/y.png", "detail": "auto"}
                        ],
                    }
                ],
            )
        assert caught.value.code == "invalid_image_url"
        ok = await c.chat.completions.create(
            model="m", messages=with_image(f"data:image/png;base64,{PNG}")
        )
        assert "이미지 1장을 받았어요." in ok.choices[0].message.content
        with pytest.raises(openai.BadRequestError) as caught:
            await c.chat.completions.create(
                model="gpt-text-only", messages=with_image(f"data:image/png;base64,{PNG}")
            )
        assert "not supported" in caught.value.message
        with pytest.raises(openai.BadRequestError) as caught:
            await c.chat.completions.create(model="m", messages=user("[[noimage]]"))
        assert "not supported" in caught.value.message
    assert fake.requests[2].image_urls() == [f"data:image/png;base64,{PNG}"]


async def test_validation_of_model_and_messages(fake):
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        for path, body in [
            ("chat/completions", {"messages": user("hi")}),
            ("chat/completions", {"model": "m", "messages": []}),
            ("responses", {"model": "m", "input": []}),
            ("responses", {"model": "m"}),
        ]:
            async with session.post(f"{fake.base_url}/{path}", json=body, headers=headers) as r:
                assert r.status == 400, (path, body)
                assert (await r.json())["error"]["type"] == "invalid_request_error"


async def test_requests_are_recorded_without_credentials(fake):
    history = [
        {"role": "system", "content": "친절하게"},
        {"role": "user", "content": "첫 질문"},
        {"role": "assistant", "content": "첫 답"},
        {"role": "user", "content": "둘째 질문"},
    ]
    async with client(fake) as c:
        chunks = await stream_chat(c, history)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert "앞선 대화 2개를 기억하고 있어요." in text
    record = fake.requests[-1]
    assert record.path == "/v1/chat/completions" and record.status == 200
    assert record.body["messages"] == history and record.body["stream"] is True
    assert record.last_user_text() == "둘째 질문"
    assert "authorization" not in record.headers
    assert KEY not in repr(fake.requests)


async def test_scripted_replies_come_first_and_in_order(fake):
    fake.script(
        FakeReply(text="하나", usage=(11, 7)),
        FakeReply.rate_limited("0"),
        FakeReply(text="셋", finish_reason="length"),
    )
    async with client(fake) as c:
        first = await stream_chat(c, user("[[500]]"))
        with pytest.raises(openai.RateLimitError):
            await c.chat.completions.create(model="m", messages=user("x"))
        third = await c.chat.completions.create(model="m", messages=user("x"))
        after = await c.chat.completions.create(model="m", messages=user("x"))
    assert "".join(ch.choices[0].delta.content or "" for ch in first if ch.choices) == "하나"
    assert (first[-1].usage.prompt_tokens, first[-1].usage.completion_tokens) == (11, 7)
    assert third.choices[0].message.content == "셋"
    assert third.choices[0].finish_reason == "length"
    assert after.choices[0].message.content == default_answer(user("x"))
    assert fake.scripted_left == 0


def test_the_fleet_points_every_instance_at_the_given_double(tmp_path):
    from sandbox.fleet import UNROUTABLE_PROVIDER, Fleet

    url = "http://127.0.0.1:12345/v1"
    fleet = Fleet(
        rest_url="http://127.0.0.1:1/api/v10",
        gateway_url="ws://127.0.0.1:1/gateway",
        workdir=tmp_path,
        provider_urls={"openai": url},
    )
    assert {i.env["OPENAI_BASE_URL"] for i in fleet.instances.values()} == {url}
    assert {i.env["MINIMAX_BASE_URL"] for i in fleet.instances.values()} == {UNROUTABLE_PROVIDER}
