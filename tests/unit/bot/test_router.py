"""The routing rule: table cases an operator would check, plus properties for any fleet state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.router import (
    COMMAND_AREAS,
    InstanceSpec,
    UnknownCommandError,
    alive_rank,
    normalize_command,
    preference_order,
    route,
)

INSTANCE_IDS = (1, 2, 3, 4)
FALLBACK_INSTANCE = 4
ALL = set(INSTANCE_IDS)
# The documented default fleet, written out by hand: every instance holds its own role's keys.
TABLE = {
    1: InstanceSpec(1, "chat", ("채팅방-*", "*chat*"), frozenset({"chat"})),
    2: InstanceSpec(2, "image", ("이미지생성-*", "*image*"), frozenset({"image"})),
    3: InstanceSpec(3, "video", ("비디오생성-*", "*video*"), frozenset({"video"})),
    4: InstanceSpec(4, "admin", (), frozenset({"chat", "image", "video"})),
}


@pytest.mark.parametrize(
    ("channel", "command", "down", "owner", "order"),
    [
        ("채팅방-1", "채팅", set(), 1, (1, 4)),
        ("채팅방-1", "/핑", set(), 1, (1, 4, 2, 3)),
        ("채팅방-1", "채팅", {1}, 4, (1, 4)),
        ("채팅방-1", "이미지", set(), 4, (4, 2)),
        ("이미지생성-1", "이미지", set(), 2, (2, 4)),
        ("이미지생성-1", "인스턴스", set(), 2, (2, 4, 1, 3)),
        ("비디오생성-1", "비디오", set(), 3, (3, 4)),
        ("비디오생성-1", "채팅", set(), 4, (4, 1)),
        ("general", "핑", set(), 4, (4, 1, 2, 3)),
        ("general", "핑", {4}, 1, (4, 1, 2, 3)),
        ("general", "채팅", {4}, 1, (4, 1)),
        ("general", "이미지", {2, 4}, None, (4, 2)),
        ("my-chat-room", "채팅", set(), 1, (1, 4)),
        ("AI-IMAGE-lab", "이미지", set(), 2, (2, 4)),
        ("daily-video", "비디오", {3}, 4, (3, 4)),
        (None, "핑", set(), 4, (4, 1, 2, 3)),
        (None, "채팅", set(), 4, (4, 1)),
    ],
)
def test_routing_table(channel, command, down, owner, order):
    decision = route(channel, command, ALL - down, TABLE)
    assert decision.instance == owner
    assert decision.order == order


def test_degraded_mode_uses_any_instance_holding_the_key():
    # Instance 3 also holds a MiniMax key, so it can stand in for image generation.
    table = dict(TABLE)
    table[3] = InstanceSpec(3, "video", TABLE[3].patterns, frozenset({"video", "image"}))
    assert route("이미지생성-1", "이미지", {1, 3}, table).instance == 3


def test_custom_patterns_are_case_insensitive_globs():
    table = dict(TABLE)
    table[1] = InstanceSpec(1, "chat", ("잡담*", "talk-?"), frozenset({"chat"}))
    assert route("잡담방", "채팅", ALL, table).instance == 1
    assert route("TALK-A", "채팅", ALL, table).instance == 1
    assert route("talk-ab", "채팅", ALL, table).instance == 4
    assert route("채팅방-1", "채팅", ALL, table).instance == 4


def test_command_names_accept_slash_and_reject_unknown():
    assert normalize_command(" /채팅 ") == "채팅"
    with pytest.raises(UnknownCommandError, match="known commands: /채팅"):
        normalize_command("/chat")


def test_alive_rank_counts_only_alive_instances():
    order = (1, 4, 2, 3)
    assert alive_rank(order, {1, 2, 3, 4}, 4) == 1
    assert alive_rank(order, {2, 3, 4}, 4) == 0
    assert alive_rank(order, {2, 3, 4}, 1) is None


channels = st.one_of(
    st.none(),
    st.sampled_from(["채팅방-1", "이미지생성-2", "비디오생성-9", "general", "chat", "x-image-y"]),
    st.text(min_size=1, max_size=20),
)
commands = st.sampled_from(sorted(COMMAND_AREAS))
alive_sets = st.sets(st.sampled_from(INSTANCE_IDS), min_size=1)


@given(channel=channels, command=commands, alive=alive_sets)
def test_exactly_one_owner_that_serves_the_command(channel, command, alive):
    decision = route(channel, command, alive, TABLE)
    owners = [i for i in decision.order if i in alive][:1]
    assert len(set(decision.order)) == len(decision.order), "order has no repeats"
    if decision.instance is None:
        # Nobody alive can serve it: only possible for a provider command.
        assert COMMAND_AREAS[command] is not None
        assert not (alive & set(decision.order))
    else:
        assert owners == [decision.instance]
        spec = TABLE[decision.instance]
        assert spec.role_serves(command) or spec.can_serve(command)


@given(channel=channels, command=st.sampled_from(["핑", "상태", "인스턴스"]), alive=alive_sets)
def test_utilities_always_have_an_owner(channel, command, alive):
    assert route(channel, command, alive, TABLE).instance in alive


@given(channel=channels, command=commands, alive=alive_sets)
def test_alive_matching_specialist_beats_the_fallback(channel, command, alive):
    decision = route(channel, command, alive, TABLE)
    specialists = [
        s.id
        for s in TABLE.values()
        if s.id != FALLBACK_INSTANCE
        and channel is not None
        and s.matches(channel)
        and s.role_serves(command)
        and s.id in alive
    ]
    if specialists:
        assert decision.instance == min(specialists)


@given(channel=channels, command=commands)
def test_fallback_follows_the_specialists(channel, command):
    order = preference_order(channel, command, TABLE)
    position = order.index(FALLBACK_INSTANCE)
    assert all(TABLE[i].matches(channel or "") for i in order[:position])


def test_a_decision_as_json_names_the_instance_and_the_order() -> None:
    assert route("이미지생성-1", "이미지", {1, 3, 4}, TABLE).as_json() == {
        "instance": 4,
        "order": [2, 4],  # only instances holding image keys
    }
    assert route("비디오생성-1", "비디오", set(), TABLE).as_json() == {
        "instance": None,
        "order": [3, 4],
    }


def test_an_unknown_command_lists_the_known_ones() -> None:
    with pytest.raises(UnknownCommandError) as raised:
        normalize_command("/chat")
    assert str(raised.value) == (
        "unknown command '/chat'; known commands: /채팅, /이미지, /비디오, /핑, /상태, /인스턴스"
    )
