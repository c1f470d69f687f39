""".env.multi.example: the 13 required keys with placeholders, every option commented out."""

from __future__ import annotations

import re

import pytest

from .support import REPO

PLACEHOLDER = re.compile(r"^your-.*-here$")
REQUIRED = [
    "DISCORD_TOKEN",
    *(f"{p}_API_KEY_{n}" for p in ("OPENAI", "MINIMAX", "STABILITY") for n in range(1, 5)),
]
# option -> documented default (None: no fixed default to check)
OPTIONAL: dict[str, str | None] = {
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
    "LOG_DIR": "/app/logs",
    "REDIS_URL": "redis://redis:6379/0",
    "REDIS_KEY_PREFIX": "mib:",
    "DEV_GUILD_ID": "",
    "INSTANCE_1_CHANNEL_PATTERNS": "채팅방-*,*chat*",
    "INSTANCE_2_CHANNEL_PATTERNS": "이미지생성-*,*image*",
    "INSTANCE_3_CHANNEL_PATTERNS": "비디오생성-*,*video*",
    "HEARTBEAT_INTERVAL": "2",
    "CLAIM_STEP": "0.5",
    "DISCORD_API_BASE_URL": None,
    "DISCORD_GATEWAY_URL": None,
    "OPENAI_BASE_URL": None,
    "MINIMAX_BASE_URL": None,
    "STABILITY_BASE_URL": None,
    "HEALTH_FILE": "/tmp/bot-health.json",
    "HEALTH_INTERVAL": "5",
}
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
    for key, default in OPTIONAL.items():
        if default is not None:
            assert commented[key] == default, key


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
