"""/비디오 in a real single-process bot on the Discord double and the MiniMax double (fast
clock): progress, the result, failures, the size limit, the token's end, and 취소.
Restarts, kills and adoption across instances are in tests/e2e/test_video.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.bot_class import MultiInstanceBot
from sandbox.discord import FakeDiscord
from sandbox.providers import FakeMiniMax
from tests.integration.bot.inprocess import discord_double, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "general"
KEY = "mm-video-integration-key"
DONE = "🎬 영상이 완성됐어요!"


class World:
    def __init__(self, fake: FakeDiscord, bot: MultiInstanceBot, minimax: FakeMiniMax) -> None:
        self.fake, self.bot, self.minimax = fake, bot, minimax

    def reset(self) -> None:
        self.minimax.video_tasks.clear()
        self.minimax.requests.clear()
        self.fake.rules.attachment_size_limit = 10 * 1024 * 1024
        self.fake.rules.token_life_s = 900.0

    async def ask(self, prompt: str, *, user: str = "minji", **options: object):
        return await self.fake.send_command(
            channel=CHANNEL, command="비디오", options={"설명": prompt, **options}, user=user
        )

    def blob(self, attachment: dict) -> bytes:
        return self.fake.state.store.blobs[int(attachment["id"])]


async def ended(handle, timeout: float = 15.0):
    """The answer once the progress message became a result or an error."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = handle.result()
        content = result.content or ""
        if result.ephemeral or content.startswith(("🎬 영상이", "⚠️", "🛑 영상")):
            return result
        assert asyncio.get_running_loop().time() < deadline, f"never ended: {content!r}"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[World]:
    health = tmp_path_factory.mktemp("video") / "health.json"
    minimax = FakeMiniMax(
        video_prepare_s=0.1, video_queue_s=0.2, video_process_s=0.6, video_slow_process_s=60
    )
    await minimax.start()
    settings = {
        "health_file": str(health),
        "minimax_api_key": KEY,
        "minimax_base_url": minimax.base_url,
        "video_poll_interval": 0.1,
        "video_progress_interval": 0.2,
        "video_timeout": 2.0,
        # Several videos by one user at once: the per-user limits are tested elsewhere.
        "limit_video_running": 0,
        "limit_video_per_day": 0,
    }
    try:
        async with (
            discord_double() as fake,
            running_bot(("commands.utility", "commands.video"), **settings) as bot,
        ):
            yield World(fake, bot, minimax)
    finally:
        await minimax.stop()


@pytest.fixture
def w(world: World) -> World:
    world.reset()
    return world


async def test_progress_then_the_video_in_place_of_the_progress_message(w):
    handle = await w.ask("파도가 치는 바다", 길이=6, 해상도="1080P")
    first = await handle.wait_for_response(timeout=5, settle=0.05)
    assert first.content.startswith("🎬 영상: ")
    assert [c["label"] for row in first.components for c in row["components"]] == ["취소"]
    result = await ended(handle)
    assert result.content.startswith(f"{DONE} (6초 · 1080P · MiniMax-Hailuo-2.3, ")
    assert result.content.endswith("> 파도가 치는 바다")
    (video,) = result.attachments
    assert video["content_type"] == "video/mp4"
    assert w.blob(video)[4:8] == b"ftyp"
    assert result.components == []  # 취소 is gone
    (task,) = w.minimax.video_tasks
    assert task.body == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": "파도가 치는 바다",
        "duration": 6,
        "resolution": "1080P",
    }
    progress = [
        r.body["content"]
        for r in w.fake.requests
        if r.method == "PATCH"
        and isinstance(r.body, dict)
        and "🎬 영상: " in str(r.body.get("content"))
    ]
    assert any("만드는 중" in text for text in progress), progress
    assert all("▰" in text or "▱" in text for text in progress)


async def test_a_failed_task_is_reported_in_korean(w):
    result = await ended(await w.ask("[[fail]] 파도"))
    assert result.content == (
        "⚠️ MiniMax가 영상을 만들지 못했어요. 설명을 바꾸거나 잠시 후 다시 시도해 주세요."
    )
    assert result.attachments == [] and result.components == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"길이": 10, "해상도": "1080P"},
            "10초 영상은 768P로만 만들 수 있어요. 해상도를 768P로 골라 주세요.",
        ),
        ({"해상도": "512P"}, "512P는 MiniMax-Hailuo-02 모델에서만 쓸 수 있어요."),
        ({"설명": "   "}, "'설명' 값이 비어 있어요. 내용을 입력해 주세요."),
    ],
)
async def test_bad_options_are_refused_privately_before_any_task(w, options, message):
    handle = await w.fake.send_command(
        channel=CHANNEL, command="비디오", options={"설명": "파도"} | options
    )
    result = await handle.wait_for_response()
    assert result.ephemeral
    assert result.content == message
    assert w.minimax.video_tasks == []


async def test_ten_seconds_without_a_resolution_is_made_at_768p(w):
    result = await ended(await w.ask("파도", 길이=10))
    assert result.content.startswith(f"{DONE} (10초 · 768P · MiniMax-Hailuo-2.3, ")


async def test_a_video_over_the_attachment_limit_arrives_as_a_link_with_its_expiry(w):
    w.fake.rules.attachment_size_limit = 1024 * 1024  # the [[big]] file is 3 MiB
    result = await ended(await w.ask("[[big]] 파도"))
    assert result.attachments == []
    assert (
        "📦 파일(3.0MB)이 디스코드 첨부 한도(1MB)보다 커서 링크로 드려요: http://" in result.content
    )
    assert "이 링크는 약 59분 뒤에 만료돼요." in result.content or (
        "이 링크는 약 1시간 0분 뒤에 만료돼요." in result.content
    )
    downloads = [r for r in w.minimax.requests if r.path.startswith("/files/")]
    assert downloads == [], "a file known to be too big is not downloaded"


async def test_after_the_token_dies_the_video_is_posted_in_the_channel_for_the_requester(w):
    w.fake.rules.token_life_s = 0.5  # the double's tokens die fast; the bot learns by 50027
    # Only this test's messages from here on (earlier tests' results carry DONE too); its
    # progress message never does.
    before = len(w.fake.channel_messages(CHANNEL))
    handle = await w.ask("늦게 끝나는 파도")
    assert await w.fake.wait_until(
        lambda: any(
            DONE in str(m.get("content")) for m in w.fake.channel_messages(CHANNEL)[before:]
        ),
        timeout=10,
    )
    posted = [m for m in w.fake.channel_messages(CHANNEL) if DONE in str(m.get("content"))][-1]
    user_id = w.fake.user_id("minji")
    assert posted["content"].startswith(f"<@{user_id}> {DONE}")
    assert [u["id"] for u in posted["mentions"]] == [str(user_id)]
    (sent,) = [
        r.body
        for r in w.fake.requests
        if r.method == "POST" and r.path.endswith("/messages") and DONE in str(r.body)
    ]
    assert sent["allowed_mentions"] == {"parse": [], "users": [user_id], "replied_user": True}
    assert posted["attachments"][0]["content_type"] == "video/mp4"
    assert handle.result().content.startswith("🎬 영상: "), "the old message stays as it was"


async def test_only_the_requester_can_cancel(w):
    handle = await w.ask("[[slow]] 아주 긴 영상")
    first = await handle.wait_for_response(timeout=5, settle=0.05)
    cancel = first.components[0]["components"][0]["custom_id"]
    stranger = await w.fake.press_component(first.messages[0], cancel, user="stranger")
    refused = await stranger.wait_for_response()
    assert refused.ephemeral
    assert refused.content == "이 버튼은 영상을 요청한 사람만 누를 수 있어요."
    await w.fake.press_component(first.messages[0], cancel, user="minji")
    result = await ended(handle)
    assert result.content == (
        "🛑 영상 만들기를 취소했어요. 제공자에서 이미 시작된 작업은 요금이 나갈 수 있어요."
    )
    assert result.attachments == []
    assert len(w.minimax.video_tasks) == 1
