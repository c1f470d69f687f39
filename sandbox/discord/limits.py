"""Discord's message limits beyond the OpenAPI schema (which allows 4000-char content)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import rules as r
from .errors import FieldError, PathPart


def _too_long(path: Sequence[PathPart], limit: int) -> FieldError:
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def embed_text_size(embed: dict[str, Any]) -> int:
    """Characters that count toward the 6000 total: title, description, fields, footer, author."""
    size = len(_text(embed.get("title"))) + len(_text(embed.get("description")))
    for fld in embed.get("fields") or []:
        if isinstance(fld, dict):
            size += len(_text(fld.get("name"))) + len(_text(fld.get("value")))
    footer = embed.get("footer")
    if isinstance(footer, dict):
        size += len(_text(footer.get("text")))
    author = embed.get("author")
    if isinstance(author, dict):
        size += len(_text(author.get("name")))
    return size


def _embed_errors(embed: dict[str, Any], at: tuple[PathPart, ...]) -> list[FieldError]:
    found: list[FieldError] = []
    for key, limit in (("title", r.EMBED_TITLE_MAX), ("description", r.EMBED_DESCRIPTION_MAX)):
        if len(_text(embed.get(key))) > limit:
            found.append(_too_long((*at, key), limit))
    fields = embed.get("fields") or []
    if len(fields) > r.EMBED_FIELDS_MAX:
        found.append(_too_long((*at, "fields"), r.EMBED_FIELDS_MAX))
    for i, fld in enumerate(fields):
        if not isinstance(fld, dict):
            continue
        if len(_text(fld.get("name"))) > r.EMBED_FIELD_NAME_MAX:
            found.append(_too_long((*at, "fields", i, "name"), r.EMBED_FIELD_NAME_MAX))
        if len(_text(fld.get("value"))) > r.EMBED_FIELD_VALUE_MAX:
            found.append(_too_long((*at, "fields", i, "value"), r.EMBED_FIELD_VALUE_MAX))
    footer = embed.get("footer")
    if isinstance(footer, dict) and len(_text(footer.get("text"))) > r.EMBED_FOOTER_MAX:
        found.append(_too_long((*at, "footer", "text"), r.EMBED_FOOTER_MAX))
    author = embed.get("author")
    if isinstance(author, dict) and len(_text(author.get("name"))) > r.EMBED_AUTHOR_MAX:
        found.append(_too_long((*at, "author", "name"), r.EMBED_AUTHOR_MAX))
    return found


def message_errors(body: dict[str, Any], prefix: tuple[PathPart, ...] = ()) -> list[FieldError]:
    """Limit violations in a message create/edit body; `prefix` is e.g. ("data",) for callbacks."""
    found: list[FieldError] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > r.CONTENT_MAX:
        found.append(_too_long((*prefix, "content"), r.CONTENT_MAX))
    embeds = body.get("embeds")
    if not isinstance(embeds, list):
        return found
    if len(embeds) > r.EMBEDS_MAX:
        found.append(_too_long((*prefix, "embeds"), r.EMBEDS_MAX))
    total = 0
    for i, embed in enumerate(embeds):
        if isinstance(embed, dict):
            found.extend(_embed_errors(embed, (*prefix, "embeds", i)))
            total += embed_text_size(embed)
    if total > r.EMBED_TOTAL_MAX:
        found.append(
            FieldError(
                (*prefix, "embeds"),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {r.EMBED_TOTAL_MAX}",
            )
        )
    return found
