"""MiniMax's failures as typed `services.errors` errors, shared by the image and video clients.

MiniMax reports most failures as HTTP 200 with `base_resp.status_code != 0`; both that and
the HTTP status are checked (`answer_of` does both, in that order). Mapping (reference:
shared/reference/providers.md):

| MiniMax | raised |
|---------|--------|
| 1002 rate limit, 1041 connection limit, HTTP 429 | `ProviderRateLimited` |
| 1001 timeout, HTTP 408/504 | `ProviderTimeout` |
| 1000 unknown, 1024 internal, other HTTP 5xx | `ProviderUnavailable` |
| 1004 auth failed, 2049 invalid key, HTTP 401/403 | `ProviderAuthFailed` (names the region) |
| 1008 insufficient balance | `ProviderOutOfCredit` |
| 1026 / 1027 sensitive input / output | `ContentRefused` (names the medium) |
| 2013 invalid parameters, 1039, other HTTP 4xx | `InvalidProviderRequest` |
| 2056 usage limit | `ProviderQuotaExhausted` |
| any other code | `ProviderError` |

Whether an error is retried is the caller's decision (`services.image_types.with_retries`
retries rate limits, timeouts and unavailability). The Korean refusal texts name what was
being made: `medium` is "이미지" for images, "영상" for videos, and the particles follow it
(이미지를 / 영상을). Log messages name the operation (`video_generation`,
`files/retrieve`, ...), carry the request id (appended by `ProviderError`) and never the
key: provider texts repeated in them are scrubbed of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.errors import (
    ContentRefused,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import scrub

PROVIDER = "minimax"

RATE_LIMIT_CODES = frozenset({1002, 1041})

REGION_HINT = (
    "a MiniMax key works only on its own region's host: check MINIMAX_BASE_URL "
    "(https://api.minimax.io global, https://api.minimaxi.com mainland China)"
)
AUTH_MESSAGE = (
    "MiniMax 인증에 실패했어요. 키가 다른 지역(글로벌/중국) 주소용일 수 있어요. "
    "관리자에게 알려 주세요."
)
QUOTA_MESSAGE = "MiniMax 사용 한도를 모두 썼어요. 관리자에게 알려 주세요."
CREDIT_MESSAGE = "MiniMax 잔액이 부족해요. 관리자에게 알려 주세요."


def with_particle(word: str, after_consonant: str, after_vowel: str) -> str:
    """`word` and the Korean particle its last syllable takes (영상+을, 이미지+를)."""
    last = word[-1:]
    if "가" <= last <= "힣":
        has_final = (ord(last) - ord("가")) % 28 != 0
        return word + (after_consonant if has_final else after_vowel)
    return word + after_vowel


def input_refused_message(medium: str) -> str:
    return (
        f"MiniMax가 이 설명으로는 {with_particle(medium, '을', '를')} 만들 수 없대요. "
        "표현을 바꿔서 다시 시도해 주세요."
    )


def output_refused_message(medium: str) -> str:
    return (
        f"만든 {with_particle(medium, '이', '가')} MiniMax의 안전 기준에 걸렸어요. "
        "설명을 바꿔서 다시 시도해 주세요."
    )


def status_error(
    code: int,
    message: str,
    *,
    request_id: str | None,
    api_key: str,
    operation: str,
    medium: str,
) -> ProviderError:
    """The error for `base_resp.status_code == code` (not 0) in answer to `operation`."""
    said = scrub(message, api_key)[:200]
    log = f"MiniMax {operation} failed: status {code} ({said})"
    kwargs: dict[str, Any] = {"provider": PROVIDER, "request_id": request_id}
    if code in RATE_LIMIT_CODES:
        return ProviderRateLimited(log, **kwargs)
    if code == 1001:
        return ProviderTimeout(log, **kwargs)
    if code in (1000, 1024):
        return ProviderUnavailable(log, **kwargs)
    if code in (1004, 2049):
        return ProviderAuthFailed(f"{log}; {REGION_HINT}", user_message=AUTH_MESSAGE, **kwargs)
    if code == 1008:
        return ProviderOutOfCredit(log, user_message=CREDIT_MESSAGE, **kwargs)
    if code == 1026:
        return ContentRefused(
            f"{log}: sensitive input", user_message=input_refused_message(medium), **kwargs
        )
    if code == 1027:
        return ContentRefused(
            f"{log}: sensitive output", user_message=output_refused_message(medium), **kwargs
        )
    if code in (2013, 1039):
        return InvalidProviderRequest(log, **kwargs)
    if code == 2056:
        return ProviderQuotaExhausted(log, user_message=QUOTA_MESSAGE, **kwargs)
    return ProviderError(log, **kwargs)


def http_error(
    status: int,
    body: bytes,
    *,
    request_id: str | None,
    api_key: str,
    operation: str,
) -> ProviderError:
    """The error for an HTTP status other than 2xx in answer to `operation`."""
    text = scrub(body[:200].decode("utf-8", "replace"), api_key)
    log = f"MiniMax {operation} answered HTTP {status}: {text!r}"
    kwargs: dict[str, Any] = {"provider": PROVIDER, "request_id": request_id}
    if status == 429:
        return ProviderRateLimited(log, **kwargs)
    if status in (401, 403):
        return ProviderAuthFailed(f"{log}; {REGION_HINT}", user_message=AUTH_MESSAGE, **kwargs)
    if status in (408, 504):
        return ProviderTimeout(log, **kwargs)
    if status >= 500:
        return ProviderUnavailable(log, **kwargs)
    return InvalidProviderRequest(log, **kwargs)


def answer_of(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    api_key: str,
    operation: str,
    medium: str,
) -> tuple[dict[str, Any], str | None]:
    """The JSON object MiniMax answered with `base_resp.status_code == 0`, and its request
    id (the body's `id`, else the `Trace-Id` header); otherwise the mapped `ProviderError`.

    `headers` must look keys up case-insensitively (httpx's `Headers` do)."""
    header_id = headers.get("trace-id")
    try:
        answer = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        answer = None
    request_id = (answer.get("id") if isinstance(answer, dict) else None) or header_id
    if not 200 <= status < 300:
        raise http_error(status, raw, request_id=request_id, api_key=api_key, operation=operation)
    if not isinstance(answer, dict):
        raise ProviderUnavailable(
            f"MiniMax {operation} answered HTTP {status} with a body that is not a JSON object",
            provider=PROVIDER,
            request_id=request_id,
        )
    base = answer.get("base_resp") or {}
    code = as_int(base.get("status_code") if isinstance(base, dict) else None, default=-1)
    if code != 0:
        message = str(base.get("status_msg") or "") if isinstance(base, dict) else ""
        raise status_error(
            code,
            message,
            request_id=request_id,
            api_key=api_key,
            operation=operation,
            medium=medium,
        )
    return answer, request_id


def as_int(value: Any, *, default: Any) -> Any:
    """MiniMax sends counts, codes and ids as numbers or strings."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
