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


def test_redis_password_is_explained(doc: str) -> None:
    note = doc.split("#### Redis 비밀번호 (`REDIS_PASSWORD`)", 1)[1].split("\n### ", 1)[0]
    for needle in (
        "자동 생성",
        "값은 화면에\n  출력하지 않습니다",
        "redis-server --requirepass",
        "REDISCLI_AUTH",
        "REDIS_URL=redis://:<비밀번호>@redis:6379/0",
        "`. _ ~ -`",
        # rotation, and why not with update
        "`./deploy-multi.sh stop` → `.env.multi` 에서 값을 바꾸거나 비움",
        "`./deploy-multi.sh start`",
        "`update` 로는 바꾸지 마세요",
        "한 번** `restart`",
        "호스트에 포트도 열지 않습니다",
    ):
        assert needle in note, needle


def test_every_compose_command_line_reads_the_env_file() -> None:
    """Without --env-file .env.multi, Compose refuses to interpolate REDIS_PASSWORD."""
    text = (REPO / "README_MULTI.md").read_text(encoding="utf-8")
    prefix = "docker compose -p discord-multi-bot -f docker-compose.multi.yml"
    uses = text.split(prefix)[1:]
    assert len(uses) == 6
    for rest in uses:
        assert rest.startswith(" --env-file .env.multi "), rest[:40]


def test_the_settings_table_links_to_the_redis_password_note() -> None:
    text = (REPO / "README_MULTI.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `REDIS_PASSWORD` |"))
    anchor = re.search(r"\(#([^)]+)\)", row).group(1)
    heading = "#### Redis 비밀번호 (`REDIS_PASSWORD`)"
    assert heading in text
    slug = re.sub(r"[^\w\- ]", "", heading.lstrip("# ").lower()).replace(" ", "-")
    assert anchor == slug == "redis-비밀번호-redis_password"
