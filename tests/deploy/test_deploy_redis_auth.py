"""The compose Redis password end to end, with a real redis-server and redis-cli.

redis-server gets the arguments the compose file gives it, the healthcheck runs as Docker runs
it (`sh -c`, with the service's environment) and the bots' REDIS_URL is what Compose builds,
each interpolated from a .env.multi that holds REDIS_PASSWORD. No Docker involved.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry

from sandbox.redis_server import free_port, redis_server_binary

from .support import COMPOSE_FILE, REPO, find_tool, interpolate

PASSWORD = "0123456789abcdef0123456789abcdef"
ENV_MULTI = {"REDIS_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((REPO / COMPOSE_FILE).read_text(encoding="utf-8"))["services"]


@pytest.fixture
def port(services, tmp_path: Path) -> Iterator[int]:
    """The compose redis's command, on a free loopback port."""
    command = [interpolate(arg, ENV_MULTI) for arg in services["redis"]["command"]]
    assert command[0] == "redis-server"
    number = free_port()
    process = subprocess.Popen(
        [redis_server_binary(), *command[1:], "--port", str(number), "--bind", "127.0.0.1"],
        cwd=tmp_path,  # the append-only file goes here
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", number)) == 0:
                    break
            assert process.poll() is None, "redis-server refused the compose arguments"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield number
    finally:
        process.kill()
        process.wait(timeout=10)


def healthcheck(services, port: int, tmp_path: Path, env: dict[str, str]) -> int:
    """Exit code of the redis healthcheck, run like Docker's CMD-SHELL, against `port`."""
    kind, command = services["redis"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "redis-cli"  # the image's redis-cli talks to its own server
    wrapper.write_text(f'#!/bin/sh\nexec {find_tool("redis-cli")} -p {port} "$@"\n')
    wrapper.chmod(0o755)
    result = subprocess.run(
        ["sh", "-c", command],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return result.returncode


def test_healthcheck_is_healthy_with_the_services_environment(services, port, tmp_path) -> None:
    env = {k: interpolate(v, ENV_MULTI) for k, v in services["redis"]["environment"].items()}
    assert env == {"REDISCLI_AUTH": PASSWORD}
    assert healthcheck(services, port, tmp_path, env) == 0


@pytest.mark.parametrize("env", [{}, {"REDISCLI_AUTH": "not-the-password"}])
def test_healthcheck_fails_without_the_right_password(services, port, tmp_path, env) -> None:
    assert healthcheck(services, port, tmp_path, env) == 1


def test_redis_refuses_a_client_without_the_password(port) -> None:
    # no retries: redis-py would otherwise back off and retry the refused login for seconds
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, retry=Retry(NoBackoff(), 0))
    try:
        with pytest.raises(redis.AuthenticationError):
            client.ping()
    finally:
        client.close()


def test_the_bots_redis_url_logs_in(services, port) -> None:
    url = interpolate(services["bot-1"]["environment"]["REDIS_URL"], ENV_MULTI)
    assert url == f"redis://:{PASSWORD}@redis:6379/0"
    client = redis.Redis.from_url(url.replace("@redis:6379", f"@127.0.0.1:{port}"))
    try:
        assert client.ping() is True
    finally:
        client.close()
