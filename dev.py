"""Set up the project's .venv when needed, then run the demo or the tests in it.

    python3 dev.py demo [ARGS...]   ->  python -m bot demo [ARGS...]
    python3 dev.py test [ARGS...]   ->  python -m pytest [ARGS...]
    python3 dev.py mutate [MODULE...] -> mutation testing of the fleet core (tools/mutation.py)
    python3 dev.py setup            ->  only the set-up (CI lints after it)

The first run creates .venv and installs the project with its dev extras; later runs
skip both (a stamp in .venv records which pyproject.toml was installed), so they need
no network. Standard library only: works wherever Python 3.11+ runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".dev-installed"
COMMANDS = {
    "demo": ["-m", "bot", "demo"],
    "test": ["-m", "pytest"],
    "mutate": [str(ROOT / "tools" / "mutation.py")],
    "setup": [],
}


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def say(text: str) -> None:
    print(f"dev.py: {text}", file=sys.stderr, flush=True)


def ensure_venv() -> Path:
    """Create .venv and install the project into it, unless that is already done."""
    python = venv_python()
    if not python.exists():
        say("creating .venv (first run only)...")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text(encoding="utf-8").strip() == wanted:
        return python
    say("installing the project and its dev tools into .venv (needs network, once)...")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", ".[dev]"], cwd=ROOT, check=True)
    STAMP.write_text(wanted + "\n", encoding="utf-8")
    say("set-up done.")
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        python = ensure_venv()
    except subprocess.CalledProcessError as exc:
        say(f"set-up failed (exit {exc.returncode}): see above; delete .venv to start over.")
        say("(Debian/Ubuntu without ensurepip: apt-get install python3-venv)")
        return 1
    if argv[0] == "setup":
        return 0
    command = [str(python), *COMMANDS[argv[0]], *argv[1:]]
    if os.name != "nt":
        os.execv(command[0], command)  # the command owns the terminal, signals and exit code
    child = subprocess.Popen(command)  # Windows has no real exec
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got the same Ctrl-C: wait for its own shutdown


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
