"""The REST plumbing shared by every route: records, auth, rate-limit mode, body parsing,
upload limits, OpenAPI validation and Discord's JSON error envelope.

Route handlers (routes.py) only see a parsed `Call` and return a `Reply` or raise
`DiscordError`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from . import errors as e
from .labels import LABEL_PARAM, LABEL_ROUTE, instance_of
from .messages import Upload
from .models import FileRecord, RequestRecord, SpecViolation
from .rules import DEFAULT_UPLOAD_LIMIT, REQUEST_MAX
from .state import DiscordState

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"


@dataclass
class Call:
    """A parsed request as route handlers see it."""

    request: web.Request
    record: RequestRecord
    params: dict[str, str]
    body: Any = None
    uploads: list[Upload] = field(default_factory=list)
    multipart: bool = False

    @property
    def token(self) -> str | None:
        return self.record.token

    @property
    def instance(self) -> str | None:
        return self.record.instance

    @property
    def at(self) -> float:
        """Arrival time (monotonic): deadlines are judged on it."""
        return self.record.at

    @property
    def json_object(self) -> dict[str, Any]:
        """The body if it is a JSON object, else {} (the schema check already ran)."""
        return self.body if isinstance(self.body, dict) else {}

    def flag(self, name: str) -> bool:
        return self.request.query.get(name, "").lower() in ("1", "true")

    def query_int(self, name: str, default: int) -> int:
        raw = self.request.query.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            message = f'Value "{raw}" is not int.'
            raise e.invalid_form_body([e.FieldError((name,), "NUMBER_TYPE_COERCE", message)])
        return int(raw)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able; None means no body (204)


Handler = Callable[[Call], Awaitable[Reply]]
Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]
After = Callable[[Call], None]
UploadLimit = Callable[[Call], int]
Attribution = Callable[[Call], tuple[str | None, str | None] | None]


def path_int(value: str) -> int | None:
    """A snowflake from the URL, None if it is not one."""
    return int(value) if value.isdigit() else None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py only parses JSON when the header equals it,
    # and aiohttp's json_response/text= would append "; charset=utf-8".
    data = json.dumps(body, ensure_ascii=False).encode()
    return web.Response(
        status=status, body=data, headers={**(headers or {}), "Content-Type": "application/json"}
    )


def _token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "").strip()
    if not header.startswith("Bot "):
        return None
    return header.removeprefix("Bot ").strip() or None


def rate_limited(template: str, retry_after: float) -> e.DiscordError:
    """The 429 discord.py retries: JSON body, `Via` header (without it discord.py assumes a
    Cloudflare ban) and X-RateLimit headers."""
    bucket = hashlib.sha1(template.encode()).hexdigest()[:16]
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "user",
    }
    message = "You are being rate limited."
    body = {"message": message, "retry_after": retry_after, "global": False}
    return e.DiscordError(429, None, message, headers=headers, body=body)


class RestApp:
    """Registers Discord routes on an aiohttp app and runs every request through the checks."""

    def __init__(
        self,
        state: DiscordState,
        upload_limit: UploadLimit | None = None,
        attribute: Attribution | None = None,
    ) -> None:
        self.state = state
        self.upload_limit = upload_limit or (lambda call: DEFAULT_UPLOAD_LIMIT)
        self.attribute = attribute or (lambda call: None)
        self._routes: list[tuple[str, str, Endpoint]] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        auth: bool = True,
        rate_limited: bool = True,
        after: After | None = None,
    ) -> None:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, template, handler, auth, rate_limited, after)

        self._routes.append((method, template, endpoint))

    @property
    def templates(self) -> list[tuple[str, str]]:
        """(METHOD, path template) of every registered route."""
        return [(method, template) for method, template, _ in self._routes]

    def mount(self, app: web.Application) -> None:
        """Every route at /api/v10 and again at /i/<label>/api/v10 (see labels.py)."""
        # aiohttp matches in registration order: callers add "@original" before "{message_id}".
        for prefix in ("", LABEL_ROUTE):
            for method, template, endpoint in self._routes:
                app.router.add_route(method, prefix + API_PREFIX + template, endpoint)
            app.router.add_route("*", prefix + API_PREFIX + "/{tail:.*}", self._unknown)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    # --- the pipeline ------------------------------------------------------------------------

    async def _serve(
        self,
        request: web.Request,
        template: str,
        handler: Handler,
        auth: bool,
        limited: bool,
        after: After | None,
    ) -> web.StreamResponse:
        record = self._record(request, template)
        params = {k: v for k, v in request.match_info.items() if k != LABEL_PARAM}
        call = Call(request=request, record=record, params=params)
        try:
            if auth and record.token is None:
                raise e.unauthorized()
            if record.token is None:
                self._attribute(call)
            await self._read_body(call)  # first, so even refused requests keep their body
            if limited and self.state.rules.rate_limit_mode:
                raise rate_limited(template, self.state.rules.retry_after_s)
            self._check_uploads(call)
            self._validate(call, template)
            reply = await handler(call)
            response: web.StreamResponse = self._reply(record, reply)
        except e.DiscordError as err:
            response = self._error(record, err)
        except Exception:
            # A bug in the fake, not a Discord answer: keep it visible to tests.
            self.state.internal_errors.append(traceback.format_exc())
            log.exception("fake Discord failed on %s %s", request.method, request.path)
            response = self._error(record, e.DiscordError(500, 0, "500: Internal Server Error"))
        if after is not None:
            after(call)
        self.state.changed()
        return response

    def _record(self, request: web.Request, template: str | None) -> RequestRecord:
        token = _token_of(request)
        label = request.match_info.get(LABEL_PARAM)
        path = request.path
        if label is not None:
            path = path.removeprefix(f"/i/{label}")
        record = RequestRecord(
            method=request.method,
            path=path.removeprefix(API_PREFIX),
            route=template,
            query=dict(request.query),
            token=token,
            instance=label if label is not None else instance_of(token),
            at=time.monotonic(),
            wall=time.time(),
            label=label,
        )
        self.state.requests.append(record)
        return record

    def _attribute(self, call: Call) -> None:
        found = self.attribute(call)
        if found is not None:
            call.record.token, call.record.instance = found
            call.record.via_interaction_token = True

    async def _read_body(self, call: Call) -> None:
        request = call.request
        if request.content_length is not None and request.content_length > REQUEST_MAX:
            raise e.entity_too_large()
        if request.content_type == "multipart/form-data":
            await self._read_multipart(call)
            return
        if not request.body_exists:
            return
        raw = await request.read()
        if not raw:
            return
        if request.content_type != "application/json":
            raise e.invalid_json()
        try:
            call.body = json.loads(raw)
        except ValueError:
            raise e.invalid_json() from None
        call.record.body = call.body

    async def _read_multipart(self, call: Call) -> None:
        call.multipart = True
        reader = await call.request.multipart()
        total = 0
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue  # nested multipart: Discord does not use it
            data = bytes(await part.read(decode=False))
            total += len(data)
            if total > REQUEST_MAX:
                raise e.entity_too_large()
            if part.filename:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                call.uploads.append(Upload(part.name or "", part.filename, content_type, data))
            elif part.name == "payload_json":
                try:
                    call.body = json.loads(data.decode("utf-8"))
                except ValueError:
                    raise e.invalid_json() from None
        call.record.body = call.body
        call.record.files = [
            FileRecord(u.field, u.filename, len(u.data), u.content_type) for u in call.uploads
        ]

    def _check_uploads(self, call: Call) -> None:
        if not call.uploads:
            return
        limit = self.upload_limit(call)
        if any(len(u.data) > limit for u in call.uploads):
            raise e.entity_too_large()

    def _validate(self, call: Call, template: str) -> None:
        spec = self.state.spec
        method = call.request.method
        if call.body is None or not spec.has_body_schema(method, template):
            return
        failure = spec.validate(method, template, call.body, multipart=call.multipart)
        if failure is None:
            return
        self.state.spec_violations.append(
            SpecViolation(
                method=method,
                path=call.record.path,
                route=template,
                field=failure.field.dotted,
                message=failure.field.message,
                body=call.body,
                token=call.token,
                instance=call.instance,
                at=call.at,
            )
        )
        raise e.invalid_form_body(list(failure.fields))

    # --- answers -----------------------------------------------------------------------------

    def _reply(self, record: RequestRecord, reply: Reply) -> web.StreamResponse:
        record.status = reply.status
        if reply.body is None:
            return web.Response(status=reply.status)
        return json_response(reply.status, reply.body)

    def _error(self, record: RequestRecord, err: e.DiscordError) -> web.Response:
        record.status = err.status
        record.code = err.code
        record.message = err.message
        record.errors = err.errors
        return json_response(err.status, err.body(), err.headers)

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request, None)
        if request.can_read_body:
            raw = await request.read()
            try:
                record.body = json.loads(raw) if raw else None
            except ValueError:
                record.body = raw[:200].decode("utf-8", "replace")
        response = self._error(record, e.not_found_route(request.method, record.path))
        self.state.changed()
        return response
