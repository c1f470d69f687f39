"""The fake's one guild: its channels, threads, users, and their Discord JSON shapes.

Payload shapes follow what Discord sends today (API v10) closely enough for discord.py's
parsers: e.g. members carry `flags`, threads carry `thread_metadata`, the bot's own member
is in GUILD_CREATE so `guild.me` works as it does against Discord.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownTarget
from .snowflake import SnowflakeMinter

CHANNEL_TEXT = 0
CHANNEL_DM = 1
CHANNEL_PUBLIC_THREAD = 11


def _bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


# @everyone in a fresh guild: view, send, embed, attach, history, reactions, external emoji,
# app commands, threads, voice basics.
EVERYONE_PERMISSIONS = _bits(0, 6, 10, 11, 14, 15, 16, 18, 20, 21, 26, 31, 35, 38)
# The bot's managed role adds message and thread moderation.
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | _bits(13, 34, 36)
# Member permissions tests give through roles (`World.add_role`).
MANAGE_GUILD = _bits(5)
ADMINISTRATOR = _bits(3)
ALL_PERMISSIONS = _bits(*range(51))
# GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE, as for an unverified bot.
APPLICATION_FLAGS = _bits(19, 23)


def iso(wall: float) -> str:
    """Discord's timestamp format (ISO 8601 with microseconds and +00:00)."""
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    role_ids: set[int] = field(default_factory=set)  # guild roles given by `World.give_role`

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "clan": None,
            "primary_guild": None,
            "collectibles": None,
        }
        if self.bot:
            out["bot"] = True
        return out


@dataclass(frozen=True)
class Role:
    id: int
    name: str
    permissions: int


@dataclass
class Channel:
    id: int
    name: str
    type: int
    guild_id: int | None
    parent_id: int | None = None
    position: int = 0
    owner_id: int | None = None  # threads
    recipient: User | None = None  # DMs
    created_wall: float = 0.0
    last_message_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type == CHANNEL_PUBLIC_THREAD

    @property
    def is_dm(self) -> bool:
        return self.type == CHANNEL_DM


@dataclass
class World:
    """Ids and names of everything in the fake Discord."""

    ids: SnowflakeMinter
    guild_name: str = "샌드박스"
    app_id: int = 0
    guild_id: int = 0
    bot: User = field(init=False)
    owner: User = field(init=False)
    channels: dict[int, Channel] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    created_wall: float = 0.0
    bot_role_id: int = 0
    roles: dict[str, Role] = field(default_factory=dict)  # roles a test added, by name

    def __post_init__(self) -> None:
        self.app_id = self.app_id or self.ids.next()
        # The bot user of an application shares the application's id, as on Discord.
        self.bot = User(id=self.app_id, username="sandbox-bot", bot=True, global_name=None)
        self.guild_id = self.guild_id or self.ids.next()
        self.bot_role_id = self.ids.next()
        self.owner = self.user("sandbox-owner")
        self.created_wall = self.created_wall or dt.datetime.now(dt.UTC).timestamp()

    # --- building -------------------------------------------------------------------------

    def add_text_channel(self, name: str) -> Channel:
        if self.text_channel(name) is not None:
            raise ValueError(f"duplicate channel name {name!r}")
        position = sum(1 for c in self.channels.values() if c.type == CHANNEL_TEXT)
        channel = Channel(
            id=self.ids.next(),
            name=name,
            type=CHANNEL_TEXT,
            guild_id=self.guild_id,
            position=position,
            created_wall=self.created_wall,
        )
        self.channels[channel.id] = channel
        return channel

    def add_role(self, name: str, permissions: int = 0) -> Role:
        """A guild role (e.g. `MANAGE_GUILD` for a server manager); give it with `give_role`."""
        if name in self.roles:
            raise ValueError(f"duplicate role name {name!r}")
        role = Role(id=self.ids.next(), name=name, permissions=permissions)
        self.roles[name] = role
        return role

    def give_role(self, user_name: str, role_name: str) -> None:
        self.user(user_name).role_ids.add(self.roles[role_name].id)

    def member_permissions(self, user: User) -> int:
        """The member's permissions as Discord resolves them: @everyone's, then its roles'
        (administrator grants everything). No channel overwrites in the double."""
        granted = EVERYONE_PERMISSIONS
        for role in self.roles.values():
            if role.id in user.role_ids:
                granted |= role.permissions
        return ALL_PERMISSIONS if granted & ADMINISTRATOR else granted

    def add_thread(self, parent: Channel, name: str) -> Channel:
        thread = Channel(
            id=self.ids.next(),
            name=name,
            type=CHANNEL_PUBLIC_THREAD,
            guild_id=self.guild_id,
            parent_id=parent.id,
            owner_id=self.owner.id,
            created_wall=self.created_wall,
        )
        self.channels[thread.id] = thread
        return thread

    def user(self, name: str) -> User:
        """The user called `name`, created on first use with a stable id."""
        if name not in self.users:
            self.users[name] = User(id=self.ids.next(), username=name, global_name=name)
        return self.users[name]

    def dm_channel(self, user: User) -> Channel:
        for channel in self.channels.values():
            if channel.is_dm and channel.recipient is not None and channel.recipient.id == user.id:
                return channel
        channel = Channel(
            id=self.ids.next(), name="", type=CHANNEL_DM, guild_id=None, recipient=user
        )
        self.channels[channel.id] = channel
        return channel

    # --- lookups ---------------------------------------------------------------------------

    def text_channel(self, name: str) -> Channel | None:
        for channel in self.channels.values():
            if channel.type == CHANNEL_TEXT and channel.name == name:
                return channel
        return None

    def threads_of(self, parent: Channel) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread and c.parent_id == parent.id]

    def text_channel_names(self) -> list[str]:
        return [c.name for c in self.channels.values() if c.type == CHANNEL_TEXT]

    def resolve(self, channel: str, thread: str | None = None) -> Channel:
        """A text channel by name, or one of its threads; UnknownTarget lists what exists."""
        parent = self.text_channel(channel)
        if parent is None:
            raise UnknownTarget(
                f"unknown channel {channel!r}; channels: {', '.join(self.text_channel_names())}"
            )
        if thread is None:
            return parent
        for candidate in self.threads_of(parent):
            if candidate.name == thread:
                return candidate
        names = ", ".join(t.name for t in self.threads_of(parent)) or "(none)"
        raise UnknownTarget(f"unknown thread {thread!r} in #{channel}; threads: {names}")

    def find(self, ref: str | int) -> Channel | None:
        """A channel by id, by name, or by thread name (first match)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.channels.get(int(ref))
        for channel in self.channels.values():
            if channel.name == ref and not channel.is_dm:
                return channel
        return None

    def describe(self, channel: Channel) -> str:
        if channel.is_dm:
            name = channel.recipient.username if channel.recipient else "?"
            return f"DM with {name}"
        if channel.is_thread and channel.parent_id is not None:
            return f"#{self.channels[channel.parent_id].name}/{channel.name}"
        return f"#{channel.name}"

    # --- payloads --------------------------------------------------------------------------

    def channel_payload(
        self, channel: Channel, *, with_permissions: bool = False
    ) -> dict[str, Any]:
        last = str(channel.last_message_id) if channel.last_message_id else None
        if channel.is_dm:
            recipients = [channel.recipient.payload()] if channel.recipient else []
            return {
                "id": str(channel.id),
                "type": CHANNEL_DM,
                "last_message_id": last,
                "flags": 0,
                "recipients": recipients,
            }
        out: dict[str, Any] = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(self.guild_id),
            "name": channel.name,
            "parent_id": str(channel.parent_id) if channel.parent_id else None,
            "last_message_id": last,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if channel.is_thread:
            out |= {
                "owner_id": str(channel.owner_id),
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso(channel.created_wall),
                    "locked": False,
                    "create_timestamp": iso(channel.created_wall),
                },
            }
        else:
            out |= {
                "position": channel.position,
                "permission_overwrites": [],
                "topic": None,
                "nsfw": False,
                "icon_emoji": None,
                "theme_color": None,
            }
        if with_permissions:
            out["permissions"] = str(EVERYONE_PERMISSIONS)
        return out

    def member_payload(self, user: User, *, with_user: bool = True) -> dict[str, Any]:
        own = [str(role_id) for role_id in sorted(user.role_ids)]
        roles = [str(self.bot_role_id)] if user.id == self.bot.id else own
        out: dict[str, Any] = {
            "roles": roles,
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.created_wall),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if with_user:
            out["user"] = user.payload()
        return out

    def roles_payload(self) -> list[dict[str, Any]]:
        def role(role_id: int, name: str, perms: int, position: int, **extra: Any) -> dict:
            return {
                "id": str(role_id),
                "name": name,
                "description": None,
                "permissions": str(perms),
                "position": position,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "icon": None,
                "unicode_emoji": None,
                "flags": 0,
                **extra,
            }

        return [
            role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
            role(
                self.bot_role_id,
                self.bot.username,
                BOT_PERMISSIONS,
                1,
                managed=True,
                tags={"bot_id": str(self.bot.id)},
            ),
            *(role(r.id, r.name, r.permissions, 2 + i) for i, r in enumerate(self.roles.values())),
        ]

    def guild_payload(self) -> dict[str, Any]:
        """The GUILD_CREATE body: everything discord.py needs to build channels and threads."""
        text = [c for c in self.channels.values() if c.type == CHANNEL_TEXT]
        threads = [c for c in self.channels.values() if c.is_thread]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner.id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "ko",
            "features": [],
            "system_channel_id": str(text[0].id) if text else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "application_id": None,
            "incidents_data": None,
            "joined_at": iso(self.created_wall),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(self.users) + 1,  # the users plus the bot
            "roles": self.roles_payload(),
            "emojis": [],
            "stickers": [],
            "channels": [self.channel_payload(c) for c in text],
            "threads": [self.channel_payload(c) for c in threads],
            "members": [self.member_payload(self.bot)],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "activity_instances": [],
            "version": 0,
        }

    def application_payload(self) -> dict[str, Any]:
        """GET /oauth2/applications/@me, the fields discord.py's AppInfo reads included."""
        return {
            "id": str(self.app_id),
            "name": self.bot.username,
            "icon": None,
            "description": "Loopback Discord double",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": APPLICATION_FLAGS,
            "owner": self.owner.payload(),
            "team": None,
            "bot": self.bot.payload(),
            "guild_id": None,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "approximate_guild_count": 1,
            "approximate_user_install_count": 0,
            "integration_types_config": {"0": {}},
            "hook": True,
            "is_monetized": False,
        }
