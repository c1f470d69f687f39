"""What the user reads of /비디오, and the options' defaults (literal Korean)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.store.jobs import JobState
from commands.video._cog import VideoCommands, token_alive
from commands.video._texts import link_expiry, link_text, progress_bar, progress_text
from env_manager import Settings
from services.errors import InvalidInputError


@pytest.mark.parametrize(
    ("fraction", "bar"),
    [(0.0, "▱▱▱▱▱▱▱▱▱▱▱▱ 0%"), (0.5, "▰▰▰▰▰▰▱▱▱▱▱▱ 50%"), (1.0, "▰▰▰▰▰▰▰▰▰▰▰▰ 100%")],
)
def test_progress_bar(fraction, bar):
    assert progress_bar(fraction) == bar


@pytest.mark.parametrize(
    ("state", "status", "elapsed", "position", "first_line", "bar"),
    [
        (JobState.QUEUED, None, 5, 3, "🎬 영상: 차례를 기다리는 중 (대기 3번째) · 5초 경과", "0%"),
        (JobState.STARTING, None, 1, None, "🎬 영상: 작업을 시작하는 중 · 1초 경과", "3%"),
        (
            JobState.RUNNING,
            "Queueing",
            20,
            None,
            "🎬 영상: 제공자 대기열에서 기다리는 중 · 20초 경과",
            "12%",
        ),
        (JobState.RUNNING, "Processing", 72, None, "🎬 영상: 만드는 중 · 1분 12초 경과", "50%"),
        (JobState.RUNNING, "Processing", 900, None, "🎬 영상: 만드는 중 · 15분 0초 경과", "95%"),
    ],
)
def test_progress_text(state, status, elapsed, position, first_line, bar):
    lines = progress_text(state, status, elapsed, 6, position).splitlines()
    assert lines[0] == first_line
    assert lines[1].endswith(f" {bar}")
    assert lines[2] == "-# 보통 1~5분 걸려요. 완성되면 이 메시지에 올라와요."


def test_link_text_states_the_expiry():
    url = "https://cdn.example/v.mp4?Expires=1700007200&Signature=abc"
    assert link_expiry(url) == 1700007200.0
    assert link_text(url, 30 * 1024 * 1024, 10 * 1024 * 1024, now=1700000000.0) == (
        f"📦 파일(30.0MB)이 디스코드 첨부 한도(10MB)보다 커서 링크로 드려요: {url}\n"
        "이 링크는 약 2시간 0분 뒤에 만료돼요."
    )
    assert link_text("https://cdn.example/v.mp4", None, 8 * 1024 * 1024).endswith(
        "이 링크는 몇 시간 안에 만료되니 일찍 받아 두세요."
    )


def test_the_token_is_trusted_until_thirty_seconds_before_its_fifteen_minutes():
    job = SimpleNamespace(token_issued_at=1000.0)
    assert token_alive(job, now=1000.0 + 869.9)  # type: ignore[arg-type]
    assert not token_alive(job, now=1000.0 + 870.0)  # type: ignore[arg-type]


def commands_with(**settings: object) -> VideoCommands:
    bot = SimpleNamespace(settings=Settings.build(discord_token="t", **settings))
    return VideoCommands(bot)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "args", "expected"),
    [
        ({}, (None, None, None), ("MiniMax-Hailuo-2.3", 6, "768P")),
        ({"video_resolution": "1080P"}, (None, None, None), ("MiniMax-Hailuo-2.3", 6, "1080P")),
        # 10 s allows only 768P: an unchosen resolution follows, whatever the default.
        ({"video_resolution": "1080P"}, (None, 10, None), ("MiniMax-Hailuo-2.3", 10, "768P")),
        ({}, ("MiniMax-Hailuo-02", None, "512P"), ("MiniMax-Hailuo-02", 6, "512P")),
    ],
)
def test_defaults_fill_the_options(settings, args, expected):
    request = commands_with(**settings).request("파도", *args)
    assert (request.model, request.duration, request.resolution) == expected


def test_a_chosen_resolution_is_never_silently_changed():
    with pytest.raises(InvalidInputError) as caught:
        commands_with().request("파도", None, 10, "1080P")
    assert (
        caught.value.user_message
        == "10초 영상은 768P로만 만들 수 있어요. 해상도를 768P로 골라 주세요."
    )
