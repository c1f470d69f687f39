"""Interactions: the INTERACTION_CREATE payload, typed options, and per-interaction state."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownTarget
from .limits import walk_components
from .models import CallbackAttempt
from .world import BOT_PERMISSIONS, Channel, User, World

# Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

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
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9
# The callbacks that act on the message a component is attached to.
UPDATE_CALLBACKS = {CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE}

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
    bot_token: str | None = None  # the token the session identified with


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
    # Component presses, and modal submits of a modal opened from one: the message the
    # component is on. Callbacks 6/7 and then @original act on it.
    message_id: int | None = None
    custom_id: str | None = None  # the component's or the modal's
    parent: InteractionState | None = None  # modal submits: the interaction that opened it
    choices: list[dict[str, Any]] | None = None  # autocomplete result
    updated: bool = False  # the component's message was changed (7, or an @original edit)

    @property
    def allowed_callbacks(self) -> set[int]:
        allowed = set(ALLOWED_CALLBACKS.get(self.type, set()))
        if self.type == MODAL_SUBMIT and self.message_id is None:
            # Only a modal opened from a component has a message to update.
            allowed -= UPDATE_CALLBACKS
        return allowed

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
    focused: tuple[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Typed interaction options (nested under subcommands) and the `resolved` map.

    With `focused` = (option name, text typed so far) the options are an autocomplete's:
    the focused option carries `focused: true` and its raw text, and options the user has
    not filled in yet may be missing even if required.
    """
    defs, chain = _find_command_path(command, path)
    values = dict(values or {})
    if focused is not None:
        values.pop(focused[0], None)
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
    if focused is not None:
        leaf.append(_focused_option(command, path, by_name, *focused))
    missing = [d["name"] for d in defs if d.get("required") and d["name"] not in values]
    if missing and focused is None:
        raise ValueError(f"missing required option(s) for /{command['name']}: {', '.join(missing)}")
    options = leaf
    for name, kind in reversed(chain):
        options = [{"name": name, "type": kind, "options": options}]
    return options, resolved


def _focused_option(
    command: dict[str, Any], path: list[str], by_name: dict[str, Any], name: str, text: str
) -> dict[str, Any]:
    """Discord sends autocomplete only for string/integer/number options declared with
    `autocomplete: true`; the value is whatever the user typed so far, as a string."""
    where = "/" + " ".join([command["name"], *path])
    definition = by_name.get(name)
    if definition is None:
        raise UnknownTarget(
            f"unknown option {name!r} for {where}; options: {', '.join(by_name) or '(none)'}"
        )
    with_autocomplete = [n for n, d in by_name.items() if d.get("autocomplete")]
    if not definition.get("autocomplete"):
        raise UnknownTarget(
            f"option {name!r} of {where} has no autocomplete; options with autocomplete: "
            f"{', '.join(with_autocomplete) or '(none)'}"
        )
    kind = int(definition["type"])
    return {"name": name, "type": kind, "value": str(text), "focused": True}


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
        member["permissions"] = str(world.member_permissions(user))
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


def command_data(
    command: dict[str, Any], options: list[dict[str, Any]], resolved: dict[str, Any]
) -> dict[str, Any]:
    """`data` of a slash command or autocomplete interaction."""
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
    return data


def interaction_payload(
    world: World,
    state: InteractionState,
    data: dict[str, Any],
    message: dict[str, Any] | None = None,
    locale: str = "ko",
) -> dict[str, Any]:
    """INTERACTION_CREATE of any type, without `token` (set per session). `message` is the
    message a component is attached to (component presses and modals opened from one)."""
    channel = state.channel
    payload: dict[str, Any] = {
        "id": str(state.id),
        "application_id": str(world.app_id),
        "type": state.type,
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
    if message is not None:
        payload["message"] = message
    if channel.is_dm:
        payload["user"] = state.user.payload()
        payload["context"] = 1  # BOT_DM
        payload["authorizing_integration_owners"] = {"0": str(world.guild_id)}
    else:
        member = world.member_payload(state.user)
        member["permissions"] = str(world.member_permissions(state.user))
        payload |= {
            "guild_id": str(world.guild_id),
            "guild": {"id": str(world.guild_id), "locale": "ko", "features": []},
            "guild_locale": "ko",
            "member": member,
            "context": 0,  # GUILD
            "authorizing_integration_owners": {"0": str(world.guild_id)},
        }
    return payload


# --- components and modals ----------------------------------------------------------------

COMPONENT_NAMES = {
    2: "button",
    3: "string select",
    4: "text input",
    5: "user select",
    6: "role select",
    7: "mentionable select",
    8: "channel select",
}
SELECT_TYPES = {3, 5, 6, 7, 8}


def find_component(components: Any, custom_id: str) -> dict[str, Any] | None:
    return next(
        (c for _, c in walk_components(components) if c.get("custom_id") == custom_id), None
    )


def custom_ids(components: Any) -> list[str]:
    return [str(c["custom_id"]) for _, c in walk_components(components) if c.get("custom_id")]


def component_data(
    component: dict[str, Any], custom_id: str, component_type: int, values: list[str] | None
) -> dict[str, Any]:
    """`data` of a component press, after checking the user could do it."""
    actual = component.get("type")
    if actual != component_type:
        name = COMPONENT_NAMES.get(int(actual or 0), f"type {actual}")
        raise ValueError(
            f"component {custom_id!r} is a {name} (component_type={actual}), "
            f"not component_type={component_type}"
        )
    if component.get("disabled"):
        raise ValueError(f"component {custom_id!r} is disabled: a user cannot use it")
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if component_type in SELECT_TYPES:
        chosen = [str(v) for v in values or []]
        low, high = int(component.get("min_values", 1)), int(component.get("max_values", 1))
        if not low <= len(chosen) <= high:
            raise ValueError(
                f"select {custom_id!r} takes {low} to {high} value(s), got {len(chosen)}"
            )
        if component_type == 3:
            offered = [str(o.get("value")) for o in component.get("options") or []]
            unknown = [v for v in chosen if v not in offered]
            if unknown:
                raise ValueError(
                    f"select {custom_id!r} has no option(s) {unknown}; options: {offered}"
                )
        data["values"] = chosen
    elif values is not None:
        raise ValueError(f"only select menus take values; {custom_id!r} is a button")
    return data


def modal_data(modal: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`data` of a modal submit: the modal's layout with each input's submitted value.

    Text inputs sit in action rows (discord.py's default) or in labels (type 18); the
    client refuses to submit an empty required input or a value outside min/max_length.
    """
    known = custom_ids(modal.get("components"))
    unknown = [k for k in values if k not in known]
    if unknown:
        raise UnknownTarget(
            f"unknown input(s) {', '.join(map(repr, unknown))} in modal "
            f"{modal.get('custom_id')!r}; inputs: {', '.join(known) or '(none)'}"
        )
    components: list[dict[str, Any]] = []
    for top in modal.get("components") or []:
        if top.get("type") == 1:
            row = [_submitted(c, values) for c in top.get("components") or []]
            components.append({"type": 1, "id": top.get("id"), "components": row})
        elif top.get("type") == 18 and isinstance(top.get("component"), dict):
            inner = _submitted(top["component"], values)
            components.append({"type": 18, "id": top.get("id"), "component": inner})
        else:
            components.append({"type": top.get("type"), "id": top.get("id")})
    return {"custom_id": modal.get("custom_id"), "components": components}


def _submitted(component: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    custom_id = str(component.get("custom_id"))
    kind = component.get("type")
    out: dict[str, Any] = {"type": kind, "id": component.get("id"), "custom_id": custom_id}
    raw = values.get(custom_id)
    if kind in SELECT_TYPES:
        out["values"] = [str(v) for v in (raw if isinstance(raw, list) else [raw] if raw else [])]
        return out
    text = "" if raw is None else str(raw)
    if not text and component.get("required", True):
        raise ValueError(f"input {custom_id!r} is required: the modal cannot be submitted empty")
    if text:
        low = int(component.get("min_length") or 0)
        high = int(component.get("max_length") or 4000)
        if not low <= len(text) <= high:
            raise ValueError(
                f"input {custom_id!r} takes {low} to {high} characters, got {len(text)}"
            )
    out["value"] = text
    return out
