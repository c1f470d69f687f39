"""docker-compose.multi.yml, checked structurally (yaml.safe_load resolves anchors/merges)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from .support import COMPOSE_FILE, PROJECT_NAME, REPO, MissingVariable, interpolate

BOTS = [f"bot-{n}" for n in range(1, 5)]
# The optional profile (tests/deploy/test_deploy_monitoring.py checks it in detail).
MONITORING = ["prometheus", "grafana"]
# The bots' REDIS_URL: one set in .env.multi, else the compose redis with its password.
BOT_REDIS_URL = "${REDIS_URL:-redis://:${REDIS_PASSWORD}@redis:6379/0}"


@pytest.fixture(scope="module")
def raw() -> str:
    return (REPO / COMPOSE_FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(raw: str) -> dict[str, Any]:
    data = yaml.safe_load(raw)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_fixed_project_name_and_services(compose, services) -> None:
    assert compose["name"] == PROJECT_NAME
    assert "version" not in compose  # obsolete in the Compose Specification
    assert set(services) == {"redis", *BOTS, *MONITORING}
    # what `docker compose up` starts without --profile: services that name no profile
    assert {name for name, s in services.items() if "profiles" not in s} == {"redis", *BOTS}


def test_bots_are_one_definition_merged_four_times(raw: str) -> None:
    assert re.search(r"^x-bot: &bot$", raw, re.MULTILINE)
    assert len(re.findall(r"^    <<: \*bot$", raw, re.MULTILINE)) == 4
    # nothing but the instance id and the log folder differs between the four services
    for n in range(1, 5):
        block = raw.split(f"\n  bot-{n}:\n", 1)[1].split("\n\n", 1)[0]
        keys = re.findall(r"^    (\S+):", block, re.MULTILINE)
        assert keys == ["<<", "environment", "volumes"], block


@pytest.mark.parametrize("n", range(1, 5))
def test_bot_service(services, n: int) -> None:
    bot = services[f"bot-{n}"]
    assert bot["environment"] == {
        "INSTANCE_ID": str(n),
        "REDIS_URL": BOT_REDIS_URL,
        "HEALTH_HOST": "0.0.0.0",  # /metrics reachable by Prometheus on the project network
    }
    env_file = bot["env_file"]
    assert env_file == ".env.multi" or env_file == [".env.multi"]
    assert bot["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert bot["restart"] == "unless-stopped"
    assert bot["healthcheck"]["test"] == ["CMD", "python", "-m", "bot", "health"]
    for field in ("interval", "timeout", "retries", "start_period"):
        assert field in bot["healthcheck"]
    memory = bot.get("mem_limit") or bot["deploy"]["resources"]["limits"]["memory"]
    assert re.fullmatch(r"\d+[MG]", str(memory))
    logging = bot["logging"]
    assert logging["driver"] == "json-file"
    assert logging["options"]["max-size"] and logging["options"]["max-file"]
    assert f"./logs/bot-{n}:/app/logs" in bot["volumes"]
    assert "ports" not in bot
    assert "command" not in bot and "entrypoint" not in bot  # the image's CMD runs the bot


def test_all_bots_share_build_and_image(services) -> None:
    builds = [services[b]["build"] for b in BOTS]
    images = {services[b]["image"] for b in BOTS}
    assert all(b == builds[0] for b in builds)
    assert builds[0]["context"] == "."
    assert builds[0].get("dockerfile", "Dockerfile") == "Dockerfile"
    assert images == {"discord-multi-bot:latest"}


def test_no_secret_in_the_compose_file(services) -> None:
    """Only references to .env.multi: the password itself is never written here."""
    allowed = {
        "INSTANCE_ID": None,  # any literal: 1..4
        "REDIS_URL": BOT_REDIS_URL,
        "REDISCLI_AUTH": "${REDIS_PASSWORD}",
        "HEALTH_HOST": "0.0.0.0",
        "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:-}",
    }
    for name, service in services.items():
        env = service.get("environment", {})
        for key, value in env.items():
            if key.startswith("GF_") and key not in allowed:
                # Grafana's other settings: plain literals, nothing secret-looking
                assert "$" not in str(value), f"{name}: {key}={value}"
                assert not re.search("PASSWORD|SECRET|TOKEN|KEY", key), f"{name}: {key}"
                continue
            assert key in allowed, f"{name}: {key}: secrets belong in .env.multi"
            assert allowed[key] is None or value == allowed[key], f"{name}: {key}={value}"


def test_compose_reads_only_these_variables(raw: str) -> None:
    """APP_UID/APP_GID come from the scripts, the rest from .env.multi (--env-file)."""
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", raw))
    assert names == {"APP_UID", "APP_GID", "REDIS_PASSWORD", "REDIS_URL", "GRAFANA_ADMIN_PASSWORD"}
    # `$$` (a literal $ for the container's shell) only in Grafana's password guard
    grafana_guard = raw.split("\n  grafana:\n", 1)[1].split("\n    environment:\n", 1)[0]
    assert raw.count("$$") == grafana_guard.count("$$") == 2


def test_redis_requires_the_password(services) -> None:
    redis = services["redis"]
    command = redis["command"]
    assert isinstance(command, list), "exec form: the password must stay one argument"
    assert command.count("--requirepass") == 1
    password = command[command.index("--requirepass") + 1]
    assert password.startswith("${REDIS_PASSWORD:?"), "Compose must refuse an empty password"
    assert interpolate(password, {"REDIS_PASSWORD": "pw-0123456789abcdef"}) == (
        "pw-0123456789abcdef"
    )
    for env in ({}, {"REDIS_PASSWORD": ""}):
        with pytest.raises(MissingVariable) as refused:
            interpolate(password, env)
        assert "./deploy-multi.sh start" in str(refused.value)
        assert "--env-file .env.multi" in str(refused.value)


def test_redis_healthcheck_logs_in_without_the_password_on_its_command_line(services) -> None:
    redis = services["redis"]
    assert redis["environment"] == {"REDISCLI_AUTH": "${REDIS_PASSWORD}"}
    test = redis["healthcheck"]["test"]
    assert test == ["CMD-SHELL", "redis-cli ping | grep -q PONG"]
    assert "PASSWORD" not in " ".join(test) and " -a " not in " ".join(test)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REDIS_PASSWORD": "0123456789abcdef"}, "redis://:0123456789abcdef@redis:6379/0"),
        (
            {"REDIS_PASSWORD": "0123456789abcdef", "REDIS_URL": ""},
            "redis://:0123456789abcdef@redis:6379/0",
        ),
        (
            {"REDIS_PASSWORD": "0123456789abcdef", "REDIS_URL": "rediss://:x@cache.example:6380/2"},
            "rediss://:x@cache.example:6380/2",
        ),
    ],
)
def test_bots_reach_redis_with_the_password_unless_redis_url_is_set(
    services, env: dict[str, str], expected: str
) -> None:
    for bot in BOTS:
        assert interpolate(services[bot]["environment"]["REDIS_URL"], env) == expected


def test_nothing_but_grafana_on_loopback_is_published_on_the_host(services) -> None:
    """Redis holds interaction tokens: only the bots, on the project network, reach it.
    Grafana (monitoring) is the one exception, and only on 127.0.0.1."""
    for name, service in services.items():
        if name != "grafana":
            assert "ports" not in service, f"{name} publishes a port"
        assert service.get("network_mode") is None, f"{name} leaves the project network"
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
    assert "expose" not in services["redis"]


def test_redis(compose, services) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"redis:\d+(\.\d+){1,2}-alpine", redis["image"]), "pin the redis image"
    command = redis["command"]
    command = command if isinstance(command, list) else command.split()
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    volume = next(v for v in redis["volumes"] if v.endswith(":/data"))
    volume_name = volume.split(":", 1)[0]
    assert not volume_name.startswith((".", "/")), "redis data must be a named volume"
    assert volume_name in compose["volumes"]
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert redis["restart"] == "unless-stopped"
    assert "ports" not in redis, "no host port for redis by default"
    assert redis["logging"]["options"]["max-size"]


def test_bots_run_unprivileged(services) -> None:
    for bot in BOTS:
        assert services[bot].get("privileged") is not True
        assert "no-new-privileges:true" in services[bot]["security_opt"]
        assert services[bot]["cap_drop"] == ["ALL"]


def test_docker_waits_longer_than_the_longest_shutdown_grace(services) -> None:
    """SIGTERM drains for up to SHUTDOWN_GRACE; Docker must not SIGKILL before that."""
    from env_manager import FleetSettings

    grace = FleetSettings.model_fields["shutdown_grace"]
    longest = next(m.le for m in grace.metadata if hasattr(m, "le"))
    assert (grace.default, longest) == (8.0, 25)
    for n in range(1, 5):
        period = services[f"bot-{n}"]["stop_grace_period"]
        assert period == "30s" and int(period.removesuffix("s")) >= longest + 5
