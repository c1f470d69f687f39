"""Failover between image providers and the cooldowns that follow a failure."""

from __future__ import annotations

import pytest

from services.errors import (
    ContentRefused,
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_service import AllProvidersFailed, Cooldowns, ImageService
from services.image_types import GeneratedImage, ImageRequest, ImageResult


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Client:
    """Answers with the next scripted outcome: an exception to raise, or an image."""

    def __init__(self, name: str, *outcomes: Exception | None) -> None:
        self.name = name
        self.model = f"{name}-default"
        self.outcomes = list(outcomes)
        self.asked: list[ImageRequest] = []

    async def generate(self, request: ImageRequest) -> ImageResult:
        self.asked.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        image = GeneratedImage(b"\x89PNG\r\n\x1a\n", "image/png")
        return ImageResult((image,), self.name, request.model or self.model, 1, "1:1")

    async def aclose(self) -> None:
        pass


def service(minimax: Client, stability: Client, clock: Clock) -> ImageService:
    return ImageService(
        {"minimax": minimax, "stability": stability},
        order=("minimax", "stability"),
        rate_limit_cooldown_s=60,
        account_cooldown_s=600,
        cooldowns=Cooldowns(clock),
    )


def failure(kind: type[ProviderError], **extra: object) -> ProviderError:
    return kind("failed", provider="minimax", **extra)  # type: ignore[arg-type]


REQUEST = ImageRequest("고양이", seed=3)


@pytest.mark.parametrize(
    ("error", "cooldown"),
    [
        (failure(ProviderRateLimited), 60),
        (failure(ProviderRateLimited, retry_after_s=90.0), 90),  # the provider's own lockout
        (failure(ProviderUnavailable), 60),
        (failure(ProviderTimeout), 60),
        (failure(ProviderOutOfCredit), 600),
        (failure(ProviderQuotaExhausted), 600),
        (failure(ProviderAuthFailed), 600),
        (failure(InvalidProviderRequest), 0),  # about this request, not the provider
        (failure(ProviderError), 0),
    ],
)
async def test_a_provider_failure_fails_over_and_cools_that_provider(error, cooldown):
    clock = Clock()
    minimax, stability = Client("minimax", error), Client("stability")
    images = service(minimax, stability, clock)
    served = await images.generate(REQUEST, images.automatic())
    assert served.result.provider == "stability"
    assert served.failed == (("minimax", error),)
    assert images.cooldowns.remaining("minimax") == cooldown
    assert images.usable() == (("stability",) if cooldown else ("minimax", "stability"))


@pytest.mark.parametrize(
    "error",
    [
        ContentRefused("no", provider="minimax"),
        InvalidInputError("bad ratio", user_message="비율"),
    ],
)
async def test_refusals_and_bad_input_never_fail_over(error):
    minimax, stability = Client("minimax", error), Client("stability")
    images = service(minimax, stability, Clock())
    with pytest.raises(type(error)):
        await images.generate(REQUEST, images.automatic())
    assert stability.asked == []
    assert images.cooldowns.remaining("minimax") == 0


async def test_a_cooling_provider_is_skipped_until_its_time_is_up():
    clock = Clock()
    minimax = Client("minimax", failure(ProviderUnavailable))
    stability = Client("stability")
    images = service(minimax, stability, clock)
    await images.generate(REQUEST, images.automatic())
    assert images.automatic() == ("stability",)
    clock.now += 59.9
    assert images.automatic() == ("stability",)
    assert images.soonest_usable_s() == pytest.approx(0.1)
    clock.now += 0.1
    assert images.automatic() == ("minimax", "stability")


async def test_with_everyone_cooling_auto_still_asks_everyone():
    clock = Clock()
    images = service(Client("minimax"), Client("stability"), clock)
    images.cooldowns.cool("minimax", 30)
    images.cooldowns.cool("stability", 10)
    assert images.usable() == ()
    assert images.automatic() == ("minimax", "stability")
    assert images.soonest_usable_s() == 10


async def test_a_success_clears_the_providers_cooldown():
    clock = Clock()
    images = service(Client("minimax"), Client("stability"), clock)
    images.cooldowns.cool("minimax", 30)
    await images.generate(REQUEST, ("minimax",))
    assert images.cooldowns.remaining("minimax") == 0


async def test_when_every_provider_fails_each_reason_is_listed():
    minimax = Client("minimax", ProviderOutOfCredit("x", provider="minimax", user_message="잔액"))
    stability = Client("stability", ProviderTimeout("y", provider="stability"))
    images = service(minimax, stability, Clock())
    with pytest.raises(AllProvidersFailed) as caught:
        await images.generate(REQUEST, images.automatic())
    assert caught.value.user_message == (
        "이미지를 만들지 못했어요.\n"
        "• MiniMax: 잔액\n"
        "• Stability: AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."
    )


async def test_one_provider_asked_raises_its_own_error():
    error = ProviderTimeout("slow", provider="stability")
    images = service(Client("minimax"), Client("stability", error), Clock())
    with pytest.raises(ProviderTimeout):
        await images.generate(REQUEST, ("stability",))


async def test_a_model_goes_only_to_its_own_provider():
    minimax = Client("minimax", failure(ProviderUnavailable))
    stability = Client("stability")
    images = service(minimax, stability, Clock())
    served = await images.generate(ImageRequest("x", model="image-01-live"), images.automatic())
    assert minimax.asked[0].model == "image-01-live"
    assert stability.asked[0].model is None
    assert served.result.model == "stability-default"


async def test_the_automatic_order_leaves_out_providers_without_a_key():
    images = ImageService(
        {"stability": Client("stability")},
        order=("minimax", "stability"),
        rate_limit_cooldown_s=60,
        account_cooldown_s=600,
    )
    assert images.order == ("stability",)
    assert images.automatic() == ("stability",)


async def test_a_zero_rate_limit_cooldown_ignores_the_providers_lockout_too():
    images = ImageService(
        {
            "minimax": Client("minimax", failure(ProviderRateLimited, retry_after_s=60.0)),
            "stability": Client("stability"),
        },
        order=("minimax", "stability"),
        rate_limit_cooldown_s=0,
        account_cooldown_s=0,
    )
    await images.generate(REQUEST, images.automatic())
    assert images.usable() == ("minimax", "stability")
