"""/비디오 on a real fleet with faults: the owner SIGKILLed mid-job and restarted, or killed
for good (instance 4 adopts), and a SIGSTOPped owner waking up after an adoption. Each
time: exactly one provider task, and the video delivered exactly once."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.e2e.conftest import Sandbox, logged

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="function")]

CHANNEL = "비디오생성-1"
DONE = "🎬 영상이 완성됐어요!"
FAST = {"VIDEO_POLL_INTERVAL": "0.2", "VIDEO_PROGRESS_INTERVAL": "0.5"}


def hold_in_processing(sb: Sandbox) -> None:
    """Tasks reach Processing at once and stay there until the test finishes them."""
    sb.minimax.video_prepare_s = 0.0
    sb.minimax.video_queue_s = 0.0
    sb.minimax.video_process_s = 3600.0


async def start_video(sb: Sandbox, prompt: str = "파도가 치는 바다"):
    handle = await sb.fake.send_command(
        channel=CHANNEL, command="비디오", options={"설명": prompt}, user="minji"
    )
    assert await sb.fake.wait_until(
        lambda: sb.minimax.video_tasks and sb.minimax.video_tasks[0].state == "Processing",
        timeout=10,
    ), "the job never reached Processing"
    first = handle.result()
    assert first.answered_by == "3"
    return handle


def deliveries(sb: Sandbox) -> list[tuple[str | None, str]]:
    """(instance that sent it, how) for every request that put the finished video anywhere.
    The URL's label says who sent it (`instance` names whose interaction token it used)."""
    found = []
    for record in sb.fake.requests:
        body = record.body if isinstance(record.body, dict) else {}
        if record.method in ("PATCH", "POST") and DONE in str(body.get("content", "")):
            found.append((record.label, record.method))
    return found


async def delivered(sb: Sandbox, handle, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not str(handle.result().content or "").startswith(DONE):
        assert asyncio.get_running_loop().time() < deadline, handle.result().content
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # time for a second (wrong) delivery to show up
    return handle.result()


async def test_owner_killed_mid_job_and_restarted_delivers_once(sandbox_factory):
    async with sandbox_factory(instances=(3, 4), extra_env=FAST) as sb:
        hold_in_processing(sb)
        handle = await start_video(sb)
        await sb.fleet.kill("3")
        await sb.fleet.start_instance("3")
        sb.minimax.finish_task(sb.minimax.video_tasks[0].task_id)
        result = await delivered(sb, handle)
        assert result.attachments[0]["content_type"] == "video/mp4"
        assert len(sb.minimax.video_tasks) == 1, "no second provider task after the restart"
        # The restarted owner resumes it, unless its restart outlasted the liveness TTL and
        # the fallback adopted it first: either way one instance, one delivery, and never a
        # job taken from an owner that is back.
        resumed = [e["reason"] for e in sb.fleet.events("3", "job_adopted")]
        adopted = [e["reason"] for e in sb.fleet.events("4", "job_adopted")]
        assert (resumed, adopted) in ((["own"], []), ([], ["orphaned"]))
        assert deliveries(sb) == [("3" if resumed else "4", "PATCH")]
        sb.assert_clean()


async def test_owner_killed_for_good_the_fallback_adopts_and_delivers_once(sandbox_factory):
    async with sandbox_factory(instances=(3, 4), extra_env=FAST) as sb:
        hold_in_processing(sb)
        handle = await start_video(sb)
        await sb.fleet.kill("3")
        assert await sb.fake.wait_until(lambda: sb.fleet.events("4", "job_adopted"), timeout=10)
        sb.minimax.finish_task(sb.minimax.video_tasks[0].task_id)
        result = await delivered(sb, handle)
        assert result.attachments[0]["content_type"] == "video/mp4"
        assert len(sb.minimax.video_tasks) == 1
        assert deliveries(sb) == [("4", "PATCH")]
        assert sb.fleet.events("4", "job_adopted")[0]["reason"] == "orphaned"
        sb.assert_clean()


async def test_a_frozen_owner_that_wakes_after_the_adoption_does_not_deliver_again(
    sandbox_factory,
):
    async with sandbox_factory(instances=(3, 4), extra_env=FAST) as sb:
        hold_in_processing(sb)
        handle = await start_video(sb)
        pid = sb.fleet.instances["3"].process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            assert await sb.fake.wait_until(lambda: sb.fleet.events("4", "job_adopted"), timeout=10)
            sb.minimax.finish_task(sb.minimax.video_tasks[0].task_id)
            await delivered(sb, handle)
        finally:
            os.kill(pid, signal.SIGCONT)
        # The old owner polls, saves, and finds it no longer owns it: its driver ends there,
        # so whatever it would have delivered has been sent by now.
        disowned = await logged(sb, "3", "job_disowned", timeout=30)
        assert len(disowned) == 1, "the woken owner stood down"
        assert deliveries(sb) == [("4", "PATCH")]
        assert len(sb.minimax.video_tasks) == 1
        assert sb.fleet.events("3", "job_disowned"), "the woken owner stood down"
