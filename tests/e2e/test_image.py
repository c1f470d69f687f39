"""/이미지 on a real fleet with the MiniMax and Stability doubles: the channel's owner
draws, buttons survive a restart and are answered once, another user's press is refused,
failover across providers and, when an instance's providers are all cooling, across
instances."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from PIL import Image

from sandbox.providers import MiniMaxReply
from tests.e2e.conftest import Sandbox, logged, open_sandbox
from tests.image_results import buttons, field, finished

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CHANNEL = "이미지생성-1"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory, redis_url: str) -> AsyncIterator[Sandbox]:
    async with open_sandbox(tmp_path_factory.mktemp("image"), redis_url=redis_url) as sandbox:
        yield sandbox


async def ask(sb: Sandbox, prompt: str, *, user: str = "minji", **options: object):
    handle = await sb.fake.send_command(
        channel=CHANNEL, command="이미지", options={"설명": prompt, **options}, user=user
    )
    return await finished(handle)


def png_size(sb: Sandbox, attachment: dict) -> tuple[int, int]:
    data = sb.fake.state.store.blobs[int(attachment["id"])]
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data)).size


async def test_the_image_instance_draws_with_minimax_and_stability(fleet):
    minimax = await ask(fleet, "고양이", 개수=2)
    assert minimax.answered_by == "2"
    assert [png_size(fleet, a) for a in minimax.attachments] == [(64, 64), (64, 64)]
    assert field(minimax, "제공자") == "MiniMax · image-01"
    stability = await ask(fleet, "a cat", 제공자="Stability", 모델="sd3.5-large")
    assert stability.answered_by == "2"
    assert [png_size(fleet, a) for a in stability.attachments] == [(64, 64)]
    assert field(stability, "제공자") == "Stability · sd3.5-large"
    assert fleet.stability.requests[-1].path == "/v2beta/stable-image/generate/sd3"
    fleet.assert_clean()


async def test_auto_fails_over_to_stability_on_a_minimax_rate_limit(fleet):
    before = len(fleet.minimax.requests)
    result = await ask(fleet, "고양이 [[1002]]")
    assert result.answered_by == "2"
    assert field(result, "제공자") == "Stability · core"
    assert "MiniMax(요청 한도 초과)를 쓸 수 없어서 Stability가 대신 만들었어요." in field(
        result, "참고"
    )
    assert len(fleet.minimax.requests) - before == 2  # IMAGE_MAX_RETRIES=1: one retry


async def test_a_refusal_is_not_failed_over(fleet):
    stability_before = len(fleet.stability.requests)
    result = await ask(fleet, "[[1026]] 고양이")
    assert result.content == (
        "⚠️ MiniMax가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요."
    )
    assert len(fleet.stability.requests) == stability_before


async def test_another_users_press_is_refused_privately(fleet):
    first = await ask(fleet, "강아지", user="minji")
    press = await fleet.fake.press_component(
        first.messages[0], buttons(first)["다시 생성"], user="someone"
    )
    result = await press.wait_for_response()
    assert result.ephemeral
    assert result.answered_by == "2"
    assert result.content.startswith("이 버튼은 이미지를 요청한 사람만 누를 수 있어요.")


async def test_buttons_work_after_a_restart_and_when_the_owner_is_dead(fleet):
    first = await ask(fleet, "등대", 시드=99)
    await fleet.fleet.restart("2")
    regenerated = await finished(
        await fleet.fake.press_component(
            first.messages[0], buttons(first)["다시 생성"], user="minji"
        )
    )
    assert regenerated.answered_by == "2"
    assert regenerated.embeds[0]["description"] == "등대"
    assert field(regenerated, "시드") != "99"
    await fleet.fleet.kill("2")
    try:
        varied = await finished(
            await fleet.fake.press_component(
                first.messages[0], buttons(first)["변형"], user="minji"
            )
        )
        assert varied.answered_by == "4"
        assert field(varied, "제공자") == "Stability · core"
        assert field(varied, "시드") == "99"
        assert fleet.codes(40060) == []
    finally:
        await fleet.fleet.start_instance("2")
    fleet.assert_clean()


async def test_an_instance_with_every_provider_cooling_lets_the_next_one_serve(sandbox_factory):
    cooling = {"IMAGE_ACCOUNT_COOLDOWN": "600"}
    async with sandbox_factory(extra_env=cooling) as sb:
        spent = await ask(sb, "고양이 [[1008]] [[402]]")
        assert spent.answered_by == "2"
        assert spent.content.startswith("⚠️ 이미지를 만들지 못했어요.")
        served = await ask(sb, "고양이")
        assert served.answered_by == "4", "instance 2 declined: both its providers are out"
        # Instance 2 did get it and declined as the owner (rank 0), leaving it to rank 1.
        declined = await logged(sb, "2", "declined", event_key=str(served.interaction_id))
        assert [(e["command"], e["rank"]) for e in declined] == [("이미지", 0)]
        assert field(served, "제공자") == "MiniMax · image-01"
        sb.assert_clean()


async def test_an_image_cut_off_by_a_stop_says_so_instead_of_spinning(sandbox_factory):
    slow = {"IMAGE_TIMEOUT": "30", "SHUTDOWN_GRACE": "1"}
    async with sandbox_factory(instances=(2,), extra_env=slow) as sb:
        sb.minimax.script(MiniMaxReply(delay_s=20))
        handle = await sb.fake.send_command(
            channel=CHANNEL, command="이미지", options={"설명": "고양이"}, user="minji"
        )
        drawing = await handle.wait_for_response(timeout=10, settle=0.2)
        assert drawing.content.startswith("⏳ MiniMax로 이미지 1장을 그리는 중이에요…")
        await sb.fleet.stop("2")
        result = handle.result()
        assert result.content == (
            "⚠️ 봇이 다시 시작되어 이미지를 완성하지 못했어요. 잠시 후 다시 시도해 주세요."
        )
        assert result.embeds == [] and result.attachments == []
