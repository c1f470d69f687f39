"""`deploy-multi.sh monitoring start|stop|status`, and what the monitoring profile changes in the
other commands, driven against the stub `docker` (see support.py)."""

from __future__ import annotations

import re

import pytest

from .support import FAKE_KEYS, FAKE_REDIS_PASSWORD, Call, DeployRepo, Result

FAKE_GRAFANA_PASSWORD = "fakeGrafanaPassword-S3CR3T-0123456789"
STAND_IN = "stand-in-for-a-command-that-creates-no-container"
GRAFANA_COMMENT = (
    "# Grafana admin 비밀번호: 배포 스크립트가 만들었습니다. README_MULTI.md 의 모니터링 참고"
)
HEX64 = re.compile(r"[0-9a-f]{64}")
PROMTOOL = [
    *("exec", "-T", "prometheus", "promtool", "query", "instant"),
    *("http://localhost:9090", 'up{job="mib-bots"}'),
]


def compose_calls(result: Result) -> list[Call]:
    return [c for c in result.calls if c.argv[:1] == ["compose"] and c.argv[1:2] != ["version"]]


def env_value(deploy: DeployRepo, key: str) -> str:
    values = re.findall(
        rf"^[ \t]*(?:export )?{key}=(.*?)\r?$", deploy.env_file.read_text(), re.MULTILINE
    )
    assert values, f"no {key} line"
    return values[-1]


def assert_bots_untouched(result: Result) -> None:
    for call in compose_calls(result):
        assert not {"build", "run", "down"} & set(call.compose_args[:1]), str(call)
        assert not any(a.startswith("bot-") or a == "redis" for a in call.compose_args), str(call)


# --- start ---------------------------------------------------------------------------------


def test_start_generates_the_grafana_password_starts_both_and_waits_for_grafana(
    deploy: DeployRepo,
) -> None:
    before = deploy.env_file.read_text()
    assert "GRAFANA_ADMIN_PASSWORD=" not in before.replace("# GRAFANA_ADMIN_PASSWORD=", "")
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()

    password = env_value(deploy, "GRAFANA_ADMIN_PASSWORD")
    assert HEX64.fullmatch(password), "64 hex digits: 32 random bytes"
    assert deploy.env_file.read_text() == (
        before + f"{GRAFANA_COMMENT}\nGRAFANA_ADMIN_PASSWORD={password}\n"
    )
    assert "GRAFANA_ADMIN_PASSWORD 가 없어서 새로 만들어 적었습니다" in result.stdout
    assert password not in result.output

    calls = compose_calls(result)
    assert [c.compose_args for c in calls] == [
        ["up", "-d", "prometheus", "grafana"],
        ["ps", "-q", "grafana"],
        ["ps", "--all", "prometheus", "grafana"],
        PROMTOOL,
    ]
    for call in calls:
        assert call.profiles == ["monitoring"], str(call)
        assert call.grafana_password == password
        assert call.redis_password == FAKE_REDIS_PASSWORD
    inspect = ["inspect", "--format", "{{.State.Health.Status}}", "cid-grafana"]
    assert result.calls[-3].argv == inspect
    # where to go, how to log in, and how to get there from another machine
    assert "http://localhost:3000" in result.stdout
    assert "admin / 비밀번호는 .env.multi 의 GRAFANA_ADMIN_PASSWORD" in result.stdout
    assert "ssh -L 3000:localhost:3000 <사용자>@<서버>" in result.stdout
    assert 'up{instance="1", job="mib-bots"} => 1' in result.stdout
    assert_bots_untouched(result)


def test_start_keeps_an_existing_grafana_password(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "GRAFANA_ADMIN_PASSWORD": FAKE_GRAFANA_PASSWORD})
    before = deploy.env_file.read_bytes()
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()
    assert deploy.env_file.read_bytes() == before
    assert "새로 만들어" not in result.output
    assert {c.grafana_password for c in compose_calls(result)} == {FAKE_GRAFANA_PASSWORD}
    assert FAKE_GRAFANA_PASSWORD not in result.output


def test_a_second_start_keeps_the_generated_password(deploy: DeployRepo) -> None:
    assert deploy.run("monitoring", "start").returncode == 0
    first = deploy.env_file.read_bytes()
    password = env_value(deploy, "GRAFANA_ADMIN_PASSWORD")
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()
    assert deploy.env_file.read_bytes() == first
    assert {c.grafana_password for c in compose_calls(result)} == {password}


@pytest.mark.parametrize(
    "line", ["GRAFANA_ADMIN_PASSWORD=", "GRAFANA_ADMIN_PASSWORD=your-grafana-password-here"]
)
def test_start_fills_an_empty_or_placeholder_password_in_place(deploy: DeployRepo, line) -> None:
    lines = deploy.env_file.read_text().split("\n")
    lines.insert(1, line)
    deploy.env_file.write_text("\n".join(lines))
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()
    password = env_value(deploy, "GRAFANA_ADMIN_PASSWORD")
    assert HEX64.fullmatch(password)
    lines[1] = f"GRAFANA_ADMIN_PASSWORD={password}"
    assert deploy.env_file.read_text() == "\n".join(lines)


def test_start_before_the_fleet_ever_started_leaves_the_redis_password_alone(
    deploy: DeployRepo,
) -> None:
    """Compose reads the whole file: the redis password gets the stand-in, not a new value."""
    deploy.write_env({**FAKE_KEYS, "REDIS_PASSWORD": None})
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()
    assert "\nREDIS_PASSWORD=" not in deploy.env_file.read_text()
    assert {c.redis_password for c in compose_calls(result)} == {STAND_IN}


def test_start_does_not_need_the_bots_keys(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "DISCORD_TOKEN": "your-discord-bot-token-here"})
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()
    assert_bots_untouched(result)


def test_start_reports_a_grafana_that_never_gets_healthy(deploy: DeployRepo) -> None:
    result = deploy.run("monitoring", "start", STUB_NEVER_HEALTHY="grafana", HEALTH_TIMEOUT="1")
    assert result.returncode == 1, result.describe()
    assert "./deploy-multi.sh logs grafana" in result.stderr
    assert "모니터링 시작 완료" not in result.stdout


def test_a_password_with_unsafe_characters_is_refused(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "GRAFANA_ADMIN_PASSWORD": "p@ss$word#0123456789"})
    result = deploy.run("monitoring", "start")
    assert result.returncode == 2, result.describe()
    assert "GRAFANA_ADMIN_PASSWORD" in result.stderr and ". _ ~ -" in result.stderr
    assert "p@ss$word" not in result.output
    assert not compose_calls(result)


def test_a_short_password_warns_and_proceeds(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "GRAFANA_ADMIN_PASSWORD": "short-S3CR3T"})
    result = deploy.run("monitoring", "start")
    assert result.returncode == 0, result.describe()
    assert "GRAFANA_ADMIN_PASSWORD 가 16자보다 짧습니다" in result.stderr
    assert "short-S3CR3T" not in result.output


def test_a_shell_variable_cannot_override_the_env_file(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "GRAFANA_ADMIN_PASSWORD": FAKE_GRAFANA_PASSWORD})
    result = deploy.run("monitoring", "start", GRAFANA_ADMIN_PASSWORD="from-the-shell-0123456789")
    assert result.returncode == 0, result.describe()
    assert {c.grafana_password for c in compose_calls(result)} == {FAKE_GRAFANA_PASSWORD}
    assert "환경 변수 GRAFANA_ADMIN_PASSWORD 는 쓰지 않습니다" in result.stderr
    assert "from-the-shell-0123456789" not in result.output


def test_no_source_of_randomness_is_a_clear_error(deploy: DeployRepo) -> None:
    before = deploy.env_file.read_bytes()
    (deploy.sysbin / "od").unlink()
    result = deploy.run("monitoring", "start")
    assert result.returncode == 1, result.describe()
    assert "GRAFANA_ADMIN_PASSWORD=<긴 무작위 값>" in result.stderr
    assert deploy.env_file.read_bytes() == before
    assert not compose_calls(result)


# --- stop / status -------------------------------------------------------------------------


def test_stop_removes_only_the_monitoring_containers(deploy: DeployRepo) -> None:
    result = deploy.run("monitoring", "stop")
    assert result.returncode == 0, result.describe()
    calls = compose_calls(result)
    assert [c.compose_args for c in calls] == [["rm", "--stop", "--force", "prometheus", "grafana"]]
    assert calls[0].profiles == ["monitoring"]
    assert "-v" not in calls[0].argv  # the data volumes stay
    assert "GRAFANA_ADMIN_PASSWORD=" not in deploy.env_file.read_text().replace("# GRAFANA_", "")


def test_status_shows_the_containers_the_scrape_targets_and_the_address(deploy: DeployRepo) -> None:
    result = deploy.run("monitoring", "status")
    assert result.returncode == 0, result.describe()
    calls = compose_calls(result)
    assert [c.compose_args for c in calls] == [["ps", "--all", "prometheus", "grafana"], PROMTOOL]
    assert all(c.profiles == ["monitoring"] for c in calls)
    assert 'up{instance="4", job="mib-bots"} => 1' in result.stdout
    assert "http://localhost:3000" in result.stdout
    assert "GRAFANA_ADMIN_PASSWORD=" not in deploy.env_file.read_text().replace("# GRAFANA_", "")


def test_status_tolerates_a_stopped_prometheus(deploy: DeployRepo) -> None:
    result = deploy.run("monitoring", "status", STUB_PROMTOOL_RC="1")
    assert result.returncode == 0, result.describe()
    assert "./deploy-multi.sh logs prometheus" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["monitoring"], ["monitoring", "up"], ["monitoring", "start", "now"], ["monitoring", "-h"]],
)
def test_monitoring_usage_errors(deploy: DeployRepo, args: list[str]) -> None:
    result = deploy.run(*args)
    assert result.returncode == 2, result.describe()
    assert "monitoring start|stop|status" in result.stderr  # usage printed
    assert not result.calls


def test_help_shows_the_monitoring_command(deploy: DeployRepo) -> None:
    result = deploy.run("help")
    assert result.returncode == 0
    assert "monitoring start|stop|status" in result.stdout
    assert "GRAFANA_ADMIN_PASSWORD" in result.stdout
    assert "http://localhost:3000" in result.stdout


# --- the other commands --------------------------------------------------------------------


@pytest.mark.parametrize("args", [["start"], ["restart"], ["update"], ["status"], ["logs"]])
def test_the_fleet_commands_never_enable_the_profile(deploy: DeployRepo, args) -> None:
    """Without the profile Compose sees redis and the bots only: they work as before."""
    result = deploy.run(*args)
    assert result.returncode == 0, result.describe()
    calls = compose_calls(result)
    assert calls
    assert all(c.profiles == [] for c in calls), [str(c) for c in calls]
    assert "GRAFANA_ADMIN_PASSWORD=" not in deploy.env_file.read_text().replace("# GRAFANA_", "")


def test_stop_takes_the_monitoring_down_too(deploy: DeployRepo) -> None:
    result = deploy.run("stop")
    assert result.returncode == 0, result.describe()
    (down,) = result.compose("down")
    assert down.profiles == ["monitoring"]
    assert down.compose_args == ["down", "--remove-orphans"]


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_logs_of_a_monitoring_service(deploy: DeployRepo, service: str) -> None:
    result = deploy.run("logs", service, "-f")
    assert result.returncode == 0, result.describe()
    (logs,) = result.compose("logs")
    assert logs.compose_args == ["logs", "--tail", "200", "-f", service]
    assert logs.profiles == ["monitoring"]
