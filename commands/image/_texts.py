"""What the user reads of /이미지: progress lines, the result embed, notes (Korean).

The embed's description is the prompt, verbatim, and the 제외할 요소 field the negative
prompt: the buttons read them back from the message (`prompt_of`), see `_spec.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from commands.image._spec import ImageSpec
from services.errors import (
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
)
from services.image_service import label
from services.image_types import ImageResult

TITLE = "🎨 이미지를 만들었어요"
NEGATIVE_FIELD = "제외할 요소"
COLOUR = discord.Colour.from_rgb(88, 101, 242)
NOT_YOURS = "이 버튼은 이미지를 요청한 사람만 누를 수 있어요. 직접 /이미지 명령을 써 보세요."
PROMPT_MISSING = "원래 설명을 찾을 수 없어요. /이미지 명령으로 새로 만들어 주세요."


def short_reason(exc: ProviderError) -> str:
    """A few Korean words for why a provider was passed over."""
    if isinstance(exc, ProviderRateLimited):
        return "요청 한도 초과"
    if isinstance(exc, ProviderOutOfCredit):
        return "잔액 부족"
    if isinstance(exc, ProviderQuotaExhausted):
        return "사용 한도 소진"
    if isinstance(exc, ProviderAuthFailed):
        return "인증 실패"
    if isinstance(exc, ProviderTimeout):
        return "응답 시간 초과"
    if isinstance(exc, InvalidProviderRequest):
        return "요청 거부"
    return "서비스 장애"


def progress_text(
    provider: str, failures: Sequence[tuple[str, ProviderError]], elapsed_s: float, count: int
) -> str:
    """The placeholder while images are drawn: who draws, how long so far, who failed."""
    lines = [f"⏳ {label(provider)}로 이미지 {count}장을 그리는 중이에요… ({elapsed_s:.0f}초 경과)"]
    lines += [
        f"↪️ {label(p)}: {short_reason(exc)} → {label(provider)}로 다시 시도해요"
        for p, exc in failures
    ]
    return "\n".join(lines)


def queued_text(place: int) -> str:
    """The placeholder while the instance's drawing slots are all taken."""
    return f"⏳ 차례를 기다리는 중이에요 (대기 {place}번째). 순서가 오면 바로 그릴게요."


def failover_note(failures: Sequence[tuple[str, ProviderError]], served: str) -> str | None:
    if not failures:
        return None
    passed = ", ".join(f"{label(p)}({short_reason(exc)})" for p, exc in failures)
    return f"{passed}를 쓸 수 없어서 {label(served)}가 대신 만들었어요."


def reencoded_note(count: int) -> str | None:
    if not count:
        return None
    return f"디스코드 파일 크기 제한 때문에 {count}장을 JPEG로 줄여서 올렸어요."


def result_embed(
    spec: ImageSpec, result: ImageResult, elapsed_s: float, notes: Sequence[str]
) -> discord.Embed:
    embed = discord.Embed(title=TITLE, description=spec.prompt, colour=COLOUR)
    embed.add_field(name="제공자", value=f"{label(result.provider)} · {result.model}")
    embed.add_field(name="시드", value=str(spec.seed))
    embed.add_field(name="비율", value=result.aspect_ratio)
    embed.add_field(name="장수", value=f"{len(result.images)}장")
    embed.add_field(name="걸린 시간", value=f"{elapsed_s:.1f}초")
    if spec.negative:
        embed.add_field(name=NEGATIVE_FIELD, value=spec.negative, inline=False)
    if notes:
        embed.add_field(name="참고", value="\n".join(f"• {n}" for n in notes)[:1024], inline=False)
    embed.set_footer(text="다시 생성: 같은 옵션, 새 시드 · 변형: 같은 설명과 시드, 다른 제공자")
    return embed


def prompt_of(message: discord.Message | None) -> tuple[str | None, str | None]:
    """The prompt and negative prompt a result message shows, or (None, None)."""
    if message is None or not message.embeds:
        return None, None
    embed = message.embeds[0]
    if embed.title != TITLE or not embed.description:
        return None, None
    negative = next((f.value for f in embed.fields if f.name == NEGATIVE_FIELD), None)
    return embed.description, negative
