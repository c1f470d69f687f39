"""Shared fixtures: a clean settings environment for every test, one private Redis per session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.fleet import BOT_SETTING_VARS
from sandbox.redis_server import LocalRedisServer

# Under `python3 dev.py mutate` a test that hangs on a mutant is cut at this, not at the
# suite's 120 s: the unit and integration tests take a few seconds at most.
MUTANT_TEST_TIMEOUT_S = 20

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under mutmut, fastest tests first, each cut at MUTANT_TEST_TIMEOUT_S.

    mutmut runs the tests that reach a mutant with -x in the order given, so a mutant one
    fast unit test kills should not first wait for the slow in-process fleet tests. The
    durations are the ones mutmut measured in its clean run (mutants/mutmut-stats.json;
    the working directory is mutants/ then).
    """
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        durations = {}
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
    for item in items:
        item.add_marker(pytest.mark.timeout(MUTANT_TEST_TIMEOUT_S))
