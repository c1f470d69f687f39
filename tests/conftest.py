"""Shared fixtures: a clean settings environment for every test, one private Redis per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sandbox.fleet import BOT_SETTING_VARS
from sandbox.redis_server import LocalRedisServer

# Read once at import: clean_settings_env below removes REDIS_URL from each test's environment.
GIVEN_REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(autouse=True)
def clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Tests must not inherit bot settings (or a .env.multi) from the machine."""
    for name in list(os.environ):
        if BOT_SETTING_VARS.match(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when given; otherwise a private redis-server on a free loopback port."""
    if GIVEN_REDIS_URL:
        yield GIVEN_REDIS_URL
        return
    server = LocalRedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
