"""CI runs exactly the commands README.md gives; keep them from drifting apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", body, re.S)
    assert block, f"README.md section {section!r} has no bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def ci_script() -> list[str]:
    return [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]


def test_ci_installs_with_the_readme_install_command():
    install = [c for c in readme_commands("Install") if c.startswith("pip install")]
    assert install == ["pip install -e '.[dev]'"]
    assert install[0] in ci_script()


def test_ci_runs_exactly_the_readme_test_command_last():
    (test_command,) = readme_commands("Run the tests")
    executed = [line for line in ci_script() if line and not line.startswith("#")]
    assert executed[-1] == test_command
