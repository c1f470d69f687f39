"""The demo's input language and how it prints an answer."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from bot.demo import (
    NoSuchButton,
    Press,
    Request,
    attachments_of,
    find_button,
    parse_press,
    parse_request,
    progress_note,
    render_json,
    render_text,
    unused_path,
)


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


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("새로고침", Press("새로고침")),
        ("  다시 생성  ", Press("다시 생성")),
        ("다시 생성 as other", Press("다시 생성", "other")),
        ("다시 생성 AS other", Press("다시 생성", "other")),
        ("🔄 새로고침 as 민지", Press("🔄 새로고침", "민지")),
        ('"save as draft"', Press("save as draft")),
        ('"save as draft" as other', Press("save as draft", "other")),
        ("as", Press("as")),
    ],
)
def test_parse_press(rest, expected):
    assert parse_press(rest) == expected


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("", "expected 'press LABEL'"),
        ("   ", "expected 'press LABEL'"),
        ("as other", "expected 'press LABEL as USER'"),
        ('"unclosed', "cannot parse"),
    ],
)
def test_parse_press_explains_mistakes(rest, message):
    with pytest.raises(ValueError, match=message):
        parse_press(rest)


def button(custom_id: str, label: str | None = None, emoji: str | None = None, **extra):
    found = {"type": 2, "style": 2, "custom_id": custom_id, **extra}
    if label is not None:
        found["label"] = label
    if emoji is not None:
        found["emoji"] = {"name": emoji}
    return found


def row(*components):
    return {"type": 1, "components": list(components)}


def answer(*messages):
    return SimpleNamespace(messages=list(messages))


STATUS = Request("general", None, "상태", {})
IMAGE = Request("이미지생성-1", None, "이미지", {"설명": "고양이"})
PING = Request("general", None, "핑", {})
ANSWERS = [
    (STATUS, answer({"id": "10", "components": [row(button("refresh", "새로고침", "🔄"))]})),
    (
        IMAGE,
        answer(
            {"id": "20", "components": [row(button("again:1", "다시 생성"))]},
            {
                "id": "21",
                "components": [
                    row(
                        button("again:2", "다시 생성"),
                        {"type": 2, "style": 5, "label": "원본", "url": "https://example.com"},
                        button("vary:2", emoji="🎲"),
                    )
                ],
            },
        ),
    ),
    (PING, answer({"id": "30", "components": []})),
]


def test_find_button_takes_the_newest_message_of_the_newest_answer_having_it():
    request, message, custom_id = find_button(ANSWERS, "다시 생성")
    assert (request, message["id"], custom_id) == (IMAGE, "21", "again:2")
    request, message, custom_id = find_button(ANSWERS, "새로고침")
    assert (request, message["id"], custom_id) == (STATUS, "10", "refresh")


@pytest.mark.parametrize("label", ["🔄 새로고침", "🔄", "  새로고침 ", "🔄  새로고침"])
def test_find_button_accepts_the_emoji_too(label):
    assert find_button(ANSWERS, label)[2] == "refresh"


def test_find_button_knows_emoji_only_buttons_and_v2_accessories():
    assert find_button(ANSWERS, "🎲")[2] == "vary:2"
    section = {
        "type": 9,
        "components": [{"type": 10, "content": "결과"}],
        "accessory": button("again:v2", "다시 생성"),
    }
    v2 = [(IMAGE, answer({"id": "40", "components": [{"type": 17, "components": [section]}]}))]
    assert find_button(v2, "다시 생성")[2] == "again:v2"


def test_an_unknown_label_lists_the_buttons_newest_first_and_skips_links():
    with pytest.raises(NoSuchButton) as caught:
        find_button(ANSWERS, "원본")
    assert str(caught.value) == (
        "no button '원본' on the recent answers; buttons: 다시 생성, 🎲, 새로고침"
    )
    with pytest.raises(NoSuchButton, match=r"buttons: \(none: no recent answer has buttons\)"):
        find_button([(PING, answer({"id": "30"}))], "새로고침")


FILES = SimpleNamespace(
    answered_by="2",
    ack_ms=40.0,
    content="🎨 고양이",
    embeds=[],
    attachments=[{"id": "501", "filename": "image-1.png", "size": 1234}],
    ephemeral=False,
    messages=[
        {
            "id": "900",
            "content": "🎨 고양이",
            "attachments": [
                {"id": "501", "filename": "image-1.png", "size": 1234},
                {"id": "502", "filename": "image-2.png", "size": 99},
            ],
        },
        {"id": "901", "content": "", "attachments": [{"id": "503", "filename": "x.png"}]},
    ],
)


def test_files_of_every_message_are_listed_with_where_they_were_saved():
    assert [(m, a["id"]) for m, a in attachments_of(FILES)] == [
        ("900", "501"),
        ("900", "502"),
        ("901", "503"),
    ]
    saved = {"501": "/tmp/imgs/900-image-1.png", "503": "/tmp/imgs/901-x.png"}
    request = replace(IMAGE, pressed="다시 생성", user="other")
    assert render_text(request, FILES, saved).splitlines() == [
        "[#이미지생성-1] /이미지 > press 다시 생성 as other -> instance 2 (ack 40 ms)",
        "  🎨 고양이",
        "  [file] image-1.png (1234 bytes) -> /tmp/imgs/900-image-1.png",
        "  [file] image-2.png (99 bytes)",
        "  [file] x.png (? bytes) -> /tmp/imgs/901-x.png",
    ]
    data = json.loads(render_json(request, FILES, saved))
    assert data["attachments"] == ["image-1.png", "image-2.png", "x.png"]
    assert data["saved"] == ["/tmp/imgs/900-image-1.png", "/tmp/imgs/901-x.png"]
    assert (data["command"], data["pressed"], data["user"]) == ("이미지", "다시 생성", "other")


def test_a_command_answer_has_no_press_and_nothing_saved_by_default():
    data = json.loads(render_json(PING, RESULT))
    assert (data["pressed"], data["user"], data["saved"]) == (None, None, [])
    assert render_text(PING, RESULT).splitlines()[0] == "[#general] /핑 -> instance 1 (ack 12 ms)"


def test_unused_path_never_overwrites_and_keeps_only_the_name(tmp_path):
    first = unused_path(tmp_path, "900", "image-1.png")
    assert first == tmp_path / "900-image-1.png"
    first.write_bytes(b"a")
    assert unused_path(tmp_path, "900", "image-1.png") == tmp_path / "900-image-1-2.png"
    (tmp_path / "900-image-1-2.png").write_bytes(b"b")
    assert unused_path(tmp_path, "900", "image-1.png") == tmp_path / "900-image-1-3.png"
    assert unused_path(tmp_path, "900", "../../etc/passwd") == tmp_path / "900-passwd"
    assert unused_path(tmp_path, "900", "..\\evil.png") == tmp_path / "900-evil.png"
    assert unused_path(tmp_path, None, "") == tmp_path / "file"


@pytest.mark.parametrize(
    ("before", "after", "note"),
    [
        ("하늘은", "하늘은 파랗게 보여요 ✍️", "  … 14 characters so far"),
        (
            "⏳ MiniMax로 이미지 1장을 그리는 중이에요… (9초 경과)",
            "⏳ MiniMax로 이미지 1장을 그리는 중이에요… (10초 경과)\n⚠️ 느려요",
            "  … 44 characters so far",  # grew by more than a tick: counted as text
        ),
        (
            "⏳ 그리는 중이에요… (9초 경과)",
            "⏳ 그리는 중이에요… (10초 경과)",
            "  … ⏳ 그리는 중이에요… (10초 경과)",
        ),
        ("⏳ 그리는 중 (5초)\n둘째 줄", "⏳ 그리는 중 (6초)\n둘째 줄", "  … ⏳ 그리는 중 (6초)"),
        ("⏳ 그리는 중 (5초)", "", None),
        ("⏳ 그리는 중 (5초)", "  \n", None),
        ("같음", "같음", None),
    ],
)
def test_progress_note(before, after, note):
    assert progress_note(before, after) == note
