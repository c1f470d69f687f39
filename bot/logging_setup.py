"""One logging pipeline: structlog and the standard library (discord.py) render alike.

JSON lines in containers, a readable console in a terminal; every line carries the
instance id so four interleaved container logs stay attributable.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import structlog

LogFormat = Literal["auto", "json", "console"]
# Rotation of the optional log file: 5 x 10 MB per instance.
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5
# discord.py loggers whose DEBUG lines carry raw payloads: message text, interaction
# tokens in URLs and gateway events. INFO unless LOG_DISCORD_PAYLOADS=true.
PAYLOAD_LOGGERS = ("discord.gateway", "discord.http", "discord.webhook")
# Libraries that log every HTTP request at INFO (one line per provider poll: ~100 lines/s
# with 1,000 video jobs); the provider metrics count those calls instead.
CHATTY_LOGGERS = ("httpx", "httpcore")
REDACTED = "[redacted]"
# Secrets with a recognisable shape, whatever logged them:
_SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # an interaction or webhook token in a URL: /interactions/<id>/<token>, /webhooks/<id>/<token>
    (re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9_\-.:]+"), rf"\1{REDACTED}"),
    # a "token" field of a payload, as JSON (maybe escaped inside a JSON log line) or a repr
    (
        re.compile(r"""(\\?["']token\\?["']\s*:\s*\\?["'])[^"'\\]+"""),
        rf"\1{REDACTED}",
    ),
    # an Authorization header value
    (re.compile(r"\bBot\s+[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-.]+"), f"Bot {REDACTED}"),
    # a bare bot token: base64 id . timestamp . hmac
    (re.compile(r"\b[A-Za-z0-9_\-]{23,28}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,}"), REDACTED),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without interaction/webhook tokens, bot tokens and the given `secrets`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites every record's message so no token reaches a log line, file or console.

    Configured secrets (the bot token, provider keys) are removed verbatim; interaction
    and webhook tokens and token-shaped strings are removed by shape.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is removed whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._clean(v) for v in value)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):  # structlog's event dict, rendered by the formatter
            record.msg = self._clean(record.msg)
        else:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = str(record.msg)
            record.msg, record.args = redact(message, self.secrets), None
        return True


class _RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """A last pass over the rendered line: tracebacks and exception texts included."""

    def __init__(self, *args: Any, secrets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def _renderer(log_format: LogFormat) -> structlog.typing.Processor:
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    if use_json:
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def configure_logging(
    instance_id: str,
    level: str = "INFO",
    log_format: LogFormat = "auto",
    log_dir: str | None = None,
    *,
    discord_payloads: bool = False,
    secrets: Iterable[str] = (),
) -> None:
    """Route structlog and stdlib logging through one formatter bound to `instance_id`.

    Every handler redacts tokens (`RedactSecrets`, plus `secrets` verbatim); discord.py's
    payload loggers stay at INFO unless `discord_payloads` asks for their DEBUG lines.
    """
    secrets = tuple(secrets)

    def add_instance(
        _: object, __: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event_dict.setdefault("instance_id", instance_id)
        return event_dict

    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_duration,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_instance,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    def formatter(renderer: structlog.typing.Processor) -> logging.Formatter:
        return _RedactingFormatter(
            secrets=secrets,
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )

    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter(_renderer(log_format)))
    handlers: list[logging.Handler] = [console]
    if log_dir:
        try:
            path = Path(log_dir) / f"bot-{instance_id}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            print(
                f"warning: cannot write logs to {log_dir}: {exc}; logging to stderr only",
                file=sys.stderr,
            )
        else:
            file_handler.setFormatter(
                formatter(structlog.processors.JSONRenderer(ensure_ascii=False))
            )
            handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in CHATTY_LOGGERS:  # back at DEBUG, where an operator looks at each request
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
    for name in PAYLOAD_LOGGERS:
        # Asked for: follow the root level (DEBUG shows payloads, redacted all the same).
        quiet = max(logging.INFO, logging.getLevelName(level))
        logging.getLogger(name).setLevel(logging.NOTSET if discord_payloads else quiet)


# The request-scoped context (bound by the answering path): the start time, from which
# every line of the request gets `duration_ms`.
STARTED_KEY = "_request_started"


def add_duration(
    _: object, __: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    started = event_dict.pop(STARTED_KEY, None)
    if started is not None:
        event_dict.setdefault("duration_ms", round((time.monotonic() - started) * 1000))
    return event_dict


def bind_request(**fields: object) -> None:
    """Every later log line of this task (and tasks it starts) carries `fields` and
    `duration_ms` since now (a request: its id, command, guild, channel, user)."""
    structlog.contextvars.bind_contextvars(**fields, **{STARTED_KEY: time.monotonic()})


def prompt_fields(text: str, *, log_prompts: bool) -> dict[str, object]:
    """How a user's prompt appears in logs: its length, and the text only if asked
    (LOG_PROMPTS=true)."""
    return {"prompt_chars": len(text), **({"prompt": text} if log_prompts else {})}


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
