"""Who answers when instances are down: a hand-written table run on real bot processes.

Each row is (channel, command, expected instance) for one set of instances that are down,
worked out by hand from the rule in ARCHITECTURE.md ("Roles and the router": channel
specialists, then the fallback 4, then every other instance holding the area's key, by
number; the sandbox gives every instance every key). The router under test computes
none of it. A down instance is either one that never started (a container that failed
to come up) or one SIGKILLed after it served (a crash), which the peers must notice.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import until_routed_to

pytestmark = pytest.mark.e2e

CHAT = {"질문": "안녕?"}
PROMPT = {"설명": "고양이"}

# down -> rows of (channel, thread, command, options, expected instance)
WHEN_DOWN: dict[tuple[int, ...], list[tuple[str | None, str | None, str, dict, str]]] = {
    (1,): [
        ("채팅방-1", None, "채팅", CHAT, "4"),
        ("채팅방-1", "스레드-1", "핑", {}, "4"),
        ("이미지생성-1", None, "이미지", PROMPT, "2"),
        ("general", None, "핑", {}, "4"),
    ],
    (4,): [
        ("general", None, "핑", {}, "1"),
        (None, None, "상태", {}, "1"),
        ("채팅방-1", None, "이미지", PROMPT, "1"),
        ("이미지생성-1", None, "채팅", CHAT, "1"),
        ("비디오생성-1", None, "비디오", PROMPT, "3"),
    ],
    (2, 3): [
        ("이미지생성-1", None, "이미지", PROMPT, "4"),
        ("비디오생성-1", None, "핑", {}, "4"),
        ("채팅방-1", None, "핑", {}, "1"),
    ],
    (1, 2, 4): [
        ("채팅방-1", None, "채팅", CHAT, "3"),
        (None, None, "핑", {}, "3"),
        ("이미지생성-1", None, "이미지", PROMPT, "3"),
        ("general", None, "인스턴스", {}, "3"),
    ],
}


async def ask_table(sb, rows, up: list[str]) -> None:
    for channel, thread, command, options, expected in rows:
        result = await sb.ask(channel, command, thread=thread, options=options or None)
        where = f"/{command} in #{thread or channel}"
        assert result.answered_by == expected, where
        assert [a.instance for a in result.callback_attempts] == [expected], (
            f"{where}: nobody else even tried"
        )
        assert sorted(result.delivered_to) == up, f"{where}: every live instance saw it"


@pytest.mark.parametrize("down", [(1,), (4,), (2, 3), (1, 2, 4)], ids=lambda d: f"down{d}")
async def test_never_started_instances_are_routed_around(sandbox_factory, down):
    up = [n for n in (1, 2, 3, 4) if n not in down]
    async with sandbox_factory(instances=tuple(up)) as sb:
        await ask_table(sb, WHEN_DOWN[down], [str(n) for n in up])
        sb.assert_clean()


async def test_instances_killed_after_serving_are_routed_around(sandbox_factory):
    async with sandbox_factory() as sb:
        before = await sb.ask("general", "핑")
        assert before.answered_by == "4"
        for label in (1, 2, 4):
            await sb.fleet.kill(label)
        # Until instance 3's view has all three gone (their heartbeats expired), a
        # peer-less instance covers by claim steps; the table is about the settled view.
        await until_routed_to(sb, "채팅방-1", "3", viewers={"general": "3"})
        await ask_table(sb, WHEN_DOWN[(1, 2, 4)], ["3"])
        sb.assert_clean()
