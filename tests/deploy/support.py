"""Helpers for the deployment checks: lint tools, and deploy-multi.sh against a stub docker.

Nothing here needs a Docker engine or the network. The stub `docker` is a small bash
script that records every call and answers as the test configures it through STUB_*
environment variables.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = "docker-compose.multi.yml"
PROJECT_NAME = "discord-multi-bot"
SEP = "\x1f"

# The Redis password of a fleet that was started before (start writes one when missing).
FAKE_REDIS_PASSWORD = "fakeRedisPassword-S3CR3T-0123456789"
# Fake but distinctive values: none of them may ever show up in the script's output.
FAKE_KEYS: dict[str, str] = {
    "DISCORD_TOKEN": "fake.discord-token.S3CR3T0",
    **{f"OPENAI_API_KEY_{n}": f"sk-fake-openai-{n}-S3CR3T{n}" for n in range(1, 5)},
    **{f"MINIMAX_API_KEY_{n}": f"fake-minimax-{n}-S3CR3T{n}" for n in range(1, 5)},
    **{f"STABILITY_API_KEY_{n}": f"sk-fake-stability-{n}-S3CR3T{n}" for n in range(1, 5)},
    "REDIS_PASSWORD": FAKE_REDIS_PASSWORD,
}

# Programs deploy-multi.sh (and the stub) may use; PATH holds nothing else, so a
# `docker` installed on the machine can never be picked up by accident.
# od is the script's source of randomness when openssl is missing (as it is here: tests
# that want openssl put a stub of it next to the stub docker).
SYSTEM_TOOLS = ("bash", "env", "cat", "find", "mkdir", "id", "chown", "sleep", "od")

STUB_DOCKER = r"""#!__BASH__
# Stub docker for tests/deploy: logs the working directory, the REDIS_PASSWORD, REDIS_URL and
# GRAFANA_ADMIN_PASSWORD a compose call would interpolate, and argv; fakes answers.

# compose_var NAME ARGS...: what Compose would put in ${NAME}: the environment wins, else the
# last NAME= line of the --env-file (Compose reads no other file when one is given).
compose_var() {
    local name=$1 envfile="" line value=""
    shift 2  # NAME compose
    while [ $# -gt 1 ]; do  # global options, up to the sub-command
        case $1 in
            --env-file) envfile=$2; shift 2 ;;
            -p | -f | --project-name | --file | --profile | --project-directory) shift 2 ;;
            -*) shift ;;
            *) break ;;
        esac
    done
    if [ -n "${!name+set}" ]; then
        printf '%s' "${!name}"
        return 0
    fi
    [ -n "$envfile" ] && [ -f "$envfile" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        line=${line#"${line%%[![:space:]]*}"}
        line=${line#export }
        case $line in "$name="*) value=${line#"$name="} ;; esac
    done <"$envfile"
    printf '%s' "$value"
}

password="" url="" grafana=""
if [ "${1:-}" = "compose" ]; then
    password=$(compose_var REDIS_PASSWORD "$@")
    url=$(compose_var REDIS_URL "$@")
    grafana=$(compose_var GRAFANA_ADMIN_PASSWORD "$@")
fi
{
    printf '%s\037%s\037%s\037%s' "$PWD" "$password" "$url" "$grafana"
    for a in "$@"; do printf '\037%s' "$a"; done
    printf '\n'
} >>"$STUB_LOG"

contains() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

if [ "${1:-}" = "compose" ]; then
    shift
    file=""
    while [ $# -gt 0 ]; do
        case $1 in
            -p | --project-name | --env-file | --profile | --project-directory) shift 2 ;;
            -f | --file) file=$2; shift 2 ;;
            -*) shift ;;
            *) break ;;
        esac
    done
    sub=${1:-}
    [ $# -eq 0 ] || shift
    if [ "$sub" = "version" ]; then
        if [ -n "${STUB_COMPOSE_MISSING:-}" ]; then
            echo "docker: 'compose' is not a docker command." >&2
            exit 1
        fi
        echo "Docker Compose version v2.29.7"
        exit 0
    fi
    if [ -n "$file" ] && [ ! -f "$file" ]; then
        echo "open $PWD/$file: no such file or directory" >&2
        exit 14
    fi
    # Compose interpolates the whole file first: ${REDIS_PASSWORD:?...} refuses an empty one.
    if [ -n "$file" ] && [ -z "$password" ]; then
        case $(<"$file") in
            *'${REDIS_PASSWORD:?'*)
                echo "required variable REDIS_PASSWORD is missing a value" >&2
                exit 1
                ;;
        esac
    fi
    last=""
    service=""
    for a in "$@"; do
        last=$a
        case $a in bot-[1-4] | redis) [ -n "$service" ] || service=$a ;; esac
    done
    case $sub in
        build) exit "${STUB_BUILD_RC:-0}" ;;
        ps)
            if contains "$*" "-q"; then
                echo "cid-$last"
            else
                echo "NAME                        SERVICE   STATUS"
                for s in redis bot-1 bot-2 bot-3 bot-4; do
                    echo "discord-multi-bot-$s-1   $s     Up 2 minutes (healthy)"
                done
            fi
            exit 0
            ;;
        run)
            if contains "$*" "check-config"; then
                n=${service#bot-}
                if contains "${STUB_CHECK_FAIL:-}" "$n"; then
                    echo "Configuration invalid for instance $n: OPENAI_API_KEY_$n is rejected."
                    exit 2
                fi
                echo "Configuration OK for instance $n."
            fi
            exit "${STUB_RUN_RC:-0}"
            ;;
        exec)
            if contains "$*" "promtool"; then
                if [ "${STUB_PROMTOOL_RC:-0}" != "0" ]; then
                    echo "service \"prometheus\" is not running" >&2
                    exit "$STUB_PROMTOOL_RC"
                fi
                for n in 1 2 3 4; do
                    echo "up{instance=\"$n\", job=\"mib-bots\"} => 1 @[1700000000]"
                done
                exit 0
            fi
            if [ "${STUB_STATUS_RC:-0}" != "0" ]; then
                echo "service \"bot-4\" is not running" >&2
                exit "$STUB_STATUS_RC"
            fi
            echo "Fleet: 4/4 instances alive (redis: ok)"
            exit 0
            ;;
        *) exit 0 ;;
    esac
fi

case ${1:-} in
    info) exit "${STUB_INFO_RC:-0}" ;;
    inspect)
        last=""
        for a in "$@"; do last=$a; done
        svc=${last#cid-}
        counter="$STUB_STATE/polls-$svc"
        count=0
        [ ! -f "$counter" ] || count=$(<"$counter")
        count=$((count + 1))
        printf '%s' "$count" >"$counter"
        if contains "${STUB_NEVER_HEALTHY:-}" "$svc"; then
            echo "unhealthy"
        elif [ "$count" -le "${STUB_STARTING_POLLS:-0}" ]; then
            echo "starting"
        else
            echo "healthy"
        fi
        exit 0
        ;;
esac
exit 0
"""


class MissingVariable(Exception):
    """${VAR:?message} met an unset or empty VAR: Compose stops with this message."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation, for the forms docker-compose.multi.yml uses: `$$`, `${VAR}`,
    `${VAR:-default}` (the default interpolated in turn) and `${VAR:?message}`.

    Anything else raises ValueError, so a new form gets noticed here before it is relied on.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(text):
                    raise ValueError(f"unclosed ${{ in {text!r}")
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            out.append(_expand(text[i + 2 : j - 1], env))
            i = j
        elif text[i] == "$":
            raise ValueError(f"bare $ in {text!r}: write $$ or ${{VAR}}")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _expand(body: str, env: Mapping[str, str]) -> str:
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)(.*))?", body, re.DOTALL)
    if not match:
        raise ValueError(f"unsupported interpolation ${{{body}}}")
    name, op, rest = match.groups()
    value = env.get(name, "")
    if op == ":-" and not value:
        return interpolate(rest, env)
    if op == ":?" and not value:
        raise MissingVariable(f"required variable {name} is missing a value: {rest}")
    return value


def find_tool(name: str) -> str:
    """A dev-dependency binary: next to this interpreter (the venv), else on PATH.

    Missing -> the test fails (never skips): these tools are dev dependencies.
    """
    candidates = [Path(sys.executable).parent / name]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(
        f"`{name}` not found next to {sys.executable} or on PATH. It is a dev dependency: "
        f"install the project's dev extra (pip install -e '.[dev]').",
        pytrace=False,
    )


@dataclass
class Call:
    cwd: str
    argv: list[str]
    # What Compose would interpolate for ${REDIS_PASSWORD}, ${REDIS_URL} and
    # ${GRAFANA_ADMIN_PASSWORD} ("" for other docker calls, and for a variable neither the
    # environment nor the env file sets).
    redis_password: str = ""
    redis_url: str = ""
    grafana_password: str = ""

    GLOBAL_OPTIONS = ("-p", "-f", "--env-file", "--profile")

    @property
    def compose_args(self) -> list[str]:
        """argv after `compose -p NAME -f FILE --env-file FILE [--profile P]` (empty when not
        compose): the sub-command and what follows."""
        if self.argv[:1] != ["compose"]:
            return []
        args = self.argv[1:]
        while args and args[0] in self.GLOBAL_OPTIONS:
            args = args[2:]
        return args

    @property
    def profiles(self) -> list[str]:
        """The --profile values given before the sub-command."""
        if self.argv[:1] != ["compose"]:
            return []
        args, found = self.argv[1:], []
        while args and args[0] in self.GLOBAL_OPTIONS:
            if args[0] == "--profile":
                found.append(args[1])
            args = args[2:]
        return found

    def __str__(self) -> str:
        return " ".join(self.argv)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def compose(self, *prefix: str) -> list[Call]:
        """compose calls whose sub-command argv starts with prefix."""
        return [c for c in self.calls if c.compose_args[: len(prefix)] == list(prefix)]

    def index(self, predicate: Callable[[Call], bool]) -> int:
        for i, call in enumerate(self.calls):
            if predicate(call):
                return i
        raise AssertionError(f"no matching call in:\n{self.describe()}")

    def describe(self) -> str:
        return "\n".join(str(c) for c in self.calls) + f"\n--- output ---\n{self.output}"


def write_env_file(path: Path, values: dict[str, str | None]) -> None:
    """.env.multi from the example: set the given keys (None drops the key's line)."""
    lines, done = [], set()
    for line in (REPO / ".env.multi.example").read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0]
        if not line.startswith("#") and key in values:
            done.add(key)
            if values[key] is None:
                continue
            line = f"{key}={values[key]}"
        lines.append(line)
    lines += [f"{k}={v}" for k, v in values.items() if k not in done and v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# The placeholder rule the script reads (and env_manager.py, and deploy-multi.bat).
PLACEHOLDER_RULE = "bot/placeholders.txt"


class DeployRepo:
    """A temporary copy of the files deploy-multi.sh needs, and a way to run it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "repo"
        self.dir.mkdir()
        for name in ("deploy-multi.sh", COMPOSE_FILE, ".env.multi.example", PLACEHOLDER_RULE):
            (self.dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, self.dir / name)
        self.sysbin = root / "sysbin"
        self.sysbin.mkdir()
        for tool in SYSTEM_TOOLS:
            found = shutil.which(tool)
            assert found, f"system tool {tool} missing"
            (self.sysbin / tool).symlink_to(found)
        self.stubbin = root / "stubbin"
        self.stubbin.mkdir()
        stub = self.stubbin / "docker"
        stub.write_text(STUB_DOCKER.replace("__BASH__", shutil.which("bash") or "/bin/bash"))
        stub.chmod(0o755)
        self.state = root / "state"
        self.state.mkdir()
        self.log = root / "docker-calls.log"
        self.write_env(FAKE_KEYS)

    @property
    def env_file(self) -> Path:
        return self.dir / ".env.multi"

    def write_env(self, values: dict[str, str | None]) -> None:
        write_env_file(self.env_file, values)
        self.env_file.chmod(0o600)

    def run(
        self,
        *args: str,
        docker: bool = True,
        cwd: Path | None = None,
        timeout: float = 30,
        **env: str,
    ) -> Result:
        if self.log.exists():
            self.log.unlink()
        for counter in self.state.iterdir():
            counter.unlink()
        path = f"{self.stubbin}:{self.sysbin}" if docker else str(self.sysbin)
        full_env = {
            "PATH": path,
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "STUB_LOG": str(self.log),
            "STUB_STATE": str(self.state),
            "HEALTH_TIMEOUT": "5",
            "HEALTH_POLL_INTERVAL": "0.01",
            **env,
        }
        proc = subprocess.run(
            [str(self.dir / "deploy-multi.sh"), *args],
            cwd=cwd or self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        calls = []
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                cwd_, password, url, grafana, *argv = line.split(SEP)
                calls.append(Call(cwd_, argv, password, url, grafana))
        return Result(proc.returncode, proc.stdout, proc.stderr, calls)
