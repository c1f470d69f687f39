"""The demo's input language and how it prints an answer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bot.demo import Request, parse_request, render_json, render_text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#채팅방-1 /핑", Request("채팅방-1", None, "핑", {})),
        ("#채팅방-1/스레드-1 /핑", Request("채팅방-1", "스레드-1", "핑", {})),
        ("dm /상태", Request(None, None, "상태", {})),
        (
            "#general /인스턴스 채널:이미지생성-1",
            Request("general", None, "인스턴스", {"채널": "이미지생성-1"}),
        ),
        ('#general /인스턴스 "채널:a b"', Request("general", None, "인스턴스", {"채널": "a b"})),
    ],
)
def test_parse_request(line, expected):
    assert parse_request(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/핑", "expected '#channel /command'"),
        ("#general 핑", "expected '#channel /command'"),
        ("general /핑", "must start with '#'"),
        ("#general /인스턴스 채널", "must look like name:value"),
        ('#general /핑 "unclosed', "cannot parse"),
    ],
)
def test_parse_request_explains_mistakes(line, message):
    with pytest.raises(ValueError, match=message):
        parse_request(line)


RESULT = SimpleNamespace(
    answered_by="1",
    ack_ms=12.34,
    content=None,
    embeds=[
        {
            "title": "🏓 퐁!",
            "description": "인스턴스 #1",
            "fields": [{"name": "가동 시간", "value": "5초"}],
            "footer": {"text": "버전 0.1.0"},
        }
    ],
    attachments=[{"filename": "a.png", "size": 3}],
    ephemeral=False,
    messages=[{"content": ""}],  # an embed-only answer: one message, no text
)
# A long chat answer: two messages, both shown, one after the other.
CHAT_RESULT = SimpleNamespace(
    answered_by="1",
    ack_ms=3.0,
    content="첫 부분",
    embeds=[],
    attachments=[],
    ephemeral=False,
    messages=[{"content": "첫 부분"}, {"content": "둘째 부분\n끝"}],
)


def test_render_text_reads_like_discord():
    text = render_text(Request("채팅방-1", "스레드-1", "핑", {}), RESULT)
    assert text.splitlines() == [
        "[#채팅방-1 > 스레드-1] /핑 -> instance 1 (ack 12 ms)",
        "  == 🏓 퐁! ==",
        "  인스턴스 #1",
        "  - 가동 시간: 5초",
        "  (버전 0.1.0)",
        "  [file] a.png (3 bytes)",
    ]


def test_render_text_shows_every_message_of_a_long_answer():
    text = render_text(Request("채팅방-1", None, "채팅", {"질문": "길게"}), CHAT_RESULT)
    assert text.splitlines() == [
        "[#채팅방-1] /채팅 -> instance 1 (ack 3 ms)",
        "  첫 부분",
        "  둘째 부분",
        "  끝",
    ]
    data = json.loads(render_json(Request("채팅방-1", None, "채팅", {}), CHAT_RESULT))
    assert data["pages"] == ["첫 부분", "둘째 부분\n끝"]


def test_render_json_has_the_documented_keys():
    data = json.loads(render_json(Request("general", None, "핑", {}), RESULT))
    assert data["instance"] == 1 and data["ack_ms"] == 12.3
    assert data["attachments"] == ["a.png"]
    assert {
        "channel",
        "command",
        "instance",
        "ack_ms",
        "content",
        "pages",
        "embeds",
        "attachments",
    } <= set(data)
