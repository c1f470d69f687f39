"""/채팅 and chat by mention on a real fleet, the OpenAI double answering: streamed edits at
the cadence, long answers across messages, memory across a failover, errors in Korean."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from sandbox.black_hole import BlackHole
from tests.e2e.conftest import Sandbox, open_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

INTERVAL = 0.25  # CHAT_EDIT_INTERVAL for these tests (production: 1 s)
MARKER = " ✍️"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chat(tmp_path_factory, redis_url: str) -> AsyncIterator[Sandbox]:
    env = {"CHAT_EDIT_INTERVAL": str(INTERVAL)}
    workdir = tmp_path_factory.mktemp("chat")
    async with open_sandbox(workdir, redis_url=redis_url, extra_env=env) as sandbox:
        yield sandbox


def texts(result) -> list[str]:
    return [m["content"] for m in result.messages]


def edits_of(sb: Sandbox, message_id: str) -> list[float]:
    return [
        r.at
        for r in sb.fake.requests
        if r.method == "PATCH" and (r.path.endswith(f"/messages/{message_id}"))
    ]


async def ask_chat(sb: Sandbox, channel: str, question: str, *, user: str, **options) -> object:
    handle = await sb.fake.send_command(
        channel=channel, command="채팅", options={"질문": question, **options}, user=user
    )
    return await until_written(handle)


async def until_written(handle, timeout: float = 20.0):
    """The answer once the writing marker is gone (retries can pause it for seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await handle.wait_for_response(timeout=timeout, settle=2 * INTERVAL + 0.3)
        if "✍️" not in str(result.messages[-1]["content"]):
            return result
        tails = [m["content"][-20:] for m in result.messages]
        assert asyncio.get_running_loop().time() < deadline, f"never finished: {tails}"
        await asyncio.sleep(0.2)


async def test_an_answer_streams_into_the_reply_and_ends_without_the_marker(chat):
    result = await ask_chat(chat, "채팅방-1", "하늘은 왜 파래?", user="minji")
    assert result.answered_by == "1"
    assert not result.ephemeral
    (answer,) = texts(result)
    assert answer.startswith('"하늘은 왜 파래?"에 대한 답이에요.')
    assert not answer.endswith(MARKER)
    writes = [r for r in chat.fake.requests if r.method == "PATCH" and "@original" in r.path]
    assert len(writes) >= 2, "the reply was shown while it was written, then finished"
    chat.assert_clean()


async def test_edits_of_one_message_respect_the_cadence(chat):
    # [[slow]]: about 25 chunks 0.1 s apart, so the reply is edited many times.
    result = await ask_chat(chat, "채팅방-1", "천천히 말해 줘 [[slow]]", user="cadence")
    times = sorted(
        r.at
        for r in chat.fake.requests
        if r.method == "PATCH"
        and r.path.endswith("/messages/@original")
        and r.at >= result.callback_attempts[0].at
    )
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 4, times
    assert min(gaps) >= INTERVAL * 0.95, gaps
    assert not texts(result)[0].endswith(MARKER)


async def test_a_5000_character_answer_arrives_whole_across_messages(chat):
    result = await ask_chat(chat, "채팅방-1", "긴 답 부탁해 [[long 5000]]", user="long")
    pages = texts(result)
    assert len(pages) >= 3
    assert all(len(page) <= 2000 for page in pages)
    assert all(page.count("```") % 2 == 0 for page in pages), "every code fence is closed"
    assert not pages[-1].endswith(MARKER)
    joined = "".join(pages)
    assert "def greet(name: str) -> str:" in joined
    chat.assert_clean()


async def test_memory_carries_over_turns_and_over_a_failover(chat):
    first = await ask_chat(chat, "채팅방-1", "내 이름은 다온이야", user="daon")
    assert first.answered_by == "1"
    await chat.fleet.kill(1)
    await asyncio.sleep(2.5)  # its heartbeat (TTL 1.5 s) expired: 4 is now the owner
    try:
        second = await ask_chat(chat, "채팅방-1", "내 이름이 뭐였지?", user="daon")
        assert second.answered_by == "4", "the fallback took over"
        sent = chat.openai.requests[-1].texts()
        assert ("user", "내 이름은 다온이야") in sent, "the history reached the model"
        assert any(role == "assistant" and "다온" in text for role, text in sent)
        assert sent[-1] == ("user", "내 이름이 뭐였지?")
        other = await ask_chat(chat, "채팅방-1", "나는 누구게?", user="stranger")
        assert chat.openai.requests[-1].texts()[-1] == ("user", "나는 누구게?"), "its request"
        assert ("user", "내 이름은 다온이야") not in chat.openai.requests[-1].texts(), (
            "another user's conversation is separate"
        )
        assert other.answered_by == "4"
    finally:
        await chat.fleet.start_instance(1)


async def test_a_new_conversation_forgets(chat):
    await ask_chat(chat, "채팅방-1", "비밀번호는 사과야", user="fresh")
    await ask_chat(chat, "채팅방-1", "처음부터 다시", user="fresh", 새대화=True)
    assert chat.openai.requests[-1].texts()[1:] == [("user", "처음부터 다시")]


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("[[429]]", "지금 AI 요청이 몰려 있어요. 잠시 후 다시 시도해 주세요."),
        ("[[context]]", "새대화"),
    ],
)
async def test_a_provider_error_before_any_text_says_why_in_korean(chat, marker, message):
    result = await ask_chat(chat, "채팅방-1", f"질문 {marker}", user=f"err{marker}")
    (shown,) = texts(result)
    assert shown.startswith("⚠️")
    assert message in shown
    assert "Traceback" not in shown and MARKER not in shown


async def test_a_stream_cut_midway_keeps_the_text_and_says_it_was_cut(chat):
    result = await ask_chat(chat, "채팅방-1", "끊어 봐 [[cut]]", user="cut")
    shown = "".join(texts(result))
    assert shown.startswith('"끊어 봐"')
    assert "⚠️ 답변이 중간에 끊겼어요" in shown
    assert not shown.endswith(MARKER)


async def test_mentions_in_a_prompt_ping_nobody(chat):
    result = await ask_chat(chat, "채팅방-1", "@everyone 모여라 <@&123> <@456>", user="ping")
    assert result.answered_by == "1"
    bodies = [
        r.body
        for r in chat.fake.requests
        if r.method in ("PATCH", "POST")
        and isinstance(r.body, dict)
        and "content" in r.body
        and "@everyone" in str(r.body.get("content"))
    ]
    assert bodies, "the answer quoted the prompt"
    assert all(b.get("allowed_mentions") == {"parse": []} for b in bodies)


async def test_an_attached_image_reaches_the_model_inline(chat):
    result = await ask_chat(
        chat, "채팅방-1", "이 그림 뭐야?", user="image", 이미지=("dot.png", PNG, "image/png")
    )
    assert "이미지 1장" in texts(result)[0]
    (url,) = chat.openai.requests[-1].image_urls()
    assert url == "data:image/png;base64," + base64.b64encode(PNG).decode()


async def test_a_mention_gets_a_streamed_reply_once_with_its_nonce(chat):
    handle = await chat.fake.send_message("채팅방-1", "안녕 봇!", user="mention", mentions_bot=True)
    result = await until_written(handle)
    assert result.instances == ["1"]
    assert result.content.startswith('"안녕 봇!"에 대한 답이에요.')
    assert result.messages[0]["nonce"] == str(handle.message_id)
    await asyncio.sleep(0.5)
    assert len(handle.replies()) == 1


async def test_reasoning_between_think_tags_is_not_shown(chat):
    result = await ask_chat(chat, "채팅방-1", "생각해 봐 [[think]]", user="think")
    # The model was asked with the marker, so its answer did start with <think>…</think>.
    assert chat.openai.requests[-1].last_user_text() == "생각해 봐 [[think]]"
    shown = "".join(texts(result))
    assert shown.startswith('"생각해 봐"에 대한 답이에요.')
    assert "<think>" not in shown and "</think>" not in shown


async def test_the_fleet_also_gets_the_image_doubles_and_the_image_test_settings(chat):
    """open_sandbox wires MiniMax and Stability doubles in and sets quick /이미지 timings for
    every sandbox, next to (not instead of) the test's own extra_env."""
    assert chat.minimax is not None and chat.stability is not None
    for instance in chat.fleet.instances.values():
        env = instance.env
        assert env["MINIMAX_BASE_URL"] == chat.minimax.base_url != chat.stability.base_url
        assert env["STABILITY_BASE_URL"] == chat.stability.base_url
        assert env["OPENAI_BASE_URL"] == chat.openai.base_url
        assert env["CHAT_EDIT_INTERVAL"] == "0.25"
        assert {k: v for k, v in env.items() if k.startswith("IMAGE_")} == {
            "IMAGE_TIMEOUT": "2",
            "IMAGE_MAX_RETRIES": "1",
            "IMAGE_RATE_LIMIT_COOLDOWN": "0",
            "IMAGE_ACCOUNT_COOLDOWN": "0",
            "IMAGE_PROGRESS_INTERVAL": "0.5",
        }
    assert chat.minimax.slow_delay_s == chat.stability.slow_delay_s == 10.0


async def test_an_openai_that_accepts_and_never_answers_gets_a_korean_timeout(
    tmp_path_factory, redis_url: str
):
    """The connection is taken, the request read, and nothing ever comes back: the user is
    told in Korean once CHAT_TIMEOUT passes, instead of a "thinking" that never ends."""
    async with BlackHole() as hole:
        env = {"OPENAI_BASE_URL": f"{hole.base_url}/v1", "CHAT_TIMEOUT": "1"}
        workdir = tmp_path_factory.mktemp("black-hole")
        async with open_sandbox(
            workdir, instances=(1,), redis_url=redis_url, per_instance_env={"1": env}
        ) as sb:
            handle = await sb.fake.send_command(
                channel="채팅방-1", command="채팅", options={"질문": "안녕?"}, user="hole"
            )
            deadline = asyncio.get_running_loop().time() + 30
            while not str(handle.result().content or "").startswith("⚠️"):
                assert asyncio.get_running_loop().time() < deadline, handle.result().content
                await asyncio.sleep(0.1)
            result = handle.result()
            assert texts(result) == ["⚠️ AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."]
            assert hole.connections >= 1 and hole.bytes_received > 0, "the request went out"
            assert result.answered_by == "1"
