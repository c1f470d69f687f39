"""Shared fixtures: a clean settings environment for every test."""

from __future__ import annotations

import os
import re

import pytest

# Every variable the bot reads; tests must not inherit them from the machine.
_SETTING_VARS = re.compile(
    r"^(INSTANCE_ID|ENV_FILE|DISCORD_.*|OPENAI_.*|MINIMAX_.*|STABILITY_.*|INSTANCE_\d_CHANNEL_PATTERNS"
    r"|REDIS_.*|DEV_GUILD_ID|LOG_LEVEL|LOG_FORMAT|HEALTH_.*)$",
    re.IGNORECASE,
)


@pytest.fixture(autouse=True)
def clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in list(os.environ):
        if _SETTING_VARS.match(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
