"""FakeMiniMax: a loopback double of MiniMax's image generation API (`POST /v1/image_generation`).

The shapes follow /work/shared/reference/providers.md (MiniMax): a JSON body `{model, prompt
(≤ 1500), aspect_ratio, n (1..9), response_format ("url" | "base64"), seed?,
prompt_optimizer?}`, answered `{id, data: {image_urls | image_base64: [...]}, metadata:
{success_count, failed_count}, base_resp: {status_code, status_msg}}`. Like the real API,
failures are mostly an HTTP 200 whose `base_resp.status_code` is not 0; `metadata` counts
are sent as strings, as MiniMax does (clients must accept numbers too). The status texts
are modelled on MiniMax's, not guaranteed to match them. Every answer carries a `Trace-Id`
header equal to the body's `id` (the request id a client should log).

What it validates: `Authorization: Bearer <key>` (missing, or the key `bad-key`, answers
status 1004 "login fail", as MiniMax does for a key of the other region), a JSON object
body, `model` in `image-01`/`image-01-live`, a non-empty `prompt` of at most 1500
characters, `aspect_ratio` among the eight documented, an integer `n` in 1..9, an integer
`seed` ≥ 0, a boolean `prompt_optimizer`, `response_format` `url` or `base64`. A violation
answers status 2013 (invalid params). Images are real 64×64 PNGs whose colour depends on
`seed + i` (`sandbox.providers._png`), or 512×512 noise for `[[big]]`. With
`response_format: "url"` the URLs point back at this server (`GET /files/<name>.png`).

What it answers, first match wins:
1. the next reply queued with `fake.script(MiniMaxReply(...))`;
2. a marker in the prompt, for tests driving separate bot processes: `[[1002]]` (rate
   limit), `[[1004]]` / `[[2049]]` (auth), `[[1008]]` (balance), `[[1026]]` / `[[1027]]`
   (sensitive input / output), `[[2013]]` (invalid params), `[[2056]]` (usage limit),
   `[[500]]` (HTTP 500, plain text), `[[slow]]` (answers after `slow_delay_s`, 30 s by
   default: longer than any client timeout a test sets), `[[refuse]]` (HTTP 200, status 0,
   `success_count` 0 and no images: what a moderated prompt looks like), `[[big]]` (success,
   but each image a 512×512 PNG of seeded noise, about 787 KB that does not compress: what
   uploading real-sized images to Discord is like);
3. the default: `n` images.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._png import noise_png, solid_png
from ._server import LoopbackServer, RecordedCall, ScriptedReplies, bearer_key, record_of

MODELS = ("image-01", "image-01-live")
ASPECT_RATIOS = ("1:1", "16:9", "4:3", "3:2", "2:3", "3:4", "9:16", "21:9")
MAX_PROMPT = 1500
MAX_N = 9
IMAGE_SIZE = 64
BIG_IMAGE_SIZE = 512
MARKER = re.compile(
    r"\[\[\s*(1002|1004|1008|1026|1027|2013|2049|2056|500|slow|refuse|big)\s*\]\]",
    re.IGNORECASE,
)
STATUS_MESSAGES = {
    1002: "rate limit exceeded(RPM)",
    1004: "login fail: Please carry the API secret key in the 'Authorization' field of the "
    "request header",
    1008: "insufficient balance",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    2013: "invalid params",
    2049: "invalid api key",
    2056: "usage limit exceeded",
}


@dataclass(frozen=True)
class MiniMaxReply:
    """One scripted answer.

    `status_code != 0` answers HTTP 200 with that `base_resp` (and no data). `http_status
    != 200` answers that status with `body` as plain text. Otherwise images: `success_count`
    of them (default: the requested `n`), `failed_count` the rest; `big` makes each a
    512×512 noise PNG (`noise_png`) instead of a 64×64 solid one. `delay_s` waits first.
    """

    status_code: int = 0
    status_msg: str | None = None
    http_status: int = 200
    body: str = "Internal Server Error"
    success_count: int | None = None
    counts_as_numbers: bool = False
    big: bool = False
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def status(cls, code: int, message: str | None = None) -> MiniMaxReply:
        return cls(status_code=code, status_msg=message)


class FakeMiniMax(LoopbackServer, ScriptedReplies[MiniMaxReply]):
    """The double on 127.0.0.1; `base_url` is `http://127.0.0.1:PORT` (clients add `/v1/...`)."""

    def __init__(
        self, *, slow_delay_s: float = 30.0, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(host=host, port=port)
        self.slow_delay_s = slow_delay_s
        self.requests: list[RecordedCall] = []
        ScriptedReplies.__init__(self)
        self._files: dict[str, bytes] = {}
        self._random_seeds = itertools.count(1000)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/image_generation", self._generate)
        app.router.add_get("/files/{name}", self._file)

    # --- handling ------------------------------------------------------------------------------

    async def _generate(self, request: web.Request) -> web.Response:
        record = record_of(request, uuid.uuid4().hex)
        self.requests.append(record)
        key = bearer_key(request)
        if not key or key == "bad-key":
            return self._status(record, 1004)
        try:
            record.body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return self._status(record, 2013, "invalid params, request body is not valid json")
        problem = _validate(record.body)
        if problem is not None:
            return self._status(record, 2013, f"invalid params, {problem}")
        reply = self._choose(record)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.http_status != 200:
            record.status = reply.http_status
            return web.Response(
                status=reply.http_status,
                text=reply.body,
                headers={"Trace-Id": record.request_id, **reply.headers},
            )
        if reply.status_code != 0:
            return self._status(record, reply.status_code, reply.status_msg, reply.headers)
        return self._images(request, record, reply)

    def _choose(self, record: RecordedCall) -> MiniMaxReply:
        scripted = self._next_scripted()
        if scripted is not None:
            return scripted
        match = MARKER.search(record.prompt)
        if match is None:
            return MiniMaxReply()
        marker = match.group(1).lower()
        if marker == "500":
            return MiniMaxReply(http_status=500)
        if marker == "slow":
            return MiniMaxReply(delay_s=self.slow_delay_s)
        if marker == "refuse":
            return MiniMaxReply(success_count=0)
        if marker == "big":
            return MiniMaxReply(big=True)
        return MiniMaxReply.status(int(marker))

    def _status(
        self,
        record: RecordedCall,
        code: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        record.status = 200
        body = {
            "id": record.request_id,
            "base_resp": {"status_code": code, "status_msg": message or STATUS_MESSAGES[code]},
        }
        return web.json_response(body, headers={"Trace-Id": record.request_id, **(headers or {})})

    def _images(
        self, request: web.Request, record: RecordedCall, reply: MiniMaxReply
    ) -> web.Response:
        body = record.body
        n = body.get("n", 1)
        made = n if reply.success_count is None else max(0, min(reply.success_count, n))
        seed = body.get("seed")
        base_seed = seed if seed is not None else next(self._random_seeds)
        if reply.big:
            images = [noise_png(BIG_IMAGE_SIZE, BIG_IMAGE_SIZE, base_seed + i) for i in range(made)]
        else:
            images = [solid_png(IMAGE_SIZE, IMAGE_SIZE, base_seed + i) for i in range(made)]
        if body.get("response_format", "url") == "base64":
            data: dict[str, Any] = {
                "image_base64": [base64.b64encode(png).decode("ascii") for png in images]
            }
        else:
            urls = []
            for png in images:
                name = f"{uuid.uuid4().hex}.png"
                self._files[name] = png
                urls.append(f"{request.scheme}://{request.host}/files/{name}")
            data = {"image_urls": urls}

        def count(value: int) -> int | str:
            return value if reply.counts_as_numbers else str(value)

        record.status = 200
        answer = {
            "id": record.request_id,
            "data": data,
            "metadata": {"success_count": count(made), "failed_count": count(n - made)},
            "base_resp": {"status_code": 0, "status_msg": "success"},
        }
        return web.json_response(answer, headers={"Trace-Id": record.request_id, **reply.headers})

    async def _file(self, request: web.Request) -> web.Response:
        png = self._files.get(request.match_info["name"])
        if png is None:
            raise web.HTTPNotFound()
        return web.Response(body=png, content_type="image/png")


def _validate(body: Any) -> str | None:
    """What MiniMax would reject with 2013, in its words as far as known; None if valid."""
    if not isinstance(body, dict):
        return "request body must be a json object"
    if body.get("model") not in MODELS:
        return f"model must be one of {', '.join(MODELS)}"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    if len(prompt) > MAX_PROMPT:
        return f"prompt length must be at most {MAX_PROMPT} characters"
    if "aspect_ratio" in body and body["aspect_ratio"] not in ASPECT_RATIOS:
        return f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}"
    n = body.get("n", 1)
    if not _is_int(n) or not 1 <= n <= MAX_N:
        return f"n must be an integer in 1..{MAX_N}"
    seed = body.get("seed")
    if seed is not None and (not _is_int(seed) or seed < 0):
        return "seed must be a non-negative integer"
    if body.get("response_format", "url") not in ("url", "base64"):
        return "response_format must be url or base64"
    if "prompt_optimizer" in body and not isinstance(body["prompt_optimizer"], bool):
        return "prompt_optimizer must be a boolean"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
