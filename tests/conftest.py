"""Shared fixtures: a clean settings environment for every test."""

from __future__ import annotations

import os

import pytest

from sandbox.fleet import BOT_SETTING_VARS


@pytest.fixture(autouse=True)
def clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Tests must not inherit bot settings (or a .env.multi) from the machine."""
    for name in list(os.environ):
        if BOT_SETTING_VARS.match(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
