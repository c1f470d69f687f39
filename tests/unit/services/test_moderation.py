"""The pure part of services/moderation.py: banned words and the Korean messages."""

from __future__ import annotations

import pytest

from services.moderation import (
    BANNED_WORD_MESSAGE,
    FLAGGED_MESSAGE,
    banned_word,
    banned_word_message,
)

WORDS = ["bad", "바보"]


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("this is bad", WORDS, "bad"),  # exact
        ("this is BaD", WORDS, "bad"),  # different case
        ("this is ＢＡＤ", WORDS, "bad"),  # full-width letters, folded by NFKC
        ("this is b a d", WORDS, "bad"),  # spaced out
        ("this is b.a-d!", WORDS, "bad"),  # punctuated out
        ("b\u200ba\u200dd", WORDS, "bad"),  # zero-width characters in between
        ("b\ta\nd", WORDS, "bad"),  # tab and newline
        ("너는 정말 바보 같아", WORDS, "바보"),  # Korean word inside a sentence
        ("너는 정말 바 보 같아", WORDS, "바보"),  # ... spaced out
        ("this is fine", WORDS, None),  # no match
        ("바다 보러 가자", WORDS, None),  # 바 and 보 apart, with a letter between
        ("this is bad", [], None),  # empty list
        ("this is bad", ["", "  ", "..."], None),  # empty words (also after squeezing)
        ("this is bad", ["", "BAD"], "BAD"),  # the word comes back as configured
        ("바보야 bad", WORDS, "bad"),  # the first configured word wins, not the first in text
        ("ＢＡＤ", ["ｂａｄ"], "ｂａｄ"),  # the word is normalised too
    ],
)
def test_banned_word(text, words, expected):
    assert banned_word(text, words) == expected


def test_the_user_messages_are_korean_and_name_the_word():
    assert FLAGGED_MESSAGE == (
        "이 설명은 운영 정책에 맞지 않아 처리할 수 없어요. 내용을 바꿔서 다시 시도해 주세요."
    )
    assert BANNED_WORD_MESSAGE == "금지어(‘{word}’)가 들어 있어 처리할 수 없어요."
    assert banned_word_message("바보") == "금지어(‘바보’)가 들어 있어 처리할 수 없어요."
