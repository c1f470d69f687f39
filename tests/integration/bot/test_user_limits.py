"""Per-user limits on real Redis (and in process): uses a minute with the right wait,
uses a day with the reset time, videos running at once; shared by two instances, skipped
for exempt roles, and still enforced (per instance) while Redis is unreachable."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.quotas import LocalQuotas, QuotasWithStandIn, RedisQuotas
from bot.store.rates import LocalRates, RatesWithStandIn, RedisRates
from bot.store.redis_link import RedisLink
from bot.user_limits import LimitReached, UserLimits, wait_text
from env_manager import LimitsSettings

# 2026-11-29 05:00 UTC: 14:00 in Seoul; the next day starts there at 15:00 UTC.
NOW = 1795928400.0
EXEMPT_ROLE = 777


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "local"])
async def make_limits(request, redis_url, key_prefix):
    links: list[RedisLink] = []
    local = (LocalRates(), LocalQuotas())

    def make(clock: Clock, url: str = redis_url, **settings: object) -> UserLimits:
        values = {"limit_exempt_roles": str(EXEMPT_ROLE)} | settings
        if request.param == "local" and url == redis_url:
            rates, quotas = local
        else:
            link = RedisLink(url, prefix=key_prefix, warmup_s=1, degrade_after_s=1)
            links.append(link)
            # As the fleet store builds them: local stand-ins while Redis is away.
            rates = RatesWithStandIn(RedisRates(link))
            quotas = QuotasWithStandIn(RedisQuotas(link))
        return UserLimits(rates, quotas, LimitsSettings(**values), running_ttl_s=1200, clock=clock)

    yield make
    for link in links:
        await link.close()


async def refusal(limits: UserLimits, command: str, user: int = 1, roles=()) -> str | None:
    try:
        await limits.take(command, user, roles)
    except LimitReached as exc:
        return exc.user_message
    return None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1초"), (45, "45초"), (59.1, "1분"), (60, "1분"), (65, "1분 5초"), (120, "2분")],
)
def test_waits_read_naturally(seconds, text):
    assert wait_text(seconds) == text


async def test_a_minute_window_refuses_the_fourth_image_with_the_right_wait(make_limits):
    clock = Clock()
    limits = make_limits(clock)  # images: 3 a minute by default
    for at in (0, 10, 20):
        clock.now = NOW + at
        assert await refusal(limits, "이미지") is None
    clock.now = NOW + 45
    assert await refusal(limits, "이미지") == (
        "/이미지 명령은 1분에 3번까지 쓸 수 있어요. 15초 뒤에 다시 시도해 주세요."
    )
    assert await refusal(limits, "이미지", user=2) is None, "another user has their own"
    clock.now = NOW + 60.5  # the first use left the window
    assert await refusal(limits, "이미지") is None


async def test_two_instances_share_one_users_window(make_limits):
    clock = Clock()
    two, four = make_limits(clock), make_limits(clock)
    results = await asyncio.gather(*(refusal(x, "채팅") for x in [two, four] * 5))
    assert sum(r is None for r in results) == 5  # chat: 5 a minute, fleet-wide


async def test_a_daily_cap_says_when_it_resets_and_a_refused_minute_is_not_a_use(make_limits):
    clock = Clock()
    limits = make_limits(clock, limit_video_per_day=2, limit_video_per_minute=1)
    assert await refusal(limits, "비디오") is None
    assert await refusal(limits, "비디오") == (
        "/비디오 명령은 1분에 1번까지 쓸 수 있어요. 1분 뒤에 다시 시도해 주세요."
    )
    clock.now = NOW + 61
    assert await refusal(limits, "비디오") is None  # the refused try did not count
    clock.now = NOW + 122
    assert await refusal(limits, "비디오") == (
        "/비디오 명령은 하루에 2번까지 쓸 수 있어요. 11월 30일 0시 (KST)에 다시 쓸 수 있어요."
    )
    clock.now = NOW + 10 * 3600  # 00:00 in Seoul: a new day
    assert await refusal(limits, "비디오") is None


async def test_exempt_roles_skip_every_user_limit(make_limits):
    clock = Clock()
    limits = make_limits(clock, limit_image_per_minute=1)
    assert [await refusal(limits, "이미지", roles={EXEMPT_ROLE}) for _ in range(4)] == [None] * 4
    assert await refusal(limits, "이미지", roles={5}) is None
    assert await refusal(limits, "이미지", roles={5}) is not None


async def test_one_video_running_at_a_time_until_it_ends_or_expires(make_limits):
    clock = Clock()
    limits = make_limits(clock)  # video: 1 running by default
    await limits.hold("비디오", 1, "job-a")
    await limits.hold("비디오", 1, "job-a")  # the same job again: still its own place
    with pytest.raises(LimitReached) as held:
        await limits.hold("비디오", 1, "job-b")
    assert held.value.user_message == (
        "이미 만들고 있는 영상이 있어요 (한 사람당 동시에 1개까지). 끝난 뒤에 다시 시도해 주세요."
    )
    await limits.hold("비디오", 2, "job-c")  # another user
    await limits.let_go("비디오", 1, "job-a")
    await limits.hold("비디오", 1, "job-b")
    clock.now = NOW + 1201  # job-b never reported its end: its place expired
    await limits.hold("비디오", 1, "job-d")


async def test_without_redis_each_instance_still_limits(make_limits):
    clock = Clock()
    limits = make_limits(clock, url="redis://127.0.0.1:9/0", limit_chat_per_minute=2)
    assert [await refusal(limits, "채팅") is None for _ in range(3)] == [True, True, False]
