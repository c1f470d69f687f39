"""Interactions: the INTERACTION_CREATE payload, typed options, and per-interaction state."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownTarget
from .models import CallbackAttempt
from .world import BOT_PERMISSIONS, EVERYONE_PERMISSIONS, Channel, User, World

APPLICATION_COMMAND = 2

# Callback types Discord accepts per interaction type (PING answers with PONG only).
ALLOWED_CALLBACKS: dict[int, set[int]] = {
    1: {1},
    2: {4, 5, 9, 12},
    3: {4, 5, 6, 7, 9, 12},
    4: {8},
    5: {4, 5, 6, 7, 12},
}
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED = 5
CALLBACK_MODAL = 9

# Option types (Discord's ApplicationCommandOptionType).
OPT_SUBCOMMAND, OPT_GROUP, OPT_STRING, OPT_INTEGER, OPT_BOOLEAN = 1, 2, 3, 4, 5
OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE, OPT_NUMBER, OPT_ATTACHMENT = 6, 7, 8, 9, 10, 11

AttachmentMaker = Callable[[str, bytes, str | None], dict[str, Any]]


@dataclass
class Recipient:
    """A session an interaction was delivered to, with its own copy of the token."""

    session_id: str
    instance: str | None
    token: str  # this session's interaction token
    bot_token: str | None = None  # the label the session identified with


@dataclass
class InteractionState:
    id: int
    type: int
    command: str  # full command path, e.g. "핑" or "설정 채널"
    label: str  # "/핑 in #채팅방-1", for messages
    channel: Channel
    user: User
    dispatched_at: float
    attachment_size_limit: int
    recipients: list[Recipient] = field(default_factory=list)
    attempts: list[CallbackAttempt] = field(default_factory=list)
    accepted: CallbackAttempt | None = None
    callback_type: int | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    webhook_calls: list[str] = field(default_factory=list)  # "PATCH @original -> 200 (4)"
    last_change: float = 0.0

    @property
    def acknowledged(self) -> bool:
        return self.accepted is not None

    @property
    def deferred(self) -> bool:
        return self.callback_type == CALLBACK_DEFERRED

    def recipient(self, token: str) -> Recipient | None:
        return next((r for r in self.recipients if r.token == token), None)


def new_token(interaction_id: int, session_id: str) -> str:
    """An opaque interaction token. Each session gets its own, so the fake can tell which
    instance answered even though callbacks and webhooks carry no Authorization header."""
    raw = f"interaction:{interaction_id}:{session_id}:{secrets.token_urlsafe(24)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- options ----------------------------------------------------------------------------------


def _find_command_path(
    command: dict[str, Any], path: list[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """Walk "group sub" below a command: (the leaf's option definitions, [(name, type), ...])."""
    defs: list[dict[str, Any]] = command.get("options") or []
    chain: list[tuple[str, int]] = []
    for part in path:
        found = next(
            (
                o
                for o in defs
                if o.get("name") == part and o.get("type") in (OPT_SUBCOMMAND, OPT_GROUP)
            ),
            None,
        )
        if found is None:
            subs = [o["name"] for o in defs if o.get("type") in (OPT_SUBCOMMAND, OPT_GROUP)]
            raise UnknownTarget(
                f"unknown subcommand {part!r} of /{command['name']}; "
                f"subcommands: {', '.join(subs) or '(none)'}"
            )
        chain.append((part, int(found["type"])))
        defs = found.get("options") or []
    if any(o.get("type") in (OPT_SUBCOMMAND, OPT_GROUP) for o in defs):
        subs = [o["name"] for o in defs]
        raise UnknownTarget(
            f"/{command['name']} needs a subcommand: {', '.join(subs)} "
            f"(pass command='{command['name']} <sub>')"
        )
    return defs, chain


def build_options(
    world: World,
    command: dict[str, Any],
    path: list[str],
    values: dict[str, Any] | None,
    make_attachment: AttachmentMaker,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Typed interaction options (nested under subcommands) and the `resolved` map."""
    defs, chain = _find_command_path(command, path)
    values = dict(values or {})
    resolved: dict[str, dict[str, Any]] = {}
    leaf: list[dict[str, Any]] = []
    by_name = {d["name"]: d for d in defs}
    for name, value in values.items():
        definition = by_name.get(name)
        if definition is None:
            raise UnknownTarget(
                f"unknown option {name!r} for /{' '.join([command['name'], *path])}; "
                f"options: {', '.join(by_name) or '(none)'}"
            )
        kind = int(definition["type"])
        try:
            typed = _typed(world, kind, value, resolved, make_attachment)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, UnknownTarget):
                raise
            raise ValueError(f"option {name!r}: {exc}") from None
        choices = [c["value"] for c in definition.get("choices") or []]
        if choices and typed not in choices:
            raise ValueError(f"option {name!r} must be one of {choices}, got {typed!r}")
        leaf.append({"name": name, "type": kind, "value": typed})
    missing = [d["name"] for d in defs if d.get("required") and d["name"] not in values]
    if missing:
        raise ValueError(f"missing required option(s) for /{command['name']}: {', '.join(missing)}")
    options = leaf
    for name, kind in reversed(chain):
        options = [{"name": name, "type": kind, "options": options}]
    return options, resolved


def _typed(
    world: World,
    kind: int,
    value: Any,
    resolved: dict[str, dict[str, Any]],
    make_attachment: AttachmentMaker,
) -> Any:
    if kind == OPT_STRING:
        return str(value)
    if kind == OPT_INTEGER:
        if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
            raise ValueError(f"expects an integer, got {value!r}")
        return int(value)
    if kind == OPT_NUMBER:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expects a number, got {value!r}") from None
    if kind == OPT_BOOLEAN:
        return _boolean(value)
    if kind in (OPT_USER, OPT_MENTIONABLE):
        user = value if isinstance(value, User) else world.user(str(value))
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = world.member_payload(user, with_user=False)
        member["permissions"] = str(EVERYONE_PERMISSIONS)
        resolved.setdefault("members", {})[str(user.id)] = member
        return str(user.id)
    if kind == OPT_CHANNEL:
        channel = world.find(value)
        if channel is None:
            names = ", ".join(world.text_channel_names())
            raise UnknownTarget(
                f"unknown channel {value!r} for a channel option; channels: {names}"
            )
        resolved.setdefault("channels", {})[str(channel.id)] = world.channel_payload(
            channel, with_permissions=True
        )
        return str(channel.id)
    if kind == OPT_ROLE:
        roles = {r["name"]: r for r in world.roles_payload()}
        role = roles.get(str(value)) or next(
            (r for r in roles.values() if r["id"] == str(value)), None
        )
        if role is None:
            raise UnknownTarget(f"unknown role {value!r}; roles: {', '.join(roles)}")
        resolved.setdefault("roles", {})[role["id"]] = role
        return role["id"]
    if kind == OPT_ATTACHMENT:
        filename, data, content_type = _attachment_value(value)
        attachment = make_attachment(filename, data, content_type)
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        return attachment["id"]
    return value


_TRUE = {"true", "yes", "on", "1", "참", "예"}
_FALSE = {"false", "no", "off", "0", "거짓", "아니오"}


def _boolean(value: Any) -> bool:
    """Booleans, or the words a person types (the demo passes option values as text)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"expects true or false, got {value!r}")


def _attachment_value(value: Any) -> tuple[str, bytes, str | None]:
    """bytes, (filename, bytes[, content_type]) or {"filename", "data"[, "content_type"]}."""
    if isinstance(value, bytes | bytearray):
        return "file.bin", bytes(value), None
    if isinstance(value, tuple):
        return str(value[0]), bytes(value[1]), (value[2] if len(value) > 2 else None)
    if isinstance(value, dict):
        return str(value["filename"]), bytes(value["data"]), value.get("content_type")
    raise ValueError("an attachment option takes bytes, (filename, bytes) or a dict")


# --- payload ----------------------------------------------------------------------------------


def interaction_payload(
    world: World,
    state: InteractionState,
    command: dict[str, Any],
    options: list[dict[str, Any]],
    resolved: dict[str, Any],
    locale: str = "ko",
) -> dict[str, Any]:
    """INTERACTION_CREATE for a slash command, without `token` (set per session)."""
    channel = state.channel
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": 1,
    }
    if options:
        data["options"] = options
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        # discord.py's tree looks guild commands up by (name, data.guild_id).
        data["guild_id"] = command["guild_id"]
    payload: dict[str, Any] = {
        "id": str(state.id),
        "application_id": str(world.app_id),
        "type": APPLICATION_COMMAND,
        "data": data,
        "channel_id": str(channel.id),
        "channel": world.channel_payload(channel, with_permissions=True),
        "version": 1,
        "locale": locale,
        "app_permissions": str(BOT_PERMISSIONS),
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": state.attachment_size_limit,
    }
    if channel.is_dm:
        payload["user"] = state.user.payload()
        payload["context"] = 1  # BOT_DM
        payload["authorizing_integration_owners"] = {"0": str(world.guild_id)}
    else:
        member = world.member_payload(state.user)
        member["permissions"] = str(EVERYONE_PERMISSIONS)
        payload |= {
            "guild_id": str(world.guild_id),
            "guild": {"id": str(world.guild_id), "locale": "ko", "features": []},
            "guild_locale": "ko",
            "member": member,
            "context": 0,  # GUILD
            "authorizing_integration_owners": {"0": str(world.guild_id)},
        }
    return payload
