"""Discord's message limits beyond the OpenAPI schema (which allows 4000-char content)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


def walk_components(
    components: Any, at: tuple[PathPart, ...] = ("components",)
) -> Iterator[tuple[tuple[PathPart, ...], dict[str, Any]]]:
    """Every component of a tree, depth first, with its path: action rows' `components`,
    a section's `components` and `accessory`, a label's `component`, a container's children."""
    if not isinstance(components, list):
        return
    for i, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        here = (*at, i)
        yield here, component
        yield from walk_components(component.get("components"), (*here, "components"))
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield (*here, key), child
                yield from walk_components(child.get("components"), (*here, key, "components"))


def component_errors(
    components: Any, prefix: tuple[PathPart, ...] = (), flags: int = 0
) -> list[FieldError]:
    """Component limits: custom_id unique within the message and at most 100 characters,
    button labels at most 80, and at most 5 action rows in a classic (non components-v2)
    message."""
    found: list[FieldError] = []
    if not isinstance(components, list):
        return found
    classic = not flags & r.FLAG_COMPONENTS_V2
    rows_only = all(
        isinstance(c, dict) and c.get("type") == r.COMPONENT_ACTION_ROW for c in components
    )
    if classic and rows_only and len(components) > r.ACTION_ROWS_MAX:
        found.append(_too_long((*prefix, "components"), r.ACTION_ROWS_MAX))
    seen: set[str] = set()
    for path, component in walk_components(components, (*prefix, "components")):
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            if len(custom_id) > r.CUSTOM_ID_MAX:
                found.append(_too_long((*path, "custom_id"), r.CUSTOM_ID_MAX))
            elif custom_id in seen:
                found.append(
                    FieldError(
                        (*path, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                )
            seen.add(custom_id)
        label = component.get("label")
        is_button = component.get("type") == r.COMPONENT_BUTTON
        if is_button and isinstance(label, str) and len(label) > r.BUTTON_LABEL_MAX:
            found.append(_too_long((*path, "label"), r.BUTTON_LABEL_MAX))
    return found


def choice_errors(data: Any) -> list[FieldError]:
    """An autocomplete result: at most 25 choices, names 1-100 characters, string values
    at most 100 characters."""
    found: list[FieldError] = []
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        return found
    at: tuple[PathPart, ...] = ("data", "choices")
    if len(choices) > r.CHOICES_MAX:
        found.append(_too_long(at, r.CHOICES_MAX))
    for i, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        name = choice.get("name")
        if isinstance(name, str) and not name:
            found.append(
                FieldError((*at, i, "name"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
            )
        elif isinstance(name, str) and len(name) > r.CHOICE_NAME_MAX:
            found.append(_too_long((*at, i, "name"), r.CHOICE_NAME_MAX))
        value = choice.get("value")
        if isinstance(value, str) and len(value) > r.CHOICE_VALUE_MAX:
            found.append(_too_long((*at, i, "value"), r.CHOICE_VALUE_MAX))
    return found


def message_errors(body: dict[str, Any], prefix: tuple[PathPart, ...] = ()) -> list[FieldError]:
    """Limit violations in a message create/edit body; `prefix` is e.g. ("data",) for callbacks."""
    found: list[FieldError] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > r.CONTENT_MAX:
        found.append(_too_long((*prefix, "content"), r.CONTENT_MAX))
    flags = body.get("flags")
    found.extend(
        component_errors(body.get("components"), prefix, flags if isinstance(flags, int) else 0)
    )
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
