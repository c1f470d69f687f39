"""ARCHITECTURE.md's dependency rules, checked on the import statements of the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"bot", "commands", "services", "sandbox", "env_manager"}


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add(".")
    return found


def sources(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((ROOT / package).rglob("*.py"))]


@pytest.mark.parametrize("path", sources("bot", "commands", "services"), ids=str)
def test_the_bot_never_imports_the_sandbox_at_module_level(path):
    assert "sandbox" not in imports(path, top_level_only=True)
    if path.name != "demo.py":
        assert "sandbox" not in imports(path), "only the demo sub-command may use the sandbox"


@pytest.mark.parametrize("path", sources("services"), ids=str)
def test_services_know_nothing_of_discord_or_the_bot(path):
    assert not imports(path) & {"discord", "bot", "commands", "sandbox"}


def test_router_imports_no_project_code_and_no_io():
    found = imports(ROOT / "bot" / "router.py")
    assert not found & PROJECT_PACKAGES
    assert found <= {"__future__", "collections", "dataclasses", "fnmatch"}


def test_settings_import_nothing_of_the_project():
    # The router's table is built on the bot side (bot/routing_table.py), not in settings.
    assert not imports(ROOT / "env_manager.py") & PROJECT_PACKAGES


@pytest.mark.parametrize("path", sources("bot/store"), ids=str)
def test_the_fleet_store_knows_nothing_of_discord(path):
    # Shared state is plain data (RoboDanny's timer store): Discord stays in the cogs/bot glue.
    assert not imports(path) & {"discord", "commands", "sandbox"}


@pytest.mark.parametrize("name", ["access.py", "fair_queue.py"])
def test_the_pure_policies_use_the_standard_library_and_settings_only(name):
    # Access lists and the fair queue are decided without Discord or I/O: table-tested.
    found = imports(ROOT / "bot" / name)
    assert not found & (PROJECT_PACKAGES - {"env_manager"})
    assert "discord" not in found and "redis" not in found


@pytest.mark.parametrize("name", ["quota_budget.py", "user_limits.py"])
def test_the_limits_know_nothing_of_discord(name):
    assert not imports(ROOT / "bot" / name) & {"discord", "commands", "sandbox"}


def test_the_job_runner_knows_nothing_of_discord():
    # RoboDanny's durable timer: the runner drives jobs; what they mean lives in the areas.
    assert not imports(ROOT / "bot" / "job_runner.py") & {"discord", "commands", "sandbox"}


@pytest.mark.parametrize("path", sources("sandbox"), ids=str)
def test_the_sandbox_does_not_import_the_bot(path):
    assert not imports(path) & {"bot", "commands", "services", "env_manager"}


@pytest.mark.parametrize("path", [*sources("bot", "services"), ROOT / "env_manager.py"], ids=str)
def test_core_does_not_import_the_command_cogs(path):
    # Cogs are loaded by name as extensions; the core depends on them only through that.
    assert "commands" not in imports(path)
