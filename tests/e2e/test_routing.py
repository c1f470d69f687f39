"""Four real bot processes on the Discord double: the right instance answers, exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import sys

import pytest

from tests.e2e.conftest import (
    CHANNELS,
    COMMANDS,
    claims_since,
    expected_owner,
    logged,
    settled_claims,
    summary_owners,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
LABELS = ("1", "2", "3", "4")


@pytest.mark.parametrize(
    ("channel", "thread", "owner"),
    [
        ("채팅방-1", None, "1"),
        ("이미지생성-1", None, "2"),
        ("비디오생성-1", None, "3"),
        ("general", None, "4"),
        ("채팅방-1", "스레드-1", "1"),
        (None, None, "4"),
    ],
)
async def test_ping_is_answered_once_by_the_channel_owner(fleet4, channel, thread, owner):
    result = await fleet4.ask(channel, "핑", thread=thread)
    assert result.answered_by == owner
    assert [a.instance for a in result.callback_attempts] == [owner], "nobody else even tried"
    assert sorted(result.delivered_to) == ["1", "2", "3", "4"], "every session saw it"
    assert f"인스턴스 **#{owner}**" in result.embeds[0]["description"]
    assert result.ack_ms < 3000
    fleet4.assert_clean()


@pytest.mark.parametrize("channel", [*CHANNELS, None])
async def test_instances_shows_the_routers_decision_for_the_channel(fleet4, channel):
    result = await fleet4.ask(channel, "인스턴스")
    owners = summary_owners(result)
    for command in COMMANDS:
        assert owners[command] == f"#{expected_owner(channel, command)}", command
    assert result.answered_by == str(expected_owner(channel, "인스턴스"))
    fleet4.assert_clean()


async def test_instances_option_checks_another_channel(fleet4):
    result = await fleet4.ask("general", "인스턴스", options={"채널": "#이미지생성-9"})
    assert summary_owners(result)["이미지"] == "#2"
    assert "#이미지생성-9" in result.embeds[0]["description"]


@pytest.mark.parametrize(
    ("value", "message"), [("   ", "비어 있어요"), ("x" * 101, "100자 이하로 줄여 주세요")]
)
async def test_bad_option_gets_a_private_korean_message(fleet4, value, message):
    result = await fleet4.ask("general", "인스턴스", options={"채널": value})
    assert result.ephemeral
    assert message in result.content
    assert "Traceback" not in result.content
    assert result.answered_by == "4"
    fleet4.assert_clean()


@pytest.mark.parametrize(("channel", "owner"), [("이미지생성-1", "2"), ("general", "4")])
async def test_a_status_refresh_press_is_answered_once_by_the_channels_owner(
    fleet4, channel, owner
):
    status = await fleet4.ask(channel, "상태")
    handle = await fleet4.fake.press_component(int(status.messages[0]["id"]), "mib:status:refresh")
    pressed = await handle.wait_for_response()
    assert sorted(pressed.delivered_to) == ["1", "2", "3", "4"], "every session saw it"
    assert [a.instance for a in pressed.callback_attempts] == [owner], "nobody else even tried"
    assert pressed.callback_type == 7
    assert pressed.embeds[0]["title"] == "📊 봇 상태 — 4/4 온라인"
    fleet4.assert_clean()


@pytest.mark.parametrize(("channel", "owner"), [("채팅방-1", "1"), ("비디오생성-1", "3")])
async def test_channel_autocomplete_is_answered_once_by_the_channels_owner(fleet4, channel, owner):
    handle = await fleet4.fake.send_autocomplete(channel, "인스턴스", "채널", "생성")
    result = await handle.wait_for_response()
    assert sorted(result.delivered_to) == ["1", "2", "3", "4"], "every session saw it"
    assert [a.instance for a in result.callback_attempts] == [owner]
    assert result.choices == [
        {"name": "이미지생성-1", "value": "이미지생성-1"},
        {"name": "비디오생성-1", "value": "비디오생성-1"},
    ]
    fleet4.assert_clean()


async def test_status_shows_the_whole_fleet_without_secrets(fleet4):
    result = await fleet4.ask("general", "상태")
    embed = result.embeds[0]
    assert embed["title"] == "📊 봇 상태 — 4/4 온라인"
    names = [f["name"] for f in embed["fields"]]
    assert names == ["🟢 #1 채팅", "🟢 #2 이미지", "🟢 #3 비디오", "🟢 #4 관리·예비"]
    assert "Redis 연결됨" in embed["description"]
    fleet4.assert_clean()


async def test_two_hundred_commands_each_answered_once_by_the_owner(fleet4):
    rng = random.Random(7)
    targets = [(c, None) for c in CHANNELS] + [("채팅방-1", "스레드-1"), (None, None)]
    plan = [(*rng.choice(targets), rng.choice(["핑", "인스턴스", "상태"])) for _ in range(200)]
    before = await settled_claims(fleet4, LABELS)
    results = []
    for start in range(0, len(plan), 25):
        batch = plan[start : start + 25]
        handles = [
            await fleet4.fake.send_command(channel=channel, command=command, thread=thread)
            for channel, thread, command in batch
        ]
        results += await asyncio.gather(
            *(h.wait_for_response(timeout=15, settle=0.05) for h in handles)
        )
    for (channel, _, command), result in zip(plan, results, strict=True):
        owner = str(expected_owner(channel, command))
        assert result.answered_by == owner, (channel, command)
        assert len(result.callback_attempts) == 1
    assert len({r.interaction_id for r in results}) == 200
    # Every instance decided on every one of the 200 (won or lost its claim): the single
    # callbacks above are not peers that never got round to trying.
    owned = [str(expected_owner(channel, command)) for channel, _, command in plan]
    await claims_since(
        fleet4, before, {label: (owned.count(label), 200 - owned.count(label)) for label in LABELS}
    )
    fleet4.assert_clean()


async def test_fleet_identified_with_spacing_and_synced_commands_once(fleet4):
    identifies = sorted(fleet4.fake.identify_log, key=lambda r: r.at)
    assert sorted(r.instance for r in identifies) == ["1", "2", "3", "4"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(identifies)]
    # The sandbox spaces IDENTIFY by 0.3 s; like 5.5 s against Discord's 5 s, the lock keeps
    # a margin for the send itself, so arrivals are never closer than 0.25 s.
    assert min(gaps) >= 0.25, gaps
    # Every instance made its sync decision: one uploaded, the other three skipped.
    decisions = [
        e["event"]
        for label in LABELS
        for e in fleet4.fleet.instances[label].events
        if e.get("event") in ("commands_synced", "command_sync_skipped")
    ]
    assert sorted(decisions) == ["command_sync_skipped"] * 3 + ["commands_synced"]
    overwrites = [r for r in fleet4.fake.requests if r.method == "PUT" and "commands" in r.path]
    assert len(overwrites) == 1, "only the sync-lock holder uploads the tree"
    assert {c["name"] for c in fleet4.fake.registered_commands["global"]} == {
        "채팅",
        "핑",
        "상태",
        "인스턴스",
        "이미지",
        "비디오",
    }


async def test_status_cli_reads_the_fleet_from_redis(fleet4):
    env = {**fleet4.fleet.instances["4"].env}
    table = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert table.returncode == 0, table.stderr
    assert "4/4 online" in table.stdout
    assert [line.split()[2] for line in table.stdout.splitlines()[1:5]] == ["ready"] * 4
    raw = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    snapshots = json.loads(raw.stdout)
    assert sorted(snapshots) == ["1", "2", "3", "4"]
    assert snapshots["2"]["role"] == "image" and snapshots["2"]["coordination"] == "redis"
    assert "sandbox-" not in raw.stdout, "no token or key in the status output"


@pytest.mark.parametrize(("channel", "owner"), [("채팅방-1", "1"), ("general", "4")])
async def test_a_chat_message_is_routed_to_exactly_one_instance(fleet4, channel, owner):
    before = await settled_claims(fleet4, LABELS)
    handle = await fleet4.fake.send_message(channel, "안녕 봇!", mentions_bot=True)
    await logged(fleet4, owner, "chat_message_routed", message_id=handle.message_id)
    # The other three received it and lost the claim: their silence is a decision.
    await claims_since(
        fleet4, before, {label: (1, 0) if label == owner else (0, 1) for label in LABELS}
    )
    routed = {
        label: [
            e
            for e in fleet4.fleet.events(label, "chat_message_routed")
            if e["message_id"] == handle.message_id
        ]
        for label in fleet4.fleet.instances
    }
    assert {label for label, events in routed.items() if events} == {owner}
    assert len(routed[owner]) == 1


async def test_plain_messages_are_left_alone(fleet4):
    before = await settled_claims(fleet4, LABELS)
    handle = await fleet4.fake.send_message("채팅방-1", "사람끼리 하는 말")
    # A mention right after it on the same gateway sessions: each instance handles its
    # MESSAGE_CREATEs in order, so once all four decided on the mention (one answered,
    # three lost the claim) every one of them has been through the plain message too.
    mention = await fleet4.fake.send_message("채팅방-1", "안녕 봇!", mentions_bot=True)
    await logged(fleet4, "1", "chat_message_routed", message_id=mention.message_id)
    await claims_since(fleet4, before, {"1": (1, 0), "2": (0, 1), "3": (0, 1), "4": (0, 1)})
    for label in fleet4.fleet.instances:
        assert not [
            e
            for e in fleet4.fleet.events(label, "chat_message_routed")
            if e["message_id"] == handle.message_id
        ]
