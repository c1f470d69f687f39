"""What a /이미지 request asks for and how its buttons carry it: literal ids, both ways."""

from __future__ import annotations

import random

import pytest

from commands.image._spec import (
    BUTTON_ID,
    REGENERATE,
    VARY,
    ImageSpec,
    build_spec,
    button_id,
    new_seed,
    parse_button,
    regenerated,
    varied,
)
from services.errors import InvalidInputError

SPEC = ImageSpec(
    prompt="바다 위의 등대",
    choice="auto",
    ratio="16:9",
    count=3,
    seed=4242,
    requester=123456789012345678,
    model=None,
    negative="사람",
)


@pytest.mark.parametrize(
    ("action", "spec", "served", "expected"),
    [
        (REGENERATE, SPEC, "minimax", "mib:img:r:123456789012345678:a:m:16x9:3:4242:-"),
        (
            VARY,
            ImageSpec("x", "stability", "9:21", 1, 4294967294, 1, model="sd3.5-large-turbo"),
            "stability",
            "mib:img:v:1:s:s:9x21:1:4294967294:sd3.5-large-turbo",
        ),
        (
            VARY,
            ImageSpec("x", "minimax", "5:3", 4, 7, 99, "image-01-live"),
            "minimax",
            "mib:img:v:99:m:m:5x3:4:7:image-01-live",
        ),
    ],
)
def test_button_ids_hold_every_option_but_the_prompt(action, spec, served, expected):
    custom_id = button_id(action, spec, served)
    assert custom_id == expected
    assert len(custom_id) <= 100  # Discord's custom id limit
    press = parse_button(BUTTON_ID.fullmatch(custom_id), spec.prompt, spec.negative)
    assert (press.action, press.spec, press.served) == (action, spec, served)


def test_the_longest_possible_id_fits_discords_limit():
    spec = ImageSpec("x", "stability", "999:999", 4, 4294967294, 2**64 - 1, "sd3.5-large-turbo")
    assert len(button_id(VARY, spec, "stability")) == 73


@pytest.mark.parametrize(
    "custom_id",
    [
        "mib:img:x:1:a:m:1x1:1:1:-",  # unknown action
        "mib:img:r:1:a:m:1x1:5:1:-",  # five images
        "mib:img:r:1:q:m:1x1:1:1:-",  # unknown provider choice
        "mib:status:refresh",
    ],
)
def test_other_ids_are_not_image_buttons(custom_id):
    assert BUTTON_ID.fullmatch(custom_id) is None


def test_regenerate_keeps_everything_but_the_seed():
    again = regenerated(SPEC, random.Random(1))
    assert again.seed != SPEC.seed
    assert again == ImageSpec(**{**SPEC.__dict__, "seed": again.seed})


@pytest.mark.parametrize(("served", "other"), [("minimax", "stability"), ("stability", "minimax")])
def test_vary_pins_the_other_provider_with_the_same_seed(served, other):
    spec = ImageSpec("고양이", "auto", "1:1", 1, 5, 1, model="image-01")
    result = varied(spec, served, ("minimax", "stability"))
    assert (result.choice, result.model, result.seed, result.prompt) == (other, None, 5, "고양이")
    assert result.providers(("minimax", "stability")) == (other,)


def test_vary_without_the_other_providers_key_says_so():
    with pytest.raises(InvalidInputError) as caught:
        varied(SPEC, "minimax", ("minimax",))
    assert caught.value.user_message == (
        "Stability를 쓸 수 없어서 변형을 만들 수 없어요. 관리자에게 알려 주세요."
    )


@pytest.mark.parametrize(
    ("choice", "model", "expected"),
    [
        ("auto", None, ("minimax", "stability")),
        ("stability", None, ("stability",)),
        ("minimax", None, ("minimax",)),
        ("auto", "ultra", ("stability",)),  # a model pins its provider: no failover
        ("auto", "image-01-live", ("minimax",)),
    ],
)
def test_who_is_asked(choice, model, expected):
    spec = ImageSpec("x", choice, "1:1", 1, 1, 1, model=model)
    assert spec.providers(("minimax", "stability")) == expected


def test_build_spec_fills_a_seed_and_normalises_the_ratio():
    spec = build_spec(
        prompt="고양이",
        provider="자동",
        ratio=" 16 : 9 ",
        count=2,
        seed=None,
        model=None,
        negative="",
        requester=7,
        rng=random.Random(3),
    )
    assert spec.ratio == "16:9"
    assert spec.choice == "auto"
    assert spec.negative is None
    assert 1 <= spec.seed <= 4_294_967_294
    assert spec.seed == new_seed(random.Random(3))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"provider": "DALL-E"}, "제공자는 자동, MiniMax, Stability 중에서 골라 주세요."),
        ({"model": "gpt-image-1"}, "모델은 목록에 있는 것 중에서 골라 주세요."),
        (
            {"provider": "Stability", "model": "image-01"},
            "image-01 모델은 MiniMax 모델이에요. 제공자를 MiniMax(이)나 자동으로 골라 주세요.",
        ),
        ({"ratio": "16/9"}, "화면 비율은 16:9처럼 '가로:세로' 숫자로 적어 주세요."),
        ({"ratio": "0:9"}, "화면 비율은 16:9처럼 '가로:세로' 숫자로 적어 주세요."),
        ({"count": 5}, "이미지는 한 번에 1~4장까지 만들 수 있어요."),
    ],
)
def test_bad_combinations_are_explained_in_korean(options, message):
    values = {
        "prompt": "고양이",
        "provider": "자동",
        "ratio": None,
        "count": 1,
        "seed": None,
        "model": None,
        "negative": None,
        "requester": 1,
    } | options
    with pytest.raises(InvalidInputError) as caught:
        build_spec(**values)
    assert caught.value.user_message == message
