"""What one /이미지 request asks for, and how its buttons carry it (pure, no Discord calls).

A button's custom id holds at most 100 characters, a prompt up to 1500: so the id carries
the small options (requester, provider choice, the provider that served, ratio, count,
seed, model) and the prompt travels in the result message's embed, which Discord sends
along with every press. Neither needs the shared store, so the buttons work after any
restart, on any instance, with or without Redis.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from services.errors import InvalidInputError
from services.image_service import MODELS, label
from services.image_types import MAX_SEED, ImageRequest, parse_ratio

AUTO = "auto"
PROVIDER_CHOICES: dict[str, str] = {"자동": AUTO, "MiniMax": "minimax", "Stability": "stability"}
# Offered by the ratio option; any other "W:H" is accepted and mapped to the nearest.
RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21", "4:5", "5:4")
MODEL_PROVIDER: dict[str, str] = {m: p for p, models in MODELS.items() for m in models}
MAX_PROMPT = 1500  # MiniMax's limit, and the embed keeps it whole for the buttons
MAX_NEGATIVE = 1000  # an embed field holds 1024 characters

REGENERATE = "r"  # 다시 생성: same options, a new seed
VARY = "v"  # 변형: same prompt and seed, the other provider
_CHOICE_CODES = {AUTO: "a", "minimax": "m", "stability": "s"}
_CODE_CHOICES = {code: choice for choice, code in _CHOICE_CODES.items()}
BUTTON_ID = re.compile(
    r"mib:img:(?P<action>[rv]):(?P<user>\d{1,20}):(?P<choice>[ams]):(?P<served>[ms]):"
    r"(?P<w>\d{1,3})x(?P<h>\d{1,3}):(?P<count>[1-4]):(?P<seed>\d{1,10}):(?P<model>[a-z0-9.\-]{1,24})"
)


@dataclass(frozen=True)
class ImageSpec:
    """The options of one request, as the user gave them (ratio before any mapping)."""

    prompt: str
    choice: str  # AUTO or a provider
    ratio: str
    count: int
    seed: int
    requester: int
    model: str | None = None
    negative: str | None = None

    def request(self) -> ImageRequest:
        return ImageRequest(
            prompt=self.prompt,
            aspect_ratio=self.ratio,
            count=self.count,
            negative_prompt=self.negative,
            seed=self.seed,
            model=self.model,
        )

    def providers(self, automatic: tuple[str, ...]) -> tuple[str, ...]:
        """Who is asked, in order: a chosen model or provider pins one; `자동` fails over."""
        if self.model is not None:
            return (MODEL_PROVIDER[self.model],)
        if self.choice != AUTO:
            return (self.choice,)
        return automatic


def new_seed(rng: random.Random | None = None) -> int:
    """A seed for a request that named none: shown in the result so it can be redrawn.
    Never 0, which Stability reads as "pick one yourself"."""
    return (rng or random).randint(1, MAX_SEED)


def build_spec(
    *,
    prompt: str,
    provider: str,
    ratio: str | None,
    count: int,
    seed: int | None,
    model: str | None,
    negative: str | None,
    requester: int,
    rng: random.Random | None = None,
) -> ImageSpec:
    """Check the options together (Korean messages) and fill in a seed."""
    choice = PROVIDER_CHOICES.get(provider, provider)
    if choice not in _CHOICE_CODES:
        raise InvalidInputError(
            f"unknown provider {provider!r}",
            user_message="제공자는 자동, MiniMax, Stability 중에서 골라 주세요.",
        )
    if model is not None:
        owner = MODEL_PROVIDER.get(model)
        if owner is None:
            raise InvalidInputError(
                f"unknown image model {model!r}",
                user_message="모델은 목록에 있는 것 중에서 골라 주세요.",
            )
        if choice not in (AUTO, owner):
            raise InvalidInputError(
                f"model {model} belongs to {owner}, not {choice}",
                user_message=(
                    f"{model} 모델은 {label(owner)} 모델이에요. 제공자를 {label(owner)}(이)나 "
                    "자동으로 골라 주세요."
                ),
            )
    width, height = parse_ratio(ratio or "1:1")
    if not 1 <= count <= 4:
        raise InvalidInputError(
            f"count {count}", user_message="이미지는 한 번에 1~4장까지 만들 수 있어요."
        )
    return ImageSpec(
        prompt=prompt,
        choice=choice,
        ratio=f"{width}:{height}",
        count=count,
        seed=new_seed(rng) if seed is None else seed,
        requester=requester,
        model=model,
        negative=negative or None,
    )


def button_id(action: str, spec: ImageSpec, served: str) -> str:
    width, height = parse_ratio(spec.ratio)
    return (
        f"mib:img:{action}:{spec.requester}:{_CHOICE_CODES[spec.choice]}:{served[0]}:"
        f"{width}x{height}:{spec.count}:{spec.seed}:{spec.model or '-'}"
    )


@dataclass(frozen=True)
class ButtonPress:
    """A decoded button: what to do, the original request, and who served it."""

    action: str
    spec: ImageSpec
    served: str


def parse_button(match: re.Match[str], prompt: str, negative: str | None) -> ButtonPress:
    """The press a custom id (matched by `BUTTON_ID`) and the message's texts describe."""
    model = match["model"]
    served = "minimax" if match["served"] == "m" else "stability"
    spec = ImageSpec(
        prompt=prompt,
        choice=_CODE_CHOICES[match["choice"]],
        ratio=f"{match['w']}:{match['h']}",
        count=int(match["count"]),
        seed=int(match["seed"]),
        requester=int(match["user"]),
        model=None if model == "-" or model not in MODEL_PROVIDER else model,
        negative=negative,
    )
    return ButtonPress(match["action"], spec, served)


def regenerated(spec: ImageSpec, rng: random.Random | None = None) -> ImageSpec:
    """다시 생성: the same options with a new seed."""
    return replace(spec, seed=new_seed(rng))


def varied(spec: ImageSpec, served: str, available: tuple[str, ...]) -> ImageSpec:
    """변형: the same prompt and seed from the provider that did not serve (its default
    model); a Korean error when this instance cannot use that provider."""
    other = "stability" if served == "minimax" else "minimax"
    if other not in available:
        raise InvalidInputError(
            f"variation needs {other}, which this instance has no key for",
            user_message=(
                f"{label(other)}를 쓸 수 없어서 변형을 만들 수 없어요. 관리자에게 알려 주세요."
            ),
        )
    return replace(spec, choice=other, model=None)
