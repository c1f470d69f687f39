"""Dockerfile and .dockerignore, checked statically (no Docker engine here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from .support import REPO

SECRET_NAME = re.compile(r"TOKEN|API_KEY|SECRET|PASSWORD", re.IGNORECASE)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    @property
    def text(self) -> str:
        return "\n".join(f"{kw} {args}" for kw, args in self.instructions)


def parse_dockerfile(text: str) -> tuple[list[str], list[tuple[str, str]], list[Stage]]:
    """(leading parser directives, global instructions, stages); continuation lines joined."""
    directives, logical, current = [], [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if not logical and not current and re.match(r"#\s*\w+=", stripped):
                directives.append(stripped)
            continue
        if not stripped and not current:
            continue
        current += (" " if current else "") + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current)
            current = ""
    globals_, stages = [], []
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
        else:
            globals_.append((keyword, args))
    return directives, globals_, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[list[str], list[tuple[str, str]], list[Stage]]:
    return parse_dockerfile((REPO / "Dockerfile").read_text(encoding="utf-8"))


def base_image(globals_: list[tuple[str, str]], stage: Stage) -> str:
    image = stage.base
    match = re.fullmatch(r"\$\{?(\w+)\}?", image)
    if match:
        defaults = dict(args.split("=", 1) for kw, args in globals_ if kw == "ARG" and "=" in args)
        image = defaults[match.group(1)]
    return image


def test_buildkit_syntax_directive(dockerfile) -> None:
    directives, _, _ = dockerfile
    assert "# syntax=docker/dockerfile:1" in directives  # RUN --mount needs BuildKit


def test_multi_stage_on_a_pinned_slim_python(dockerfile) -> None:
    _, globals_, stages = dockerfile
    assert len(stages) >= 2
    assert stages[0].name == "builder"
    for stage in stages:
        image = base_image(globals_, stage)
        assert re.fullmatch(r"python:3\.11\.\d+-slim-(bookworm|trixie)", image), image


def test_builder_builds_wheels_runtime_has_no_compiler(dockerfile) -> None:
    _, _, stages = dockerfile
    builder, runtime = stages[0], stages[-1]
    assert "pip wheel" in builder.text
    assert "gcc" in builder.text
    assert not re.search(r"\b(gcc|g\+\+|build-essential|apt-get install)\b", runtime.text)
    install = " ".join(runtime.args_of("RUN"))
    assert "from=builder" in install and "--no-index" in install


def test_runtime_environment_user_workdir(dockerfile) -> None:
    _, _, stages = dockerfile
    runtime = stages[-1]
    env = " ".join(runtime.args_of("ENV"))
    assert "PYTHONUNBUFFERED=1" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "LOG_FORMAT=json" in env
    # the bot's own default (127.0.0.1) is for running outside Docker; .env.multi may override
    assert "REDIS_URL=redis://redis:6379/0" in env
    assert runtime.args_of("WORKDIR") == ["/app"]
    users = runtime.args_of("USER")
    assert users, "the runtime must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    run = " ".join(runtime.args_of("RUN"))
    assert "useradd" in run and "/app/logs" in run and "chown" in run
    # USER comes after the last RUN: nothing runs as root afterwards
    kinds = [kw for kw, _ in runtime.instructions]
    assert max(i for i, k in enumerate(kinds) if k == "RUN") < kinds.index("USER")


def test_healthcheck_and_command(dockerfile) -> None:
    _, _, stages = dockerfile
    runtime = stages[-1]
    (healthcheck,) = runtime.args_of("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert json.loads(command) == ["python", "-m", "bot", "health"]
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in options
    (cmd,) = runtime.args_of("CMD")
    assert json.loads(cmd) == ["python", "-m", "bot", "run"]
    # no ENTRYPOINT: `compose run bot-n python -m bot check-config` must replace the command
    assert not runtime.args_of("ENTRYPOINT")


def test_no_secret_baked_in(dockerfile) -> None:
    _, globals_, stages = dockerfile
    instructions = globals_ + [i for s in stages for i in s.instructions]
    for keyword, args in instructions:
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"(\w+)=", args) or [args.split()[0]]
            assert not any(SECRET_NAME.search(n) for n in names), f"{keyword} {args}"
        if keyword in ("COPY", "ADD"):
            assert ".env" not in args


# --- .dockerignore -----------------------------------------------------------------------


def dockerignore_matcher(text: str):
    """Docker's rules, enough for these patterns: last match wins, `!` re-includes,
    a pattern matching a directory excludes everything below it."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        rules.append((re.compile(regex + "(?:/.*)?"), negate))

    def ignored(path: str) -> bool:
        result = False
        for regex, negate in rules:
            if regex.fullmatch(path):
                result = not negate
        return result

    return ignored


@pytest.fixture(scope="module")
def ignored():
    return dockerignore_matcher((REPO / ".dockerignore").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.multi",
        ".env.local",
        "sub/.env.multi",
        "logs/bot-1/bot.log",
        "app.log",
        "tests/deploy/test_deploy_lint.py",
        ".git/HEAD",
        ".venv/bin/python",
        "bot/__pycache__/router.cpython-311.pyc",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        "multi_instance_discord_bot.egg-info/PKG-INFO",
    ],
)
def test_dockerignore_keeps_out(ignored, path: str) -> None:
    assert ignored(path)


@pytest.mark.parametrize(
    "path",
    [
        ".env.multi.example",
        "pyproject.toml",
        "README.md",
        "env_manager.py",
        "bot/__main__.py",
        "commands/chat_commands.py",
        "services/errors.py",
        "sandbox/spec/openapi.json",
    ],
)
def test_dockerignore_keeps_in(ignored, path: str) -> None:
    assert not ignored(path)
