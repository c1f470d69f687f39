"""What /핑, /상태 and /인스턴스 show, checked against Discord's embed limits."""

from __future__ import annotations

import pytest

from bot.router import InstanceSpec, route
from bot.status import CounterSnapshot, InstanceStatus
from commands._formatting import format_duration, format_latency
from commands._validation import clean_text
from commands.utility._cog import channel_choices
from commands.utility._embeds import fleet_status_embed, instances_embed, ping_embed
from services.errors import InvalidInputError

TABLE = {
    1: InstanceSpec(1, "chat", ("채팅방-*", "*chat*"), frozenset({"chat"})),
    2: InstanceSpec(2, "image", ("이미지생성-*", "*image*"), frozenset({"image"})),
    3: InstanceSpec(3, "video", ("비디오생성-*", "*video*"), frozenset({"video"})),
    4: InstanceSpec(4, "admin", (), frozenset({"chat", "image", "video"})),
}


def decide(channel, command):
    return route(channel, command, {1, 2, 3, 4}, TABLE)


def status(**overrides) -> InstanceStatus:
    base = dict(
        instance_id="1",
        role="chat",
        ready=True,
        latency_ms=41.6,
        uptime_s=3725,
        version="0.1.0",
        pid=1,
        counters=CounterSnapshot(handled=7, failed=1, in_flight=2),
    )
    return InstanceStatus(**(base | overrides))


def assert_within_discord_limits(embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("fields", [])) <= 25
    for field in data.get("fields", []):
        assert 0 < len(field["name"]) <= 256 and 0 < len(field["value"]) <= 1024
    assert len(embed) <= 6000


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0초"),
        (59, "59초"),
        (61, "1분 1초"),
        (3725, "1시간 2분"),
        (90061, "1일 1시간"),
        (86400, "1일"),
    ],
)
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text


def test_ping_names_instance_role_latency_and_uptime():
    embed = ping_embed(status())
    assert "#1" in embed.description and "채팅" in embed.description
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {
        "게이트웨이 지연": "42 ms",
        "가동 시간": "1시간 2분",
        "진행 중": "2건",
        "공유 상태": "단일 프로세스",
        "최근 1시간": "처리 0 · 실패 0",
    }


@pytest.mark.parametrize(
    ("handled_1h", "failed_1h", "line"),
    [
        (0, 0, "처리 0 · 실패 0"),
        (9, 1, "처리 9 · 실패 1 (오류율 10%)"),
        (0, 3, "처리 0 · 실패 3 (오류율 100%)"),
        (199, 1, "처리 199 · 실패 1 (오류율 0%)"),
    ],
)
def test_the_hour_shows_an_error_rate_once_there_is_work(handled_1h, failed_1h, line):
    counters = CounterSnapshot(handled_1h=handled_1h, failed_1h=failed_1h)
    embed = ping_embed(status(counters=counters, coordination="redis"))
    fields = {f.name: f.value for f in embed.fields}
    assert fields["최근 1시간"] == line
    assert fields["공유 상태"] == "🟢 Redis"
    assert_within_discord_limits(embed)


def test_ping_before_first_heartbeat_says_measuring():
    assert format_latency(None) == "측정 중"
    assert ping_embed(status(latency_ms=None)).fields[0].value == "측정 중"


def test_single_mode_ping_says_single_process():
    assert "단일 프로세스" in ping_embed(status(instance_id="all", role="all")).description


def fields_of(embed) -> dict[str, str]:
    return {f.name: f.value for f in embed.fields}


def test_fleet_status_lists_every_instance_online_or_offline():
    me = status(instance_id="4", role="admin", counters=CounterSnapshot(handled_1h=1, in_flight=2))
    peer = status(instance_id="1", latency_ms=12.0, uptime_s=59)
    embed = fleet_status_embed(me, {1: peer, 4: me}, "redis")
    fields = fields_of(embed)
    assert embed.title == "📊 봇 상태 — 2/4 온라인"
    assert list(fields) == ["🟢 #1 채팅", "#2 이미지", "#3 비디오", "🟢 #4 관리·예비"]
    assert fields["#2 이미지"] == "🔴 오프라인"
    assert "지연 12 ms · 가동 59초" in fields["🟢 #1 채팅"]
    assert "1시간 처리 1 · 실패 0" in fields["🟢 #4 관리·예비"]
    assert "진행 중 2" in fields["🟢 #4 관리·예비"]
    assert "Redis 연결됨" in embed.description
    assert embed.footer.text.startswith("응답: 인스턴스 #4")
    assert_within_discord_limits(embed)


def test_fleet_status_marks_a_silent_heartbeat():
    me = status(instance_id="4", role="admin")
    silent = status(instance_id="1", updated_at=1000.0)
    embed = fleet_status_embed(me, {1: silent}, "redis", stale_after_s=4, now=1005.0)
    fields = fields_of(embed)
    assert fields["🟠 #1 채팅"] == "응답 없음 (5초째)"
    assert embed.title.endswith("1/4 온라인")


def test_fleet_status_without_redis_says_so_and_shows_itself():
    embed = fleet_status_embed(status(instance_id="2", role="image"), None, "degraded")
    fields = fields_of(embed)
    assert "Redis 연결 끊김" in embed.description and "정적 라우팅" in embed.description
    assert fields["#1 채팅"] == "⚪ 알 수 없음"
    assert any(name.startswith("🟢 #2") for name in fields)


def test_single_process_status_shows_one_process():
    embed = fleet_status_embed(status(instance_id="all", role="all"), {}, "local")
    assert embed.title == "📊 봇 상태 — 1/1 온라인"
    assert "단일 프로세스" in embed.description


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("채팅방-1", {"채팅": 1, "이미지": 4, "비디오": 4, "핑": 1}),
        ("이미지생성-1", {"채팅": 4, "이미지": 2, "비디오": 4, "핑": 2}),
        ("general", {"채팅": 4, "이미지": 4, "비디오": 4, "핑": 4}),
        (None, {"채팅": 4, "핑": 4}),
    ],
)
def test_instances_embed_tells_who_answers_here(channel, expected):
    embed = instances_embed(TABLE, channel, decide, "4")
    summary = embed.fields[-1].value.splitlines()
    for command, owner in expected.items():
        assert any(line.startswith(f"/{command}: **#{owner}**") for line in summary), summary
    assert [f.name for f in embed.fields[:4]] == [
        "#1 채팅",
        "#2 이미지",
        "#3 비디오",
        "#4 관리·예비",
    ]
    assert "`채팅방-*`" in embed.fields[0].value
    assert embed.footer.text == "응답: 인스턴스 #4"
    assert_within_discord_limits(embed)


@pytest.mark.parametrize(
    ("value", "message"),
    [("   ", "비어 있어요"), ("x" * 101, "100자 이하로 줄여 주세요 (지금 101자)")],
)
def test_text_options_reject_blank_and_too_long_in_korean(value, message):
    with pytest.raises(InvalidInputError) as caught:
        clean_text(value, label="채널", max_length=100)
    assert message in caught.value.user_message
    assert "채널" in caught.value.user_message
    assert caught.value.log_message.startswith("option '채널'")


def test_text_options_are_trimmed():
    assert clean_text("  채팅방-1 ", label="채널", max_length=100) == "채팅방-1"


CHANNEL_NAMES = ["채팅방-1", "이미지생성-1", "비디오생성-1", "general", "Chat-Lounge"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", ["채팅방-1", "이미지생성-1", "비디오생성-1", "general", "Chat-Lounge"]),
        ("채팅", ["채팅방-1"]),
        ("#이미지", ["이미지생성-1"]),
        ("CHAT", ["Chat-Lounge"]),
        ("없는채널", []),
    ],
)
def test_channel_autocomplete_matches_what_was_typed(typed, expected):
    assert [c.value for c in channel_choices(CHANNEL_NAMES, typed)] == expected


def test_channel_autocomplete_offers_at_most_25():
    names = [f"방-{n}" for n in range(40)]
    choices = channel_choices(names, "방")
    assert len(choices) == 25
    assert choices[0].name == "방-0" and choices[-1].name == "방-24"


def test_fleet_status_shows_a_draining_instance_and_a_stopped_ones_reason():
    me = status(instance_id="4", role="admin")
    draining = status(instance_id="1", ready=False, draining=True, latency_ms=12.0, uptime_s=59)
    problem = "Discord closed the session with 4014 (disallowed intents)"
    stopped = status(instance_id="2", ready=False, problem=problem, latency_ms=12.0, uptime_s=59)
    snapshots = {1: draining, 2: stopped, 4: me}
    fields = fields_of(fleet_status_embed(me, snapshots, "redis", detailed=True))
    assert fields["🟡 #1 채팅"] == (
        "⏳ 종료 중 (draining) — 새 요청은 다른 인스턴스가 받아요\n"
        "지연 12 ms · 가동 59초\n1시간 처리 0 · 실패 0\n진행 중 2"
    )
    assert fields["⛔ #2 이미지"].splitlines()[0] == f"⛔ 문제: {problem}"
    # Everyone else learns that something is wrong, not what.
    summary = fields_of(fleet_status_embed(me, snapshots, "redis"))
    assert summary["⛔ #2 이미지"].splitlines()[0] == (
        "⛔ 문제가 있어요 (자세한 내용은 관리자에게 보여요)"
    )
    assert problem not in str(summary)


QUOTAS = {"minimax": [1060, 1060], "openai": [60, 1060], "stability": [3, 0]}


@pytest.mark.parametrize(
    ("detailed", "last_line"),
    [
        (True, "남은 할당량 MiniMax 0/1,060 · OpenAI 1,000/1,060 · Stability AI 제한 없음"),
        (False, "할당량 소진: MiniMax"),
    ],
)
def test_fleet_status_shows_quota_left_to_admins_and_only_what_ran_out_to_others(
    detailed, last_line
):
    me = status(instance_id="4", role="admin", quotas=QUOTAS)
    fields = fields_of(fleet_status_embed(me, {4: me}, "redis", detailed=detailed))
    assert fields["🟢 #4 관리·예비"].splitlines()[-1] == last_line


def test_fleet_status_summary_with_quota_left_says_so():
    me = status(instance_id="4", role="admin", quotas={"openai": [5, 10]})
    fields = fields_of(fleet_status_embed(me, {4: me}, "redis"))
    assert fields["🟢 #4 관리·예비"].splitlines()[-1] == "할당량 여유 있음"


def test_fleet_status_while_warming_up_says_failover_still_works():
    embed = fleet_status_embed(status(instance_id="4", role="admin"), {}, "warming")
    assert embed.description.startswith(
        "🟡 Redis 재연결 직후 — 모두 살아 있다고 보고 순서대로 대체"
    )
