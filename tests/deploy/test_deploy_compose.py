"""docker-compose.multi.yml, checked structurally (yaml.safe_load resolves anchors/merges)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from .support import COMPOSE_FILE, PROJECT_NAME, REPO

BOTS = [f"bot-{n}" for n in range(1, 5)]


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
    assert set(services) == {"redis", *BOTS}


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
    assert bot["environment"] == {"INSTANCE_ID": str(n)}
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
    for name, service in services.items():
        env = service.get("environment", {})
        assert set(env) <= {"INSTANCE_ID"}, f"{name}: secrets belong in .env.multi"


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
