"""The pure parts of services/openai_service.py: the <think> filter and the request shapes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.openai_service import (
    ImagePart,
    ThinkFilter,
    Turn,
    chat_messages,
    responses_input,
)


def run(chunks: list[str]) -> str:
    think = ThinkFilter()
    return "".join(think.feed(c) for c in chunks) + think.flush()


def split_every(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


REASONING = "<think>먼저 생각하자. a < b 이고 </thi 는 태그가 아니다</think>\n\n"
ANSWER = REASONING + "답은 42예요. x<y, <b>굵게</b>"
VISIBLE = "답은 42예요. x<y, <b>굵게</b>"


def test_reasoning_is_removed_in_one_chunk():
    assert run([ANSWER]) == VISIBLE


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9])
def test_reasoning_is_removed_whatever_the_split(size):
    assert run(split_every(ANSWER, size)) == VISIBLE


def test_tags_split_exactly_at_every_position():
    for cut in range(1, len(ANSWER)):
        assert run([ANSWER[:cut], ANSWER[cut:]]) == VISIBLE, cut


def test_text_that_only_looks_like_a_tag_start_is_released():
    think = ThinkFilter()
    assert think.feed("a <thi") == "a "
    assert think.feed("s is fine") == "<this is fine"
    assert think.feed(" <") == " "
    assert think.flush() == "<"


def test_an_unclosed_reasoning_block_is_dropped_and_middle_blocks_too():
    assert run(["앞 <think>끝나지 않은 생각"]) == "앞 "
    assert run(["가<think>x</think>나<think>y</think> 다"]) == "가나다"
    assert run(["", "plain", ""]) == "plain"


def test_nothing_is_held_back_longer_than_needed():
    think = ThinkFilter()
    assert think.feed("안녕하세요") == "안녕하세요"
    assert think.feed("<think>숨김") == ""
    assert think.feed("</thi") == ""
    assert think.feed("nk>  보임") == "보임"


@given(st.text(alphabet="ab<>/thinkx 가", max_size=40), st.lists(st.integers(1, 6), max_size=20))
def test_any_split_gives_the_same_result_as_one_chunk(text, sizes):
    chunks, rest = [], text
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunks.append(rest)
    assert run(chunks) == run([text])


def test_turns_as_chat_messages_with_inline_images():
    png = ImagePart(b"\x89PNG-bytes", "image/png")
    turns = [
        Turn("system", "친절하게"),
        Turn("user", "안녕"),
        Turn("assistant", "안녕하세요"),
        Turn("user", "이건?", images=(png,)),
        Turn("user", "", images=(png,)),
    ]
    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG-bytes").decode()
    assert chat_messages(turns) == [
        {"role": "system", "content": "친절하게"},
        {"role": "user", "content": "안녕"},
        {"role": "assistant", "content": "안녕하세요"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "이건?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        },
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]},
    ]
    assert responses_input(turns[2:4]) == [
        {"role": "assistant", "content": "안녕하세요"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "이건?"},
                {"type": "input_image", "image_url": url, "detail": "auto"},
            ],
        },
    ]


def test_only_user_turns_carry_images_and_roles_are_checked():
    with pytest.raises(ValueError):
        Turn("assistant", "x", images=(ImagePart(b"x", "image/png"),))
    with pytest.raises(ValueError):
        Turn("tool", "x")  # type: ignore[arg-type]
