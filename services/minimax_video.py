"""MiniMax video generation (an asynchronous task), no Discord types.

A video takes minutes, so MiniMax runs it as a task (reference:
shared/reference/providers.md):

1. `create(VideoRequest)` → `POST {base}/v1/video_generation` `{model, prompt, duration,
   resolution, prompt_optimizer?}` → the task id (this is the paid step);
2. `query(task_id)` → `GET {base}/v1/query/video_generation?task_id=` → a `TaskStatus`:
   Preparing, Queueing, Processing, then Success (with a `file_id`) or Fail ("Failed" is
   read as Fail too). Polling, and how often, is the caller's business;
3. `retrieve(file_id)` → `GET {base}/v1/files/retrieve?file_id=` → a `VideoFile` whose
   `download_url` expires within hours, so download at once;
4. `download(file, max_bytes)` → the MP4's bytes, or None when it is larger than
   `max_bytes` (the size `retrieve` reported and the `Content-Length` are checked first,
   and the stream is abandoned as soon as the cap is passed, so an oversized file is
   never held in memory).

`check_video_request` validates before anything is sent, with Korean messages naming the
allowed values: `VIDEO_MODELS`, `DURATIONS` (6 or 10 s), `RESOLUTIONS` per model (768P and
1080P; 512P on MiniMax-Hailuo-02 only), 10 s only at 768P (so 1080P only at 6 s), a
prompt of 1..2000 characters.

Errors. MiniMax answers most failures with HTTP 200 and `base_resp.status_code != 0`;
they are mapped by `services.minimax_errors` exactly as for images, with refusals naming
영상 instead of 이미지. A status this module does not know is a `ProviderError`, not a
crash. Log messages carry MiniMax's request id (the `Trace-Id` header, or the body's `id`)
and never the key.

Retries (tenacity, `services.image_types.with_retries`, bounded by `RetryPolicy`):
- `query`, `retrieve` and `download` only read, so they retry every transient failure
  (rate limit, timeout, 5xx, a failed connection).
- `create` costs money and is not idempotent: a second attempt after MiniMax may already
  have started the first task could pay for two videos. It is retried ONLY when MiniMax
  certainly made no task: a rate-limit answer (status 1002/1041, HTTP 429: the request was
  refused) or a connection that was never established (`httpx.ConnectError`, or
  `httpx.ConnectTimeout`: the TCP/TLS handshake never finished, so no request was sent).
  After a timeout waiting for the answer, a 5xx, MiniMax's own 1000/1001/1024 or a dropped
  connection, the error is raised at once: the caller cannot tell whether a task exists.

Download safety. `download` fetches exactly the `download_url` that `retrieve` returned,
without the API key (the file host is not the API), with `follow_redirects=False`: any
3xx is an error, never followed. The URL must be https, unless this client's own
`base_url` is plain http (the loopback test doubles). The URL is signed: its query string
never appears in an error message (nor in `repr(VideoFile)`), only its scheme, host and
path. A 403/404/410 from the file host means the link expired or is wrong: call
`retrieve` again for a fresh one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from services.errors import (
    InvalidInputError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import (
    MAX_CONCURRENT,
    RetryPolicy,
    bounded_client,
    read_capped,
    transport_error,
    with_retries,
)
from services.minimax_errors import PROVIDER, answer_of, as_int

DEFAULT_BASE_URL = "https://api.minimax.io"
DEFAULT_MODEL = "MiniMax-Hailuo-2.3"
VIDEO_MODELS = ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02")
DURATIONS = (6, 10)
RESOLUTIONS: dict[str, tuple[str, ...]] = {
    "MiniMax-Hailuo-2.3": ("768P", "1080P"),
    "MiniMax-Hailuo-02": ("512P", "768P", "1080P"),
}
LONG_DURATION_RESOLUTION = "768P"  # the only resolution a 10 s video may have
MAX_PROMPT = 2000
MEDIUM = "영상"  # what the Korean refusals name (services/minimax_errors.py)
CONNECT_TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 1024 * 1024  # the JSON answers are a few hundred bytes

CREATE = "video_generation"
QUERY = "query/video_generation"
RETRIEVE = "files/retrieve"

_FAILED_MESSAGE = "MiniMax가 영상을 만들지 못했어요. 설명을 바꾸거나 잠시 후 다시 시도해 주세요."
_UNSAFE_URL_MESSAGE = (
    "MiniMax가 알려 준 영상 주소가 안전하지 않아 받지 않았어요. 관리자에게 알려 주세요."
)
_EXPIRED_MESSAGE = "영상 파일 주소가 만료됐거나 잘못됐어요. 잠시 후 다시 시도해 주세요."


@dataclass(frozen=True)
class VideoRequest:
    """One text-to-video request. `prompt_optimizer=None` leaves MiniMax's default."""

    prompt: str
    model: str = DEFAULT_MODEL
    duration: int = 6
    resolution: str = "768P"
    prompt_optimizer: bool | None = None


def check_video_request(request: VideoRequest) -> None:
    """`InvalidInputError` (Korean, naming the allowed values) unless MiniMax would accept it."""
    if not request.prompt.strip():
        raise InvalidInputError("empty prompt", user_message="만들 영상을 설명해 주세요.")
    if len(request.prompt) > MAX_PROMPT:
        raise InvalidInputError(
            f"prompt of {len(request.prompt)} characters, the limit is {MAX_PROMPT}",
            user_message=(
                f"설명이 너무 길어요. {MAX_PROMPT:,}자 이하로 줄여 주세요 "
                f"(지금 {len(request.prompt):,}자)."
            ),
        )
    if request.model not in VIDEO_MODELS:
        raise InvalidInputError(
            f"unknown MiniMax video model {request.model!r}",
            user_message=f"MiniMax 영상 모델은 {', '.join(VIDEO_MODELS)} 중에서 골라 주세요.",
        )
    if type(request.duration) is not int or request.duration not in DURATIONS:
        raise InvalidInputError(
            f"duration {request.duration!r} not in {DURATIONS}",
            user_message="영상 길이는 6초 또는 10초로 골라 주세요.",
        )
    allowed = RESOLUTIONS[request.model]
    if request.resolution not in allowed:
        owners = [m for m in VIDEO_MODELS if request.resolution in RESOLUTIONS[m]]
        if owners:
            raise InvalidInputError(
                f"resolution {request.resolution} is not offered by {request.model}",
                user_message=(
                    f"{request.resolution}는 {', '.join(owners)} 모델에서만 쓸 수 있어요."
                ),
            )
        raise InvalidInputError(
            f"unknown resolution {request.resolution!r}",
            user_message=f"해상도는 {', '.join(allowed)} 중에서 골라 주세요.",
        )
    if request.duration == 10 and request.resolution != LONG_DURATION_RESOLUTION:
        raise InvalidInputError(
            f"10 s at {request.resolution}: 10 s videos are 768P only",
            user_message=("10초 영상은 768P로만 만들 수 있어요. 해상도를 768P로 골라 주세요."),
        )


class TaskState(StrEnum):
    PREPARING = "Preparing"
    QUEUEING = "Queueing"
    PROCESSING = "Processing"
    SUCCESS = "Success"
    FAIL = "Fail"

    @classmethod
    def parse(cls, text: Any, *, request_id: str | None = None) -> TaskState:
        """MiniMax's `status` text; "Failed" (which some clients see) is FAIL."""
        word = str(text or "").strip().lower()
        if word == "failed":
            return cls.FAIL
        for state in cls:
            if state.value.lower() == word:
                return state
        raise ProviderError(
            f"MiniMax {QUERY} answered an unknown task status {str(text)[:40]!r}",
            provider=PROVIDER,
            request_id=request_id,
        )

    @property
    def finished(self) -> bool:
        return self in (TaskState.SUCCESS, TaskState.FAIL)


@dataclass(frozen=True)
class TaskStatus:
    """`file_id` (and usually the size) is set once the state is SUCCESS."""

    state: TaskState
    file_id: str | None = None
    width: int | None = None
    height: int | None = None
    task_id: str = ""
    request_id: str | None = None

    def failure(self) -> ProviderError:
        """The error to show for a task that ended in FAIL (MiniMax gives no reason)."""
        return ProviderError(
            f"MiniMax video task {self.task_id} ended in status Fail",
            provider=PROVIDER,
            request_id=self.request_id,
            user_message=_FAILED_MESSAGE,
        )


@dataclass(frozen=True)
class VideoFile:
    """A finished video. `download_url` is signed and expires: kept out of `repr`."""

    file_id: str
    filename: str
    size: int | None
    download_url: str = field(repr=False)


class _NoRetry(Exception):
    """Carries a failure of `create` past tenacity: retrying it could pay for two tasks."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class MiniMaxVideo:
    """A MiniMax video client. One `httpx.AsyncClient`; close it with `aclose()`/`async with`.

    `timeout_s` bounds each API call (connect: 5 s); `download_timeout_s` a whole download.
    `group_id` is sent as `GroupId` for the old keys that still need it.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        download_timeout_s: float = 120.0,
        group_id: str | None = None,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        if not api_key:
            raise ValueError("MiniMaxVideo needs an API key")
        if timeout_s <= 0 or download_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        self.timeout_s = timeout_s
        self.download_timeout_s = download_timeout_s
        self.retry = retry or RetryPolicy()
        self._api_key = api_key
        self._base = base
        # Plain-http downloads only for a plain-http API: the loopback doubles.
        self._download_schemes = ("https", "http") if base.startswith("http://") else ("https",)
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._extra_params = {"GroupId": group_id} if group_id else {}
        # Hundreds of polling jobs share this client: requests queue here, not in httpx.
        self._client, self._slots = bounded_client(
            timeout_s, max_concurrent, connect_s=CONNECT_TIMEOUT_S, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> MiniMaxVideo:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the four steps ------------------------------------------------------------------------

    def payload(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON body of `create`, after `check_video_request`."""
        check_video_request(request)
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "duration": request.duration,
            "resolution": request.resolution,
        }
        if request.prompt_optimizer is not None:
            body["prompt_optimizer"] = request.prompt_optimizer
        return body

    async def create(self, request: VideoRequest) -> str:
        """Start a task and return its id. Retried only when no task can exist (docstring)."""
        body = self.payload(request)
        try:
            return await with_retries(self.retry, self._create_once, body)
        except _NoRetry as final:
            raise final.error from None

    async def query(self, task_id: str) -> TaskStatus:
        """The task's state now; a task that failed is a `TaskStatus` in FAIL, not an error."""
        if not task_id:
            raise ValueError("query needs a task id")
        return await with_retries(self.retry, self._query_once, task_id)

    async def retrieve(self, file_id: str) -> VideoFile:
        """The finished file's name, size and (expiring) download URL."""
        if not file_id:
            raise ValueError("retrieve needs a file id")
        return await with_retries(self.retry, self._retrieve_once, file_id)

    async def download(self, file: VideoFile, max_bytes: int) -> bytes | None:
        """The file's bytes, or None when it is larger than `max_bytes`: as `retrieve` said
        (`file.size`, then nothing is fetched), as the Content-Length says, or as counted
        while streaming (the stream is dropped at the first byte over the cap)."""
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        url = self._checked_download_url(file.download_url)
        if file.size is not None and file.size > max_bytes:
            return None
        return await with_retries(self.retry, self._download_once, url, max_bytes)

    # --- one attempt each ----------------------------------------------------------------------

    async def _create_once(self, body: dict[str, Any]) -> str:
        try:
            response, raw = await self._send("POST", CREATE, json_body=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # The connection was never established, so the request never left: retry.
            raise transport_error(exc, PROVIDER, f"MiniMax {CREATE}") from None
        except (httpx.HTTPError, TimeoutError) as exc:
            # Sent, then no (complete) answer: a task may exist. Never sent twice.
            raise _NoRetry(transport_error(exc, PROVIDER, f"MiniMax {CREATE}")) from None
        try:
            answer, request_id = self._parse(CREATE, response, raw)
        except ProviderRateLimited:
            raise  # MiniMax refused the request, so it made no task: retry
        except ProviderError as error:
            raise _NoRetry(error) from None
        task_id = answer.get("task_id")
        if not isinstance(task_id, str | int) or isinstance(task_id, bool) or task_id == "":
            raise _NoRetry(
                ProviderError(
                    f"MiniMax {CREATE} answered status 0 without a task_id",
                    provider=PROVIDER,
                    request_id=request_id,
                )
            )
        return str(task_id)

    async def _query_once(self, task_id: str) -> TaskStatus:
        answer, request_id = await self._api("GET", QUERY, params={"task_id": task_id})
        state = TaskState.parse(answer.get("status"), request_id=request_id)
        file_id = _id_text(answer.get("file_id"))
        if state is TaskState.SUCCESS and file_id is None:
            raise ProviderError(
                f"MiniMax {QUERY} answered Success without a file_id for task {task_id}",
                provider=PROVIDER,
                request_id=request_id,
            )
        return TaskStatus(
            state=state,
            file_id=file_id,
            width=as_int(answer.get("video_width"), default=None) or None,
            height=as_int(answer.get("video_height"), default=None) or None,
            task_id=_id_text(answer.get("task_id")) or task_id,
            request_id=request_id,
        )

    async def _retrieve_once(self, file_id: str) -> VideoFile:
        answer, request_id = await self._api("GET", RETRIEVE, params={"file_id": file_id})
        info = answer.get("file")
        url = info.get("download_url") if isinstance(info, dict) else None
        if not isinstance(info, dict) or not isinstance(url, str) or not url:
            raise ProviderError(
                f"MiniMax {RETRIEVE} answered without a download_url for file {file_id}",
                provider=PROVIDER,
                request_id=request_id,
            )
        return VideoFile(
            file_id=_id_text(info.get("file_id")) or file_id,
            filename=str(info.get("filename") or f"{file_id}.mp4"),
            size=as_int(info.get("bytes"), default=None),
            download_url=url,
        )

    async def _download_once(self, url: httpx.URL, max_bytes: int) -> bytes | None:
        where = _where(url)
        try:
            async with (
                self._slots,
                asyncio.timeout(self.download_timeout_s),
                self._client.stream("GET", url) as response,
            ):
                status = response.status_code
                if status != 200:
                    raise _download_error(status, response.headers, where)
                return await read_capped(response, max_bytes)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise transport_error(exc, PROVIDER, f"MiniMax download from {where}") from None

    # --- plumbing ------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        operation: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> tuple[httpx.Response, bytes | None]:
        """One API request; httpx's and the deadline's exceptions pass through as they are."""
        async with (
            self._slots,  # waiting for a slot is not part of the request's deadline
            asyncio.timeout(self.timeout_s),
            self._client.stream(
                method,
                f"{self._base}/v1/{operation}",
                params={**(params or {}), **self._extra_params} or None,
                json=json_body,
                headers=self._auth,
            ) as response,
        ):
            raw = await read_capped(response, MAX_ANSWER_BYTES)
        return response, raw

    def _parse(
        self, operation: str, response: httpx.Response, raw: bytes | None
    ) -> tuple[dict[str, Any], str | None]:
        """The answer with status 0 and its request id, or the mapped `ProviderError`."""
        if raw is None:
            raise ProviderUnavailable(
                f"MiniMax {operation} answer larger than {MAX_ANSWER_BYTES} bytes",
                provider=PROVIDER,
                request_id=response.headers.get("trace-id"),
            )
        return answer_of(
            response.status_code,
            response.headers,
            raw,
            api_key=self._api_key,
            operation=operation,
            medium=MEDIUM,
        )

    async def _api(
        self, method: str, operation: str, *, params: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """A reading call (query, retrieve): every failure as a `ProviderError`."""
        try:
            response, raw = await self._send(method, operation, params=params)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise transport_error(exc, PROVIDER, f"MiniMax {operation}") from None
        return self._parse(operation, response, raw)

    def _checked_download_url(self, text: str) -> httpx.URL:
        try:
            url = httpx.URL(text)
        except (httpx.InvalidURL, TypeError):
            url = None
        if url is None or url.scheme not in self._download_schemes or not url.host:
            shown = _where(url) if url is not None else "an unparsable URL"
            raise ProviderError(
                f"MiniMax download URL refused: {shown} is not "
                f"{' or '.join(self._download_schemes)} with a host",
                provider=PROVIDER,
                user_message=_UNSAFE_URL_MESSAGE,
            )
        return url


def _download_error(status: int, headers: httpx.Headers, where: str) -> ProviderError:
    log = f"MiniMax download from {where} answered HTTP {status}"
    if 300 <= status < 400:
        target = headers.get("location", "")
        try:
            shown = _where(httpx.URL(target)) if target else "nowhere"
        except httpx.InvalidURL:
            shown = "an unparsable URL"
        return ProviderError(
            f"{log}: a redirect to {shown}, not followed",
            provider=PROVIDER,
            user_message=_UNSAFE_URL_MESSAGE,
        )
    if status == 429:
        return ProviderRateLimited(log, provider=PROVIDER)
    if status in (408, 504):
        return ProviderTimeout(log, provider=PROVIDER)
    if status >= 500:
        return ProviderUnavailable(log, provider=PROVIDER)
    return ProviderError(
        f"{log}: the signed link expired or is wrong; retrieve the file again",
        provider=PROVIDER,
        user_message=_EXPIRED_MESSAGE,
    )


def _where(url: httpx.URL) -> str:
    """Scheme, host and path of a signed URL: never its query string."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _id_text(value: Any) -> str | None:
    """MiniMax ids arrive as strings or numbers; None when missing or empty."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, str | int):
        return str(value)
    return None
