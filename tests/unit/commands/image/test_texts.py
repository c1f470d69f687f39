"""What the user reads while and after images are drawn (literal Korean)."""

from __future__ import annotations

import pytest

from commands.image._cog import ratio_choices
from commands.image._texts import failover_note, progress_text, reencoded_note
from services.errors import ProviderOutOfCredit, ProviderRateLimited, ProviderTimeout


def test_progress_names_the_provider_and_the_seconds():
    assert progress_text("minimax", (), 12.4, 2) == (
        "⏳ MiniMax로 이미지 2장을 그리는 중이에요… (12초 경과)"
    )


def test_progress_after_a_failover_says_who_failed_and_why():
    failures = [("minimax", ProviderTimeout("t", provider="minimax"))]
    assert progress_text("stability", failures, 3.0, 1) == (
        "⏳ Stability로 이미지 1장을 그리는 중이에요… (3초 경과)\n"
        "↪️ MiniMax: 응답 시간 초과 → Stability로 다시 시도해요"
    )


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        ([], None),
        (
            [("minimax", ProviderRateLimited("r", provider="minimax"))],
            "MiniMax(요청 한도 초과)를 쓸 수 없어서 Stability가 대신 만들었어요.",
        ),
        (
            [("stability", ProviderOutOfCredit("c", provider="stability"))],
            "Stability(잔액 부족)를 쓸 수 없어서 Stability가 대신 만들었어요.",
        ),
    ],
)
def test_failover_note(failures, expected):
    assert failover_note(failures, "stability") == expected


def test_reencoded_note():
    assert reencoded_note(0) is None
    assert reencoded_note(3) == "디스코드 파일 크기 제한 때문에 3장을 JPEG로 줄여서 올렸어요."


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", ["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21", "4:5", "5:4"]),
        ("16", ["16:9", "9:16"]),
        ("9:", ["9:16", "9:21"]),
        ("5:3", ["5:3 (가까운 비율로 맞춰요)"]),
        ("4 : 3", ["4:3"]),
        ("abc", []),
    ],
)
def test_ratio_autocomplete(typed, expected):
    assert [c.name for c in ratio_choices(typed)] == expected
