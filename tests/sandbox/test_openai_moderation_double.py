"""FakeOpenAI's POST /v1/moderations, driven by the real AsyncOpenAI (openai 3.57)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from openai.types import ModerationCreateResponse

from sandbox.providers import FakeOpenAI, FakeReply

KEY = "sandbox-openai-key-test"
CATEGORIES = {
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(token_delay_s=0.0) as server:
        yield server
    assert server.errors == []


def client(fake: FakeOpenAI, *, key: str = KEY, retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=fake.base_url, max_retries=retries, timeout=10)


async def test_a_clean_input_is_not_flagged(fake):
    async with client(fake) as c:
        answer = await c.moderations.create(model="omni-moderation-latest", input="고양이 그림")
    assert isinstance(answer, ModerationCreateResponse)
    assert answer.id.startswith("modr-") and answer.model == "omni-moderation-latest"
    assert answer._request_id == fake.requests[-1].request_id
    [result] = answer.results
    assert result.flagged is False
    categories = result.categories.model_dump(by_alias=True)
    assert set(categories) == CATEGORIES and not any(categories.values())
    scores = result.category_scores.model_dump(by_alias=True)
    assert scores == dict.fromkeys(CATEGORIES, 0.0001)
    applied = result.category_applied_input_types.model_dump(by_alias=True)
    assert applied == {name: ["text"] for name in CATEGORIES}


async def test_the_flag_marker_flags_violence(fake):
    async with client(fake) as c:
        answer = await c.moderations.create(model="omni-moderation-latest", input="x [[flag]]")
    [result] = answer.results
    assert result.flagged is True
    assert result.categories.violence is True
    assert result.category_scores.violence == 0.97
    flagged = {n for n, v in result.categories.model_dump(by_alias=True).items() if v}
    assert flagged == {"violence"}
    assert result.category_scores.violence_graphic == 0.0001


async def test_a_list_input_gets_one_result_per_string(fake):
    async with client(fake) as c:
        answer = await c.moderations.create(
            model="omni-moderation-latest", input=["평범한 글", "[[flag]] 나쁜 글"]
        )
    assert [r.flagged for r in answer.results] == [False, True]
    assert fake.moderated_inputs == ["평범한 글", "[[flag]] 나쁜 글"]


async def test_model_is_optional_and_echoed(fake):
    async with client(fake) as c:
        default = await c.moderations.create(input="hi")
        named = await c.moderations.create(input="hi", model="text-moderation-stable")
    assert default.model == "omni-moderation-latest"
    assert named.model == "text-moderation-stable"
    assert "model" not in fake.moderation_requests[0].body


async def test_a_wrong_key_is_401_and_no_key_at_all_too(fake):
    async with client(fake, key="bad-key") as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.moderations.create(model="omni-moderation-latest", input="hi")
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base_url}/moderations", json={"input": "hi"}) as response,
    ):
        assert response.status == 401
    assert [r.status for r in fake.moderation_requests] == [401, 401]
    assert "authorization" not in fake.moderation_requests[0].headers


async def test_error_markers_fail_the_whole_request(fake):
    async with client(fake) as c:
        with pytest.raises(openai.InternalServerError):
            await c.moderations.create(input=["fine", "[[500]]"])
        with pytest.raises(openai.AuthenticationError):
            await c.moderations.create(input="[[401]]")
        with pytest.raises(openai.RateLimitError) as caught:
            await c.moderations.create(input="[[429]]")
    assert caught.value.response.headers["retry-after"] == "1"
    assert [r.status for r in fake.moderation_requests] == [500, 401, 429]


async def test_bad_inputs_are_400(fake):
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        for body in [
            {"model": "m"},
            {"model": "m", "input": []},
            {"model": "m", "input": 3},
            {"model": "m", "input": [{"type": "text", "text": "hi"}]},
            {"model": "", "input": "hi"},
        ]:
            url = f"{fake.base_url}/moderations"
            async with session.post(url, json=body, headers=headers) as r:
                assert r.status == 400, body
                assert (await r.json())["error"]["type"] == "invalid_request_error"


async def test_moderation_takes_no_scripted_chat_reply(fake):
    fake.script(FakeReply(text="스크립트 답"))
    async with client(fake) as c:
        await c.moderations.create(input="hi")
        completion = await c.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "스크립트 답"
    assert fake.scripted_left == 0
    assert [r.path for r in fake.requests] == ["/v1/moderations", "/v1/chat/completions"]
    assert len(fake.moderation_requests) == 1
