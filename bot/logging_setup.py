"""One logging pipeline: structlog and the standard library (discord.py) render alike.

JSON lines in containers, a readable console in a terminal; every line carries the
instance id so four interleaved container logs stay attributable.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Literal

import structlog

LogFormat = Literal["auto", "json", "console"]
# Rotation of the optional log file: 5 x 10 MB per instance.
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5


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
) -> None:
    """Route structlog and stdlib logging through one formatter bound to `instance_id`."""

    def add_instance(
        _: object, __: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event_dict.setdefault("instance_id", instance_id)
        return event_dict

    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
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
        return structlog.stdlib.ProcessorFormatter(
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
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    # discord.py's HTTP logger is chatty at DEBUG; keep it at INFO unless asked.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, logging.getLevelName(level)))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
