"""MiniMax image generation (`POST {base_url}/v1/image_generation`), no Discord types.

`MiniMaxImage.generate(ImageRequest)` sends one JSON request for all `count` images (`n`)
and returns an `ImageResult`. Images are asked for as `response_format: "base64"`, which
the API documents, so they arrive in the answer itself: this client never fetches a URL
(MiniMax's image URLs expire and would need a second, size-capped download).

MiniMax reports most failures as HTTP 200 with `base_resp.status_code != 0`; both that
and the HTTP status are checked by `services.minimax_errors.answer_of`, which the video
client shares. Mapping (reference: shared/reference/providers.md):

| MiniMax | raised | retried |
|---------|--------|---------|
| 1002 rate limit, 1041 connection limit, HTTP 429 | `ProviderRateLimited` | yes |
| 1001 timeout, a client timeout | `ProviderTimeout` | yes |
| 1000 unknown, 1024 internal, HTTP 5xx, connection failure | `ProviderUnavailable` | yes |
| 1004 auth failed, 2049 invalid key, HTTP 401/403 | `ProviderAuthFailed` (names the region) | no |
| 1008 insufficient balance | `ProviderOutOfCredit` | no |
| 1026 / 1027 sensitive input / output, `success_count == 0` | `ContentRefused` | never |
| 2013 invalid parameters, 1039, other HTTP 4xx | `InvalidProviderRequest` | no |
| 2056 usage limit | `ProviderQuotaExhausted` | no |
| anything else | `ProviderError` | no |

Log messages carry MiniMax's request id (the body's `id`, else the `Trace-Id` header) and
never the key: provider texts repeated in them are scrubbed of it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

import httpx

from services.errors import ContentRefused, InvalidInputError, ProviderUnavailable
from services.image_types import (
    MAX_CONCURRENT,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    RetryPolicy,
    bounded_client,
    check_request,
    nearest_ratio,
    ratio_note,
    read_capped,
    sniff_mime,
    transport_error,
    with_retries,
)
from services.minimax_errors import PROVIDER, answer_of, as_int

LABEL = "MiniMax"
DEFAULT_BASE_URL = "https://api.minimax.io"
MODELS = ("image-01", "image-01-live")
ASPECT_RATIOS = ("1:1", "16:9", "4:3", "3:2", "2:3", "3:4", "9:16", "21:9")
MAX_PROMPT = 1500
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # four base64 images of a few MB each fit easily
CONNECT_TIMEOUT_S = 5.0

OPERATION = "image_generation"
MEDIUM = "이미지"  # what the Korean refusals name (services/minimax_errors.py)
_NONE_MADE = "MiniMax가 이 설명으로는 이미지를 만들지 않았어요. 설명을 바꿔서 다시 시도해 주세요."


class MiniMaxImage:
    """A MiniMax image client. One `httpx.AsyncClient`; close it with `aclose()`/`async with`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = "image-01",
        timeout_s: float = 90.0,
        retry: RetryPolicy | None = None,
        prompt_optimizer: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        if not api_key:
            raise ValueError("MiniMaxImage needs an API key")
        if model not in MODELS:
            raise ValueError(f"unknown MiniMax image model {model!r}; one of {MODELS}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.model = model
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.prompt_optimizer = prompt_optimizer
        self._api_key = api_key
        self._url = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/v1/image_generation"
        self._client, self._slots = bounded_client(
            timeout_s,
            max_concurrent,
            connect_s=CONNECT_TIMEOUT_S,
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> MiniMaxImage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def payload(self, request: ImageRequest) -> tuple[dict[str, Any], list[str], str]:
        """The JSON body for `request`, the notes for the user, and the ratio used."""
        check_request(request, max_prompt=MAX_PROMPT)
        model = request.model or self.model
        if model not in MODELS:
            raise InvalidInputError(
                f"unknown MiniMax image model {model!r}",
                user_message=f"MiniMax 모델은 {', '.join(MODELS)} 중에서 골라 주세요.",
            )
        ratio = nearest_ratio(request.aspect_ratio, ASPECT_RATIOS)
        notes = [note for note in [ratio_note(request.aspect_ratio, ratio, LABEL)] if note]
        if request.negative_prompt:
            notes.append("MiniMax는 제외할 내용(negative prompt)을 지원하지 않아 빼고 만들었어요.")
        if request.style_preset:
            notes.append("MiniMax는 스타일 프리셋을 지원하지 않아 빼고 만들었어요.")
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.prompt,
            "aspect_ratio": ratio,
            "n": request.count,
            "response_format": "base64",
            "prompt_optimizer": self.prompt_optimizer,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        return body, notes, ratio

    async def generate(self, request: ImageRequest) -> ImageResult:
        """All `request.count` images, or a `ProviderError` / `InvalidInputError`."""
        body, notes, ratio = self.payload(request)
        images, request_id = await with_retries(self.retry, self._attempt, body)
        if len(images) < request.count:
            notes.append(f"요청한 {request.count}장 중 {len(images)}장만 만들어졌어요.")
        return ImageResult(
            images=tuple(images),
            provider=PROVIDER,
            model=body["model"],
            seed=request.seed,
            aspect_ratio=ratio,
            notes=tuple(notes),
            request_ids=(request_id,) if request_id else (),
        )

    async def _attempt(self, body: dict[str, Any]) -> tuple[list[GeneratedImage], str | None]:
        try:
            async with (
                self._slots,  # waiting for a slot is not part of the request's deadline
                asyncio.timeout(self.timeout_s),
                self._client.stream("POST", self._url, json=body) as response,
            ):
                raw = await read_capped(response, MAX_RESPONSE_BYTES)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise transport_error(exc, PROVIDER, LABEL) from None
        if raw is None:
            raise ProviderUnavailable(
                f"MiniMax answer larger than {MAX_RESPONSE_BYTES} bytes",
                provider=PROVIDER,
                request_id=response.headers.get("trace-id"),
            )
        answer, request_id = answer_of(
            response.status_code,
            response.headers,
            raw,
            api_key=self._api_key,
            operation=OPERATION,
            medium=MEDIUM,
        )
        images = self._images(answer, body, request_id)
        return images, request_id

    def _images(
        self, answer: dict[str, Any], body: dict[str, Any], request_id: str | None
    ) -> list[GeneratedImage]:
        data = answer.get("data") or {}
        encoded = data.get("image_base64") if isinstance(data, dict) else None
        metadata = answer.get("metadata") or {}
        success = as_int(metadata.get("success_count"), default=None)
        failed = as_int(metadata.get("failed_count"), default=0)
        if success == 0 or not encoded:
            raise ContentRefused(
                f"MiniMax made no image (success_count {success}, failed_count {failed}): "
                "the prompt or the result was most likely moderated",
                provider=PROVIDER,
                request_id=request_id,
                user_message=_NONE_MADE,
            )
        images = []
        for item in encoded:
            try:
                data_bytes = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ProviderUnavailable(
                    "MiniMax sent an image that is not valid base64",
                    provider=PROVIDER,
                    request_id=request_id,
                ) from None
            mime = sniff_mime(data_bytes)
            if mime is None:
                raise ProviderUnavailable(
                    "MiniMax sent bytes that are not a PNG, JPEG or WebP image",
                    provider=PROVIDER,
                    request_id=request_id,
                )
            images.append(GeneratedImage(data=data_bytes, mime_type=mime, seed=body.get("seed")))
        return images
