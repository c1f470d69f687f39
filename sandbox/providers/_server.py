"""The lifecycle every provider double shares: an aiohttp app on a loopback port.

A subclass adds its routes in `_routes(app)` and says where its API lives below the host
(`base_path`, e.g. "/v1" for OpenAI, "" for MiniMax and Stability, whose clients append
the version themselves). Exceptions escaping a handler are a bug in the double: they are
recorded in `errors`, which the tests assert stays empty.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiohttp import web

ReplyT = TypeVar("ReplyT")


class ScriptedReplies(Generic[ReplyT]):
    """Replies queued by an in-process test, taken in order before any prompt marker."""

    def __init__(self) -> None:
        self._queue: deque[ReplyT] = deque()

    def script(self, *replies: ReplyT) -> None:
        """Queue replies; each valid, authorised request takes the next one."""
        self._queue.extend(replies)

    @property
    def scripted_left(self) -> int:
        return len(self._queue)

    def _next_scripted(self) -> ReplyT | None:
        return self._queue.popleft() if self._queue else None


class LoopbackServer:
    """start/stop, `async with`, `base_url` and the `errors` guard for one double."""

    name = "double"
    base_path = ""
    client_max_size = 64 * 1024 * 1024

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.errors: list[str] = []  # the double's own failures (a bug here, not in the bot)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._base_url = ""

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application(client_max_size=self.client_max_size, middlewares=[self._guard])
        self._routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._runner = runner
        self._base_url = f"http://{self._host}:{runner.addresses[0][1]}{self.base_path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            self.errors.append(f"{request.method} {request.path}: {exc!r}")
            raise


@dataclass
class RecordedCall:
    """One request as a double received it. `headers` never hold credentials; `body` is the
    parsed JSON object or the multipart form fields (`{name: text}`), None if unreadable."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    request_id: str
    status: int = 0
    content_type: str = ""

    @property
    def prompt(self) -> str:
        value = self.body.get("prompt") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else ""


SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})


def record_of(request: web.Request, request_id: str) -> RecordedCall:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return RecordedCall(
        method=request.method,
        path=request.path,
        headers={k: v for k, v in headers.items() if k not in SECRET_HEADERS},
        body=None,
        request_id=request_id,
        content_type=request.content_type,
    )


def bearer_key(request: web.Request) -> str:
    """The key of `Authorization: Bearer <key>`, or "" when the header is missing or malformed."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""
