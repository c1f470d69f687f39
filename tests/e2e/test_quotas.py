"""Daily quotas on a real fleet: each instance spends its own keys' budget, an instance
whose keys are spent lets the next one in the channel's order serve, and when every key
is spent the user reads when the budget comes back. Counters live in the shared Redis."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Sandbox
from tests.image_results import field, finished

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="function")]

CHANNEL = "이미지생성-1"
ONE_A_DAY = {"QUOTA_MINIMAX_DAILY": "1", "QUOTA_STABILITY_DAILY": "1"}
RESET = re.compile(
    r"^오늘 쓸 수 있는 MiniMax 사용량\(하루 1회\)을 모두 썼어요\. "
    r"\d{1,2}월 \d{1,2}일 0시 \(KST\)에 다시 쓸 수 있어요\.$"
)


async def ask(sb: Sandbox, prompt: str):
    handle = await sb.fake.send_command(
        channel=CHANNEL, command="이미지", options={"설명": prompt}, user="minji"
    )
    return await finished(handle)


def generations(double) -> int:
    return sum(1 for r in double.requests if "image" in r.path)


async def test_spent_keys_hand_images_to_the_next_instance_then_say_when_they_return(
    sandbox_factory,
):
    async with sandbox_factory(instances=(2, 4), extra_env=ONE_A_DAY) as sb:
        served = [await ask(sb, f"고양이 {n}") for n in range(4)]
        # (instance, provider): instance 2 spends MiniMax then Stability, then declines;
        # instance 4 has keys of its own and does the same.
        assert [(r.answered_by, field(r, "제공자").split(" · ")[0]) for r in served] == [
            ("2", "MiniMax"),
            ("2", "Stability"),
            ("4", "MiniMax"),
            ("4", "Stability"),
        ]
        refused = await ask(sb, "고양이 4")
        assert refused.answered_by == "4" and refused.ephemeral
        assert RESET.match(refused.content), refused.content
        # Never more calls than the limits: one per key per provider.
        assert (generations(sb.minimax), generations(sb.stability)) == (2, 2)
        sb.assert_clean()
