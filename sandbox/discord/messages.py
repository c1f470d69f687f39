"""Messages: their store, their JSON shape, and how create/edit bodies change them."""

from __future__ import annotations

import copy
import mimetypes
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .errors import FieldError, empty_message, invalid_form_body
from .limits import message_errors, walk_components
from .world import Channel, User, World, iso

# Message types and flags used here.
TYPE_DEFAULT = 0
TYPE_REPLY = 19
TYPE_CHAT_INPUT_COMMAND = 20
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
# Flags a bot may set itself; EPHEMERAL only on interaction responses.
SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2

_MENTION = re.compile(r"<@!?(\d+)>")
_FILE_FIELD = re.compile(r"^files?\[(\d+)\]$")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def index(self) -> int | None:
        found = _FILE_FIELD.match(self.field)
        return int(found.group(1)) if found else None


@dataclass
class StoredMessage:
    """A message as the fake keeps it: the REST-shaped payload plus who sent it and how."""

    id: int
    channel_id: int
    payload: dict[str, Any]
    author_id: int
    via: str  # "user", "channel", "callback" or "followup"
    instance: str | None = None
    token: str | None = None
    interaction_id: int | None = None
    at: float = field(default_factory=time.monotonic)
    deleted: bool = False

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")


class MessageStore:
    """All messages, per channel, plus uploaded file bytes for the attachment URLs."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.base_url = ""  # set once the server knows its port
        self.by_id: dict[int, StoredMessage] = {}
        self.blobs: dict[int, bytes] = {}
        self.nonces: dict[tuple[int, str], int] = {}

    def add(self, message: StoredMessage) -> StoredMessage:
        self.by_id[message.id] = message
        channel = self.world.channels.get(message.channel_id)
        if channel is not None:
            channel.last_message_id = message.id
        return message

    def get(self, message_id: int | str | None) -> StoredMessage | None:
        if message_id is None:
            return None
        try:
            return self.by_id.get(int(message_id))
        except ValueError:
            return None

    def in_channel(self, channel_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        return [
            m
            for m in self.by_id.values()
            if m.channel_id == channel_id and (include_deleted or not m.deleted)
        ]

    # --- shapes ----------------------------------------------------------------------------

    def skeleton(
        self, message_id: int, channel: Channel, author: User, *, type_: int = TYPE_DEFAULT
    ) -> dict[str, Any]:
        """A fresh message payload as REST returns it (gateway adds guild_id and member)."""
        return {
            "id": str(message_id),
            "type": type_,
            "channel_id": str(channel.id),
            "content": "",
            "author": author.payload(),
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": iso(time.time()),
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
        }

    def gateway_shape(self, message: StoredMessage) -> dict[str, Any]:
        """The MESSAGE_CREATE/UPDATE body: the payload plus guild_id and the author's member."""
        out = copy.deepcopy(message.payload)
        channel = self.world.channels.get(message.channel_id)
        if channel is not None and channel.guild_id is not None:
            out["guild_id"] = str(channel.guild_id)
            author = self._user_by_id(message.author_id)
            if author is not None and out.get("webhook_id") is None:
                out["member"] = self.world.member_payload(author, with_user=False)
        return out

    def _user_by_id(self, user_id: int) -> User | None:
        if user_id == self.world.bot.id:
            return self.world.bot
        return next((u for u in self.world.users.values() if u.id == user_id), None)

    # --- bodies ----------------------------------------------------------------------------

    def check_body(self, body: dict[str, Any], prefix: tuple[str, ...] = ()) -> None:
        """Raise 50035 for Discord's content and embed limits."""
        errors: list[FieldError] = message_errors(body, prefix)
        if errors:
            raise invalid_form_body(errors)

    def apply(
        self,
        message: dict[str, Any],
        body: dict[str, Any],
        uploads: list[Upload],
        *,
        editing: bool,
        allow_ephemeral: bool,
    ) -> None:
        """Apply a create or edit body (already validated) to a message payload, in place."""
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = [_embed_out(e) for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = components_out(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            mask = SETTABLE_FLAGS | (FLAG_EPHEMERAL if allow_ephemeral and not editing else 0)
            keep = message.get("flags", 0) & ~mask if editing else 0
            message["flags"] = keep | (int(body["flags"]) & mask)
        if body.get("tts") and not editing:
            message["tts"] = True
        if body.get("sticker_ids"):
            message["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in body["sticker_ids"]
            ]
        if body.get("poll") and not editing:
            message["poll"] = copy.deepcopy(body["poll"])
        self._apply_attachments(message, body, uploads, editing=editing)
        self._apply_mentions(message, body)

    def edit(self, message: StoredMessage, body: dict[str, Any], uploads: list[Upload]) -> None:
        """An edit of a sent message (channel route or interaction webhook)."""
        payload = dict(message.payload)
        self.apply(payload, body, uploads, editing=True, allow_ephemeral=False)
        require_not_empty(payload)
        payload["edited_timestamp"] = iso(time.time())
        message.payload = payload

    def fill(self, message: StoredMessage, body: dict[str, Any], uploads: list[Upload]) -> None:
        """Turn a deferred "thinking" message into the answer; it keeps the ephemerality
        chosen at deferral and, being its first real content, gets no edited_timestamp."""
        payload = dict(message.payload)
        ephemeral = payload.get("flags", 0) & FLAG_EPHEMERAL
        body = {k: v for k, v in body.items() if k != "flags"}
        self.apply(payload, body, uploads, editing=True, allow_ephemeral=False)
        require_not_empty(payload)
        payload["flags"] = (payload.get("flags", 0) & ~FLAG_LOADING) | ephemeral
        message.payload = payload

    def reference(self, target: StoredMessage) -> dict[str, Any]:
        """The `message_reference` of a reply to target."""
        out = {"type": 0, "channel_id": str(target.channel_id), "message_id": str(target.id)}
        channel = self.world.channels.get(target.channel_id)
        if channel is not None and channel.guild_id is not None:
            out["guild_id"] = str(channel.guild_id)
        return out

    def _apply_attachments(
        self, message: dict[str, Any], body: dict[str, Any], uploads: list[Upload], *, editing: bool
    ) -> None:
        existing = {a["id"]: a for a in message.get("attachments", [])}
        by_index = {u.index: u for u in uploads if u.index is not None}
        used: set[int] = set()
        result: list[dict[str, Any]] = []
        if body.get("attachments") is not None:
            for item in body["attachments"]:
                ref = str(item.get("id"))
                if ref in existing:
                    kept = dict(existing[ref])
                    if item.get("description") is not None:
                        kept["description"] = item["description"]
                    result.append(kept)
                elif ref.isdigit() and int(ref) in by_index:
                    upload = by_index[int(ref)]
                    used.add(int(ref))
                    result.append(self._attachment(message, upload, item))
        elif editing:
            result.extend(existing.values())
        # Uploads the attachments list did not mention are attached as they are.
        for upload in uploads:
            if upload.index is None or upload.index not in used:
                result.append(self._attachment(message, upload, {}))
        if body.get("attachments") is not None or uploads or not editing:
            message["attachments"] = result

    def _attachment(
        self, message: dict[str, Any], upload: Upload, item: dict[str, Any]
    ) -> dict[str, Any]:
        out = self.new_attachment(
            int(message["channel_id"]),
            item.get("filename") or upload.filename,
            upload.data,
            upload.content_type,
        )
        if item.get("description"):
            out["description"] = item["description"]
        if message.get("flags", 0) & FLAG_EPHEMERAL:
            out["ephemeral"] = True
        return out

    def new_attachment(
        self, channel_id: int, filename: str, data: bytes, content_type: str | None
    ) -> dict[str, Any]:
        """An attachment object whose URL serves `data` (the fake's stand-in for the CDN)."""
        attachment_id = self.world.ids.next()
        self.blobs[attachment_id] = data
        # Discord infers the type from the name; discord.py uploads everything as octet-stream.
        guessed = mimetypes.guess_type(filename)[0]
        generic = content_type in (None, "", "application/octet-stream")
        kind = guessed if guessed and generic else content_type or "application/octet-stream"
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": kind,
        }

    def _apply_mentions(self, message: dict[str, Any], body: dict[str, Any]) -> None:
        if "content" not in body and "allowed_mentions" not in body:
            return
        allowed = body.get("allowed_mentions")
        parse = (allowed.get("parse") or []) if isinstance(allowed, dict) else None
        listed = {str(u) for u in (allowed or {}).get("users") or []}
        mentioned: list[dict[str, Any]] = []
        for user_id in dict.fromkeys(_MENTION.findall(message.get("content") or "")):
            user = self._user_by_id(int(user_id))
            if user is None:
                continue
            if allowed is None or "users" in (parse or []) or user_id in listed:
                mentioned.append(user.payload())
        reference = message.get("referenced_message")
        if isinstance(reference, dict):
            # With no allowed_mentions the replied-to author is pinged; with one, only if asked.
            ping = allowed is None or bool((allowed or {}).get("replied_user"))
            author = reference.get("author") or {}
            if ping and all(m["id"] != author.get("id") for m in mentioned) and author:
                mentioned.append(author)
        message["mentions"] = mentioned
        everyone = "@everyone" in (message.get("content") or "")
        message["mention_everyone"] = everyone and (allowed is None or "everyone" in (parse or []))


def is_empty(message: dict[str, Any]) -> bool:
    """Discord refuses messages with nothing to show (whitespace-only content counts as none)."""
    return not (
        (message.get("content") or "").strip()
        or message.get("embeds")
        or message.get("attachments")
        or message.get("components")
        or message.get("sticker_items")
        or message.get("poll")
    )


def require_not_empty(message: dict[str, Any]) -> None:
    if is_empty(message):
        raise empty_message()


def _without_nulls(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def components_out(components: list[Any]) -> list[dict[str, Any]]:
    """Components as Discord returns them: nulls dropped and every component numbered.

    Discord fills in a missing `id` by counting up from 1 through the tree (depth first),
    skipping ids the sender chose; responses always carry it.
    """
    out: list[dict[str, Any]] = _without_nulls(copy.deepcopy(components))
    tree = list(walk_components(out))
    taken = {c["id"] for _, c in tree if isinstance(c.get("id"), int)}
    next_id = 1
    for _, component in tree:
        if isinstance(component.get("id"), int):
            continue
        while next_id in taken:
            next_id += 1
        component["id"] = next_id
        taken.add(next_id)
    return out


def _embed_out(embed: dict[str, Any]) -> dict[str, Any]:
    """An embed as Discord returns it: nulls dropped, `type` defaulting to "rich"."""
    out = {k: copy.deepcopy(v) for k, v in embed.items() if v is not None}
    out.setdefault("type", "rich")
    if "fields" in out:
        out["fields"] = [
            {
                "name": f.get("name", ""),
                "value": f.get("value", ""),
                "inline": bool(f.get("inline")),
            }
            for f in out["fields"]
        ]
    return out
