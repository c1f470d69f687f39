"""The vendored OpenAPI spec, its validator's leniencies and error paths, and snowflakes."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import discord
import pytest

from sandbox.discord.rest import RestApp
from sandbox.discord.routes import Routes
from sandbox.discord.rules import Rules
from sandbox.discord.snowflake import SnowflakeMinter, snowflake_time_ms
from sandbox.discord.spec import SPEC_PATH, default_validator
from sandbox.discord.state import DiscordState

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
MESSAGES = "/channels/{channel_id}/messages"
COMMANDS = "/applications/{application_id}/commands"


def test_vendored_spec_and_licence() -> None:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1") and spec["info"]["license"]["identifier"] == "MIT"
    assert CALLBACK in spec["paths"] and MESSAGES in spec["paths"]
    licence = (SPEC_PATH.parent / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Discord" in licence


def test_trim_keeps_every_reference_resolvable() -> None:
    loader = importlib.util.spec_from_file_location("trim", ROOT / "tools" / "trim_discord_spec.py")
    assert loader is not None and loader.loader is not None
    trim = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(trim)
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    # Trimming the vendored copy again changes nothing: it is closed under $ref.
    assert trim.trim(spec) == spec
    for ref in trim._refs(spec):
        trim._lookup(spec, ref)


def test_every_served_route_is_in_the_vendored_spec() -> None:
    state = DiscordState(Rules(), ["general"], None, "g")
    rest = RestApp(state)
    Routes(state).register(rest)
    spec_paths = json.loads(SPEC_PATH.read_text(encoding="utf-8"))["paths"]
    missing = [(m, t) for m, t in rest.templates if m.lower() not in spec_paths.get(t, {})]
    assert missing == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # discord.py sends attachment ids and reply targets as JSON integers.
        (MESSAGES, {"content": "x", "attachments": [{"id": 0, "filename": "a.png"}]}),
        (MESSAGES, {"content": "x", "message_reference": {"message_id": 1, "channel_id": 2}}),
        (MESSAGES, {"content": "x", "allowed_mentions": {"parse": [], "users": [5]}}),
        # ...and permission bitfields as decimal strings.
        (COMMANDS, [{"name": "핑", "description": "d", "default_member_permissions": "8"}]),
        (CALLBACK, {"type": 5}),
        (CALLBACK, {"type": 5, "data": {"flags": 64}}),
        (CALLBACK, {"type": 4, "data": {"content": "x", "embeds": [{"type": "rich"}]}}),
        (CALLBACK, {"type": 6}),
        (CALLBACK, {"type": 7, "data": {"content": "x", "components": []}}),
        (CALLBACK, {"type": 8, "data": {"choices": [{"name": "a", "value": "b"}]}}),
        (CALLBACK, {"type": 8, "data": {"choices": [{"name": "a", "value": 3}]}}),
    ],
)
def test_bodies_discord_py_sends_are_valid(path: str, body: object) -> None:
    method = "PUT" if path == COMMANDS else "POST"
    assert default_validator().validate(method, path, body) is None


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"type": "not-a-number"}, "type", "BASE_TYPE_CHOICES"),
        ({"type": 99}, "type", "BASE_TYPE_CHOICES"),
        ({}, "type", "BASE_TYPE_REQUIRED"),
        ({"type": 4, "data": {"content": "x" * 2001}}, "data.content", "BASE_TYPE_MAX_LENGTH"),
        ({"type": 4, "data": {"embeds": [{"title": "t" * 257}]}}, "data.embeds.0.title", None),
        ({"type": 4, "data": {"embeds": [{"color": "red"}]}}, "data.embeds.0.color", None),
        ({"type": 9, "data": {"title": "x"}}, "data.custom_id", "BASE_TYPE_REQUIRED"),
        ({"type": 7, "data": {"content": "x" * 2001}}, "data.content", "BASE_TYPE_MAX_LENGTH"),
        (
            {"type": 7, "data": {"components": [{"type": 1, "components": [{"type": 2}]}]}},
            "data.components.0.components.0.style",
            "BASE_TYPE_REQUIRED",
        ),
        ({"type": 8}, "data", "BASE_TYPE_REQUIRED"),
        (
            {"type": 8, "data": {"choices": [{"name": "", "value": "v"}]}},
            "data.choices.0.name",
            "BASE_TYPE_MIN_LENGTH",
        ),
        # String choices over the limit: the size is the fault, not the integer variant's type.
        (
            {"type": 8, "data": {"choices": [{"name": "a", "value": "v"}] * 26}},
            "data.choices",
            "BASE_TYPE_MAX_LENGTH",
        ),
    ],
)
def test_failures_name_the_field(body: object, field: str, code: str | None) -> None:
    failure = default_validator().validate("POST", CALLBACK, body)
    assert failure is not None and failure.field.dotted == field
    if code is not None:
        assert failure.field.code == code


def test_snowflakes_are_time_based_and_unique() -> None:
    minter = SnowflakeMinter()
    ids = [minter.next() for _ in range(1000)]
    assert ids == sorted(set(ids))
    assert abs(snowflake_time_ms(ids[0]) - time.time() * 1000) < 1000
    # discord.py reads the same time out of them.
    created = discord.utils.snowflake_time(ids[-1]).timestamp()
    assert abs(created - time.time()) < 1
