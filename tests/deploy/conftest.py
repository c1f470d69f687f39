"""Fixtures for the deployment checks (helpers live in support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import DeployRepo


@pytest.fixture
def deploy(tmp_path: Path) -> DeployRepo:
    return DeployRepo(tmp_path)
