""".env.multi.example: the 13 required keys with placeholders, every option commented out."""

from __future__ import annotations

import re

import pytest

from env_manager import Settings

from .support import COMPOSE_FILE, REPO

PLACEHOLDER = re.compile(r"^your-.*-here$")
REQUIRED = [
    "DISCORD_TOKEN",
    *(f"{p}_API_KEY_{n}" for p in ("OPENAI", "MINIMAX", "STABILITY") for n in range(1, 5)),
]
# Where the container's default differs from the bot's own (the Dockerfile's ENV).
CONTAINER_DEFAULTS: dict[str, str] = {
    "LOG_FORMAT": "json",
    "LOG_DIR": "/app/logs",
    "HEALTH_FILE": "/tmp/bot-health.json",
}
# Unset in .env.multi, the compose file builds REDIS_URL from REDIS_PASSWORD, a value not to
# copy: the example shows what to write for an external Redis instead.
EXAMPLE_VALUES: dict[str, str] = {"REDIS_URL": "redis://:PASSWORD@redis.example.com:6379/0"}
# What the compose file reads from .env.multi (--env-file) besides the bot's settings; the
# build ids come from the scripts. Empty REDIS_PASSWORD: start generates one; empty
# GRAFANA_ADMIN_PASSWORD: monitoring start does.
COMPOSE_VARIABLES: dict[str, str] = {"REDIS_PASSWORD": "", "GRAFANA_ADMIN_PASSWORD": ""}
SCRIPT_VARIABLES = {"APP_UID", "APP_GID"}
# Every setting the bot reads is documented, so a new setting cannot be forgotten here.
OPTIONAL: list[str] = sorted(
    ({name.upper() for name in Settings.fields()} | set(COMPOSE_VARIABLES))
    - set(REQUIRED)
    - {"INSTANCE_ID"}
)


def documented_default(key: str) -> object:
    """The value the example must show; None: unset by default, any example value is fine."""
    for table in (CONTAINER_DEFAULTS, EXAMPLE_VALUES, COMPOSE_VARIABLES):
        if key in table:
            return table[key]
    default = Settings.fields()[key.lower()].default
    return "" if default == () else default  # a list: empty, written `KEY=`


def test_every_variable_of_the_compose_file_is_a_setting_or_listed_here() -> None:
    text = (REPO / COMPOSE_FILE).read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)) - SCRIPT_VARIABLES
    settings = {name.upper() for name in Settings.fields()}
    assert used - settings == set(COMPOSE_VARIABLES)


ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return (REPO / ".env.multi.example").read_text(encoding="utf-8").splitlines()


def assignments(lines: list[str]) -> list[tuple[int, bool, str, str]]:
    """(line number, commented, key, value) for every KEY=value line."""
    found = []
    for i, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match:
            found.append((i, bool(match.group(1)), match.group(2), match.group(3)))
    return found


def test_exactly_the_required_keys_are_active_with_placeholders(lines) -> None:
    active = [(key, value) for _, commented, key, value in assignments(lines) if not commented]
    assert [key for key, _ in active] == REQUIRED
    for key, value in active:
        assert PLACEHOLDER.match(value), f"{key}={value} is not a your-...-here placeholder"
    # each instance key's placeholder says which key it is
    for key, value in active[1:]:
        provider, n = key.split("_API_KEY_")
        assert value == f"your-{provider.lower()}-api-key-{n}-here"


def test_every_option_is_documented_commented_out_with_its_default(lines) -> None:
    commented = {key: value for _, c, key, value in assignments(lines) if c}
    assert set(commented) == set(OPTIONAL)
    for key in OPTIONAL:
        default = documented_default(key)
        if default is None:
            continue
        if isinstance(default, bool):
            assert commented[key] == str(default).lower(), key
        elif isinstance(default, float):
            assert float(commented[key]) == default, key
        else:
            assert commented[key] == str(default), key


def test_required_keys_come_first(lines) -> None:
    found = assignments(lines)
    last_required = max(i for i, c, _, _ in found if not c)
    first_optional = min(i for i, c, _, _ in found if c)
    assert last_required < first_optional


def test_comments_are_korean_and_each_option_is_explained(lines) -> None:
    text = "\n".join(lines)
    assert re.search(r"[가-힣]", text)
    assert "cp .env.multi.example .env.multi" in text
    for i, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match and match.group(1):
            # an explaining comment (not another option) right above, within the section
            above = [x for x in lines[max(0, i - 3) : i] if x.startswith("#")]
            assert any(not ASSIGNMENT.match(x) for x in above), f"no comment above {line}"


def test_no_real_looking_secret(lines) -> None:
    for _, commented, key, value in assignments(lines):
        if "KEY" in key or "TOKEN" in key:
            assert commented or PLACEHOLDER.match(value)
        if "PASSWORD" in key:
            assert commented and value == "", "start generates it: the example leaves it empty"


def test_the_redis_password_is_explained_in_korean(lines) -> None:
    text = "\n".join(lines)
    above = text.split("\n# REDIS_PASSWORD=\n", 1)[0].rsplit("---\n", 1)[1]
    assert "비워 두면 start 가 자동으로 만듭니다" in above
    assert ". _ ~ -" in above  # the characters the scripts accept
    assert "stop -> 값 변경 -> start" in above


def test_the_grafana_password_is_explained_in_korean(lines) -> None:
    text = "\n".join(lines)
    above = text.split("\n# GRAFANA_ADMIN_PASSWORD=\n", 1)[0].rsplit("---\n", 1)[1]
    assert "모니터링" in above
    assert "비워 두면 ./deploy-multi.sh monitoring start 가 자동으로 만듭니다" in above
    assert ". _ ~ -" in above
    assert "처음 시작할 때만" in above  # Grafana reads it once: changing it needs README_MULTI
