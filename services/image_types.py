"""What the image clients share: the request and result types, aspect-ratio mapping, retries.

`ImageRequest` is what `/이미지` asks for, whichever provider serves it; `ImageResult` is
what comes back (`GeneratedImage`s with their bytes and MIME type, sniffed from the bytes).
`notes` are short Korean sentences for the user about what was changed on the way (a ratio
mapped to the nearest one the provider supports, an option the provider ignores, fewer
images than asked for).

`nearest_ratio` is pure: the supported ratio closest to the requested one on a log scale
(so 4:5 and 5:4 are as far from 1:1), ties going to the one listed first.

Retries go through tenacity (`with_retries`): at most `RetryPolicy.attempts` tries, full
jitter exponential backoff, and only for `ProviderRateLimited`, `ProviderTimeout` and
`ProviderUnavailable` (5xx, a provider's own "internal error" codes, a failed connection).
A rate limit whose `retry_after_s` is longer than `max_retry_after_s` is raised at once
(Stability's 60 s lockout: waiting it out would only hold the user longer).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from services.errors import (
    InvalidInputError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

MAX_COUNT = 4
# Requests in flight per client; more wait their turn. Many requests piled into one httpx
# pool make its bookkeeping quadratic (httpcore#1035: it starved the event loop at 1,000
# video jobs in bench/jobs), so every provider client queues its own.
MAX_CONCURRENT = 16
MAX_SEED = 4_294_967_294  # Stability's documented range; MiniMax takes any non-negative int
_RATIO = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")

T = TypeVar("T")


@dataclass(frozen=True)
class ImageRequest:
    """One `/이미지` request. `model=None` means the client's configured default."""

    prompt: str
    aspect_ratio: str = "1:1"
    count: int = 1
    negative_prompt: str | None = None
    seed: int | None = None
    model: str | None = None
    style_preset: str | None = None


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime_type: str
    seed: int | None = None


@dataclass(frozen=True)
class ImageResult:
    """`seed` is the first image's seed when known; `aspect_ratio` the one actually used."""

    images: tuple[GeneratedImage, ...]
    provider: str
    model: str
    seed: int | None
    aspect_ratio: str
    notes: tuple[str, ...] = ()
    request_ids: tuple[str, ...] = ()


def parse_ratio(text: str) -> tuple[int, int]:
    """`"16:9"` → `(16, 9)`; `InvalidInputError` (Korean) for anything else."""
    match = _RATIO.match(text or "")
    if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise InvalidInputError(
            f"malformed aspect ratio {text!r}",
            user_message="화면 비율은 16:9처럼 '가로:세로' 숫자로 적어 주세요.",
        )
    return int(match.group(1)), int(match.group(2))


def nearest_ratio(requested: str, supported: Sequence[str]) -> str:
    """The entry of `supported` closest to `requested` (log of width/height); exact if listed."""
    width, height = parse_ratio(requested)
    normal = f"{width}:{height}"
    if normal in supported:
        return normal
    target = math.log(width / height)

    def distance(candidate: str) -> float:
        w, h = parse_ratio(candidate)
        return abs(math.log(w / h) - target)

    return min(supported, key=distance)  # min keeps the first of equal distances


def check_request(request: ImageRequest, *, max_prompt: int) -> None:
    """What every provider needs, checked before anything is sent (Korean messages)."""
    prompt = request.prompt.strip()
    if not prompt:
        raise InvalidInputError("empty prompt", user_message="만들 이미지를 설명해 주세요.")
    if len(request.prompt) > max_prompt:
        raise InvalidInputError(
            f"prompt of {len(request.prompt)} characters, the limit is {max_prompt}",
            user_message=(
                f"설명이 너무 길어요. {max_prompt:,}자 이하로 줄여 주세요 "
                f"(지금 {len(request.prompt):,}자)."
            ),
        )
    if request.negative_prompt is not None and len(request.negative_prompt) > max_prompt:
        raise InvalidInputError(
            f"negative prompt of {len(request.negative_prompt)} characters",
            user_message=f"제외할 내용이 너무 길어요. {max_prompt:,}자 이하로 줄여 주세요.",
        )
    if not 1 <= request.count <= MAX_COUNT:
        raise InvalidInputError(
            f"count {request.count} outside 1..{MAX_COUNT}",
            user_message=f"이미지는 한 번에 1~{MAX_COUNT}장까지 만들 수 있어요.",
        )
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidInputError(
            f"seed {request.seed} outside 0..{MAX_SEED}",
            user_message=f"시드는 0부터 {MAX_SEED}까지의 정수로 적어 주세요.",
        )
    parse_ratio(request.aspect_ratio)


def ratio_note(requested: str, used: str, provider_label: str) -> str | None:
    width, height = parse_ratio(requested)
    if f"{width}:{height}" == used:
        return None
    return (
        f"{provider_label}는 {width}:{height} 비율을 지원하지 않아 "
        f"가장 가까운 {used}(으)로 만들었어요."
    )


def sniff_mime(data: bytes) -> str | None:
    """The image type the bytes start with (PNG, JPEG, WebP), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def scrub(text: str, secret: str) -> str:
    """`text` with the secret replaced: provider texts we repeat must never carry the key."""
    return text.replace(secret, "***") if secret else text


async def read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The streamed body, or None as soon as it exceeds `limit` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


# --- retries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; backoff `initial_s` × 2^k with full jitter, capped at `max_s`."""

    attempts: int = 3
    initial_s: float = 1.0
    max_s: float = 8.0
    max_retry_after_s: float = 15.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")


def is_retryable(exc: BaseException, policy: RetryPolicy) -> bool:
    if isinstance(exc, ProviderRateLimited):
        wait = exc.retry_after_s
        return wait is None or wait <= policy.max_retry_after_s
    return isinstance(exc, ProviderTimeout | ProviderUnavailable)


async def with_retries(policy: RetryPolicy, call: Callable[..., Awaitable[T]], *args: object) -> T:
    """`await call(*args)`, retried per `policy`; the last `ProviderError` is raised as it is."""
    jitter = wait_random_exponential(multiplier=policy.initial_s, max=policy.max_s)

    def wait(state: RetryCallState) -> float:
        backoff = jitter(state)
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, ProviderRateLimited) and failure.retry_after_s:
            return max(backoff, failure.retry_after_s)
        return backoff

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(lambda exc: is_retryable(exc, policy)),
        reraise=True,
    )
    return await retrying(call, *args)


def bounded_client(
    timeout_s: float,
    max_concurrent: int,
    *,
    connect_s: float,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
    """A provider's httpx client (pool sized to `max_concurrent`, no redirects followed)
    and the semaphore its requests hold, so at most that many are ever in flight."""
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=connect_s),
        headers=headers,
        transport=transport,
        follow_redirects=False,
        limits=httpx.Limits(
            max_connections=max_concurrent, max_keepalive_connections=max_concurrent
        ),
    )
    return client, asyncio.Semaphore(max_concurrent)


def transport_error(exc: Exception, provider: str, label: str) -> ProviderError:
    """An httpx failure (or our own deadline) as the matching `ProviderError`."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ProviderTimeout(
            f"{label}: no answer in time ({type(exc).__name__})", provider=provider
        )
    return ProviderUnavailable(
        f"{label}: connection failed ({type(exc).__name__})", provider=provider
    )
