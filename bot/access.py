"""Who may use which command: the access allow and deny lists (`settings.access`).

Pure and free of Discord and I/O (standard library and `env_manager` only), so it can be
table-tested; the answering path builds a `Requester` from the event and asks
`AccessPolicy.refusal`, which runs on every event and only does set look-ups and one
precompiled regular expression per channel list.

The rules, per dimension (guilds, channels, roles, users):

- **Entries.** Each entry is `value` (every command) or `command:value` (that command
  only, as users type it: `이미지:123`). Guild, role and user values are ids. A channel
  value is an id (all digits), matched against `Requester.channel_id`, or a name glob
  (`잡담`, `잡담-*`, `*chat*`, `?`, `[..]`), matched against `Requester.channel_name`
  the way the router matches channel patterns (`fnmatch` syntax, case-insensitive: both
  sides are casefolded). A thread counts as its parent channel. A channel whose name is
  all digits can only be named by a glob such as `202[4]`.
- **Deny wins.** A deny entry that applies to the command and matches (the guild, the
  channel, *any* of the member's roles, the user) refuses, whatever the allow lists say.
- **Allow lists admit only what they name.** When a dimension's allow list has entries
  that apply to the command, the requester must match one of them; entries for other
  commands are ignored, so `이미지:1` limits `/이미지` and leaves `/채팅` open.
- **Every dimension must pass.** Allowed by user but in a channel off the list: refused.
- **DMs** (`guild_id` None) have no guild, channel or roles: an applicable guild,
  channel or role allow list refuses, and guild, channel and role deny entries never
  match. User entries apply as everywhere.

When several rules refuse, the message names the one the user can least work around:
user, then roles, then the guild, then the channel (a DM gets one message saying the
command needs a server). Messages are short, polite Korean for an ephemeral reply, name
the command and never show an id; only a user denied by an entry for every command is
told the bot as a whole is closed to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate

from env_manager import ACCESS_FIELDS, LIMITED_COMMANDS, AccessSettings

# A user denied by an entry for every command.
BANNED = "이 봇을 사용할 수 없는 계정이에요. 관리자에게 문의해 주세요."
USER_REFUSED = "이 계정으로는 /{command} 명령을 쓸 수 없어요. 관리자에게 문의해 주세요."
ROLE_DENIED = "가진 역할 때문에 /{command} 명령을 쓸 수 없어요. 관리자에게 문의해 주세요."
ROLE_MISSING = "/{command} 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요."
GUILD_REFUSED = "이 서버에서는 /{command} 명령을 쓸 수 없어요."
CHANNEL_REFUSED = (
    "이 채널에서는 /{command} 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요."
)
DM_REFUSED = "/{command} 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요."


@dataclass(frozen=True)
class Requester:
    """Who asks for what, and where: the facts access depends on, taken from the event."""

    command: str  # the command as users see it: 채팅, 이미지, 비디오, 핑, 상태, 인스턴스
    guild_id: int | None  # None in a DM
    # The channel's id; for a thread, its parent's (a thread counts as its parent channel).
    channel_id: int | None
    channel_name: str | None  # a thread's parent channel name; None in a DM
    role_ids: frozenset[int]  # the member's roles (empty in a DM)
    user_id: int


def _split(entry: str) -> tuple[str | None, str]:
    """`이미지:123` -> ("이미지", "123"); `123` -> (None, "123"), as AccessSettings reads them."""
    command, _, value = entry.rpartition(":")
    return (command.strip() or None), value.strip()


def _applying(entries: Iterable[str], command: str | None) -> list[str]:
    """Values of the entries for every command, plus those for `command`."""
    values = []
    for entry in entries:
        scope, value = _split(entry)
        if scope is None or scope == command:
            values.append(value)
    return values


@dataclass(frozen=True)
class _Channels:
    """Channel entries: ids, and name globs compiled into one case-insensitive regex."""

    ids: frozenset[int]
    names: re.Pattern[str] | None

    @classmethod
    def of(cls, values: list[str]) -> _Channels:
        ids = frozenset(int(v) for v in values if v.isdigit())
        globs = [translate(v.casefold()) for v in values if not v.isdigit()]
        names = re.compile("|".join(f"(?:{g})" for g in globs)) if globs else None
        return cls(ids, names)

    def match(self, channel_id: int | None, channel_name: str | None) -> bool:
        if channel_id is not None and channel_id in self.ids:
            return True
        return (
            self.names is not None
            and channel_name is not None
            and self.names.match(channel_name.casefold()) is not None
        )


_NO_CHANNELS = _Channels(frozenset(), None)


@dataclass(frozen=True)
class _Rules:
    """Every entry that applies to one command; an allow of None means no allow list."""

    allow_guilds: frozenset[int] | None
    deny_guilds: frozenset[int]
    allow_channels: _Channels | None
    deny_channels: _Channels
    allow_roles: frozenset[int] | None
    deny_roles: frozenset[int]
    allow_users: frozenset[int] | None
    deny_users: frozenset[int]

    @classmethod
    def of(cls, settings: AccessSettings, command: str | None) -> _Rules:
        def ids(entries: tuple[str, ...]) -> frozenset[int]:
            return frozenset(int(v) for v in _applying(entries, command))

        def allowed_ids(entries: tuple[str, ...]) -> frozenset[int] | None:
            return ids(entries) or None

        allow_channels = _applying(settings.access_allow_channels, command)
        return cls(
            allow_guilds=allowed_ids(settings.access_allow_guilds),
            deny_guilds=ids(settings.access_deny_guilds),
            allow_channels=_Channels.of(allow_channels) if allow_channels else None,
            deny_channels=_Channels.of(_applying(settings.access_deny_channels, command)),
            allow_roles=allowed_ids(settings.access_allow_roles),
            deny_roles=ids(settings.access_deny_roles),
            allow_users=allowed_ids(settings.access_allow_users),
            deny_users=ids(settings.access_deny_users),
        )

    def or_none(self) -> _Rules | None:
        return None if self == _NO_RULES else self

    @property
    def needs_a_guild(self) -> bool:
        return (
            self.allow_guilds is not None
            or self.allow_channels is not None
            or self.allow_roles is not None
        )


_NO_RULES = _Rules(None, frozenset(), None, _NO_CHANNELS, None, frozenset(), None, frozenset())


class AccessPolicy:
    """The access lists of `settings.access`, resolved per command once."""

    def __init__(self, settings: AccessSettings) -> None:
        self._active = any(getattr(settings, name) for name in ACCESS_FIELDS)
        named = {
            scope
            for name in ACCESS_FIELDS
            for scope, _ in map(_split, getattr(settings, name))
            if scope is not None
        }
        # None for a command no entry applies to, so `refusal` returns at once.
        self._rules: dict[str, _Rules | None] = {
            c: _Rules.of(settings, c).or_none() for c in (*LIMITED_COMMANDS, *named)
        }
        # Any other command name (none should reach here) gets the entries for every command.
        self._default = _Rules.of(settings, None).or_none()
        # Users denied by an entry for every command: the bot as a whole refuses them.
        self._banned = frozenset(int(v) for v in _applying(settings.access_deny_users, None))

    @property
    def active(self) -> bool:
        """Whether any entry is configured at all (callers may skip building a Requester)."""
        return self._active

    def refusal(self, who: Requester) -> str | None:
        """None when `who` may use the command; otherwise a short Korean message (ephemeral)
        saying why."""
        rules = self._rules.get(who.command, self._default)
        if rules is None:
            return None
        command = who.command
        user = who.user_id
        if user in self._banned:
            return BANNED
        if user in rules.deny_users or (
            rules.allow_users is not None and user not in rules.allow_users
        ):
            return USER_REFUSED.format(command=command)
        if who.guild_id is None:
            return DM_REFUSED.format(command=command) if rules.needs_a_guild else None
        if who.role_ids & rules.deny_roles:
            return ROLE_DENIED.format(command=command)
        if rules.allow_roles is not None and not who.role_ids & rules.allow_roles:
            return ROLE_MISSING.format(command=command)
        if who.guild_id in rules.deny_guilds or (
            rules.allow_guilds is not None and who.guild_id not in rules.allow_guilds
        ):
            return GUILD_REFUSED.format(command=command)
        if rules.deny_channels.match(who.channel_id, who.channel_name) or (
            rules.allow_channels is not None
            and not rules.allow_channels.match(who.channel_id, who.channel_name)
        ):
            return CHANNEL_REFUSED.format(command=command)
        return None
