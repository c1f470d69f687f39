"""Linters on the deployment artefacts. The tools are dev dependencies: missing -> FAIL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .support import COMPOSE_FILE, REPO, find_tool


def run_tool(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


@pytest.mark.parametrize("script", ["deploy-multi.sh", ".ci/run"])
def test_shellcheck_clean(script: str) -> None:
    result = run_tool(find_tool("shellcheck"), "--norc", "--shell=bash", script)
    assert result.returncode == 0, f"shellcheck:\n{result.stdout}{result.stderr}"


def test_hadolint_clean() -> None:
    result = run_tool(find_tool("hadolint"), "--no-color", "Dockerfile")
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_compose_file_matches_the_compose_specification() -> None:
    result = run_tool(
        find_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE
    )
    assert result.returncode == 0, f"check-jsonschema:\n{result.stdout}{result.stderr}"


def test_compose_schema_check_really_rejects_a_bad_file(tmp_path: Path) -> None:
    """Guard: the schema check must see the merged anchor and fail on an unknown key."""
    text = (REPO / COMPOSE_FILE).read_text(encoding="utf-8")
    assert "  init: true\n" in text
    bad = tmp_path / COMPOSE_FILE
    bad.write_text(text.replace("  init: true\n", "  init: true\n  restart_policy: always\n", 1))
    result = run_tool(find_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", bad)
    assert result.returncode != 0
    assert "bot-1" in result.stdout and "restart_policy" in result.stdout
