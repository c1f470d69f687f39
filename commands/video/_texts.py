"""What the user reads of /비디오 (Korean), built purely from a job's plain data."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

from bot.store.jobs import JobState

# What MiniMax's task states and ours mean to the user, and how far along each is.
STATE_WORDS: dict[str, tuple[str, float]] = {
    "queued": ("차례를 기다리는 중", 0.0),
    "starting": ("작업을 시작하는 중", 0.03),
    "Preparing": ("준비하는 중", 0.08),
    "Queueing": ("제공자 대기열에서 기다리는 중", 0.12),
    "Processing": ("만드는 중", 0.2),
    "Success": ("마무리하는 중", 0.97),
}
# Typical generation time (MiniMax: 1-5 minutes); the bar creeps towards 95 % over it.
EXPECTED_S = {6: 180.0, 10: 300.0}
BAR_WIDTH = 12
NOT_YOURS = "이 버튼은 영상을 요청한 사람만 누를 수 있어요."
ALREADY_OVER = "이미 끝난 작업이에요."
CANCELLING = "🛑 취소하는 중이에요…"
CANCELLED = "🛑 영상 만들기를 취소했어요."
CANCELLED_AFTER_START = (
    "🛑 영상 만들기를 취소했어요. 제공자에서 이미 시작된 작업은 요금이 나갈 수 있어요."
)
STORE_DOWN = (
    "지금은 영상 작업을 기록할 수 없어서 시작하지 않았어요 (요금은 나가지 않았어요). "
    "잠시 후 다시 시도해 주세요."
)


def elapsed_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}분 {rest}초" if minutes else f"{rest}초"


def progress_fraction(stage: str, elapsed_s: float, duration: int) -> float:
    """How far along the job looks: the stage's floor, then time against the typical run."""
    _, floor = STATE_WORDS.get(stage, ("", 0.2))
    if stage != "Processing":
        return floor
    expected = EXPECTED_S.get(duration, 240.0)
    return min(0.95, floor + (0.95 - floor) * elapsed_s / expected)


def progress_bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return "▰" * filled + "▱" * (BAR_WIDTH - filled) + f" {round(fraction * 100)}%"


def stage_of(state: JobState, provider_status: str | None) -> str:
    """The word the progress line is keyed by: ours before the provider has one."""
    if state is JobState.QUEUED:
        return "queued"
    if state is JobState.STARTING or provider_status is None:
        return "starting"
    return provider_status


def progress_text(
    state: JobState,
    provider_status: str | None,
    elapsed_s: float,
    duration: int,
    queue_position: int | None,
) -> str:
    stage = stage_of(state, provider_status)
    word, _ = STATE_WORDS.get(stage, ("만드는 중", 0.2))
    if stage == "queued" and queue_position is not None:
        word = f"{word} (대기 {queue_position}번째)"
    fraction = progress_fraction(stage, elapsed_s, duration)
    return (
        f"🎬 영상: {word} · {elapsed_text(elapsed_s)} 경과\n"
        f"{progress_bar(fraction)}\n"
        "-# 보통 1~5분 걸려요. 완성되면 이 메시지에 올라와요."
    )


def summary(options: dict[str, object]) -> str:
    return f"{options.get('duration')}초 · {options.get('resolution')} · {options.get('model')}"


def result_text(options: dict[str, object], elapsed_s: float) -> str:
    prompt = str(options.get("prompt", ""))
    shown = prompt if len(prompt) <= 300 else prompt[:300] + "…"
    return (
        f"🎬 영상이 완성됐어요! ({summary(options)}, {elapsed_text(elapsed_s)} 걸림)\n"
        f"> {shown.replace(chr(10), ' ')}"
    )


def link_text(url: str, size: int | None, limit: int, now: float | None = None) -> str:
    """The download link of a video too large to attach, with when it stops working."""
    megabytes = f"{size / 1024 / 1024:.1f}MB" if size else "크기를 알 수 없는"
    expires = link_expiry(url)
    if expires is None:
        when = "몇 시간 안에 만료되니 일찍 받아 두세요"
    else:
        left = max(0.0, expires - (time.time() if now is None else now))
        hours, minutes = divmod(int(left // 60), 60)
        span = f"{hours}시간 {minutes}분" if hours else f"{minutes}분"
        when = f"약 {span} 뒤에 만료돼요"
    return (
        f"📦 파일({megabytes})이 디스코드 첨부 한도({limit / 1024 / 1024:.0f}MB)보다 커서 "
        f"링크로 드려요: {url}\n이 링크는 {when}."
    )


_EXPIRY_KEYS = ("expires", "Expires", "x-expires")


def link_expiry(url: str) -> float | None:
    """The epoch second a signed URL stops working, when it says (`Expires=` and kin)."""
    query = parse_qs(urlsplit(url).query)
    for key in _EXPIRY_KEYS:
        for value in query.get(key, []):
            if re.fullmatch(r"\d{9,11}", value):
                return float(value)
    return None


def late_text(user_id: int, body: str) -> str:
    """A result posted in the channel after the interaction's 15 minutes: names the user."""
    return f"<@{user_id}> {body}"
