"""Where an error is shown, and what an event is made of, on hand-made Discord objects.

`reply_error` has one right place per state of the interaction (Discord's rules: a
private message before any response; the deferred placeholder replaced after a public
deferral; a private followup after a real response; nothing for autocomplete but an
empty list). The events carry what routing, access lists and logs read. Each row is
written by hand; the e2e and in-process bot tests see the same through the Discord double.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import discord
import pytest
import structlog
from discord.utils import SnowflakeList

import bot.answering as answering_module
from bot.access import Requester
from bot.answering import (
    GENERIC_FAILURE,
    Event,
    EventKind,
    error_reply_nonce,
    first_reply_nonce,
    guarded_autocomplete,
    has_original_response,
    interaction_event,
    message_event,
    reply_error,
    reply_error_to_message,
    role_ids_of,
    user_message_for,
)
from services.errors import UserFacingError
from tests.unit.bot.fakes import http_error

GUILD = 500
INTERACTION_ID = 1_300_000_000_000_000_001  # a snowflake: its time bits say 2024-10-27 07:35:52 UTC


class FakeInteraction:
    """What reply_error reads and calls; `calls` records Discord requests in order."""

    def __init__(
        self,
        kind: discord.InteractionType = discord.InteractionType.application_command,
        done: discord.InteractionResponseType | None = None,
        fails: discord.HTTPException | None = None,
    ) -> None:
        self.id = INTERACTION_ID
        self.type = kind
        self.calls: list[tuple] = []
        fake = self

        async def record(*call: object, **options: object) -> None:
            fake.calls.append((*call, options))
            if fails is not None:
                raise fails

        self.response = SimpleNamespace(
            is_done=lambda: done is not None,
            type=done,
            autocomplete=lambda choices: record("autocomplete", choices),
            send_message=lambda text, **o: record("send_message", text, **o),
        )
        self.followup = SimpleNamespace(send=lambda text, **o: record("followup", text, **o))
        self.edit_original_response = lambda **o: record("edit_original", **o)


DEFERRED = discord.InteractionResponseType.deferred_channel_message
MESSAGE = discord.InteractionResponseType.channel_message
AUTOCOMPLETE = discord.InteractionType.autocomplete


@pytest.mark.parametrize(
    ("state", "calls"),
    [
        ({}, [("send_message", "안 돼요", {"ephemeral": True})]),
        (
            {"done": DEFERRED},
            [
                (
                    "edit_original",
                    {"content": "⚠️ 안 돼요", "embeds": [], "attachments": [], "view": None},
                )
            ],
        ),
        ({"done": MESSAGE}, [("followup", "안 돼요", {"ephemeral": True})]),
        ({"kind": AUTOCOMPLETE}, [("autocomplete", [], {})]),
        ({"kind": AUTOCOMPLETE, "done": MESSAGE}, []),
    ],
    ids=[
        "before-any-response",
        "after-deferral",
        "after-a-response",
        "autocomplete",
        "autocomplete-done",
    ],
)
async def test_an_error_is_shown_where_the_user_will_see_it(state, calls) -> None:
    interaction = FakeInteraction(**state)
    await reply_error(interaction, "안 돼요")  # type: ignore[arg-type]
    assert interaction.calls == calls


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (
            http_error(40060),
            {
                "event": "reply_already_handled",
                "log_level": "debug",
                "code": 40060,
                "interaction_id": INTERACTION_ID,
            },
        ),
        (
            http_error(10062, 404),
            {
                "event": "reply_already_handled",
                "log_level": "debug",
                "code": 10062,
                "interaction_id": INTERACTION_ID,
            },
        ),
        (
            http_error(50035),
            {"event": "error_reply_failed", "log_level": "warning", "status": 400, "code": 50035},
        ),
    ],
)
async def test_an_error_reply_discord_refuses_is_logged_never_raised(error, logged) -> None:
    with structlog.testing.capture_logs() as logs:
        await reply_error(FakeInteraction(fails=error), "안 돼요")  # type: ignore[arg-type]
    assert logs == [logged]


async def test_an_error_reply_to_a_message_answers_it_once_without_pinging() -> None:
    sent: list[tuple] = []

    async def reply(text: str, **options: object) -> None:
        sent.append((text, options))

    message = SimpleNamespace(id=42, reply=reply)
    await reply_error_to_message(message, "실패했어요")  # type: ignore[arg-type]
    assert sent == [("실패했어요", {"mention_author": False, "nonce": "e42"})]
    assert (first_reply_nonce(message), error_reply_nonce(message)) == ("42", "e42")  # type: ignore[arg-type]


async def test_a_refused_error_reply_to_a_message_is_logged() -> None:
    async def reply(text: str, **options: object) -> None:
        raise http_error(50013, 403)

    with structlog.testing.capture_logs() as logs:
        await reply_error_to_message(SimpleNamespace(id=42, reply=reply), "실패했어요")  # type: ignore[arg-type]
    assert logs == [
        {"event": "error_reply_failed", "log_level": "warning", "status": 403, "code": 50013}
    ]


@pytest.mark.parametrize(
    ("kind", "original", "answered"),
    [
        (discord.InteractionType.application_command, "a message", True),
        (discord.InteractionType.application_command, http_error(10015, 404), False),
        (discord.InteractionType.component, http_error(50027, 401), False),
        (AUTOCOMPLETE, "never asked", False),
    ],
    ids=["answered", "unknown-webhook", "token-gone", "autocomplete"],
)
async def test_whether_discord_holds_an_answer(kind, original, answered) -> None:
    asked: list[str] = []

    async def original_response() -> str:
        asked.append("GET @original")
        if isinstance(original, Exception):
            raise original
        return original

    interaction = SimpleNamespace(type=kind, original_response=original_response)
    assert await has_original_response(interaction) is answered  # type: ignore[arg-type]
    assert asked == ([] if kind is AUTOCOMPLETE else ["GET @original"])


@pytest.mark.parametrize(
    ("exc", "shown"),
    [
        (http_error(40060), None),  # another instance answered first
        (http_error(10062, 404), None),  # the interaction expired
        (http_error(50035), GENERIC_FAILURE),
        (UserFacingError("x", user_message="설명을 적어 주세요."), "설명을 적어 주세요."),
        (KeyError("bug"), GENERIC_FAILURE),
    ],
)
def test_what_the_user_reads_for_each_failure(exc, shown) -> None:
    assert user_message_for(exc) == shown


def member(*roles: int) -> discord.Member:
    m = object.__new__(discord.Member)
    m._roles = SnowflakeList(roles)
    m._user = SimpleNamespace(id=7)  # type: ignore[attr-defined]
    return m


def dm_channel(channel_id: int) -> discord.DMChannel:
    dm = object.__new__(discord.DMChannel)
    dm.id = channel_id
    return dm


def thread_of(parent_id: int, parent_name: str | None) -> discord.Thread:
    """A thread whose guild knows its parent by `parent_name` (None: not in the cache)."""
    t = object.__new__(discord.Thread)
    t.parent_id = parent_id
    t.guild = SimpleNamespace(  # type: ignore[assignment]
        get_channel=lambda i: (
            SimpleNamespace(name=parent_name) if parent_name and i == parent_id else None
        )
    )
    return t


def test_a_members_roles_leave_out_everyone_and_a_dm_has_none() -> None:
    assert role_ids_of(member(GUILD, 11, 12), GUILD) == frozenset({11, 12})
    assert role_ids_of(member(11), None) == frozenset()
    assert role_ids_of(SimpleNamespace(id=7), GUILD) == frozenset()  # a user, not a member


@pytest.mark.parametrize(
    ("guild", "channel", "author", "routed", "channel_id", "roles"),
    [
        (
            SimpleNamespace(id=GUILD),
            SimpleNamespace(name="채팅방-1", id=9),
            member(GUILD, 11),
            "채팅방-1",
            9,
            {11},
        ),
        (SimpleNamespace(id=GUILD), thread_of(9, "채팅방-1"), member(11), "채팅방-1", 9, {11}),
        (None, dm_channel(3), SimpleNamespace(id=7), None, None, set()),
    ],
    ids=["channel", "thread", "dm"],
)
def test_a_chat_message_becomes_an_event(guild, channel, author, routed, channel_id, roles):
    created = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
    message = SimpleNamespace(
        id=88, guild=guild, channel=channel, author=author, created_at=created
    )
    event = message_event(message, client=None, command="채팅")  # type: ignore[arg-type]
    assert event == Event(
        kind=EventKind.MESSAGE,
        key="msg:88",
        command="채팅",
        channel_name=routed,
        created_at=created.timestamp(),
        guild_id=None if guild is None else GUILD,
        user_id=7,
        channel_id=channel_id,
        role_ids=frozenset(roles),
    )


def test_an_interaction_becomes_an_event_with_its_snowflake_time() -> None:
    interaction = SimpleNamespace(
        id=INTERACTION_ID,
        type=discord.InteractionType.component,
        data={"name": "ignored for components"},
        guild_id=GUILD,
        channel=SimpleNamespace(name="이미지생성-1", id=21),
        user=member(GUILD, 31),
    )
    event = interaction_event(interaction, client=None, command="이미지")  # type: ignore[arg-type]
    assert event == Event(
        kind=EventKind.COMPONENT,
        key=str(INTERACTION_ID),
        command="이미지",
        channel_name="이미지생성-1",
        created_at=discord.utils.snowflake_time(INTERACTION_ID).timestamp(),
        guild_id=GUILD,
        user_id=7,
        channel_id=21,
        role_ids=frozenset({31}),
    )
    interaction.type = discord.InteractionType.application_command
    assert interaction_event(interaction, client=None).command == "ignored for components"  # type: ignore[arg-type]


def test_the_requester_the_access_lists_see() -> None:
    event = Event(
        EventKind.COMMAND, "1", "비디오", "비디오생성-1", 0.0, GUILD, None, 9, frozenset({4})
    )
    assert event.requester() == Requester(
        command="비디오",
        guild_id=GUILD,
        channel_id=9,
        channel_name="비디오생성-1",
        role_ids=frozenset({4}),
        user_id=0,  # unknown user: matches no user list
    )


def test_a_thread_whose_parent_is_not_cached_routes_by_the_clients_channel() -> None:
    thread = thread_of(9, None)
    client = SimpleNamespace(
        get_channel=lambda i: SimpleNamespace(name="채팅방-1") if i == 9 else None
    )
    message = SimpleNamespace(
        id=5,
        guild=SimpleNamespace(id=GUILD),
        channel=thread,
        author=SimpleNamespace(id=7),
        created_at=dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
    )
    assert message_event(message, client, "채팅").channel_name == "채팅방-1"  # type: ignore[arg-type]


async def test_a_failing_autocomplete_offers_nothing_and_is_counted_as_failed() -> None:
    failed: list[tuple[str, str]] = []
    answers = SimpleNamespace(failed=lambda event, exc: failed.append((event.key, repr(exc))))
    interaction = object.__new__(discord.Interaction)
    fields = {
        "id": INTERACTION_ID,
        "type": AUTOCOMPLETE,
        "data": {"name": "이미지"},
        "guild_id": GUILD,
        "channel": SimpleNamespace(name="이미지생성-1", id=21),
        "user": SimpleNamespace(id=7),
        "_client": SimpleNamespace(answers=answers, get_channel=lambda i: None),
    }
    for name, value in fields.items():
        setattr(interaction, name, value)

    @guarded_autocomplete
    async def choices(cog: object, interaction: discord.Interaction, current: str) -> list:
        raise ValueError("bug in the choices")

    assert choices.__mib_guarded__ is True  # type: ignore[attr-defined]
    assert await choices(object(), interaction, "고") == []
    assert failed == [(str(INTERACTION_ID), "ValueError('bug in the choices')")]


@pytest.mark.parametrize(
    ("kind", "data", "event_kind", "command"),
    [
        (discord.InteractionType.application_command, {"name": "핑"}, EventKind.COMMAND, "핑"),
        (discord.InteractionType.modal_submit, {"custom_id": "m"}, EventKind.MODAL, ""),
        (discord.InteractionType.autocomplete, None, EventKind.AUTOCOMPLETE, ""),
        (discord.InteractionType.ping, None, EventKind.COMMAND, ""),  # not ours: routes as work
    ],
)
def test_an_interactions_kind_and_command_name(kind, data, event_kind, command) -> None:
    interaction = SimpleNamespace(
        id=INTERACTION_ID, type=kind, data=data, guild_id=None, channel=None, user=None
    )
    event = interaction_event(interaction, client=None)  # type: ignore[arg-type]
    assert (event.kind, event.command, event.user_id, event.role_ids) == (
        event_kind,
        command,
        None,
        frozenset(),
    )


@pytest.mark.parametrize(
    ("key", "source"),
    [
        ("msg:88", {"message_id": "88"}),
        ("1300000000000000001", {"interaction_id": "1300000000000000001"}),
    ],
)
def test_every_log_line_of_a_request_names_its_source(key, source) -> None:
    event = Event(EventKind.MESSAGE, key, "채팅", "채팅방-1", 0.0, GUILD, 7, 9, frozenset({4}))
    assert event.request_fields() == {
        **source,
        "command": "채팅",
        "guild_id": GUILD,
        "channel": "채팅방-1",
        "user_id": 7,
    }
    assert event.log_fields() == {
        "event_kind": "message",
        "event_key": key,
        "command": "채팅",
        "channel": "채팅방-1",
        "guild_id": GUILD,
        "user_id": 7,
    }


def test_an_interaction_in_a_thread_routes_by_its_parent_even_uncached() -> None:
    thread = thread_of(9, None)
    client = SimpleNamespace(get_channel=lambda i: SimpleNamespace(name="비디오생성-1"))
    interaction = SimpleNamespace(
        id=INTERACTION_ID,
        type=discord.InteractionType.application_command,
        data={"name": "비디오"},
        guild_id=GUILD,
        channel=thread,
        user=SimpleNamespace(id=7),
    )
    event = interaction_event(interaction, client)  # type: ignore[arg-type]
    assert (event.channel_name, event.channel_id) == ("비디오생성-1", 9)


def test_an_events_age_is_in_whole_milliseconds(monkeypatch) -> None:
    monkeypatch.setattr(answering_module, "time", SimpleNamespace(time=lambda: 1_800_000_002.5))
    event = Event(EventKind.COMMAND, "1", "핑", None, created_at=1_800_000_000.0)
    assert event.age_ms() == 2500
