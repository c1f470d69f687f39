"""The container HEALTHCHECK command, run against a real instance on the Discord double."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HEALTH_INTERVAL = 1.0  # the stale limit is 3 s: a slow CLI start must not look stale


def dockerfile_healthcheck() -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])", text, re.M)
    assert match, "Dockerfile has a HEALTHCHECK with an exec-form CMD"
    return json.loads(match.group(1))


def compose_healthcheck() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.multi.yml").read_text(encoding="utf-8"))
    test = compose["services"]["bot-1"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return test[1:]


def run_check(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert command[0] == "python"
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30
    )


async def test_healthcheck_follows_the_instance_state(sandbox_factory):
    command = dockerfile_healthcheck()
    assert command == compose_healthcheck(), "image and compose probe the same way"
    env = {"HEALTH_INTERVAL": str(HEALTH_INTERVAL)}
    async with sandbox_factory(instances=(2, 4), extra_env=env) as sb:
        instance_env = sb.fleet.instances["2"].env
        healthy = await asyncio.to_thread(run_check, command, instance_env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert healthy.stdout == "healthy: instance 2: serving\n"

        await sb.fleet.stop(2)
        stopped = await asyncio.to_thread(run_check, command, instance_env)
        assert stopped.returncode == 1 and "not connected" in stopped.stdout

        await sb.fleet.start_instance(2)
        restarted = await asyncio.to_thread(run_check, command, instance_env)
        assert restarted.returncode == 0

        await sb.fleet.kill(2)  # a hung or killed process stops refreshing the file
        await asyncio.sleep(3 * HEALTH_INTERVAL + 0.5)
        stale = await asyncio.to_thread(run_check, command, instance_env)
        assert stale.returncode == 1 and "stalled" in stale.stdout
