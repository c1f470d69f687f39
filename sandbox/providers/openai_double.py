"""FakeOpenAI: a loopback OpenAI-compatible server for tests, the e2e fleet and the demo.

It speaks the endpoints the bot uses, in the shapes the official `openai` SDK (3.57)
parses, checked against its source:

- `POST /v1/chat/completions`. Non-streaming: a `chat.completion` object. Streaming (SSE,
  `data:` lines): `chat.completion.chunk` objects `{id, object, created, model, choices:
  [{index, delta: {role?, content?}, finish_reason, logprobs}]}` (openai/types/chat/
  chat_completion_chunk.py); with `stream_options.include_usage` a last chunk with
  `choices: []` and `usage: {prompt_tokens, completion_tokens, total_tokens}`
  (types/completion_usage.py); then `data: [DONE]`, where the SDK stops reading
  (_streaming.py). A mid-stream failure is a `data: {"error": {...}}` event, for which the
  SDK raises `APIError` (_streaming.py, `AsyncStream.__stream__`).
- `POST /v1/responses`. Streaming (SSE, `event: <type>` + `data:`): `response.created`,
  `response.in_progress`, `response.output_item.added`, `response.content_part.added`,
  `response.output_text.delta` (`delta`), `response.output_text.done`,
  `response.content_part.done`, `response.output_item.done`, then `response.completed`
  with `response.usage: {input_tokens, input_tokens_details, output_tokens,
  output_tokens_details, total_tokens}`; every event has a `sequence_number`
  (types/responses/response_*_event.py, response_usage.py). A refusal by the content
  filter ends with `response.incomplete` (`incomplete_details.reason: "content_filter"`),
  a mid-stream failure with `response.failed` (`response.error: {code, message}`).
  Non-streaming answers the final `response` object.
- `POST /v1/moderations`. `{id: "modr-…", model, results: [{flagged, categories,
  category_scores, category_applied_input_types}]}` (types/moderation_create_response.py,
  types/moderation.py), every category name of `omni-moderation-latest` present in all three
  maps. `input` is a string or an array of strings, one result per string; `model` is
  optional, as in OpenAI's API (default `omni-moderation-latest`). Multi-modal input objects
  are refused with a 400 (the bot only moderates text).

Errors are HTTP statuses with the body `{"error": {message, type, param, code}}`, from
which the SDK builds `RateLimitError`, `AuthenticationError`, `BadRequestError`,
`InternalServerError` (`_make_status_error`); it reads `x-request-id` (set on every
answer here) into `request_id`, and honours `retry-after` when it retries (_base_client.py).
The error *texts* below are modelled on OpenAI's and are not guaranteed to match them.

What it validates: `Authorization: Bearer <key>` (any non-empty key; `bad-key` is refused
with 401 `invalid_api_key`), a JSON body with `model` and non-empty `messages` / `input`,
and image parts. Images are accepted **only** inline as `data:image/...;base64,` URLs: an
`http(s)` URL is a 400 (stricter than OpenAI, which would fetch it, so the bot must inline
what it got from Discord). A model whose name contains `text-only` refuses any image part.

What it answers, first match wins:
1. the next reply queued in-process with `fake.script(FakeReply(...))`;
2. a marker in the last user message, so tests driving separate bot processes can cause
   faults: `[[429]]` (429, `retry-after: 1`), `[[401]]`, `[[500]]`, `[[cut]]` (a
   mid-stream error after three chunks), `[[slow]]` (each token after `slow_token_delay_s`),
   `[[long N]]` (an answer of N characters with a fenced python block), `[[think]]`
   (`<think>…</think>` before the answer), `[[refuse]]` (`finish_reason: content_filter`),
   `[[context]]` (400 `context_length_exceeded`), `[[noimage]]` (400, image input not
   supported);
3. the default: `"{질문}"에 대한 답이에요. …`, quoting the question (markers removed) and
   saying how many images and earlier turns it received, streamed `chunk_chars`
   characters at a time with `token_delay_s` between chunks.

A moderation request takes no scripted reply (so moderating a prompt never eats the reply a
test queued for the chat that follows). Any input carrying `[[429]]`, `[[401]]` or `[[500]]`
fails the whole request as in chat; otherwise an input containing `[[flag]]` comes back
flagged for `violence` (score 0.97), every other input clean (scores 0.0001).

Every request is recorded in `fake.requests` (path, headers without credentials, JSON
body, the `x-request-id` it was answered with, the status) so tests can assert on the
history and images the bot sent; `fake.moderation_requests` is the moderation part of it
and `fake.moderated_inputs` every string those requests asked about, in order. Usage is
deterministic: input tokens are `ceil(characters / 4)` of all text plus 85 per image, output
tokens the number of chunks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._server import LoopbackServer, RecordedCall, ScriptedReplies

DEFAULT_CHUNK_CHARS = 4
LONG_MAX_CHARS = 200_000
IMAGE_TOKENS = 85
CUT_AFTER_CHUNKS = 3
MARKER = re.compile(
    r"\[\[\s*(429|401|500|cut|slow|long\s+\d+|think|refuse|context|noimage)\s*\]\]",
    re.IGNORECASE,
)
DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,(.*)$", re.DOTALL)
SECRET_HEADERS = {"authorization", "api-key", "openai-api-key"}
MODERATIONS_PATH = "/v1/moderations"
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"
MODERATION_ERROR_MARKER = re.compile(r"\[\[\s*(429|401|500)\s*\]\]")
FLAG_MARKER = re.compile(r"\[\[\s*flag\s*\]\]", re.IGNORECASE)
FLAG_CATEGORY = "violence"
# omni-moderation-latest's category names as the API spells them (types/moderation.py,
# the pydantic aliases). For a text input every category applies to ["text"].
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer. `status != 200` answers `{"error": error}` with that status.

    `text=None` means the default answer for the request. `cut_after` sends a mid-stream
    error after that many content chunks (streaming only). `think` is prepended as
    `<think>…</think>`. `usage=(input, output)` overrides the computed token counts.
    """

    text: str | None = None
    status: int = 200
    error: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    finish_reason: str = "stop"
    think: str | None = None
    usage: tuple[int, int] | None = None
    token_delay_s: float | None = None
    chunk_chars: int | None = None

    @classmethod
    def failure(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FakeReply:
        error = {"message": message, "type": type, "param": param, "code": code}
        return cls(status=status, error=error, headers=dict(headers or {}))

    @classmethod
    def rate_limited(
        cls, retry_after: str = "1", *, code: str = "rate_limit_exceeded"
    ) -> FakeReply:
        return cls.failure(
            429,
            "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
            f"Please try again in {retry_after}s.",
            type="requests",
            code=code,
            headers={"retry-after": retry_after},
        )

    @classmethod
    def server_error(cls) -> FakeReply:
        return cls.failure(
            500,
            "The server had an error while processing your request. Sorry about that!",
            type="server_error",
        )

    @classmethod
    def context_too_long(cls) -> FakeReply:
        return cls.failure(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131072 tokens. Please reduce the length of the messages.",
            code="context_length_exceeded",
            param="messages",
        )

    @classmethod
    def images_unsupported(cls) -> FakeReply:
        return cls.failure(
            400,
            "Invalid content type. Image input is not supported by this model.",
            code="image_input_not_supported",
            param="messages",
        )


@dataclass
class RecordedRequest(RecordedCall):
    """One request as the double received it (credentials removed), with the chat views."""

    @property
    def turns(self) -> list[dict[str, Any]]:
        """The conversation sent: `messages` (Chat Completions) or `input` (Responses)."""
        if not isinstance(self.body, dict):
            return []
        items = self.body.get("messages", self.body.get("input"))
        if isinstance(items, str):
            return [{"role": "user", "content": items}]
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def texts(self) -> list[tuple[str, str]]:
        """`(role, text)` of every turn, whichever API and content shape was used."""
        return [(str(turn.get("role")), _text_of(turn.get("content"))) for turn in self.turns]

    def image_urls(self) -> list[str]:
        return [url for turn in self.turns for url in _image_urls(turn.get("content"))]

    def last_user_text(self) -> str:
        return _last_user_text(self.turns)

    def moderation_inputs(self) -> list[str]:
        """The strings a moderation request asked about (`input`, a string or an array)."""
        items = self.body.get("input") if isinstance(self.body, dict) else None
        if isinstance(items, str):
            return [items]
        return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []


class FakeOpenAI(LoopbackServer, ScriptedReplies[FakeReply]):
    """The double's server on 127.0.0.1. `base_url` is `http://127.0.0.1:PORT/v1`."""

    base_path = "/v1"

    def __init__(
        self,
        *,
        token_delay_s: float = 0.01,
        slow_token_delay_s: float = 1.0,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.token_delay_s = token_delay_s
        self.slow_token_delay_s = slow_token_delay_s
        self.chunk_chars = chunk_chars
        self.requests: list[RecordedRequest] = []
        ScriptedReplies.__init__(self)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post(MODERATIONS_PATH, self._moderations)

    @property
    def moderation_requests(self) -> list[RecordedRequest]:
        """The recorded requests to `/v1/moderations`, refused ones included."""
        return [r for r in self.requests if r.path == MODERATIONS_PATH]

    @property
    def moderated_inputs(self) -> list[str]:
        """Every string sent for moderation, in order, over all moderation requests."""
        return [text for r in self.moderation_requests for text in r.moderation_inputs()]

    # --- scripting ---------------------------------------------------------------------------

    # --- request handling --------------------------------------------------------------------

    async def _admit(
        self, request: web.Request, *, require_model: bool = True
    ) -> tuple[RecordedRequest, web.Response | None]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={k: v for k, v in headers.items() if k not in SECRET_HEADERS},
            body=None,
            request_id=f"req_{uuid.uuid4().hex}",
        )
        self.requests.append(record)
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return record, self._error(
                record,
                FakeReply.failure(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                ),
            )
        if key == "bad-key":
            return record, self._error(record, _bad_key_reply(key))
        try:
            record.body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return record, self._error(
                record, FakeReply.failure(400, "We could not parse the JSON body of your request.")
            )
        if not isinstance(record.body, dict):
            return record, self._error(
                record, FakeReply.failure(400, "The request body must be a JSON object.")
            )
        model = record.body.get("model", None if require_model else DEFAULT_MODERATION_MODEL)
        if not isinstance(model, str) or not model:
            return record, self._error(
                record, FakeReply.failure(400, "you must provide a model parameter", param="model")
            )
        return record, None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        record, refused = await self._admit(request)
        if refused is not None:
            return refused
        body = record.body
        messages = body.get("messages")
        problem = _check_chat_messages(messages)
        if problem is None:
            problem = _check_images(body["model"], [m.get("content") for m in messages], "chat")
        if problem is not None:
            return self._error(record, problem)
        reply = self._choose(record)
        if reply.status != 200:
            return self._error(record, reply)
        text = _full_text(reply, record)
        usage_in, usage_out = self._usage(reply, record, text)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream_chat(request, record, reply, text, include_usage)
        record.status = 200
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": _chat_usage(usage_in, usage_out),
        }
        return web.json_response(completion, headers=self._headers(record, reply))

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        record, refused = await self._admit(request)
        if refused is not None:
            return refused
        body = record.body
        problem = _check_responses_input(body.get("input"))
        if problem is None:
            contents = [i.get("content") for i in record.turns]
            problem = _check_images(body["model"], contents, "responses")
        if problem is not None:
            return self._error(record, problem)
        reply = self._choose(record)
        if reply.status != 200:
            return self._error(record, reply)
        text = _full_text(reply, record)
        if body.get("stream"):
            return await self._stream_responses(request, record, reply, text)
        record.status = 200
        usage_in, usage_out = self._usage(reply, record, text)
        final = _response_object(
            record, body, "completed", [_message_item(text)], usage_in, usage_out
        )
        return web.json_response(final, headers=self._headers(record, reply))

    async def _moderations(self, request: web.Request) -> web.StreamResponse:
        record, refused = await self._admit(request, require_model=False)
        if refused is not None:
            return refused
        body = record.body
        inputs = body.get("input")
        problem = _check_moderation_input(inputs)
        if problem is not None:
            return self._error(record, problem)
        texts = record.moderation_inputs()
        for text in texts:
            failure = _moderation_failure(text)
            if failure is not None:
                return self._error(record, failure)
        record.status = 200
        answer = {
            "id": f"modr-{record.request_id.removeprefix('req_')}",
            "model": body.get("model", DEFAULT_MODERATION_MODEL),
            "results": [_moderation_result(FLAG_MARKER.search(text) is not None) for text in texts],
        }
        return web.json_response(answer, headers={"x-request-id": record.request_id})

    def _choose(self, record: RecordedRequest) -> FakeReply:
        scripted = self._next_scripted()
        if scripted is not None:
            return scripted
        match = MARKER.search(record.last_user_text())
        if match is None:
            return FakeReply()
        marker = " ".join(match.group(1).lower().split())
        if marker == "429":
            return FakeReply.rate_limited("1")
        if marker == "401":
            return _bad_key_reply("sandbox-marker-key")
        if marker == "500":
            return FakeReply.server_error()
        if marker == "cut":
            return FakeReply(cut_after=CUT_AFTER_CHUNKS)
        if marker == "slow":
            return FakeReply(token_delay_s=self.slow_token_delay_s)
        if marker == "think":
            return FakeReply(
                think="사용자의 질문을 차근차근 생각해 보는 중이에요. 답에는 보이면 안 돼요."
            )
        if marker == "refuse":
            return FakeReply(text="", finish_reason="content_filter")
        if marker == "context":
            return FakeReply.context_too_long()
        if marker == "noimage":
            return FakeReply.images_unsupported()
        return FakeReply(text=long_answer(int(marker.split()[1])), chunk_chars=16)

    def _usage(self, reply: FakeReply, record: RecordedRequest, text: str) -> tuple[int, int]:
        if reply.usage is not None:
            return reply.usage
        return _input_tokens(record), len(self._chunks(reply, text))

    def _chunks(self, reply: FakeReply, text: str) -> list[str]:
        size = max(1, reply.chunk_chars or self.chunk_chars)
        return [text[i : i + size] for i in range(0, len(text), size)]

    def _headers(self, record: RecordedRequest, reply: FakeReply) -> dict[str, str]:
        return {"x-request-id": record.request_id, **dict(reply.headers)}

    def _error(self, record: RecordedRequest, reply: FakeReply) -> web.Response:
        record.status = reply.status
        error = dict(reply.error or {"message": "error", "type": "server_error"})
        error.setdefault("param", None)
        error.setdefault("code", None)
        return web.json_response(
            {"error": error}, status=reply.status, headers=self._headers(record, reply)
        )

    async def _open_stream(
        self, request: web.Request, record: RecordedRequest, reply: FakeReply
    ) -> web.StreamResponse:
        record.status = 200
        response = web.StreamResponse(
            status=200,
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                **self._headers(record, reply),
            },
        )
        await response.prepare(request)
        return response

    def _delay(self, reply: FakeReply) -> float:
        return self.token_delay_s if reply.token_delay_s is None else reply.token_delay_s

    async def _stream_chat(
        self,
        request: web.Request,
        record: RecordedRequest,
        reply: FakeReply,
        text: str,
        include_usage: bool,
    ) -> web.StreamResponse:
        response = await self._open_stream(request, record, reply)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = record.body["model"]

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            data = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_sandbox",
                "choices": choices,
                **extra,
            }
            return _sse(data)

        def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

        pieces = self._chunks(reply, text)
        try:
            await response.write(
                chunk(choice({"role": "assistant", "content": "", "refusal": None}))
            )
            for n, piece in enumerate(pieces):
                if reply.cut_after is not None and n >= reply.cut_after:
                    await response.write(_sse({"error": _stream_error(reply)}))
                    return response
                if n:
                    await asyncio.sleep(self._delay(reply))
                await response.write(chunk(choice({"content": piece})))
            if reply.cut_after is not None:
                await response.write(_sse({"error": _stream_error(reply)}))
                return response
            await response.write(chunk(choice({}, reply.finish_reason)))
            if include_usage:
                usage_in, usage_out = self._usage(reply, record, text)
                await response.write(chunk([], usage=_chat_usage(usage_in, usage_out)))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading, as a bot does when it gives up
        return response

    async def _stream_responses(
        self, request: web.Request, record: RecordedRequest, reply: FakeReply, text: str
    ) -> web.StreamResponse:
        response = await self._open_stream(request, record, reply)
        body = record.body
        item_id = f"msg_{uuid.uuid4().hex}"
        seq = iter(range(1_000_000))

        def event(kind: str, **fields: Any) -> bytes:
            return _sse({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        def state(status: str, **extra: Any) -> dict[str, Any]:
            return _response_object(record, body, status, [], None, None) | extra

        pieces = self._chunks(reply, text)
        empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        try:
            await response.write(event("response.created", response=state("in_progress")))
            await response.write(event("response.in_progress", response=state("in_progress")))
            item = _message_item("", status="in_progress") | {"id": item_id}
            await response.write(event("response.output_item.added", output_index=0, item=item))
            await response.write(
                event(
                    "response.content_part.added",
                    item_id=item_id,
                    output_index=0,
                    content_index=0,
                    part=empty_part,
                )
            )
            sent = ""
            for n, piece in enumerate(pieces):
                if reply.cut_after is not None and n >= reply.cut_after:
                    break
                if n:
                    await asyncio.sleep(self._delay(reply))
                sent += piece
                await response.write(
                    event(
                        "response.output_text.delta",
                        item_id=item_id,
                        output_index=0,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                    )
                )
            if reply.cut_after is not None:
                error = _stream_error(reply)
                failed = state(
                    "failed",
                    error={
                        "code": error.get("code") or "server_error",
                        "message": error["message"],
                    },
                )
                await response.write(event("response.failed", response=failed))
                return response
            usage_in, usage_out = self._usage(reply, record, text)
            await response.write(
                event(
                    "response.output_text.done",
                    item_id=item_id,
                    output_index=0,
                    content_index=0,
                    text=sent,
                    logprobs=[],
                )
            )
            part = empty_part | {"text": sent}
            await response.write(
                event(
                    "response.content_part.done",
                    item_id=item_id,
                    output_index=0,
                    content_index=0,
                    part=part,
                )
            )
            done_item = _message_item(sent) | {"id": item_id}
            await response.write(event("response.output_item.done", output_index=0, item=done_item))
            output = [done_item]
            if reply.finish_reason == "content_filter":
                final = _response_object(record, body, "incomplete", output, usage_in, usage_out)
                final["incomplete_details"] = {"reason": "content_filter"}
                await response.write(event("response.incomplete", response=final))
            else:
                final = _response_object(record, body, "completed", output, usage_in, usage_out)
                await response.write(event("response.completed", response=final))
            await response.write_eof()
        except ConnectionError:
            pass
        return response


# --- helpers --------------------------------------------------------------------------------


def _sse(data: Mapping[str, Any], *, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _bad_key_reply(key: str) -> FakeReply:
    # OpenAI echoes a masked key; so does the double (never the whole key).
    masked = f"{key[:3]}{'*' * 8}{key[-2:]}" if len(key) > 8 else "*" * 8
    return FakeReply.failure(
        401,
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def _moderation_failure(text: str) -> FakeReply | None:
    match = MODERATION_ERROR_MARKER.search(text)
    if match is None:
        return None
    marker = match.group(1)
    if marker == "429":
        return FakeReply.rate_limited("1")
    if marker == "401":
        return _bad_key_reply("sandbox-marker-key")
    return FakeReply.server_error()


def _moderation_result(flagged: bool) -> dict[str, Any]:
    def hit(name: str) -> bool:
        return flagged and name == FLAG_CATEGORY

    return {
        "flagged": flagged,
        "categories": {name: hit(name) for name in MODERATION_CATEGORIES},
        "category_scores": {name: 0.97 if hit(name) else 0.0001 for name in MODERATION_CATEGORIES},
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }


def _stream_error(reply: FakeReply) -> dict[str, Any]:
    error = dict(
        reply.error
        or {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "code": "server_error",
        }
    )
    error.setdefault("param", None)
    error.setdefault("code", None)
    return error


def _chat_usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _responses_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _message_item(text: str, *, status: str = "completed") -> dict[str, Any]:
    content = (
        []
        if status == "in_progress"
        else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    )
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def _response_object(
    record: RecordedRequest,
    body: dict[str, Any],
    status: str,
    output: list[dict[str, Any]],
    usage_in: int | None,
    usage_out: int | None,
) -> dict[str, Any]:
    usage = None if usage_in is None or usage_out is None else _responses_usage(usage_in, usage_out)
    return {
        "id": f"resp_{record.request_id.removeprefix('req_')}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": body.get("temperature"),
        "max_output_tokens": body.get("max_output_tokens"),
        "error": None,
        "incomplete_details": None,
        "usage": usage,
    }


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict)
            and p.get("type") in ("text", "input_text", "output_text")
            and isinstance(p.get("text"), str)
        )
    return ""


def _image_urls(content: Any) -> Iterator[str]:
    if not isinstance(content, list):
        return
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url":
            url = part.get("image_url")
            yield url.get("url", "") if isinstance(url, dict) else str(url)
        elif part.get("type") == "input_image":
            yield str(part.get("image_url") or "")


def _last_user_text(turns: list[dict[str, Any]]) -> str:
    for turn in reversed(turns):
        if turn.get("role") == "user":
            return _text_of(turn.get("content"))
    return ""


def _input_tokens(record: RecordedRequest) -> int:
    chars = sum(len(_text_of(t.get("content"))) for t in record.turns)
    return max(1, math.ceil(chars / 4)) + IMAGE_TOKENS * len(record.image_urls())


def _full_text(reply: FakeReply, record: RecordedRequest) -> str:
    text = default_answer(record.turns) if reply.text is None else reply.text
    if reply.think is not None:
        text = f"<think>{reply.think}</think>\n\n{text}"
    return text


def default_answer(turns: list[dict[str, Any]]) -> str:
    """The deterministic answer: quotes the question, counts images and earlier turns."""
    question = " ".join(MARKER.sub(" ", _last_user_text(turns)).split()) or "(빈 질문)"
    if len(question) > 80:
        question = question[:80] + "…"
    last_user = max((i for i, t in enumerate(turns) if t.get("role") == "user"), default=0)
    earlier = sum(1 for t in turns[:last_user] if t.get("role") in ("user", "assistant"))
    images = sum(1 for _ in _image_urls(turns[last_user].get("content"))) if turns else 0
    parts = [f'"{question}"에 대한 답이에요.']
    if images:
        parts.append(f"이미지 {images}장을 받았어요.")
    if earlier:
        parts.append(f"앞선 대화 {earlier}개를 기억하고 있어요.")
    parts.append("샌드박스의 가짜 OpenAI가 만든 답변이에요.")
    return " ".join(parts)


def long_answer(length: int) -> str:
    """An answer of exactly `length` characters (at least the code block's) with a python block."""
    head = "긴 답변이에요. 예제 코드는 다음과 같아요:\n\n"
    code = (
        "```python\n"
        "def greet(name: str) -> str:\n"
        '    return f"안녕하세요, {name}님!"\n'
        "\n\n"
        'print(greet("샌드박스"))\n'
        "```\n\n"
    )
    text = head + code
    filler = "이 문단은 길이를 채우려고 덧붙인 설명이에요. "
    length = min(length, LONG_MAX_CHARS)
    while len(text) < length:
        text += filler
    return text[: max(length, len(head + code))]


# --- validation ---------------------------------------------------------------------------------


def _invalid(message: str, param: str | None = None, code: str | None = None) -> FakeReply:
    return FakeReply.failure(400, message, param=param, code=code)


def _check_chat_messages(messages: Any) -> FakeReply | None:
    if not isinstance(messages, list) or not messages:
        return _invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
        ):
            return _invalid(f"Invalid value for 'messages[{i}].role'.", f"messages[{i}].role")
        content = message.get("content")
        if message["role"] != "assistant" and not isinstance(content, str | list):
            return _invalid(
                f"Invalid type for 'messages[{i}].content': expected a string or an array.",
                f"messages[{i}].content",
            )
        if isinstance(content, list):
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in ("text", "image_url"):
                    return _invalid(
                        f"Invalid value for 'messages[{i}].content[{j}].type'.",
                        f"messages[{i}].content[{j}].type",
                    )
                if kind == "text" and not isinstance(part.get("text"), str):
                    return _invalid(f"Missing 'messages[{i}].content[{j}].text'.")
                if kind == "image_url" and not isinstance(part.get("image_url"), dict):
                    return _invalid(f"Invalid 'messages[{i}].content[{j}].image_url'.")
    return None


def _check_responses_input(items: Any) -> FakeReply | None:
    if isinstance(items, str):
        return None if items else _invalid("Invalid 'input': empty string.", "input")
    if not isinstance(items, list) or not items:
        return _invalid("Invalid 'input': expected a non-empty string or array.", "input")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
        ):
            return _invalid(f"Invalid value for 'input[{i}].role'.", f"input[{i}].role")
        content = item.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return _invalid(f"Invalid type for 'input[{i}].content'.", f"input[{i}].content")
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("input_text", "input_image", "output_text"):
                return _invalid(
                    f"Invalid value for 'input[{i}].content[{j}].type'.",
                    f"input[{i}].content[{j}].type",
                )
            if kind == "input_image" and part.get("detail") is None:
                return _invalid(
                    f"Missing required parameter: 'input[{i}].content[{j}].detail'.",
                    f"input[{i}].content[{j}].detail",
                    "missing_required_parameter",
                )
    return None


def _check_moderation_input(inputs: Any) -> FakeReply | None:
    if isinstance(inputs, str):
        return None
    if not isinstance(inputs, list) or not inputs:
        return _invalid("Invalid 'input': expected a string or a non-empty array.", "input")
    if all(isinstance(i, str) for i in inputs):
        return None
    return _invalid(
        "Invalid 'input': the sandbox moderates text only (a string or an array of strings).",
        "input",
    )


def _check_images(model: str, contents: list[Any], api: str) -> FakeReply | None:
    urls = [url for content in contents for url in _image_urls(content)]
    if urls and "text-only" in model:
        return FakeReply.images_unsupported()
    for url in urls:
        match = DATA_URL.match(url)
        if match is None:
            return _invalid(
                "Image URLs are not fetched here: send images inline as "
                "data:image/<png|jpeg|gif|webp>;base64,... URLs.",
                "messages" if api == "chat" else "input",
                "invalid_image_url",
            )
        try:
            base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            return _invalid("The image data is not valid base64.", None, "invalid_base64_image")
    return None
