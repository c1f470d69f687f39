"""README_MULTI.md's deployment section covers every step and command."""

from __future__ import annotations

import re

import pytest

from .support import REPO


@pytest.fixture(scope="module")
def doc() -> str:
    text = (REPO / "README_MULTI.md").read_text(encoding="utf-8")
    return text.split("## 도커로 배포하기", 1)[1].split("\n## ", 1)[0]


def test_is_korean_and_covers_the_operator_steps(doc: str) -> None:
    assert len(re.findall(r"[가-힣]", doc)) > 500
    for needle in (
        "cp .env.multi.example .env.multi",
        "copy .env.multi.example .env.multi",
        "docker compose version",
        "Docker Desktop",
        "docker-compose.multi.yml",
        "your-...-here",
        "HEALTH_TIMEOUT",
    ):
        assert needle in doc, needle


@pytest.mark.parametrize("sub", ["start", "stop", "restart", "status", "logs", "update"])
def test_every_subcommand_is_shown(doc: str, sub: str) -> None:
    assert f"./deploy-multi.sh {sub}" in doc
    assert f"`{sub}" in doc  # listed in the command table


def test_common_failures_are_covered(doc: str) -> None:
    failures = doc.split("자주 생기는 문제", 1)[1]
    for needle in (".env.multi", "your-...-here", "redis", "토큰", "같은 키"):
        assert needle in failures, needle
