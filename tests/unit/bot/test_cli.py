"""`python -m bot route | check-config | health`, run as an operator would: subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SECRET = "sk-live-THIS-MUST-NEVER-BE-PRINTED"


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--channel", "채팅방-1", "--command", "/채팅"], {"instance": 1, "order": [1, 4]}),
        (
            ["--channel", "채팅방-1", "--command", "채팅", "--down", "1"],
            {"instance": 4, "order": [1, 4]},
        ),
        (["--channel", "general", "--command", "핑"], {"instance": 4, "order": [4, 1, 2, 3]}),
        (
            ["--channel", "general", "--command", "핑", "--down", "4"],
            {"instance": 1, "order": [4, 1, 2, 3]},
        ),
        (["--channel", "이미지생성-7", "--command", "/이미지"], {"instance": 2, "order": [2, 4]}),
        (
            ["--channel", "비디오생성-1", "--command", "비디오", "--down", "3,4"],
            {"instance": None, "order": [3, 4]},
        ),
        (["--command", "핑"], {"instance": 4, "order": [4, 1, 2, 3]}),
    ],
)
def test_route_json(args, expected):
    result = run_cli("route", *args, "--json")
    assert json.loads(result.stdout) == expected
    assert result.returncode == (0 if expected["instance"] else 1)


def test_route_human_output_explains_the_decision():
    result = run_cli("route", "--channel", "채팅방-1", "--command", "채팅", "--down", "1")
    assert result.returncode == 0
    assert "preference order: 1 -> 4" in result.stdout
    assert "down: 1" in result.stdout
    assert "answered by: instance 4" in result.stdout


def test_route_reads_patterns_from_env_file(tmp_path):
    (tmp_path / ".env.multi").write_text("INSTANCE_1_CHANNEL_PATTERNS=잡담-*\n", encoding="utf-8")
    result = run_cli("route", "--channel", "잡담-3", "--command", "채팅", "--json", cwd=tmp_path)
    assert json.loads(result.stdout)["instance"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "x", "--command", "chat"], "unknown command 'chat'; known commands: /채팅"),
        (["--channel", "x", "--command", "핑", "--down", "5"], "must be within 1..4"),
        (["--channel", "x", "--command", "핑", "--down", "a"], "expects ids like 1,3"),
    ],
)
def test_route_bad_input_exits_2_without_traceback(args, message):
    result = run_cli("route", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def good_env(instance: str = "1") -> dict[str, str]:
    return {"INSTANCE_ID": instance, "DISCORD_TOKEN": SECRET, f"OPENAI_API_KEY_{instance}": SECRET}


def test_check_config_ok_names_the_instance():
    result = run_cli("check-config", env=good_env("1"))
    assert result.returncode == 0, result.stderr
    assert "OK: instance 1 (chat)" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_check_config_instance_flag_overrides_environment():
    result = run_cli("check-config", "--instance", "2", env=good_env("1"))
    assert result.returncode == 2
    assert "instance 2" in result.stderr
    assert "MINIMAX_API_KEY_2" in result.stderr and "STABILITY_API_KEY_2" in result.stderr
    assert "OPENAI" not in result.stderr


def test_check_config_reports_placeholders_from_the_env_file(tmp_path):
    env_file = tmp_path / "my.env"
    env_file.write_text(
        "DISCORD_TOKEN=your-discord-bot-token-here\nOPENAI_API_KEY_1=your-openai-api-key-1-here\n",
        encoding="utf-8",
    )
    result = run_cli("check-config", "--env-file", str(env_file), "--instance", "1")
    assert result.returncode == 2
    assert "DISCORD_TOKEN is missing or still the example placeholder" in result.stderr
    assert "OPENAI_API_KEY_1 (or OPENAI_API_KEY) is missing" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"INSTANCE_ID": "9"}, [], "INSTANCE_ID: must be 1, 2, 3, 4 or 'all'"),
        (
            {},
            ["--env-file", "missing.env"],
            "'missing.env' (from --env-file or ENV_FILE) does not exist",
        ),
        ({"ENV_FILE": "gone.env"}, [], "'gone.env' (from --env-file or ENV_FILE) does not exist"),
        ({"INSTANCE_3_CHANNEL_PATTERNS": "video,,x"}, [], "INSTANCE_3_CHANNEL_PATTERNS"),
        ({"LOG_FORMAT": "xml"}, [], "LOG_FORMAT"),
    ],
)
def test_check_config_bad_values_exit_2_with_one_report(env, args, message):
    result = run_cli("check-config", *args, env={**good_env("1"), **env})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def test_run_refuses_to_start_with_missing_keys():
    result = run_cli("run", env={"INSTANCE_ID": "3", "DISCORD_TOKEN": SECRET})
    assert result.returncode == 2
    assert "MINIMAX_API_KEY_3" in result.stderr
    assert SECRET not in result.stderr


def test_health_reports_missing_stale_and_fresh_status(tmp_path):
    health = tmp_path / "health.json"
    env = {"INSTANCE_ID": "2", "HEALTH_FILE": str(health), "HEALTH_PORT": "0"}
    missing = run_cli("health", env=env)
    assert missing.returncode == 1 and "no status file" in missing.stdout

    health.write_text(json.dumps({"instance_id": "2", "ready": True, "updated_at": time.time()}))
    assert run_cli("health", env=env).returncode == 0

    health.write_text(
        json.dumps({"instance_id": "2", "ready": True, "updated_at": time.time() - 600})
    )
    stale = run_cli("health", env=env)
    assert stale.returncode == 1 and "stalled" in stale.stdout

    health.write_text(json.dumps({"instance_id": "2", "ready": False, "updated_at": time.time()}))
    connecting = run_cli("health", env=env)
    assert connecting.returncode == 1 and "not connected" in connecting.stdout


def test_unknown_subcommand_exits_2():
    result = run_cli("fly")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_check_config_explains_the_message_content_toggle_when_asked_for():
    result = run_cli("check-config", env={**good_env("1"), "MESSAGE_CONTENT_INTENT": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == (
        "Note: MESSAGE_CONTENT_INTENT=true asks Discord for the privileged Message Content "
        "intent. Turn it on first in the Developer Portal (Applications > this bot > Bot > "
        "Privileged Gateway Intents > Message Content Intent), or Discord closes every session "
        "with 4014 and the bot stops."
    )
    quiet = run_cli("check-config", env=good_env("1"))
    assert "Message Content" not in quiet.stdout, "off by default: nothing to explain"


def test_health_says_why_an_instance_stopped_or_is_draining(tmp_path):
    health = tmp_path / "health.json"
    env = {"INSTANCE_ID": "1", "HEALTH_FILE": str(health), "HEALTH_PORT": "0"}
    problem = "Discord closed the session with 4014 (disallowed intents)"
    # Written as the bot stopped, minutes ago: the reason still shows, not "stalled".
    health.write_text(
        json.dumps({"instance_id": "1", "problem": problem, "updated_at": time.time() - 300})
    )
    stopped = run_cli("health", env=env)
    assert stopped.returncode == 1
    assert stopped.stdout in (
        f"unhealthy: instance 1: {problem} (status 300s old)\n",
        f"unhealthy: instance 1: {problem} (status 301s old)\n",  # a slow start of the CLI
    )

    health.write_text(
        json.dumps(
            {"instance_id": "1", "ready": False, "draining": True, "updated_at": time.time()}
        )
    )
    draining = run_cli("health", env=env)
    assert draining.returncode == 1
    assert draining.stdout == (
        "unhealthy: instance 1 is draining: finishing its work before it stops\n"
    )
