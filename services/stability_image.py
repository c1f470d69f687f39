"""Stability AI image generation (v2beta `stable-image/generate`), no Discord types.

`StabilityImage.generate(ImageRequest)` posts `multipart/form-data` (the API requires it
even without a file) to `{base_url}/v2beta/stable-image/generate/{core|ultra|sd3}`. The
model picks the endpoint: `core`, `ultra`, or an SD3.5 model (`sd3.5-large`,
`sd3.5-large-turbo`, `sd3.5-medium`, `sd3.5-flash`) sent as `model` to `sd3`. One request
makes one image, so `count` images are `count` concurrent requests, each retried on its
own; with a seed, image i gets `seed + i` (the same seed would make the same picture).

`Accept: image/*`: the answer is the image bytes themselves, a third smaller than the
base64 of `application/json`, with `finish-reason` and `seed` in the headers; errors are
JSON either way. `finish-reason: CONTENT_FILTERED` on a 200 is a refusal (the image is
blurred), never a success.

| Stability | raised | retried |
|-----------|--------|---------|
| 400 bad_request, 413, 422 (`invalid_language`: English only) | `InvalidProviderRequest` | no |
| 401 | `ProviderAuthFailed` | no |
| 402 payment_required | `ProviderOutOfCredit` | no |
| 403 content_moderation, CONTENT_FILTERED | `ContentRefused` | never |
| 429 | `ProviderRateLimited`, `retry_after_s` 60 (the lockout) | no: it outlasts any wait |
| 408, 504, a client timeout | `ProviderTimeout` | yes |
| other 5xx, connection failure | `ProviderUnavailable` | yes |

Log messages carry Stability's error `id` and never the key.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from services.errors import (
    ContentRefused,
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import (
    MAX_CONCURRENT,
    MAX_SEED,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    RetryPolicy,
    bounded_client,
    check_request,
    nearest_ratio,
    ratio_note,
    read_capped,
    scrub,
    sniff_mime,
    transport_error,
    with_retries,
)

PROVIDER = "stability"
LABEL = "Stability"
DEFAULT_BASE_URL = "https://api.stability.ai"
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash")
MODELS = ("core", "ultra", *SD3_MODELS)
ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
MAX_PROMPT = 10_000
LOCKOUT_S = 60.0  # after a 429 Stability refuses the key for 60 s
MAX_IMAGE_BYTES = 32 * 1024 * 1024
CONNECT_TIMEOUT_S = 5.0

_FILTERED = "만든 이미지가 Stability의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요."
_MODERATED = "Stability가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요."
_ENGLISH_ONLY = "Stability는 영어 설명만 받아요. 영어로 다시 적어 주세요."
_TOO_LARGE = "요청이 너무 커요. 설명을 줄여서 다시 시도해 주세요."
_CREDIT = "Stability 크레딧이 부족해요. 관리자에게 알려 주세요."
_AUTH = "Stability 인증에 실패했어요. 관리자에게 알려 주세요."
_LOCKED = "Stability 요청 한도를 넘었어요. 1분 뒤에 다시 시도해 주세요."


class StabilityImage:
    """A Stability image client. One `httpx.AsyncClient`; close it with `aclose()`/`async with`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = "core",
        timeout_s: float = 90.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        if not api_key:
            raise ValueError("StabilityImage needs an API key")
        if model not in MODELS:
            raise ValueError(f"unknown Stability model {model!r}; one of {MODELS}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.model = model
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._api_key = api_key
        self._base = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/v2beta/stable-image/generate"
        self._client, self._slots = bounded_client(
            timeout_s,
            max_concurrent,
            connect_s=CONNECT_TIMEOUT_S,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "image/*"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> StabilityImage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def plan(self, request: ImageRequest) -> tuple[str, dict[str, str], list[str], str, str]:
        """URL, form fields (without seed), notes, ratio used and model for `request`."""
        check_request(request, max_prompt=MAX_PROMPT)
        model = request.model or self.model
        if model not in MODELS:
            raise InvalidInputError(
                f"unknown Stability model {model!r}",
                user_message=f"Stability 모델은 {', '.join(MODELS)} 중에서 골라 주세요.",
            )
        endpoint = "sd3" if model in SD3_MODELS else model
        ratio = nearest_ratio(request.aspect_ratio, ASPECT_RATIOS)
        notes = [note for note in [ratio_note(request.aspect_ratio, ratio, LABEL)] if note]
        fields = {"prompt": request.prompt, "aspect_ratio": ratio, "output_format": "png"}
        if request.negative_prompt:
            fields["negative_prompt"] = request.negative_prompt
        if endpoint == "sd3":
            fields["model"] = model
        if request.style_preset:
            if endpoint == "core":
                fields["style_preset"] = request.style_preset
            else:
                notes.append(f"{model} 모델은 스타일 프리셋을 지원하지 않아 빼고 만들었어요.")
        return f"{self._base}/{endpoint}", fields, notes, ratio, model

    async def generate(self, request: ImageRequest) -> ImageResult:
        """`request.count` images (concurrent requests), or a `ProviderError`."""
        url, fields, notes, ratio, model = self.plan(request)
        seeds = [
            None if request.seed is None else (request.seed + i) % (MAX_SEED + 1)
            for i in range(request.count)
        ]
        outcomes = await asyncio.gather(
            *(with_retries(self.retry, self._attempt, url, fields, seed) for seed in seeds),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, ProviderError):
                raise outcome
        made = [o for o in outcomes if not isinstance(o, BaseException)]
        if not made:
            raise next(o for o in outcomes if isinstance(o, ProviderError))
        if len(made) < request.count:
            notes.append(f"요청한 {request.count}장 중 {len(made)}장만 만들어졌어요.")
        images = tuple(image for image, _ in made)
        return ImageResult(
            images=images,
            provider=PROVIDER,
            model=model,
            seed=images[0].seed,
            aspect_ratio=ratio,
            notes=tuple(notes),
            request_ids=tuple(rid for _, rid in made if rid),
        )

    async def _attempt(
        self, url: str, fields: dict[str, str], seed: int | None
    ) -> tuple[GeneratedImage, str | None]:
        form = dict(fields) if seed is None else {**fields, "seed": str(seed)}
        # Passed as `files` with no file name, httpx sends each field as a plain multipart part:
        # multipart/form-data without a file, as Stability requires.
        parts = {name: (None, value) for name, value in form.items()}
        try:
            async with (
                self._slots,  # waiting for a slot is not part of the request's deadline
                asyncio.timeout(self.timeout_s),
                self._client.stream("POST", url, files=parts) as response,
            ):
                raw = await read_capped(response, MAX_IMAGE_BYTES)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise transport_error(exc, PROVIDER, LABEL) from None
        if raw is None:
            raise ProviderUnavailable(
                f"Stability answer larger than {MAX_IMAGE_BYTES} bytes", provider=PROVIDER
            )
        if not response.is_success:
            raise self._http_error(response, raw)
        finish = response.headers.get("finish-reason", "SUCCESS").upper()
        if finish == "CONTENT_FILTERED":
            raise ContentRefused(
                "Stability answered 200 with finish-reason CONTENT_FILTERED (a blurred image)",
                provider=PROVIDER,
                user_message=_FILTERED,
            )
        if finish != "SUCCESS":
            raise ProviderError(f"Stability finish-reason {finish!r}", provider=PROVIDER)
        mime = sniff_mime(raw)
        if mime is None:
            raise ProviderUnavailable(
                "Stability sent bytes that are not a PNG, JPEG or WebP image", provider=PROVIDER
            )
        answered_seed = response.headers.get("seed", "")
        used_seed = int(answered_seed) if answered_seed.isdigit() else seed
        return GeneratedImage(data=raw, mime_type=mime, seed=used_seed), None

    def _http_error(self, response: httpx.Response, raw: bytes) -> ProviderError:
        status = response.status_code
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        body = body if isinstance(body, dict) else {}
        request_id = body.get("id") if isinstance(body.get("id"), str) else None
        name = str(body.get("name") or "")
        errors = body.get("errors")
        detail = (
            "; ".join(map(str, errors))
            if isinstance(errors, list)
            else raw[:200].decode("utf-8", "replace")
        )
        log = f"Stability answered HTTP {status} {name}: {scrub(detail, self._api_key)[:300]}"
        kwargs: dict[str, Any] = {"provider": PROVIDER, "request_id": request_id}
        if status == 429:
            header = response.headers.get("retry-after", "")
            wait = float(header) if header.replace(".", "", 1).isdigit() else LOCKOUT_S
            return ProviderRateLimited(log, user_message=_LOCKED, retry_after_s=wait, **kwargs)
        if status == 401:
            return ProviderAuthFailed(log, user_message=_AUTH, **kwargs)
        if status == 402:
            return ProviderOutOfCredit(log, user_message=_CREDIT, **kwargs)
        if status == 403:
            return ContentRefused(log, user_message=_MODERATED, **kwargs)
        if status == 413:
            return InvalidProviderRequest(log, user_message=_TOO_LARGE, **kwargs)
        if status == 422 and name == "invalid_language":
            return InvalidProviderRequest(log, user_message=_ENGLISH_ONLY, **kwargs)
        if status in (408, 504):
            return ProviderTimeout(log, **kwargs)
        if status >= 500:
            return ProviderUnavailable(log, **kwargs)
        if status in (400, 422):
            return InvalidProviderRequest(log, **kwargs)
        return ProviderError(log, **kwargs)
