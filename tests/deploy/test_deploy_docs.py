"""README_MULTI.md's deployment section covers every step and command."""

from __future__ import annotations

import json
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
    assert len(uses) == 7
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


# --- monitoring ----------------------------------------------------------------------------

MONITORING_HEADING = "## 모니터링 (Prometheus + Grafana)"


@pytest.fixture(scope="module")
def monitoring_doc() -> str:
    text = (REPO / "README_MULTI.md").read_text(encoding="utf-8")
    assert text.count(MONITORING_HEADING) == 1
    return text.split(MONITORING_HEADING, 1)[1].split("\n## ", 1)[0]


def test_monitoring_section_tells_how_to_start_open_and_log_in(monitoring_doc: str) -> None:
    assert len(re.findall(r"[가-힣]", monitoring_doc)) > 1500
    for needle in (
        "./deploy-multi.sh monitoring start",
        "deploy-multi.bat monitoring start",
        "./deploy-multi.sh monitoring stop",
        "./deploy-multi.sh monitoring status",
        "http://localhost:3000",
        "ssh -L 3000:localhost:3000 <사용자>@<서버 주소>",
        "사용자 `admin`, 비밀번호는 서버의 `.env.multi` 에 있는 `GRAFANA_ADMIN_PASSWORD`",
        "grep '^GRAFANA_ADMIN_PASSWORD=' .env.multi",
        "findstr /b GRAFANA_ADMIN_PASSWORD= .env.multi",
        # exposing it, and why not by default
        '`"127.0.0.1:3000:3000"` 을\n  `"3000:3000"` 으로 바꾸고',
        "방화벽",
        # the password: made like REDIS_PASSWORD, read once, how to change it
        "#### Grafana 비밀번호 (`GRAFANA_ADMIN_PASSWORD`)",
        "값은 화면에 출력하지 않습니다",
        "**처음 시작할 때만**",
        "docker volume rm discord-multi-bot_grafana-data",
        # what the rest of the script does with the monitoring
        "`./deploy-multi.sh stop` 은 모니터링까지 **모두** 중지합니다",
        "./deploy-multi.sh logs grafana",
        "`monitoring/prometheus.yml`",
    ):
        assert needle in monitoring_doc, needle


def test_the_volume_and_images_named_are_the_compose_files() -> None:
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.multi.yml").read_text(encoding="utf-8"))
    text = (REPO / "README_MULTI.md").read_text(encoding="utf-8")
    assert f"{compose['name']}_grafana-data" == "discord-multi-bot_grafana-data"
    assert "grafana-data" in compose["volumes"]
    for service in ("prometheus", "grafana"):
        assert f"`{compose['services'][service]['image']}`" in text, service


def test_every_dashboard_panel_is_explained(monitoring_doc: str) -> None:
    dashboard = json.loads(
        (REPO / "monitoring/grafana/dashboards/mib-fleet.json").read_text(encoding="utf-8")
    )
    table = monitoring_doc.split("### 대시보드 패널", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0] == "| 패널 | 보여 주는 것 | 나빠 보일 때 | 할 일 |"
    explained = [row.split(" | ", 1)[0].removeprefix("| ") for row in rows[1:]]
    assert explained == [panel["title"] for panel in dashboard["panels"]]
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert len(cells) == 4 and all(cells), row


def test_the_anchors_of_the_monitoring_section_exist(monitoring_doc: str) -> None:
    text = (REPO / "README_MULTI.md").read_text(encoding="utf-8")
    slugs = {
        re.sub(r"[^\w\- ]", "", line.lstrip("# ").lower()).replace(" ", "-")
        for line in text.splitlines()
        if line.startswith("#")
    }
    anchors = re.findall(r"\]\(#([^)]+)\)", monitoring_doc)
    assert anchors
    assert set(anchors) <= slugs, set(anchors) - slugs
