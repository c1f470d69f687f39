"""FakeStability: a loopback double of Stability AI's v2beta image generation.

`POST /v2beta/stable-image/generate/{core|ultra|sd3}`, shapes per
/work/shared/reference/providers.md (Stability): the body must be `multipart/form-data`
even without a file; fields `prompt` (required, ≤ 10000), `negative_prompt`,
`aspect_ratio` (16:9 1:1 21:9 2:3 3:2 4:5 5:4 9:16 9:21), `seed` (0..4294967294, 0 =
random), `output_format`, `style_preset` (core only), `model` (sd3 only). With `Accept:
image/*` (or none, or `*/*`) the answer is the image bytes with the headers `finish-reason`
(SUCCESS | CONTENT_FILTERED) and `seed`; with `Accept: application/json` it is `{image:
base64, finish_reason, seed}`. Errors are JSON `{id, name, errors: [...]}`. The error texts
are modelled on Stability's, not guaranteed to match them.

Stricter than the real API: only `output_format: png` is served (the images are 64×64 PNGs
whose colour follows the seed, or 512×512 noise for `[[big]]`); jpeg/webp answer 400.

What it validates: `Authorization: Bearer <key>` (missing or `bad-key`: 401), the
multipart content type (else 400), the fields above and their ranges (400). With
`english_only=True` a prompt with non-ASCII letters is refused with 422 `invalid_language`.

What it answers, first match wins:
1. the next reply queued with `fake.script(StabilityReply(...))`;
2. a marker in the prompt: `[[429]]` (rate limited: Stability then locks the key out for
   60 s), `[[402]]` (payment required), `[[403]]` (content moderation), `[[422]]`
   (invalid_language), `[[filtered]]` (200 with `finish-reason: CONTENT_FILTERED`),
   `[[500]]`, `[[slow]]` (answers after `slow_delay_s`, 30 s by default), `[[big]]` (success,
   but the image is a 512×512 PNG of seeded noise, about 787 KB that does not compress:
   what uploading a real-sized image to Discord is like);
3. the default: one image.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from ._png import noise_png, solid_png
from ._server import LoopbackServer, RecordedCall, ScriptedReplies, bearer_key, record_of

ENDPOINTS = ("core", "ultra", "sd3")
ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash")
STYLE_PRESETS = (
    "3d-model",
    "analog-film",
    "anime",
    "cinematic",
    "comic-book",
    "digital-art",
    "enhance",
    "fantasy-art",
    "isometric",
    "line-art",
    "low-poly",
    "modeling-compound",
    "neon-punk",
    "origami",
    "photographic",
    "pixel-art",
    "tile-texture",
)
MAX_PROMPT = 10_000
MAX_SEED = 4_294_967_294
IMAGE_SIZE = 64
BIG_IMAGE_SIZE = 512
MARKER = re.compile(r"\[\[\s*(429|402|403|422|500|filtered|slow|big)\s*\]\]", re.IGNORECASE)
ERRORS = {
    400: ("bad_request", "some field is invalid"),
    401: ("unauthorized", "authorization: invalid or missing API key"),
    402: ("payment_required", "You lack sufficient credits to make this request."),
    403: ("content_moderation", "Your request was flagged by our content moderation system."),
    413: ("payload_too_large", "Your request was larger than 10MiB."),
    422: ("invalid_language", "English is the only supported language for this service."),
    429: ("rate_limit_exceeded", "You have exceeded the rate limit of 150 requests within 10s."),
    500: ("internal_error", "An unexpected server error has occurred, please try again later."),
}


@dataclass(frozen=True)
class StabilityReply:
    """One scripted answer: `status != 200` answers the error body; else one image (a
    512×512 noise PNG with `big`, else a 64×64 solid one)."""

    status: int = 200
    name: str | None = None  # the error's `name`; None: the usual one for the status
    errors: tuple[str, ...] = ()
    finish_reason: str = "SUCCESS"
    big: bool = False
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FakeStability(LoopbackServer, ScriptedReplies[StabilityReply]):
    """The double on 127.0.0.1; `base_url` is `http://127.0.0.1:PORT` (clients add `/v2beta`)."""

    def __init__(
        self,
        *,
        slow_delay_s: float = 30.0,
        english_only: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.slow_delay_s = slow_delay_s
        self.english_only = english_only
        self.requests: list[RecordedCall] = []
        ScriptedReplies.__init__(self)
        self._random_seeds = itertools.count(1000)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v2beta/stable-image/generate/{endpoint}", self._generate)

    async def _generate(self, request: web.Request) -> web.Response:
        record = record_of(request, uuid.uuid4().hex)
        self.requests.append(record)
        endpoint = request.match_info["endpoint"]
        if endpoint not in ENDPOINTS:
            return self._error(record, 404, [f"no such endpoint: {endpoint}"], "not_found")
        key = bearer_key(request)
        if not key or key == "bad-key":
            return self._error(record, 401)
        if request.content_type != "multipart/form-data":
            return self._error(record, 400, ["content-type: must be multipart/form-data"])
        form = await request.post()
        record.body = {name: str(value) for name, value in form.items()}
        accept = request.headers.get("Accept", "image/*")
        accept = "image/*" if accept == "*/*" else accept
        if accept not in ("image/*", "application/json"):
            return self._error(record, 400, ["accept: must be image/* or application/json"])
        problem = _validate(endpoint, record.body)
        if problem is not None:
            return self._error(record, 400, [problem])
        reply = self._choose(record)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            errors = list(reply.errors) or None
            return self._error(record, reply.status, errors, reply.name, reply.headers)
        seed = int(record.body.get("seed") or 0) or next(self._random_seeds)
        if reply.big:
            png = noise_png(BIG_IMAGE_SIZE, BIG_IMAGE_SIZE, seed)
        else:
            png = solid_png(IMAGE_SIZE, IMAGE_SIZE, seed)
        record.status = 200
        if accept == "application/json":
            answer = {
                "image": base64.b64encode(png).decode("ascii"),
                "finish_reason": reply.finish_reason,
                "seed": seed,
            }
            return web.json_response(answer, headers=reply.headers)
        headers = {"finish-reason": reply.finish_reason, "seed": str(seed), **reply.headers}
        return web.Response(body=png, content_type="image/png", headers=headers)

    def _choose(self, record: RecordedCall) -> StabilityReply:
        scripted = self._next_scripted()
        if scripted is not None:
            return scripted
        if self.english_only and not record.prompt.isascii():
            return StabilityReply(status=422)
        match = MARKER.search(record.prompt)
        if match is None:
            return StabilityReply()
        marker = match.group(1).lower()
        if marker == "slow":
            return StabilityReply(delay_s=self.slow_delay_s)
        if marker == "filtered":
            return StabilityReply(finish_reason="CONTENT_FILTERED")
        if marker == "big":
            return StabilityReply(big=True)
        return StabilityReply(status=int(marker))

    def _error(
        self,
        record: RecordedCall,
        status: int,
        errors: list[str] | None = None,
        name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        record.status = status
        default_name, default_error = ERRORS.get(status, ("error", "error"))
        body = {"id": record.request_id, "name": name or default_name}
        body["errors"] = errors or [default_error]
        return web.json_response(body, status=status, headers=headers)


def _validate(endpoint: str, fields: dict[str, str]) -> str | None:
    prompt = fields.get("prompt", "")
    if not prompt.strip():
        return "prompt: cannot be empty"
    if len(prompt) > MAX_PROMPT:
        return f"prompt: must be at most {MAX_PROMPT} characters"
    if len(fields.get("negative_prompt", "")) > MAX_PROMPT:
        return f"negative_prompt: must be at most {MAX_PROMPT} characters"
    if fields.get("aspect_ratio", "1:1") not in ASPECT_RATIOS:
        return f"aspect_ratio: must be one of {', '.join(ASPECT_RATIOS)}"
    seed = fields.get("seed", "0")
    if not seed.isdigit() or int(seed) > MAX_SEED:
        return f"seed: must be an integer in 0..{MAX_SEED}"
    if fields.get("output_format", "png") != "png":
        return "output_format: this double serves png only"
    if "style_preset" in fields and (
        endpoint != "core" or fields["style_preset"] not in STYLE_PRESETS
    ):
        return "style_preset: only core accepts it, one of the documented presets"
    if "model" in fields and (endpoint != "sd3" or fields["model"] not in SD3_MODELS):
        return f"model: only sd3 accepts it, one of {', '.join(SD3_MODELS)}"
    return None
