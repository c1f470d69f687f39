"""The access lists: hand-written tables of who is refused where, with the exact message."""

from __future__ import annotations

import ast
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.access import AccessPolicy, Requester
from bot.router import InstanceSpec
from env_manager import LIMITED_COMMANDS, AccessSettings

GUILD, OTHER_GUILD = 100, 101
CHANNEL, OTHER_CHANNEL, DM_CHANNEL = 200, 201, 500
MEMBER, VIP, MUTED = 300, 301, 302
USER, OTHER_USER = 12, 13

BANNED = "이 봇을 사용할 수 없는 계정이에요. 관리자에게 문의해 주세요."


def member(
    command: str = "채팅",
    *,
    guild: int = GUILD,
    channel: int = CHANNEL,
    name: str | None = "잡담",
    roles: tuple[int, ...] = (MEMBER,),
    user: int = USER,
) -> Requester:
    """Someone in a server channel (a thread passes its parent's id and name)."""
    return Requester(command, guild, channel, name, frozenset(roles), user)


def dm(command: str = "채팅", *, user: int = USER) -> Requester:
    return Requester(command, None, DM_CHANNEL, None, frozenset(), user)


def refusal(settings: dict[str, tuple[str, ...]], who: Requester) -> str | None:
    return AccessPolicy(AccessSettings(**settings)).refusal(who)


def case(settings, who, expected, id):
    return pytest.param(settings, who, expected, id=id)


# ---- no rules ----


@pytest.mark.parametrize("command", [*LIMITED_COMMANDS, "도움말"])
@pytest.mark.parametrize(
    "who",
    [
        member(),
        member(name=None, roles=()),
        member(guild=OTHER_GUILD, channel=OTHER_CHANNEL, name="공지", user=OTHER_USER),
        dm(),
    ],
    ids=["member", "no-name-no-roles", "elsewhere", "dm"],
)
def test_no_rules_refuse_nothing(command, who):
    policy = AccessPolicy(AccessSettings())
    assert not policy.active
    assert policy.refusal(replace(who, command=command)) is None


@pytest.mark.parametrize(
    "field",
    [
        "access_allow_guilds",
        "access_deny_guilds",
        "access_allow_channels",
        "access_deny_channels",
        "access_allow_roles",
        "access_deny_roles",
        "access_allow_users",
        "access_deny_users",
    ],
)
@pytest.mark.parametrize("entry", ["999", "핑:999"])
def test_any_entry_makes_the_policy_active(field, entry):
    assert AccessPolicy(AccessSettings(**{field: (entry,)})).active


# ---- users ----

USER_CASES = [
    case({"access_deny_users": ("12",)}, member(), BANNED, "deny-global"),
    case({"access_deny_users": ("12",)}, member("핑"), BANNED, "deny-global-every-command"),
    case({"access_deny_users": ("12",)}, dm("이미지"), BANNED, "deny-global-in-dm"),
    case({"access_deny_users": ("12",)}, member(user=OTHER_USER), None, "deny-someone-else"),
    case(
        {"access_deny_users": ("이미지:12",)},
        member("이미지"),
        "이 계정으로는 /이미지 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "deny-scoped",
    ),
    case(
        {"access_deny_users": ("이미지:12",)},
        dm("이미지"),
        "이 계정으로는 /이미지 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "deny-scoped-in-dm",
    ),
    case({"access_deny_users": ("이미지:12",)}, member("채팅"), None, "deny-scoped-other-cmd"),
    case({"access_deny_users": ("이미지:12",)}, member("비디오"), None, "deny-scoped-video"),
    case({"access_allow_users": ("12",)}, member(), None, "allow-listed"),
    case({"access_allow_users": ("12",)}, dm(), None, "allow-listed-in-dm"),
    case(
        {"access_allow_users": ("12",)},
        member(user=OTHER_USER),
        "이 계정으로는 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "allow-not-listed",
    ),
    case(
        {"access_allow_users": ("비디오:12",)},
        member("비디오", user=OTHER_USER),
        "이 계정으로는 /비디오 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "allow-scoped-not-listed",
    ),
    case(
        {"access_allow_users": ("비디오:12",)},
        member("채팅", user=OTHER_USER),
        None,
        "allow-scoped-leaves-other-cmds-open",
    ),
    case(
        {"access_allow_users": ("12", "이미지:13")},
        member("이미지", user=OTHER_USER),
        None,
        "allow-global-plus-scoped-adds",
    ),
    case(
        {"access_allow_users": ("12", "이미지:13")},
        member("채팅", user=OTHER_USER),
        "이 계정으로는 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "allow-scoped-entry-only-for-its-cmd",
    ),
    case(
        {"access_allow_users": ("12", "이미지:13")},
        member("이미지"),
        None,
        "allow-global-entry-covers-scoped-cmd",
    ),
    case(
        {"access_allow_users": ("12",), "access_deny_users": ("12",)},
        member(),
        BANNED,
        "deny-beats-allow",
    ),
    case(
        {"access_allow_users": ("12",), "access_deny_users": ("이미지:12",)},
        member("이미지"),
        "이 계정으로는 /이미지 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "scoped-deny-beats-global-allow",
    ),
    case(
        {"access_allow_users": ("12",), "access_deny_users": ("이미지:12",)},
        member("채팅"),
        None,
        "scoped-deny-leaves-allow-elsewhere",
    ),
    case(
        {"access_allow_users": ("이미지:12",), "access_deny_users": ("12",)},
        member("이미지"),
        BANNED,
        "global-deny-beats-scoped-allow",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), USER_CASES)
def test_users(settings, who, expected):
    assert refusal(settings, who) == expected


# ---- guilds ----

GUILD_CASES = [
    case({"access_allow_guilds": ("100",)}, member(), None, "allow-listed"),
    case(
        {"access_allow_guilds": ("100",)},
        member(guild=OTHER_GUILD),
        "이 서버에서는 /채팅 명령을 쓸 수 없어요.",
        "allow-not-listed",
    ),
    case(
        {"access_deny_guilds": ("101",)},
        member("핑", guild=OTHER_GUILD),
        "이 서버에서는 /핑 명령을 쓸 수 없어요.",
        "deny",
    ),
    case({"access_deny_guilds": ("101",)}, member(), None, "deny-other-guild"),
    case(
        {"access_allow_guilds": ("100",), "access_deny_guilds": ("100",)},
        member(),
        "이 서버에서는 /채팅 명령을 쓸 수 없어요.",
        "deny-beats-allow",
    ),
    case(
        {"access_allow_guilds": ("이미지:100",)},
        member("채팅", guild=OTHER_GUILD),
        None,
        "allow-scoped-other-cmd",
    ),
    case(
        {"access_allow_guilds": ("이미지:100",)},
        member("이미지", guild=OTHER_GUILD),
        "이 서버에서는 /이미지 명령을 쓸 수 없어요.",
        "allow-scoped",
    ),
    case(
        {"access_deny_guilds": ("비디오:100",)},
        member("이미지"),
        None,
        "deny-scoped-other-cmd",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), GUILD_CASES)
def test_guilds(settings, who, expected):
    assert refusal(settings, who) == expected


# ---- channels ----

CHANNEL_CASES = [
    case({"access_allow_channels": ("잡담",)}, member(name="잡담"), None, "name"),
    case(
        {"access_allow_channels": ("잡담",)},
        member(name="공지"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "name-not-listed",
    ),
    case(
        {"access_allow_channels": ("잡담",)},
        member(name="잡담-2"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "name-is-whole-not-prefix",
    ),
    case({"access_allow_channels": ("채팅방-*",)}, member(name="채팅방-1"), None, "glob"),
    case(
        {"access_allow_channels": ("채팅방-*",)},
        member(name="채팅방"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "glob-needs-its-dash",
    ),
    case({"access_allow_channels": ("*chat*",)}, member(name="my-chat-room"), None, "glob-mid"),
    case({"access_allow_channels": ("봇-?",)}, member(name="봇-1"), None, "glob-one-char"),
    case(
        {"access_allow_channels": ("봇-[12]",)},
        member(name="봇-3"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "glob-set",
    ),
    case(
        {"access_allow_channels": ("200",)},
        member(channel=CHANNEL, name="anything"),
        None,
        "id",
    ),
    case(
        {"access_allow_channels": ("200",)},
        member(channel=OTHER_CHANNEL, name="200"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "digits-are-an-id-not-a-name",
    ),
    case(
        {"access_allow_channels": ("20[0]",)},
        member(channel=OTHER_CHANNEL, name="200"),
        None,
        "a-digit-name-by-glob",
    ),
    case(
        {"access_allow_channels": ("잡담", "201")},
        member(channel=OTHER_CHANNEL, name="공지"),
        None,
        "names-and-ids-mixed",
    ),
    case(
        {"access_allow_channels": ("잡담",)},
        member(name=None),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "unknown-name-not-allowed-by-name",
    ),
    case({"access_allow_channels": ("200",)}, member(name=None), None, "unknown-name-by-id"),
    case(
        {"access_allow_channels": ("이미지:이미지생성-*",)},
        member("채팅", name="잡담"),
        None,
        "allow-scoped-other-cmd",
    ),
    case(
        {"access_allow_channels": ("이미지:이미지생성-*",)},
        member("이미지", name="잡담"),
        "이 채널에서는 /이미지 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "allow-scoped",
    ),
    case(
        {"access_allow_channels": ("채팅방-*", "이미지:이미지생성-*")},
        member("이미지", name="이미지생성-1"),
        None,
        "allow-scoped-adds-to-global",
    ),
    case(
        {"access_deny_channels": ("공지*",)},
        member("핑", name="공지사항"),
        "이 채널에서는 /핑 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "deny-glob",
    ),
    case(
        {"access_deny_channels": ("200",)},
        member(channel=CHANNEL),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "deny-id",
    ),
    case({"access_deny_channels": ("공지*",)}, member(name="잡담"), None, "deny-other-name"),
    case(
        {"access_deny_channels": ("비디오:잡담",)},
        member("채팅", name="잡담"),
        None,
        "deny-scoped-other-cmd",
    ),
    case(
        {"access_allow_channels": ("*",), "access_deny_channels": ("잡담",)},
        member(name="잡담"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "deny-beats-allow-all",
    ),
    case(
        {"access_allow_channels": ("200",), "access_deny_channels": ("잡*",)},
        member(channel=CHANNEL, name="잡담"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "deny-by-name-beats-allow-by-id",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), CHANNEL_CASES)
def test_channels(settings, who, expected):
    assert refusal(settings, who) == expected


def test_a_thread_counts_as_its_parent_channel():
    # A thread named "질문 있어요" under 채팅방-1 (id 200): the caller passes the parent.
    in_thread = member(channel=CHANNEL, name="채팅방-1")
    by_name = AccessPolicy(AccessSettings(access_allow_channels=("채팅방-*",)))
    by_id = AccessPolicy(AccessSettings(access_allow_channels=("200",)))
    assert by_name.refusal(in_thread) is None
    assert by_id.refusal(in_thread) is None
    denied = AccessPolicy(AccessSettings(access_deny_channels=("채팅방-*",)))
    assert denied.refusal(in_thread) == (
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요."
    )


# Router channel patterns ignore case (both sides casefolded); access lists do the same.
CASE_CASES = [
    case({"access_allow_channels": ("General",)}, member(name="general"), None, "upper-entry"),
    case({"access_allow_channels": ("general",)}, member(name="GENERAL"), None, "upper-name"),
    case({"access_allow_channels": ("*CHAT*",)}, member(name="my-chat-room"), None, "glob"),
    case({"access_allow_channels": ("*image*",)}, member(name="AI-IMAGE-lab"), None, "router"),
    case({"access_allow_channels": ("STRASSE",)}, member(name="straße"), None, "casefold"),
    case(
        {"access_deny_channels": ("공지-*",)},
        member(name="공지-NEWS"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "deny-mixed-case",
    ),
    case(
        {"access_deny_channels": ("NEWS",)},
        member("비디오", name="news"),
        "이 채널에서는 /비디오 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "deny-upper-entry",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), CASE_CASES)
def test_channel_names_ignore_case_like_the_router(settings, who, expected):
    assert refusal(settings, who) == expected


# ---- roles ----

ROLE_CASES = [
    case({"access_allow_roles": ("301",)}, member(roles=(MEMBER, VIP)), None, "allow-any-of"),
    case({"access_allow_roles": ("301", "302")}, member(roles=(MUTED,)), None, "allow-either"),
    case(
        {"access_allow_roles": ("301",)},
        member(roles=(MEMBER,)),
        "/채팅 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요.",
        "allow-missing",
    ),
    case(
        {"access_allow_roles": ("301",)},
        member(roles=()),
        "/채팅 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요.",
        "allow-no-roles",
    ),
    case(
        {"access_allow_roles": ("비디오:301",)},
        member("비디오", roles=(MEMBER,)),
        "/비디오 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요.",
        "allow-scoped",
    ),
    case(
        {"access_allow_roles": ("비디오:301",)},
        member("이미지", roles=(MEMBER,)),
        None,
        "allow-scoped-other-cmd",
    ),
    case(
        {"access_deny_roles": ("302",)},
        member(roles=(MEMBER, MUTED)),
        "가진 역할 때문에 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "deny-any-of",
    ),
    case({"access_deny_roles": ("302",)}, member(roles=(MEMBER,)), None, "deny-not-held"),
    case({"access_deny_roles": ("302",)}, member(roles=()), None, "deny-no-roles"),
    case(
        {"access_allow_roles": ("301",), "access_deny_roles": ("302",)},
        member(roles=(VIP, MUTED)),
        "가진 역할 때문에 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "deny-beats-allow",
    ),
    case(
        {"access_allow_roles": ("301",), "access_deny_roles": ("이미지:302",)},
        member("채팅", roles=(VIP, MUTED)),
        None,
        "scoped-deny-other-cmd",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), ROLE_CASES)
def test_roles(settings, who, expected):
    assert refusal(settings, who) == expected


# ---- DMs: no guild, channel or roles to match ----

DM_CASES = [
    case(
        {"access_allow_guilds": ("100",)},
        dm(),
        "/채팅 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요.",
        "guild-allow",
    ),
    case(
        {"access_allow_channels": ("잡담",)},
        dm("핑"),
        "/핑 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요.",
        "channel-allow",
    ),
    case(
        {"access_allow_channels": ("500",)},
        dm(),
        "/채팅 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요.",
        "channel-allow-by-the-dm-channel-id",
    ),
    case(
        {"access_allow_roles": ("301",)},
        dm(),
        "/채팅 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요.",
        "role-allow",
    ),
    case({"access_allow_guilds": ("이미지:100",)}, dm("채팅"), None, "scoped-allow-other-cmd"),
    case(
        {"access_allow_guilds": ("이미지:100",)},
        dm("이미지"),
        "/이미지 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요.",
        "scoped-allow",
    ),
    case({"access_deny_guilds": ("100",)}, dm(), None, "guild-deny-no-match"),
    case({"access_deny_channels": ("*",)}, dm(), None, "channel-deny-all-no-match"),
    case({"access_deny_channels": ("500",)}, dm(), None, "channel-deny-dm-id-no-match"),
    case({"access_deny_roles": ("301",)}, dm(), None, "role-deny-no-match"),
    case({"access_allow_users": ("12",)}, dm(), None, "user-allow"),
    case(
        {"access_allow_users": ("13",)},
        dm(),
        "이 계정으로는 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "user-allow-not-listed",
    ),
    case(
        {"access_allow_guilds": ("100",), "access_deny_users": ("12",)},
        dm(),
        BANNED,
        "user-message-first",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), DM_CASES)
def test_dms(settings, who, expected):
    assert refusal(settings, who) == expected


# ---- every dimension must pass; the least avoidable reason is the one shown ----

EVERYTHING = {
    "access_allow_guilds": ("100",),
    "access_allow_channels": ("채팅방-*",),
    "access_allow_roles": ("301",),
    "access_allow_users": ("12",),
}
FITS = {"name": "채팅방-1", "roles": (VIP,)}

ALL_DIMENSION_CASES = [
    case(EVERYTHING, member(**FITS), None, "all-pass"),
    case(
        EVERYTHING,
        member(**FITS, user=OTHER_USER),
        "이 계정으로는 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "user-off",
    ),
    case(
        EVERYTHING,
        member(name="채팅방-1", roles=(MEMBER,)),
        "/채팅 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요.",
        "role-off",
    ),
    case(
        EVERYTHING,
        member(**FITS, guild=OTHER_GUILD),
        "이 서버에서는 /채팅 명령을 쓸 수 없어요.",
        "guild-off",
    ),
    case(
        EVERYTHING,
        member(name="잡담", roles=(VIP,)),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "channel-off",
    ),
    case(
        EVERYTHING,
        member(name="잡담", roles=(MEMBER,), guild=OTHER_GUILD, user=OTHER_USER),
        "이 계정으로는 /채팅 명령을 쓸 수 없어요. 관리자에게 문의해 주세요.",
        "all-off-user-first",
    ),
    case(
        EVERYTHING,
        member(name="잡담", roles=(MEMBER,), guild=OTHER_GUILD),
        "/채팅 명령은 허용된 역할이 있는 멤버만 쓸 수 있어요.",
        "role-before-guild-and-channel",
    ),
    case(
        EVERYTHING,
        member(name="잡담", roles=(VIP,), guild=OTHER_GUILD),
        "이 서버에서는 /채팅 명령을 쓸 수 없어요.",
        "guild-before-channel",
    ),
    case(
        EVERYTHING,
        dm(),
        "/채팅 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요.",
        "dm",
    ),
    case(
        {**EVERYTHING, "access_deny_channels": ("채팅방-9",)},
        member(name="채팅방-9", roles=(VIP,)),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "allowed-everywhere-but-a-denied-channel",
    ),
    case(
        {"access_allow_users": ("12",), "access_allow_channels": ("채팅방-*",)},
        member(name="잡담"),
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요.",
        "allowed-user-still-needs-the-channel",
    ),
]


@pytest.mark.parametrize(("settings", "who", "expected"), ALL_DIMENSION_CASES)
def test_every_dimension_is_required(settings, who, expected):
    assert refusal(settings, who) == expected


def test_a_command_no_entry_names_gets_only_the_entries_for_every_command():
    settings = {"access_deny_users": ("12", "이미지:13"), "access_allow_channels": ("핑:잡담",)}
    assert refusal(settings, member("도움말")) == BANNED
    assert refusal(settings, member("도움말", user=OTHER_USER, name="공지")) is None


# ---- settings from environment strings ----


def test_comma_separated_settings_work_end_to_end():
    policy = AccessPolicy(AccessSettings(access_deny_users="12, 이미지:34"))
    assert policy.active
    assert policy.refusal(member("채팅", user=12)) == BANNED
    assert policy.refusal(member("이미지", user=12)) == BANNED
    assert policy.refusal(member("이미지", user=34)) == (
        "이 계정으로는 /이미지 명령을 쓸 수 없어요. 관리자에게 문의해 주세요."
    )
    assert policy.refusal(member("채팅", user=34)) is None
    assert policy.refusal(member("이미지", user=56)) is None


def test_settings_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ACCESS_ALLOW_CHANNELS", "채팅방-*, 이미지:이미지생성-*,, 777")
    monkeypatch.setenv("ACCESS_DENY_ROLES", "비디오:302")
    monkeypatch.setenv("ACCESS_ALLOW_GUILDS", " 100 ")
    policy = AccessPolicy(AccessSettings())
    assert policy.refusal(member("채팅", name="채팅방-1", roles=(MUTED,))) is None
    assert policy.refusal(member("이미지", name="이미지생성-2")) is None
    assert policy.refusal(member("채팅", channel=777, name="잡담")) is None
    assert policy.refusal(member("채팅", name="이미지생성-2")) == (
        "이 채널에서는 /채팅 명령을 쓸 수 없어요. 허용된 채널에서 다시 시도해 주세요."
    )
    assert policy.refusal(member("비디오", name="채팅방-1", roles=(MUTED,))) == (
        "가진 역할 때문에 /비디오 명령을 쓸 수 없어요. 관리자에게 문의해 주세요."
    )
    assert policy.refusal(member("채팅", name="채팅방-1", guild=OTHER_GUILD)) == (
        "이 서버에서는 /채팅 명령을 쓸 수 없어요."
    )
    assert policy.refusal(dm("핑")) == (
        "/핑 명령은 DM에서 쓸 수 없어요. 서버 채널에서 다시 시도해 주세요."
    )


# ---- properties over small random rule sets ----

GUILDS, CHANNELS, ROLES, USERS = (100, 101), (200, 201), (300, 301, 302), (12, 13)
NAMES = ("잡담", "채팅방-1", "General", "200")
CHANNEL_VALUES = ("200", "201", "잡담", "채팅방-*", "general", "*", "20[0]")
COMMANDS = st.sampled_from(LIMITED_COMMANDS)


def entries(values):
    scoped = st.tuples(st.one_of(st.none(), COMMANDS), st.sampled_from(values))
    return st.lists(scoped, max_size=3).map(
        lambda pairs: tuple(v if c is None else f"{c}:{v}" for c, v in pairs)
    )


ID_VALUES = {
    "guilds": tuple(map(str, GUILDS)),
    "roles": tuple(map(str, ROLES)),
    "users": tuple(map(str, USERS)),
    "channels": CHANNEL_VALUES,
}
rule_sets = st.fixed_dictionaries(
    {
        f"access_{kind}_{dim}": entries(values)
        for dim, values in ID_VALUES.items()
        for kind in ("allow", "deny")
    }
)
requesters = st.one_of(
    st.builds(
        Requester,
        command=COMMANDS,
        guild_id=st.sampled_from(GUILDS),
        channel_id=st.sampled_from(CHANNELS),
        channel_name=st.one_of(st.none(), st.sampled_from(NAMES)),
        role_ids=st.frozensets(st.sampled_from(ROLES), max_size=3),
        user_id=st.sampled_from(USERS),
    ),
    st.builds(dm, COMMANDS, user=st.sampled_from(USERS)),
)


@given(rule_sets, requesters)
def test_a_global_user_denial_always_wins(settings, who):
    settings = {**settings, "access_deny_users": (str(who.user_id),)}
    assert refusal(settings, who) == BANNED


@given(rule_sets, requesters, COMMANDS, st.data())
def test_entries_for_another_command_change_nothing(settings, who, other, data):
    if other == who.command:
        other = next(c for c in LIMITED_COMMANDS if c != who.command)
    field = data.draw(st.sampled_from(sorted(settings)))
    extra = data.draw(entries(ID_VALUES[field.rsplit("_", 1)[1]]))
    scoped_elsewhere = tuple(f"{other}:{e.rpartition(':')[2]}" for e in extra)
    more = {**settings, field: settings[field] + scoped_elsewhere}
    assert refusal(more, who) == refusal(settings, who)


@given(rule_sets, requesters)
def test_dms_see_only_user_and_dm_messages(settings, who):
    who = dm(who.command, user=who.user_id)
    message = refusal(settings, who)
    assert message is None or "계정" in message or "DM에서" in message


@given(rule_sets, requesters)
def test_a_refusal_names_the_command_and_no_id(settings, who):
    message = refusal(settings, who)
    if message is not None and message != BANNED:
        assert f"/{who.command} " in message
    assert message is None or not any(ch.isdigit() for ch in message)


@given(
    patterns=st.lists(
        st.text(alphabet="aAbB*?[]!-ßS채팅", min_size=1, max_size=6), min_size=1, max_size=3
    ),
    name=st.text(alphabet="aAbB-ßsS채팅", min_size=1, max_size=6),
)
def test_channel_globs_match_exactly_as_the_router_matches(patterns, name):
    routes = InstanceSpec(1, "chat", tuple(patterns), frozenset({"chat"})).matches(name)
    allowed = refusal({"access_allow_channels": tuple(patterns)}, member(name=name)) is None
    denied = refusal({"access_deny_channels": tuple(patterns)}, member(name=name)) is not None
    assert allowed == routes == denied


@given(rule_sets, requesters.filter(lambda who: who.guild_id is not None), st.data())
def test_a_matching_denial_refuses_in_every_dimension(settings, who, data):
    matching = {
        "access_deny_guilds": (str(who.guild_id),),
        "access_deny_channels": (str(who.channel_id),),
        "access_deny_users": (f"{who.command}:{who.user_id}",),
    }
    if who.role_ids:
        matching["access_deny_roles"] = (str(data.draw(st.sampled_from(sorted(who.role_ids)))),)
    if who.channel_name is not None and not who.channel_name.isdigit():
        matching["access_deny_channels"] += (who.channel_name.upper(),)
    field = data.draw(st.sampled_from(sorted(matching)))
    # The same entries on the allow list too: the denial still wins.
    allow = field.replace("deny", "allow")
    more = {**settings, field: matching[field], allow: settings[allow] + matching[field]}
    assert refusal(more, who) is not None


def test_the_policy_imports_only_the_standard_library_and_settings():
    tree = ast.parse((Path(__file__).parents[3] / "bot" / "access.py").read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            found.add((node.module or "").split(".")[0])
    assert found - {"env_manager"} <= sys.stdlib_module_names
