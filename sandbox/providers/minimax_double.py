"""FakeMiniMax: a loopback double of MiniMax's image and video generation APIs.

Images: `POST /v1/image_generation`. Videos (asynchronous tasks): `POST
/v1/video_generation`, `GET /v1/query/video_generation`, `GET /v1/files/retrieve` and the
signed download URL (`GET /files/<name>.mp4?expires=...&signature=...`); see "Videos" below.

## Images

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

## Videos

The shapes follow the same reference. `POST /v1/video_generation` `{model, prompt,
duration?, resolution?, prompt_optimizer?}` answers `{task_id, base_resp}`; `GET
/v1/query/video_generation?task_id=` answers `{task_id, status, file_id, video_width,
video_height, base_resp}` (`file_id` is "" and the size 0 until Success); `GET
/v1/files/retrieve?file_id=` answers `{file: {file_id, bytes, created_at, filename,
purpose, download_url}, base_resp}`. As MiniMax does (modelled, not guaranteed), ids are
numeric strings, except `file.file_id` in the retrieve answer, which is a number: clients
must accept both. Every answer carries a `Trace-Id` header (the request id to log).

What it validates on create, answering status 2013 on a violation: the bearer key (as for
images: missing or `bad-key` → 1004, on every video endpoint), a JSON object, `model`
`MiniMax-Hailuo-2.3` or `MiniMax-Hailuo-02`, a non-empty `prompt` of at most 2000
characters, an integer `duration` 6 or 10 (default 6), `resolution` 768P or 1080P, 512P
on MiniMax-Hailuo-02 only (default 768P), 10 s only at 768P, a boolean
`prompt_optimizer`. An unknown `task_id` or `file_id`, or the file of a task that has not
succeeded, is 2013 too.

The clock. Each task goes Preparing (`video_prepare_s`) → Queueing (`video_queue_s`) →
Processing (`video_process_s`, or `video_slow_process_s` for `[[slow]]`) → Success (or
Fail), timed on the double's own clock, which runs `video_speed` times as fast as real
time (1.0 by default; 0 freezes it; 60 makes a minute pass in a second, for the demo) and
which `fake.advance_video(seconds)` moves forward. `fake.finish_task(task_id)` and
`fake.fail_task(task_id, code=0)` end a task at once. `fake.video_tasks` lists every task
created, in order (`VideoTask`: `task_id`, the request `body`, `state` now), so a test can
assert that exactly one was paid for. A task that failed reports `fail_status` ("Fail";
pass "Failed" to model what some clients see) with status 0, or with the code given to
`fail_task` (1027 for `[[1027]]`: output moderation happens at the end).

The file is a real MP4 (`sandbox.providers._mp4`, `data/hailuo-clip.mp4`: 1 s of H.264 at
128×72), whatever size was asked; `video_width`/`video_height` report the nominal size of
the resolution (1366×768 for 768P). `[[big]]` serves the clip padded with a `free` box to
`big_video_bytes` (3 MiB). The `download_url` points back at this server, `/files/<name>.mp4
?expires=<epoch>&signature=<hmac>`, with the epoch on the double's clock; a wrong
signature, or a link used more than `download_ttl_s` (3600) after `retrieve` made it, is a
403 as from a real object store. Downloads are recorded in `fake.requests` like the API
calls (for the GETs, `body` holds the query parameters; the download's signature is not
recorded).

What it answers on create, first match wins:
1. the next reply queued with `fake.script_video("create", MiniMaxReply(...))`: a status
   code or an HTTP status answers that and makes no task; a success reply makes the task
   (`big=True`: a big file) and then waits `delay_s`, which is what a client timeout after
   MiniMax accepted the request looks like;
2. a marker in the prompt: `[[1002]]`, `[[1004]]`, `[[1008]]`, `[[1026]]`, `[[2013]]`,
   `[[2049]]`, `[[2056]]` (that status, no task), `[[500]]` (HTTP 500, no task),
   `[[fail]]` (the task ends in Fail), `[[1027]]` (the task ends in Fail with status 1027),
   `[[big]]` (the file is `big_video_bytes` long), `[[slow]]` (Processing lasts
   `video_slow_process_s`, 600 s by default);
3. the default: a task that succeeds on the clock.

`fake.script_video("query" | "retrieve" | "download", ...)` queues replies for those
endpoints the same way: a status code or HTTP status (with `headers`, e.g. a 302 with a
`Location`) replaces the answer, `delay_s` delays it, a plain `MiniMaxReply()` answers
normally; `MiniMaxReply(chunked=True)` on a download sends the file without a
Content-Length.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from ._mp4 import clip_mp4, padded_mp4
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
VIDEO_MODELS = ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02")
VIDEO_RESOLUTIONS = {
    "MiniMax-Hailuo-2.3": ("768P", "1080P"),
    "MiniMax-Hailuo-02": ("512P", "768P", "1080P"),
}
VIDEO_DURATIONS = (6, 10)
VIDEO_SIZES = {"512P": (912, 512), "768P": (1366, 768), "1080P": (1920, 1080)}
MAX_VIDEO_PROMPT = 2000
BIG_VIDEO_BYTES = 3 * 1024 * 1024
VIDEO_MARKER = re.compile(
    r"\[\[\s*(1002|1004|1008|1026|1027|2013|2049|2056|500|fail|big|slow)\s*\]\]",
    re.IGNORECASE,
)
VideoEndpoint = Literal["create", "query", "retrieve", "download"]
VIDEO_ENDPOINTS: tuple[VideoEndpoint, ...] = ("create", "query", "retrieve", "download")
PREPARING, QUEUEING, PROCESSING, SUCCESS, FAIL = (
    "Preparing",
    "Queueing",
    "Processing",
    "Success",
    "Fail",
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
    For videos (`fake.script_video`), `big` makes the task's file big and `chunked` sends a
    download without a Content-Length; the image fields are ignored.
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
    chunked: bool = False  # video downloads only: no Content-Length

    @classmethod
    def status(cls, code: int, message: str | None = None) -> MiniMaxReply:
        return cls(status_code=code, status_msg=message)


@dataclass(eq=False)
class VideoTask:
    """One video task the double accepted. Phase ends are times on the double's clock."""

    task_id: str
    body: dict[str, Any]
    file_id: str
    created_at: float
    queue_at: float
    process_at: float
    done_at: float
    succeeds: bool = True
    fail_code: int = 0
    fail_message: str | None = None
    big: bool = False
    clock: Callable[[], float] = field(repr=False, default=time.monotonic)

    @property
    def state(self) -> str:
        """Preparing, Queueing, Processing, Success or Fail, now."""
        now = self.clock()
        if now >= self.done_at:
            return SUCCESS if self.succeeds else FAIL
        if now >= self.process_at:
            return PROCESSING
        if now >= self.queue_at:
            return QUEUEING
        return PREPARING

    @property
    def filename(self) -> str:
        return f"output_{self.file_id}.mp4"


class FakeMiniMax(LoopbackServer, ScriptedReplies[MiniMaxReply]):
    """The double on 127.0.0.1; `base_url` is `http://127.0.0.1:PORT` (clients add `/v1/...`)."""

    def __init__(
        self,
        *,
        slow_delay_s: float = 30.0,
        video_prepare_s: float = 2.0,
        video_queue_s: float = 10.0,
        video_process_s: float = 60.0,
        video_slow_process_s: float = 600.0,
        video_speed: float = 1.0,
        download_ttl_s: float = 3600.0,
        fail_status: str = FAIL,
        big_video_bytes: int = BIG_VIDEO_BYTES,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        if video_speed < 0:
            raise ValueError("video_speed must not be negative")
        self.slow_delay_s = slow_delay_s
        self.video_prepare_s = video_prepare_s
        self.video_queue_s = video_queue_s
        self.video_process_s = video_process_s
        self.video_slow_process_s = video_slow_process_s
        self.download_ttl_s = download_ttl_s
        self.fail_status = fail_status
        self.big_video_bytes = big_video_bytes
        self.requests: list[RecordedCall] = []
        self.video_tasks: list[VideoTask] = []
        ScriptedReplies.__init__(self)
        self._files: dict[str, bytes] = {}
        self._random_seeds = itertools.count(1000)
        self._video_scripts: dict[str, deque[MiniMaxReply]] = {
            endpoint: deque() for endpoint in VIDEO_ENDPOINTS
        }
        self._task_ids = itertools.count(301_546_890_112_001)
        self._file_ids = itertools.count(205_258_526_306_433)
        self._signing_key = secrets.token_bytes(16)
        self._clock_base = 0.0  # the double's clock at `_clock_origin`
        self._clock_origin = time.monotonic()
        self._speed = video_speed
        self._epoch_origin = time.time()  # wall time when the double's clock read 0

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/image_generation", self._generate)
        app.router.add_post("/v1/video_generation", self._video_create)
        app.router.add_get("/v1/query/video_generation", self._video_query)
        app.router.add_get("/v1/files/retrieve", self._video_retrieve)
        app.router.add_get("/files/{name}", self._file)

    # --- the video clock and controls ----------------------------------------------------------

    def video_clock(self) -> float:
        """Seconds on the double's clock since it was made (advanced, and sped up)."""
        return self._clock_base + self._speed * (time.monotonic() - self._clock_origin)

    def video_epoch(self) -> float:
        """Unix time on the double's clock: what `expires` and `created_at` use."""
        return self._epoch_origin + self.video_clock()

    @property
    def video_speed(self) -> float:
        return self._speed

    @video_speed.setter
    def video_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("video_speed must not be negative")
        self._clock_base, self._clock_origin = self.video_clock(), time.monotonic()
        self._speed = speed

    def advance_video(self, seconds: float) -> None:
        """Move the double's clock forward: tasks progress, download links age."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._clock_base += seconds

    def video_task(self, task_id: str) -> VideoTask:
        for task in self.video_tasks:
            if task.task_id == task_id:
                return task
        raise KeyError(task_id)

    def finish_task(self, task_id: str) -> None:
        """End the task now, successfully."""
        task = self.video_task(task_id)
        task.succeeds, task.fail_code, task.fail_message = True, 0, None
        self._end_now(task)

    def fail_task(self, task_id: str, code: int = 0, message: str | None = None) -> None:
        """End the task now in Fail, answered with `base_resp` status `code`."""
        task = self.video_task(task_id)
        task.succeeds, task.fail_code, task.fail_message = False, code, message
        self._end_now(task)

    def _end_now(self, task: VideoTask) -> None:
        now = self.video_clock()
        task.queue_at = min(task.queue_at, now)
        task.process_at = min(task.process_at, now)
        task.done_at = now

    def script_video(self, endpoint: VideoEndpoint, *replies: MiniMaxReply) -> None:
        """Queue replies for one video endpoint; each valid, authorised request takes one."""
        self._video_scripts[endpoint].extend(replies)

    def video_scripted_left(self, endpoint: VideoEndpoint) -> int:
        return len(self._video_scripts[endpoint])

    def _next_video_scripted(self, endpoint: VideoEndpoint) -> MiniMaxReply | None:
        queue = self._video_scripts[endpoint]
        return queue.popleft() if queue else None

    # --- handling ------------------------------------------------------------------------------

    async def _accepted(
        self,
        request: web.Request,
        validate: Callable[[Any], str | None],
        refuse: Callable[..., web.Response],
    ) -> tuple[RecordedCall, web.Response | None]:
        """Record a create request and check it as MiniMax does (key, JSON, fields): the
        record, and the refusal to answer when it fails a check."""
        record = record_of(request, uuid.uuid4().hex)
        self.requests.append(record)
        key = bearer_key(request)
        if not key or key == "bad-key":
            return record, refuse(record, 1004)
        try:
            record.body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return record, refuse(record, 2013, "invalid params, request body is not valid json")
        problem = validate(record.body)
        if problem is not None:
            return record, refuse(record, 2013, f"invalid params, {problem}")
        return record, None

    async def _generate(self, request: web.Request) -> web.Response:
        record, refusal = await self._accepted(request, _validate, self._status)
        if refusal is not None:
            return refusal
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

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name.endswith(".mp4"):
            return await self._video_download(request, name)
        png = self._files.get(name)
        if png is None:
            raise web.HTTPNotFound()
        return web.Response(body=png, content_type="image/png")

    # --- videos --------------------------------------------------------------------------------

    async def _video_create(self, request: web.Request) -> web.Response:
        record, refused = await self._accepted(request, _validate_video, self._video_status)
        if refused is not None:
            return refused
        reply, marker = self._choose_video(record)
        if reply.http_status != 200 or reply.status_code != 0:
            refusal = await self._scripted_failure(record, reply)
            if refusal is not None:
                return refusal  # refused: no task was made
        task = self._new_task(record)
        task.big = reply.big or marker == "big"
        if marker == "slow":
            task.done_at = task.process_at + self.video_slow_process_s
        elif marker in ("fail", "1027"):
            task.succeeds, task.fail_code = False, 1027 if marker == "1027" else 0
        await asyncio.sleep(reply.delay_s)  # the task exists whether or not the client waits
        return self._video_answer(record, {"task_id": task.task_id}, reply.headers)

    def _choose_video(self, record: RecordedCall) -> tuple[MiniMaxReply, str | None]:
        """The scripted reply (and no marker), else the prompt's marker as a reply."""
        scripted = self._next_video_scripted("create")
        if scripted is not None:
            return scripted, None
        marker = _video_marker(record.prompt)
        if marker == "500":
            return MiniMaxReply(http_status=500), marker
        if marker is not None and marker.isdigit() and marker != "1027":
            return MiniMaxReply.status(int(marker)), marker
        return MiniMaxReply(), marker

    def _new_task(self, record: RecordedCall) -> VideoTask:
        now = self.video_clock()
        queue_at = now + self.video_prepare_s
        process_at = queue_at + self.video_queue_s
        task = VideoTask(
            task_id=str(next(self._task_ids)),
            body=record.body,
            file_id=str(next(self._file_ids)),
            created_at=now,
            queue_at=queue_at,
            process_at=process_at,
            done_at=process_at + self.video_process_s,
            clock=self.video_clock,
        )
        self.video_tasks.append(task)
        return task

    async def _video_get(
        self, request: web.Request, endpoint: str
    ) -> tuple[RecordedCall, MiniMaxReply, web.Response | None]:
        """Record a query or retrieve (its query parameters as the body), check the key,
        and take its scripted reply: the record, the reply, and an early answer if any."""
        record = record_of(request, uuid.uuid4().hex)
        record.body = dict(request.query)
        self.requests.append(record)
        key = bearer_key(request)
        if not key or key == "bad-key":
            return record, MiniMaxReply(), self._video_status(record, 1004)
        reply = self._next_video_scripted(endpoint) or MiniMaxReply()
        return record, reply, await self._scripted_failure(record, reply)

    async def _video_query(self, request: web.Request) -> web.Response:
        record, reply, early = await self._video_get(request, "query")
        if early is not None:
            return early
        task = self._find_task(request.query.get("task_id", ""), by="task_id")
        if task is None:
            return self._video_status(record, 2013, "invalid params, task_id not found")
        state = task.state
        answer: dict[str, Any] = {
            "task_id": task.task_id,
            "status": self.fail_status if state == FAIL else state,
            "file_id": task.file_id if state == SUCCESS else "",
            "video_width": 0,
            "video_height": 0,
        }
        if state == SUCCESS:
            resolution = task.body.get("resolution", "768P")
            answer["video_width"], answer["video_height"] = VIDEO_SIZES[resolution]
        if state == FAIL and task.fail_code:
            message = task.fail_message or STATUS_MESSAGES.get(task.fail_code, "failed")
            answer["base_resp"] = {"status_code": task.fail_code, "status_msg": message}
        return self._video_answer(record, answer, reply.headers)

    async def _video_retrieve(self, request: web.Request) -> web.Response:
        record, reply, early = await self._video_get(request, "retrieve")
        if early is not None:
            return early
        task = self._find_task(request.query.get("file_id", ""), by="file_id")
        if task is None or task.state != SUCCESS:
            return self._video_status(record, 2013, "invalid params, file_id not found")
        expires = int(self.video_epoch() + self.download_ttl_s)
        name = task.filename
        url = (
            f"{request.scheme}://{request.host}/files/{name}"
            f"?expires={expires}&signature={self._signature(name, expires)}"
        )
        answer = {
            "file": {
                "file_id": int(task.file_id),
                "bytes": len(self._video_bytes(task)),
                "created_at": int(self._epoch_origin + task.done_at),
                "filename": name,
                "purpose": "video_generation",
                "download_url": url,
            }
        }
        return self._video_answer(record, answer, reply.headers)

    async def _video_download(self, request: web.Request, name: str) -> web.StreamResponse:
        record = record_of(request, uuid.uuid4().hex)
        self.requests.append(record)
        reply = self._next_video_scripted("download") or MiniMaxReply()
        early = await self._scripted_failure(record, reply)
        if early is not None:
            return early
        task = next((t for t in self.video_tasks if t.filename == name), None)
        expires_text = request.query.get("expires", "")
        signature = request.query.get("signature", "")
        if (
            task is None
            or task.state != SUCCESS
            or not expires_text.isdigit()
            or not hmac.compare_digest(signature, self._signature(name, int(expires_text)))
        ):
            return self._denied(record, "SignatureDoesNotMatch")
        if int(expires_text) < self.video_epoch():
            return self._denied(record, "Request has expired")
        data = self._video_bytes(task)
        record.status = 200
        if not reply.chunked:
            return web.Response(body=data, content_type="video/mp4", headers=reply.headers)
        response = web.StreamResponse(headers={"Content-Type": "video/mp4", **reply.headers})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for at in range(0, len(data), 64 * 1024):
            await response.write(data[at : at + 64 * 1024])
        await response.write_eof()
        return response

    async def _scripted_failure(
        self, record: RecordedCall, reply: MiniMaxReply
    ) -> web.Response | None:
        """Wait `delay_s`; then the scripted HTTP status or status code, if any."""
        await asyncio.sleep(reply.delay_s)
        if reply.http_status != 200:
            return await self._video_http(record, reply)
        if reply.status_code != 0:
            return self._video_status(record, reply.status_code, reply.status_msg, reply.headers)
        return None

    async def _video_http(self, record: RecordedCall, reply: MiniMaxReply) -> web.Response:
        record.status = reply.http_status
        return web.Response(
            status=reply.http_status,
            text=reply.body,
            headers={"Trace-Id": record.request_id, **reply.headers},
        )

    def _video_status(
        self,
        record: RecordedCall,
        code: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        base = {"status_code": code, "status_msg": message or STATUS_MESSAGES[code]}
        record.status = 200
        return web.json_response(
            {"base_resp": base}, headers={"Trace-Id": record.request_id, **(headers or {})}
        )

    def _video_answer(
        self, record: RecordedCall, answer: dict[str, Any], headers: dict[str, str]
    ) -> web.Response:
        answer.setdefault("base_resp", {"status_code": 0, "status_msg": "success"})
        record.status = 200
        return web.json_response(answer, headers={"Trace-Id": record.request_id, **headers})

    def _denied(self, record: RecordedCall, why: str) -> web.Response:
        record.status = 403
        return web.Response(
            status=403,
            text=f"<Error><Code>AccessDenied</Code><Message>{why}</Message></Error>",
            content_type="application/xml",
        )

    def _find_task(self, wanted: str, *, by: str) -> VideoTask | None:
        return next((t for t in self.video_tasks if getattr(t, by) == wanted), None)

    def _signature(self, name: str, expires: int) -> str:
        message = f"{name}:{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()[:32]

    def _video_bytes(self, task: VideoTask) -> bytes:
        return padded_mp4(self.big_video_bytes) if task.big else clip_mp4()


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


def _validate_video(body: Any) -> str | None:
    """What MiniMax's video_generation would reject with 2013; None if valid."""
    if not isinstance(body, dict):
        return "request body must be a json object"
    model = body.get("model")
    if model not in VIDEO_MODELS:
        return f"model must be one of {', '.join(VIDEO_MODELS)}"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    if len(prompt) > MAX_VIDEO_PROMPT:
        return f"prompt length must be at most {MAX_VIDEO_PROMPT} characters"
    duration = body.get("duration", 6)
    if not _is_int(duration) or duration not in VIDEO_DURATIONS:
        return "duration must be 6 or 10"
    resolution = body.get("resolution", "768P")
    if resolution not in VIDEO_RESOLUTIONS[model]:
        return f"resolution {resolution} is not supported by {model}"
    if duration == 10 and resolution != "768P":
        return "10s videos support 768P only"
    if "prompt_optimizer" in body and not isinstance(body["prompt_optimizer"], bool):
        return "prompt_optimizer must be a boolean"
    return None


def _video_marker(prompt: str) -> str | None:
    match = VIDEO_MARKER.search(prompt)
    return match.group(1).lower() if match else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
