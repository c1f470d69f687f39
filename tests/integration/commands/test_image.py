"""/이미지 in a real single-process bot, on the Discord double with the MiniMax and
Stability doubles: what the user sees, who was asked, how often, and what each failure
looks like. The fleet behaviours (restarts, another instance serving) are in tests/e2e.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from PIL import Image

from bot.bot_class import MultiInstanceBot
from sandbox.discord import FakeDiscord
from sandbox.providers import FakeMiniMax, FakeStability, MiniMaxReply, StabilityReply
from tests.image_results import buttons, field, finished
from tests.integration.bot.inprocess import discord_double, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "general"
MINIMAX_KEY = "eyJhbGciOiJSUzI1NiJ9.mm-integration-key-0123456789"  # real-looking
STABILITY_KEY = "sk-st-integration-key-0123456789abcdef"


class World:
    def __init__(
        self,
        fake: FakeDiscord,
        bot: MultiInstanceBot,
        minimax: FakeMiniMax,
        stability: FakeStability,
    ) -> None:
        self.fake, self.bot, self.minimax, self.stability = fake, bot, minimax, stability

    def reset(self) -> None:
        self.minimax.requests.clear()
        self.stability.requests.clear()
        self.bot.get_cog("ImageCommands").service().cooldowns._until.clear()  # type: ignore[union-attr]
        self.fake.rules.attachment_size_limit = 10 * 1024 * 1024

    async def ask(self, prompt: str, *, user: str = "minji", **options: object):
        handle = await self.fake.send_command(
            channel=CHANNEL, command="이미지", options={"설명": prompt, **options}, user=user
        )
        return handle, await finished(handle)

    def blob(self, attachment: dict) -> bytes:
        return self.fake.state.store.blobs[int(attachment["id"])]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[World]:
    health = tmp_path_factory.mktemp("image") / "health.json"
    minimax, stability = FakeMiniMax(slow_delay_s=5), FakeStability(slow_delay_s=5)
    await minimax.start()
    await stability.start()
    settings = {
        "health_file": str(health),
        "minimax_api_key": MINIMAX_KEY,
        "stability_api_key": STABILITY_KEY,
        "minimax_base_url": minimax.base_url,
        "stability_base_url": stability.base_url,
        "image_timeout": 1.0,
        "image_max_retries": 1,
        "image_rate_limit_cooldown": 0,
        "image_account_cooldown": 0,
        "image_progress_interval": 0.5,
        # Many images by one user a minute: the per-user limits are tested elsewhere.
        "limit_image_per_minute": 0,
    }
    try:
        async with (
            discord_double() as fake,
            running_bot(("commands.utility", "commands.image"), **settings) as bot,
        ):
            yield World(fake, bot, minimax, stability)
    finally:
        await minimax.stop()
        await stability.stop()


@pytest.fixture
def w(world: World) -> World:
    world.reset()
    return world


async def test_minimax_draws_two_images_into_one_message_with_embed_and_buttons(w):
    _, result = await w.ask("고양이", 개수=2, 시드=77)
    assert not result.ephemeral
    assert [a["filename"] for a in result.attachments] == ["minimax-77-1.png", "minimax-77-2.png"]
    assert [a["content_type"] for a in result.attachments] == ["image/png", "image/png"]
    for attachment in result.attachments:
        data = w.blob(attachment)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert Image.open(io.BytesIO(data)).size == (64, 64)
    (embed,) = result.embeds
    assert embed["description"] == "고양이"
    assert field(result, "제공자") == "MiniMax · image-01"
    assert field(result, "비율") == "1:1"
    assert field(result, "장수") == "2장"
    assert field(result, "걸린 시간").endswith("초")
    assert list(buttons(result)) == ["다시 생성", "변형"]
    (call,) = w.minimax.requests
    assert call.body["n"] == 2
    assert call.body["prompt"] == "고양이"
    assert call.body["seed"] == int(field(result, "시드"))
    assert w.stability.requests == []


async def test_stability_maps_an_unsupported_ratio_and_says_so(w):
    _, result = await w.ask("a red fox", 제공자="Stability", 비율="4:3", 시드=42)
    assert len(result.embeds) == 1
    assert field(result, "제공자") == "Stability · core"
    assert field(result, "비율") == "5:4"
    assert field(result, "시드") == "42"
    assert "4:3 비율을 지원하지 않아 가장 가까운 5:4(으)로" in field(result, "참고")
    (call,) = w.stability.requests
    assert call.body["aspect_ratio"] == "5:4"
    assert call.body["seed"] == "42"
    assert w.minimax.requests == []


@pytest.mark.parametrize(
    ("prompt", "scripted", "minimax_calls", "reason"),
    [
        ("고양이 [[1002]]", [], 2, "요청 한도 초과"),  # rate limit: retried once, then over
        ("고양이 [[1008]]", [], 1, "잔액 부족"),  # balance: never retried
        ("고양이 [[2056]]", [], 1, "사용 한도 소진"),
        ("고양이 [[1004]]", [], 1, "인증 실패"),
        ("고양이", [MiniMaxReply(http_status=500)] * 2, 2, "서비스 장애"),
        ("고양이", [MiniMaxReply(delay_s=3)] * 2, 2, "응답 시간 초과"),
    ],
)
async def test_auto_fails_over_from_minimax_to_stability_and_says_which_served(
    w, prompt, scripted, minimax_calls, reason
):
    for reply in scripted:
        w.minimax.script(reply)
    _, result = await w.ask(prompt)
    assert len(result.embeds) == 1
    assert field(result, "제공자") == "Stability · core"
    assert f"MiniMax({reason})를 쓸 수 없어서 Stability가 대신 만들었어요." in field(result, "참고")
    assert len(w.minimax.requests) == minimax_calls
    assert len(w.stability.requests) == 1
    assert result.attachments[0]["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("prompt", "options", "message"),
    [
        (
            "[[1026]] 고양이",
            {},
            "MiniMax가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요.",
        ),
        (
            "[[1027]] 고양이",
            {},
            "만든 이미지가 MiniMax의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요.",
        ),
        (
            "[[refuse]] 고양이",
            {},
            "MiniMax가 이 설명으로는 이미지를 만들지 않았어요. 설명을 바꿔서 다시 시도해 주세요.",
        ),
        (
            "[[403]] cat",
            {"제공자": "Stability"},
            "Stability가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요.",
        ),
        (
            "[[filtered]] cat",
            {"제공자": "Stability"},
            "만든 이미지가 Stability의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요.",
        ),
    ],
)
async def test_a_refusal_is_shown_in_korean_never_retried_never_failed_over(
    w, prompt, options, message
):
    _, result = await w.ask(prompt, **options)
    assert result.content == f"⚠️ {message}"
    assert result.attachments == [] and result.embeds == []
    asked = len(w.minimax.requests) + len(w.stability.requests)
    assert asked == 1


async def test_a_refusal_after_a_failover_stops_there(w):
    w.minimax.script(MiniMaxReply.status(1008))
    w.stability.script(StabilityReply(finish_reason="CONTENT_FILTERED"))
    _, result = await w.ask("고양이")
    assert result.content == (
        "⚠️ 만든 이미지가 Stability의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요."
    )
    assert (len(w.minimax.requests), len(w.stability.requests)) == (1, 1)


async def test_when_both_fail_the_user_reads_each_reason(w):
    _, result = await w.ask("고양이 [[1008]] [[402]]")
    assert result.content == (
        "⚠️ 이미지를 만들지 못했어요.\n"
        "• MiniMax: MiniMax 잔액이 부족해요. 관리자에게 알려 주세요.\n"
        "• Stability: Stability 크레딧이 부족해요. 관리자에게 알려 주세요."
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"설명": "   "}, "'설명' 값이 비어 있어요. 내용을 입력해 주세요."),
        (
            {"설명": "고양이", "비율": "넓게"},
            "화면 비율은 16:9처럼 '가로:세로' 숫자로 적어 주세요.",
        ),
        (
            {"설명": "고양이", "제공자": "MiniMax", "모델": "core"},
            "core 모델은 Stability 모델이에요. 제공자를 Stability(이)나 자동으로 골라 주세요.",
        ),
    ],
)
async def test_bad_options_get_a_private_korean_message_and_nobody_is_asked(w, options, message):
    handle = await w.fake.send_command(channel=CHANNEL, command="이미지", options=options)
    result = await handle.wait_for_response()
    assert result.ephemeral
    assert result.content == message
    assert w.minimax.requests == [] and w.stability.requests == []


async def test_regenerate_keeps_the_options_with_a_new_seed(w):
    _, first = await w.ask("바다 위의 등대", 비율="16:9", 시드=7, 제외할요소="사람")
    regenerate = buttons(first)["다시 생성"]
    press = await w.fake.press_component(first.messages[0], regenerate, user="minji")
    second = await finished(press)
    (embed,) = second.embeds
    assert embed["description"] == "바다 위의 등대"
    assert field(second, "제외할 요소") == "사람"
    assert field(second, "제공자") == "MiniMax · image-01"
    assert field(second, "비율") == "16:9"
    assert field(second, "시드") != "7"
    _, second_call = w.minimax.requests
    assert second_call.body["prompt"] == "바다 위의 등대"
    assert second_call.body["aspect_ratio"] == "16:9"
    assert second_call.body["seed"] == int(field(second, "시드"))
    # A new message below the first; the first keeps its images.
    assert second.messages[0]["id"] != first.messages[0]["id"]


async def test_vary_asks_the_other_provider_with_the_same_prompt_and_seed(w):
    _, first = await w.ask("a lighthouse", 시드=1234)
    vary = buttons(first)["변형"]
    second = await finished(await w.fake.press_component(first.messages[0], vary, user="minji"))
    assert len(second.embeds) == 1
    assert field(second, "제공자") == "Stability · core"
    assert field(second, "시드") == "1234"
    (call,) = w.stability.requests
    assert (call.body["prompt"], call.body["seed"]) == ("a lighthouse", "1234")


async def test_someone_elses_press_gets_a_private_note_and_draws_nothing(w):
    _, first = await w.ask("고양이")
    regenerate = buttons(first)["다시 생성"]
    press = await w.fake.press_component(first.messages[0], regenerate, user="stranger")
    result = await press.wait_for_response()
    assert result.ephemeral
    assert result.content == (
        "이 버튼은 이미지를 요청한 사람만 누를 수 있어요. 직접 /이미지 명령을 써 보세요."
    )
    assert len(w.minimax.requests) == 1


async def test_an_image_over_the_attachment_limit_is_reencoded_under_it(w):
    w.fake.rules.attachment_size_limit = 200_000
    _, result = await w.ask("[[big]] 노이즈", 개수=2)
    assert [a["content_type"] for a in result.attachments] == ["image/jpeg", "image/jpeg"]
    for attachment in result.attachments:
        data = w.blob(attachment)
        assert len(data) <= 200_000
        assert Image.open(io.BytesIO(data)).format == "JPEG"
    assert "2장을 JPEG로 줄여서 올렸어요" in field(result, "참고")


async def test_with_every_provider_cooling_the_command_is_refused_with_the_wait(w):
    cooldowns = w.bot.get_cog("ImageCommands").service().cooldowns  # type: ignore[union-attr]
    cooldowns.cool("minimax", 90)
    cooldowns.cool("stability", 30)
    handle = await w.fake.send_command(
        channel=CHANNEL, command="이미지", options={"설명": "고양이"}
    )
    result = await handle.wait_for_response()
    assert result.ephemeral
    assert result.content == (
        "지금은 이미지 제공자(MiniMax, Stability)를 모두 쓸 수 없어요 (요청 한도나 잔액 문제). "
        "약 1분 뒤에 다시 시도해 주세요."
    )
    assert w.minimax.requests == [] and w.stability.requests == []


async def test_a_cooling_provider_is_skipped_by_auto(w):
    w.bot.get_cog("ImageCommands").service().cooldowns.cool("minimax", 60)  # type: ignore[union-attr]
    _, result = await w.ask("고양이")
    assert field(result, "제공자") == "Stability · core"
    assert w.minimax.requests == []


async def test_no_key_reaches_a_reply_or_a_provider_body(w):
    _, result = await w.ask("고양이")
    shown = f"{result.content} {result.embeds} {result.messages}"
    assert MINIMAX_KEY not in shown and STABILITY_KEY not in shown
    for call in [*w.minimax.requests, *w.stability.requests]:
        assert MINIMAX_KEY not in str(call.body) and STABILITY_KEY not in str(call.body)


def placeholder_texts(w: World, since: int) -> list[str]:
    """Every progress text the deferred placeholders showed after request `since`, in order."""
    return [
        str(r.body["content"])
        for r in w.fake.requests[since:]
        if r.method == "PATCH"
        and r.path.endswith("/messages/@original")
        and isinstance(r.body, dict)
        and str(r.body.get("content") or "").startswith("⏳")
    ]


async def test_the_placeholder_shows_who_draws_and_who_failed_meanwhile(w):
    since = len(w.fake.requests)
    w.minimax.script(MiniMaxReply(http_status=500), MiniMaxReply(http_status=500))
    w.stability.script(StabilityReply(delay_s=0.8))
    _, result = await w.ask("고양이")
    assert field(result, "제공자") == "Stability · core"
    shown = placeholder_texts(w, since)
    assert shown[0] == "⏳ MiniMax로 이미지 1장을 그리는 중이에요… (0초 경과)"
    assert shown[-1].startswith("⏳ Stability로 이미지 1장을 그리는 중이에요…")
    assert shown[-1].endswith("\n↪️ MiniMax: 서비스 장애 → Stability로 다시 시도해요")
    # The result replaced the placeholder: no progress text is left on the message.
    assert result.content in (None, "")


async def test_provider_calls_and_their_failures_reach_the_metrics(w):
    metrics = w.bot.metrics

    def count(name: str, **labels: str) -> float:
        return metrics.sample(name, **labels) or 0.0

    errors = {"provider": "minimax", "kind": "ProviderOutOfCredit"}
    calls = {"provider": "stability", "operation": "image"}
    before = (
        count("mib_provider_errors_total", **errors),
        count("mib_provider_request_seconds_count", **calls),
    )
    await w.ask("고양이 [[1008]]")
    after = (
        count("mib_provider_errors_total", **errors),
        count("mib_provider_request_seconds_count", **calls),
    )
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_keys_echoed_in_provider_errors_reach_no_reply_log_or_status(w, capsys, caplog):
    """Providers that repeat the key in their error text: the user, the logs and /상태
    never see it."""
    w.minimax.script(MiniMaxReply.status(1004, f"login fail: key {MINIMAX_KEY} is invalid"))
    w.stability.script(
        StabilityReply(status=401, errors=(f"bad key {STABILITY_KEY} for this account",))
    )
    _, failed = await w.ask("고양이")
    w.minimax.script(MiniMaxReply(http_status=500, body=f"upstream said {MINIMAX_KEY}"))
    w.minimax.script(MiniMaxReply(http_status=500, body=f"upstream said {MINIMAX_KEY}"))
    _, served = await w.ask("강아지")
    status = await (await w.fake.send_command(channel=CHANNEL, command="상태")).wait_for_response(
        timeout=10
    )
    shown = " ".join(f"{r.content} {r.embeds} {r.messages}" for r in (failed, served, status))
    logged = capsys.readouterr().out + caplog.text
    assert failed.content.startswith("⚠️ 이미지를 만들지 못했어요.")
    assert "MiniMax(서비스 장애)를 쓸 수 없어서" in field(served, "참고")
    for key in (MINIMAX_KEY, STABILITY_KEY):
        assert key not in shown
        assert key not in logged
    assert "login fail: key *** is invalid" in logged, "the error was logged, scrubbed"
