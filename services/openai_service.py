"""The OpenAI chat client: one streamed answer per call, typed errors, no Discord types.

`OpenAIChat.stream(turns)` sends a conversation through the official `openai` SDK and yields
the visible text as it arrives, then one `Usage` when the server reported it. The same
shape comes out of both APIs: Chat Completions (default; `stream_options.include_usage`)
and the Responses API (`options.api == "responses"`). Images travel inline as base64
`data:` URLs, so no provider ever fetches a Discord attachment itself.

Reasoning a model wraps in `<think>…</think>` never reaches the user (`ThinkFilter`, which
also copes with a tag split across chunks).

Failures become `services.errors.ProviderError` subclasses: a Korean `user_message` that
says what the user can do and an English `log_message` carrying the provider's request id
(`x-request-id`). No text built here ever contains the API key. An error in the middle
of an answer is raised only after the text received before it was yielded, so the caller
keeps (and may show) that part.

Timeouts: connecting must succeed within 5 s; one answer, retries included, may take at
most `timeout_s` (the SDK's read timeout is the same value). The SDK retries 408/409/429/
5xx and connection errors itself, at most `max_retries` times, honouring `retry-after`.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import openai

from services.errors import (
    ContentRefused,
    ContextTooLong,
    ImagesNotSupported,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

PROVIDER = "openai"
CONNECT_TIMEOUT_S = 5.0
# OpenAI-style secret keys, scrubbed from any provider text we repeat (besides our own key).
_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_IMAGE_UNSUPPORTED = re.compile(
    r"image.*(not supported|only supported|does not support|unsupported)"
    r"|(not support|does not support|unsupported).*image",
    re.IGNORECASE | re.DOTALL,
)
_MID_STREAM_MESSAGE = (
    "답변을 받는 도중에 AI 서비스와의 연결이 끊겼어요. 잠시 후 다시 시도해 주세요."
)
_QUOTA_MESSAGE = "AI 서비스 사용 한도를 모두 썼어요. 관리자에게 알려 주세요."


@dataclass(frozen=True)
class ImagePart:
    """An image sent with a user turn: its bytes and MIME type (e.g. image/png)."""

    data: bytes
    mime_type: str

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Turn:
    """One message of the conversation. Only user turns may carry images."""

    role: Literal["system", "user", "assistant"]
    text: str
    images: tuple[ImagePart, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ("system", "user", "assistant"):
            raise ValueError(f"unknown role {self.role!r}")
        if self.images and self.role != "user":
            raise ValueError("only user turns can carry images")


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ChatOptions:
    model: str
    temperature: float
    max_output_tokens: int
    api: Literal["chat", "responses"] = "chat"


class ThinkFilter:
    """Removes `<think>…</think>` from streamed text, wherever the chunks split the tags.

    `feed(chunk)` returns what can be shown now; text that might still be the start of a tag
    is held back until the next chunk decides. Whitespace right after a closing tag is
    dropped (models put a blank line there). `flush()` ends the stream: a held-back partial
    tag is released as text, an unclosed reasoning block is discarded.
    """

    OPEN = "<think>"
    CLOSE = "</think>"

    def __init__(self) -> None:
        self._pending = ""
        self._inside = False
        self._skip_space = False

    def feed(self, chunk: str) -> str:
        self._pending += chunk
        shown: list[str] = []
        while self._pending:
            if self._inside:
                end = self._pending.find(self.CLOSE)
                if end < 0:  # all reasoning so far; keep only a possible start of CLOSE
                    keep = _partial_tag(self._pending, self.CLOSE)
                    self._pending = self._pending[len(self._pending) - keep :]
                    break
                self._pending = self._pending[end + len(self.CLOSE) :]
                self._inside = False
                self._skip_space = True
                continue
            if self._skip_space:
                self._pending = self._pending.lstrip()
                if not self._pending:
                    break
                self._skip_space = False
            start = self._pending.find(self.OPEN)
            if start < 0:
                keep = _partial_tag(self._pending, self.OPEN)
                cut = len(self._pending) - keep
                shown.append(self._pending[:cut])
                self._pending = self._pending[cut:]
                break
            shown.append(self._pending[:start])
            self._pending = self._pending[start + len(self.OPEN) :]
            self._inside = True
        return "".join(shown)

    def flush(self) -> str:
        rest = "" if self._inside else self._pending
        self._pending = ""
        self._inside = False
        return rest


def _partial_tag(text: str, tag: str) -> int:
    """Length of the longest proper prefix of `tag` that `text` ends with."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def chat_messages(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Turns as Chat Completions `messages` (images as `image_url` parts with data URLs)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if not turn.images:
            messages.append({"role": turn.role, "content": turn.text})
            continue
        parts: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
        parts += [
            {"type": "image_url", "image_url": {"url": image.data_url()}} for image in turn.images
        ]
        messages.append({"role": turn.role, "content": parts})
    return messages


def responses_input(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Turns as Responses API `input` items (`input_text` / `input_image` parts)."""
    items: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role != "user":
            items.append({"role": turn.role, "content": turn.text})
            continue
        parts: list[dict[str, Any]] = (
            [{"type": "input_text", "text": turn.text}] if turn.text else []
        )
        parts += [
            {"type": "input_image", "image_url": image.data_url(), "detail": "auto"}
            for image in turn.images
        ]
        items.append({"role": "user", "content": parts})
    return items


@dataclass
class _Call:
    """What one `stream()` call learned so far (for error messages)."""

    api: str
    request_id: str | None = None
    received_text: bool = False
    usage: Usage | None = None
    refusal: list[str] = field(default_factory=list)
    filtered: bool = False


def openai_client(
    api_key: str, base_url: str | None, timeout_s: float, max_retries: int
) -> openai.AsyncOpenAI:
    """The SDK's client as every OpenAI caller here builds it (quick connect timeout)."""
    import openai  # on first use: an instance without chat never loads it

    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=openai.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
        max_retries=max_retries,
    )


class OpenAIChat:
    """Streams answers from an OpenAI-compatible server through the official SDK."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        options: ChatOptions,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        if not api_key:
            raise ValueError("OpenAIChat needs an API key")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.options = options
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._client = openai_client(api_key, base_url, timeout_s, max_retries)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> OpenAIChat:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def stream(self, turns: Sequence[Turn]) -> AsyncIterator[str | Usage]:
        """Yield visible text deltas, then one `Usage` if reported; raise `ProviderError`s."""
        import openai  # on first use: an instance without chat never loads it

        if not turns:
            raise ValueError("stream() needs at least one turn")
        call = _Call(api=self.options.api)
        events = (
            self._responses(turns, call) if call.api == "responses" else self._chat(turns, call)
        )
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        think = ThinkFilter()
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        piece = await anext(events)
                except StopAsyncIteration:
                    break
                visible = think.feed(piece)
                if visible:
                    yield visible
        except (openai.OpenAIError, TimeoutError) as exc:
            failure = self._map(exc, call)
        else:
            failure = None
        finally:
            await events.aclose()
        rest = think.flush()
        if rest:
            yield rest
        if failure is not None:
            raise failure from None
        if call.refusal or call.filtered:
            reason = (
                "the content filter stopped the answer" if call.filtered else "the model refused"
            )
            raise ContentRefused(
                f"OpenAI {call.api} answer refused: {reason}",
                provider=PROVIDER,
                request_id=call.request_id,
                mid_stream=call.received_text,
            )
        if call.usage is not None:
            yield call.usage

    # ---- the two APIs: each yields raw text and records usage / refusal on `call` ----

    async def _chat(self, turns: Sequence[Turn], call: _Call) -> AsyncIterator[str]:
        options = self.options
        stream = await self._client.chat.completions.create(
            model=options.model,
            messages=chat_messages(turns),  # type: ignore[arg-type]
            temperature=options.temperature,
            max_completion_tokens=options.max_output_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        call.request_id = stream.response.headers.get("x-request-id")
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    call.usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta.content:
                        call.received_text = True
                        yield choice.delta.content
                    if choice.delta.refusal:
                        call.refusal.append(choice.delta.refusal)
                    if choice.finish_reason == "content_filter":
                        call.filtered = True

    async def _responses(self, turns: Sequence[Turn], call: _Call) -> AsyncIterator[str]:
        import openai  # on first use: an instance without chat never loads it

        options = self.options
        stream = await self._client.responses.create(
            model=options.model,
            input=responses_input(turns),  # type: ignore[arg-type]
            temperature=options.temperature,
            max_output_tokens=options.max_output_tokens,
            stream=True,
        )
        call.request_id = stream.response.headers.get("x-request-id")
        async with stream:
            async for event in stream:
                kind = event.type
                if kind == "response.output_text.delta":
                    if event.delta:
                        call.received_text = True
                        yield event.delta
                elif kind == "response.refusal.delta":
                    call.refusal.append(event.delta)
                elif kind in ("response.completed", "response.incomplete"):
                    usage = event.response.usage
                    if usage is not None:
                        call.usage = Usage(usage.input_tokens, usage.output_tokens)
                    details = event.response.incomplete_details
                    if details is not None and details.reason == "content_filter":
                        call.filtered = True
                elif kind == "response.failed":
                    error = event.response.error
                    code = error.code if error is not None else None
                    message = error.message if error is not None else "response failed"
                    raise openai.APIError(
                        message, stream.response.request, body={"code": code, "message": message}
                    )
                elif kind == "error":
                    raise openai.APIError(
                        event.message,
                        stream.response.request,
                        body={"code": event.code, "message": event.message},
                    )

    # ---- errors ----

    def _map(self, exc: BaseException, call: _Call) -> ProviderError:
        return map_openai_error(
            exc,
            api_key=self._api_key,
            api=call.api,
            request_id=call.request_id,
            mid_stream=call.received_text,
        )


def map_openai_error(
    exc: BaseException,
    *,
    api_key: str = "",
    api: str = "chat",
    request_id: str | None = None,
    mid_stream: bool = False,
) -> ProviderError:
    """The typed, secret-free error for an SDK exception (or our own deadline's TimeoutError)."""
    import openai  # on first use: an instance without chat never loads it

    where = f"OpenAI {api} request"
    common: dict[str, Any] = {"provider": PROVIDER, "mid_stream": mid_stream}

    def scrub(text: object) -> str:
        cleaned = str(text)
        if api_key:
            cleaned = cleaned.replace(api_key, "[redacted]")
        cleaned = _KEY_PATTERN.sub("[redacted]", cleaned)
        return cleaned if len(cleaned) <= 300 else cleaned[:300] + "…"

    if isinstance(exc, TimeoutError):
        return ProviderTimeout(f"{where} exceeded its deadline", request_id=request_id, **common)
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(f"{where} timed out", request_id=request_id, **common)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f": {type(cause).__name__}: {scrub(cause)}" if cause is not None else ""
        return ProviderUnavailable(
            f"{where} could not connect{detail}", request_id=request_id, **common
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = exc.code or ""
        message = _error_message(exc)
        request_id = exc.request_id or request_id
        what = f"{where} failed: HTTP {status}" + (f" {code}" if code else "")
        detail = f"{what}: {scrub(message)}" if message else what
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            # Never repeat the provider's text here: it quotes (part of) the key.
            return ProviderAuthFailed(what, request_id=request_id, **common)
        if isinstance(exc, openai.RateLimitError):
            if code == "insufficient_quota":
                return ProviderRateLimited(
                    detail, request_id=request_id, user_message=_QUOTA_MESSAGE, **common
                )
            return ProviderRateLimited(
                detail,
                request_id=request_id,
                retry_after_s=_retry_after(exc.response.headers),
                **common,
            )
        if code == "context_length_exceeded" or "maximum context length" in message:
            return ContextTooLong(detail, request_id=request_id, **common)
        if status == 400 and _IMAGE_UNSUPPORTED.search(message):
            return ImagesNotSupported(detail, request_id=request_id, **common)
        if status == 408:
            return ProviderTimeout(detail, request_id=request_id, **common)
        if status >= 500 or status == 409:
            return ProviderUnavailable(detail, request_id=request_id, **common)
        return ProviderError(detail, request_id=request_id, **common)
    if isinstance(exc, openai.APIError):
        # An error event in the middle of a stream: no HTTP status of its own.
        code = exc.code or ""
        detail = f"{where} failed mid-stream" + (f" ({code})" if code else "")
        detail += f": {scrub(exc.message)}"
        if code == "context_length_exceeded":
            return ContextTooLong(detail, request_id=request_id, **common)
        if code in ("rate_limit_exceeded", "insufficient_quota"):
            return ProviderRateLimited(detail, request_id=request_id, **common)
        user = _MID_STREAM_MESSAGE if mid_stream else None
        return ProviderUnavailable(detail, request_id=request_id, user_message=user, **common)
    return ProviderError(
        f"{where} failed: {type(exc).__name__}: {scrub(exc)}", request_id=request_id, **common
    )


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return ""


def _retry_after(headers: Any) -> float | None:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None
