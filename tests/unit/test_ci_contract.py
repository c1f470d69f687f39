"""README's Quick start is two commands, and CI runs the second one; keep them from drifting."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    body = readme().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", body, re.S)
    assert len(blocks) == 1, "Quick start holds exactly one code block"
    return [line.strip() for line in blocks[0].splitlines() if line.strip()]


def executed_ci_lines() -> list[str]:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_quick_start_is_the_first_section():
    sections = re.findall(r"^## (.+)$", readme(), re.M)
    assert sections[0] == "Quick start"


def test_quick_start_is_two_commands_demo_then_tests():
    assert quick_start_commands() == ["python3 dev.py demo", "python3 dev.py test"]
    assert (ROOT / "dev.py").is_file()


def test_ci_runs_exactly_the_readme_test_command_last():
    test_command = quick_start_commands()[1]
    assert executed_ci_lines()[-1] == test_command
