"""deploy-multi.sh behaviour, driven against a stub `docker` (see conftest.py)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.placeholder_cases import PLACEHOLDER_CASES

from .support import (
    COMPOSE_FILE,
    FAKE_KEYS,
    FAKE_REDIS_PASSWORD,
    PROJECT_NAME,
    REPO,
    Call,
    DeployRepo,
    Result,
)

PLACEHOLDER = "your-openai-api-key-1-here"


def is_up(service: str) -> object:
    return lambda c: c.compose_args[:3] == ["up", "-d", "--no-deps"] and c.argv[-1] == service


def check_config_args(n: int) -> list[str]:
    """The config validation the script must run for instance n, inside the image."""
    return [
        *("run", "--rm", "--no-deps", "-T", "-e", f"INSTANCE_ID={n}", f"bot-{n}"),
        *("python", "-m", "bot", "check-config", "--instance", str(n)),
    ]


def inspect_results(result: Result, service: str) -> list[int]:
    """Indices of the `docker inspect` calls for SERVICE's container."""
    return [
        i
        for i, c in enumerate(result.calls)
        if c.argv[:1] == ["inspect"] and c.argv[-1] == f"cid-{service}"
    ]


def assert_no_secret(result: Result) -> None:
    for name, value in FAKE_KEYS.items():
        assert value not in result.output, f"value of {name} leaked into the output"


def assert_never_started(result: Result) -> None:
    assert not result.compose("up"), result.describe()
    assert not result.compose("build"), result.describe()


# --- help / usage ------------------------------------------------------------------------


def test_script_is_an_executable_strict_bash_script() -> None:
    script = REPO / "deploy-multi.sh"
    text = script.read_text(encoding="utf-8")
    assert os.access(script, os.X_OK), "deploy-multi.sh must be executable (chmod +x)"
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert "\r" not in text, "deploy-multi.sh must have LF line endings"


@pytest.mark.parametrize("arg", ["help", "-h", "--help"])
def test_help_exits_0_and_lists_every_subcommand(deploy: DeployRepo, arg: str) -> None:
    result = deploy.run(arg)
    assert result.returncode == 0, result.describe()
    for sub in ("start", "stop", "restart", "status", "logs", "update", "help"):
        assert sub in result.stdout
    assert not result.calls


@pytest.mark.parametrize("args", [["deploy"], ["START"], []])
def test_unknown_or_missing_subcommand_is_a_usage_error(deploy: DeployRepo, args) -> None:
    result = deploy.run(*args)
    assert result.returncode == 2, result.describe()
    assert "start" in result.stderr  # usage printed
    assert not result.calls


@pytest.mark.parametrize("args", [["stop", "now"], ["status", "-v"], ["start", "--fast"]])
def test_unexpected_arguments_are_usage_errors(deploy: DeployRepo, args) -> None:
    result = deploy.run(*args)
    assert result.returncode == 2, result.describe()
    assert not result.compose("up") and not result.compose("down")


def test_bad_tunable_is_a_usage_error(deploy: DeployRepo) -> None:
    result = deploy.run("status", HEALTH_TIMEOUT="soon")
    assert result.returncode == 2
    assert "HEALTH_TIMEOUT" in result.stderr


# --- start -------------------------------------------------------------------------------


def test_start_runs_preflight_build_validation_up_and_status_in_order(deploy: DeployRepo) -> None:
    result = deploy.run("start", HEALTH_TIMEOUT="5")
    assert result.returncode == 0, result.describe()

    version = result.index(lambda c: c.argv == ["compose", "version"])
    info = result.index(lambda c: c.argv[:1] == ["info"])
    build = result.index(lambda c: c.compose_args[:1] == ["build"])
    checks = [
        result.index(lambda c, n=n: c.compose_args == check_config_args(n)) for n in range(1, 5)
    ]
    up = result.index(lambda c: c.compose_args[:3] == ["up", "-d", "--build"])
    ps = result.index(lambda c: c.compose_args == ["ps", "--all"])
    fleet = result.index(
        lambda c: c.compose_args == ["exec", "-T", "bot-4", "python", "-m", "bot", "status"]
    )
    assert version < info < build < checks[0] < checks[1] < checks[2] < checks[3] < up < ps < fleet
    # start waits until every instance is healthy before showing the status
    for n in range(1, 5):
        polls = inspect_results(result, f"bot-{n}")
        assert polls and up < polls[-1] < ps, result.describe()
    assert "Fleet: 4/4 instances alive" in result.stdout
    for n in range(1, 5):
        assert (deploy.dir / "logs" / f"bot-{n}").is_dir()


def test_every_compose_call_uses_the_compose_file_and_project_name(deploy: DeployRepo) -> None:
    other_cwd = deploy.root / "elsewhere"
    other_cwd.mkdir()
    result = deploy.run("start", cwd=other_cwd)
    assert result.returncode == 0, result.describe()
    compose_calls = [c for c in result.calls if c.argv[:1] == ["compose"]]
    assert len(compose_calls) > 8
    for call in compose_calls:
        # the script cds to its own folder, whatever the caller's cwd
        assert call.cwd == str(deploy.dir)
        if call.argv == ["compose", "version"]:
            continue
        assert call.argv[1:7] == [
            *("-p", PROJECT_NAME, "-f", COMPOSE_FILE, "--env-file", ".env.multi")
        ], str(call)


def test_project_name_is_read_from_the_compose_file(deploy: DeployRepo) -> None:
    compose = deploy.dir / COMPOSE_FILE
    text = compose.read_text(encoding="utf-8")
    assert f"\nname: {PROJECT_NAME}\n" in text
    compose.write_text(text.replace(f"\nname: {PROJECT_NAME}\n", "\nname: my-other-bot\n"))
    result = deploy.run("status", COMPOSE_PROJECT_NAME="stray-project")
    assert result.returncode == 0, result.describe()
    ps = result.compose("ps")[0]
    assert ps.argv[1:3] == ["-p", "my-other-bot"]


def test_start_without_env_file_explains_how_to_create_it(deploy: DeployRepo) -> None:
    deploy.env_file.unlink()
    result = deploy.run("start")
    assert result.returncode == 2, result.describe()
    assert "cp .env.multi.example .env.multi" in result.stderr
    assert_never_started(result)


@pytest.mark.parametrize(
    ("changes", "expected_missing"),
    [
        ({"OPENAI_API_KEY_1": PLACEHOLDER}, ["OPENAI_API_KEY_1"]),
        ({"DISCORD_TOKEN": "your-discord-bot-token-here"}, ["DISCORD_TOKEN"]),
        ({"MINIMAX_API_KEY_3": ""}, ["MINIMAX_API_KEY_3"]),
        (
            {"STABILITY_API_KEY_2": None, "STABILITY_API_KEY_4": "your-stability-api-key-4-here"},
            ["STABILITY_API_KEY_2", "STABILITY_API_KEY_4"],
        ),
    ],
)
def test_start_with_missing_or_placeholder_key_fails_and_names_it(
    deploy: DeployRepo, changes, expected_missing
) -> None:
    deploy.write_env({**FAKE_KEYS, **changes})
    result = deploy.run("start")
    assert result.returncode == 2, result.describe()
    for key in expected_missing:
        assert key in result.stderr
    assert_never_started(result)
    assert not result.compose("run")
    assert_no_secret(result)


def test_every_placeholder_of_the_example_is_reported(deploy: DeployRepo) -> None:
    (deploy.dir / ".env.multi.example").replace(deploy.env_file)
    result = deploy.run("start")
    assert result.returncode == 2
    for key in (
        "DISCORD_TOKEN",
        "OPENAI_API_KEY_1",
        "MINIMAX_API_KEY_2",
        "STABILITY_API_KEY_2",
        "MINIMAX_API_KEY_3",
        "OPENAI_API_KEY_4",
        "MINIMAX_API_KEY_4",
        "STABILITY_API_KEY_4",
    ):
        assert key in result.stderr
    assert_never_started(result)


def test_unsuffixed_key_is_the_fallback_for_an_instance(deploy: DeployRepo) -> None:
    deploy.write_env(
        {**FAKE_KEYS, "OPENAI_API_KEY_1": PLACEHOLDER, "OPENAI_API_KEY": "sk-shared-X1"}
    )
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert result.compose("up")


def test_optional_keys_may_stay_placeholders(deploy: DeployRepo) -> None:
    # instance 2 does not need OpenAI, instance 1 does not need MiniMax: backup only
    deploy.write_env(
        {
            **FAKE_KEYS,
            "OPENAI_API_KEY_2": "your-openai-api-key-2-here",
            "MINIMAX_API_KEY_1": "your-minimax-api-key-1-here",
        }
    )
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert "OPENAI_API_KEY_2" in result.stdout  # mentioned as a note
    assert result.compose("up")


def test_start_without_docker_on_path_fails_clearly(deploy: DeployRepo) -> None:
    result = deploy.run("start", docker=False)
    assert result.returncode == 2, result.describe()
    assert "docker" in result.stderr.lower()
    assert "https://docs.docker.com/engine/install/" in result.stderr
    assert "Docker Desktop" in result.stderr
    assert not result.calls


def test_start_without_compose_v2_fails_clearly(deploy: DeployRepo) -> None:
    result = deploy.run("start", STUB_COMPOSE_MISSING="1")
    assert result.returncode == 2, result.describe()
    assert "docker-compose-plugin" in result.stderr
    assert_never_started(result)


def test_start_with_docker_daemon_down_fails_clearly(deploy: DeployRepo) -> None:
    result = deploy.run("start", STUB_INFO_RC="1")
    assert result.returncode == 2, result.describe()
    assert "systemctl start docker" in result.stderr
    assert_never_started(result)


def test_reused_key_warns_but_start_proceeds(deploy: DeployRepo) -> None:
    shared = FAKE_KEYS["MINIMAX_API_KEY_2"]
    deploy.write_env({**FAKE_KEYS, "MINIMAX_API_KEY_3": shared})
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert "MINIMAX_API_KEY_2" in result.stderr and "MINIMAX_API_KEY_3" in result.stderr
    assert "rate limit" in result.stderr
    assert result.compose("up", "-d")
    assert_no_secret(result)


def test_reuse_through_the_unsuffixed_fallback_warns(deploy: DeployRepo) -> None:
    deploy.write_env(
        {
            **FAKE_KEYS,
            "OPENAI_API_KEY_1": "",
            "OPENAI_API_KEY_4": "your-openai-api-key-4-here",
            "OPENAI_API_KEY": "sk-shared-S3CR3T",
        }
    )
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert "OPENAI_API_KEY" in result.stderr and "rate limit" in result.stderr
    assert "sk-shared-S3CR3T" not in result.output


def test_distinct_keys_do_not_warn(deploy: DeployRepo) -> None:
    result = deploy.run("start")
    assert result.returncode == 0
    assert "rate limit" not in result.output


def test_env_file_readable_by_others_gets_a_chmod_hint(deploy: DeployRepo) -> None:
    deploy.env_file.chmod(0o644)
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert "chmod 600 .env.multi" in result.stderr


def test_env_file_parsing_tolerates_crlf_bom_export_quotes_and_comments(
    deploy: DeployRepo,
) -> None:
    lines = [f"{k}={v}" for k, v in FAKE_KEYS.items()]
    lines[0] = f'export DISCORD_TOKEN="{FAKE_KEYS["DISCORD_TOKEN"]}"'
    lines[1] = f"OPENAI_API_KEY_1='{FAKE_KEYS['OPENAI_API_KEY_1']}'"
    lines[2] = f"  MINIMAX_API_KEY_2 = {FAKE_KEYS['MINIMAX_API_KEY_2']}   # 2번 키"
    text = "\ufeff# 설정\r\n" + "\r\n".join(lines) + "\r\n"
    deploy.env_file.write_bytes(text.encode("utf-8"))
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert "rate limit" not in result.output


def test_failed_config_validation_blocks_start(deploy: DeployRepo) -> None:
    result = deploy.run("start", STUB_CHECK_FAIL="3")
    assert result.returncode == 2, result.describe()
    assert "bot-3" in result.stderr
    assert "Configuration invalid for instance 3" in result.stdout  # the bot's own report
    assert not result.compose("up")


def test_failed_validation_container_is_a_runtime_error(deploy: DeployRepo) -> None:
    result = deploy.run("start", STUB_RUN_RC="125")
    assert result.returncode == 1, result.describe()
    assert not result.compose("up")


def test_failed_build_is_a_runtime_error(deploy: DeployRepo) -> None:
    result = deploy.run("start", STUB_BUILD_RC="1")
    assert result.returncode == 1, result.describe()
    assert not result.compose("up")
    assert not result.compose("run")


def test_start_reports_an_instance_that_never_gets_healthy(deploy: DeployRepo) -> None:
    result = deploy.run("start", STUB_NEVER_HEALTHY="bot-2", HEALTH_TIMEOUT="1")
    assert result.returncode == 1, result.describe()
    assert "bot-2" in result.stderr
    assert "logs" in result.stderr
    assert result.compose("ps", "--all")  # status still shown


def test_start_no_wait_skips_health_polling(deploy: DeployRepo) -> None:
    result = deploy.run("start", "--no-wait")
    assert result.returncode == 0, result.describe()
    assert result.compose("up")
    assert not [c for c in result.calls if c.argv[:1] == ["inspect"]]


# --- stop / restart / status / logs ------------------------------------------------------


def test_stop_runs_down_and_keeps_volumes(deploy: DeployRepo) -> None:
    result = deploy.run("stop")
    assert result.returncode == 0, result.describe()
    downs = result.compose("down")
    assert len(downs) == 1
    assert "-v" not in downs[0].argv and "--volumes" not in downs[0].argv
    assert not result.compose("build") and not result.compose("up")


def test_stop_without_env_file_explains(deploy: DeployRepo) -> None:
    deploy.env_file.unlink()
    result = deploy.run("stop")
    assert result.returncode == 2
    assert "cp .env.multi.example .env.multi" in result.stderr


def test_restart_validates_before_stopping_then_starts(deploy: DeployRepo) -> None:
    result = deploy.run("restart")
    assert result.returncode == 0, result.describe()
    check = result.index(lambda c: "check-config" in c.argv)
    down = result.index(lambda c: c.compose_args[:1] == ["down"])
    up = result.index(lambda c: c.compose_args[:2] == ["up", "-d"])
    assert check < down < up


def test_restart_with_bad_keys_leaves_the_fleet_running(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "DISCORD_TOKEN": "your-discord-bot-token-here"})
    result = deploy.run("restart")
    assert result.returncode == 2
    assert not result.compose("down")


def test_status_shows_ps_then_fleet_summary(deploy: DeployRepo) -> None:
    result = deploy.run("status")
    assert result.returncode == 0, result.describe()
    ps = result.index(lambda c: c.compose_args == ["ps", "--all"])
    fleet = result.index(
        lambda c: c.compose_args == ["exec", "-T", "bot-4", "python", "-m", "bot", "status"]
    )
    assert ps < fleet
    assert "(healthy)" in result.stdout
    assert "Fleet: 4/4" in result.stdout
    assert not result.compose("build")


def test_status_tolerates_an_unavailable_fleet_summary(deploy: DeployRepo) -> None:
    result = deploy.run("status", STUB_STATUS_RC="1")
    assert result.returncode == 0, result.describe()
    assert "bot-4" in result.stderr  # the note says why the summary is missing


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["logs", "--tail", "200"]),
        (["all"], ["logs", "--tail", "200"]),
        (["2"], ["logs", "--tail", "200", "bot-2"]),
        (["3", "-f"], ["logs", "--tail", "200", "-f", "bot-3"]),
        (["-f", "4"], ["logs", "--tail", "200", "-f", "bot-4"]),
        (["-f"], ["logs", "--tail", "200", "-f"]),
        (["--tail", "50", "bot-1"], ["logs", "--tail", "50", "bot-1"]),
        (["redis", "--tail=10"], ["logs", "--tail", "10", "redis"]),
    ],
)
def test_logs_arguments(deploy: DeployRepo, args, expected) -> None:
    result = deploy.run("logs", *args)
    assert result.returncode == 0, result.describe()
    logs = result.compose("logs")
    assert len(logs) == 1
    assert logs[0].compose_args == expected


def test_logs_tail_default_comes_from_env(deploy: DeployRepo) -> None:
    result = deploy.run("logs", "1", LOG_TAIL="30")
    assert result.compose("logs")[0].compose_args == ["logs", "--tail", "30", "bot-1"]


@pytest.mark.parametrize("args", [["5"], ["bot-7"], ["--tail", "many"], ["--tail"]])
def test_logs_bad_arguments_are_usage_errors(deploy: DeployRepo, args) -> None:
    result = deploy.run("logs", *args)
    assert result.returncode == 2, result.describe()
    assert not result.compose("logs")


# --- update ------------------------------------------------------------------------------


def test_update_replaces_bots_one_at_a_time_waiting_for_health(deploy: DeployRepo) -> None:
    result = deploy.run("update", STUB_STARTING_POLLS="2")
    assert result.returncode == 0, result.describe()

    build = result.index(lambda c: c.compose_args[:1] == ["build"])
    pull = result.index(lambda c: c.compose_args == ["pull", "redis"])
    last_check = max(i for i, c in enumerate(result.calls) if "check-config" in c.argv)
    redis_up = result.index(lambda c: c.compose_args == ["up", "-d", "redis"])
    assert build < last_check < redis_up and pull < redis_up

    ups = [result.index(is_up(f"bot-{n}")) for n in range(1, 5)]
    assert ups == sorted(ups), "bots must be replaced in order bot-1..bot-4"
    assert redis_up < ups[0]
    for n, up in enumerate(ups, start=1):
        polls = inspect_results(result, f"bot-{n}")
        # 2 x "starting" then "healthy": three polls, all between this up and the next one
        assert len(polls) == 3, result.describe()
        upper = ups[n] if n < 4 else len(result.calls)
        assert all(up < p < upper for p in polls), result.describe()
    # a rolling update never takes the whole fleet down
    assert not result.compose("down")
    assert not result.compose("up", "-d", "--build")
    assert len(result.compose("up")) == 5
    assert result.compose("ps", "--all")  # final status


def test_update_stops_at_an_instance_that_never_gets_healthy(deploy: DeployRepo) -> None:
    started = time.monotonic()
    result = deploy.run("update", STUB_NEVER_HEALTHY="bot-2", HEALTH_TIMEOUT="1")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.describe()
    assert result.index(is_up("bot-1")) < result.index(is_up("bot-2"))
    assert not [c for c in result.calls if is_up("bot-3")(c) or is_up("bot-4")(c)]
    assert inspect_results(result, "bot-2")  # it polled before giving up
    assert "bot-2" in result.stderr and "1" in result.stderr
    assert "bot-3" in result.stderr  # tells which instances still run the old version
    assert elapsed < 10


def test_update_with_missing_keys_changes_nothing(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "MINIMAX_API_KEY_3": "your-minimax-api-key-3-here"})
    result = deploy.run("update")
    assert result.returncode == 2
    assert "MINIMAX_API_KEY_3" in result.stderr
    assert_never_started(result)
    assert not result.compose("pull")


def test_update_stops_when_redis_is_not_healthy(deploy: DeployRepo) -> None:
    result = deploy.run("update", STUB_NEVER_HEALTHY="redis", HEALTH_TIMEOUT="1")
    assert result.returncode == 1
    assert not [c for c in result.calls if c.compose_args[:3] == ["up", "-d", "--no-deps"]]


# --- Redis password ----------------------------------------------------------------------

GENERATED_COMMENT = "# Redis 비밀번호: 배포 스크립트가 만들었습니다. 바꾸는 법은 README_MULTI.md"
HEX64 = re.compile(r"[0-9a-f]{64}")


def env_password(deploy: DeployRepo) -> str:
    """The value of the last REDIS_PASSWORD= line of .env.multi (the one that counts)."""
    text = deploy.env_file.read_bytes()
    values = re.findall(rb"^[ \t]*(?:export )?REDIS_PASSWORD=(.*?)\r?$", text, re.M)
    assert values, "no REDIS_PASSWORD line"
    return values[-1].decode()


def without_password(deploy: DeployRepo) -> bytes:
    deploy.write_env({**FAKE_KEYS, "REDIS_PASSWORD": None})
    before = deploy.env_file.read_bytes()
    assert b"\nREDIS_PASSWORD=" not in before
    return before


def stub_openssl(deploy: DeployRepo, body: str) -> Path:
    """An `openssl` next to the stub docker; it logs its arguments to the returned file."""
    log = deploy.root / "openssl-args"
    stub = deploy.stubbin / "openssl"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"{log}"\n{body}\n')
    stub.chmod(0o755)
    return log


def compose_calls(result: Result) -> list[Call]:
    return [c for c in result.calls if c.argv[:1] == ["compose"] and c.argv[1:2] != ["version"]]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_start_appends_a_generated_password_and_keeps_the_rest(deploy: DeployRepo, mode) -> None:
    before = without_password(deploy)
    deploy.env_file.chmod(mode)
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()

    after = deploy.env_file.read_bytes()
    password = env_password(deploy)
    assert HEX64.fullmatch(password), "64 hex digits: 32 random bytes"
    assert after == before + f"{GENERATED_COMMENT}\nREDIS_PASSWORD={password}\n".encode()
    assert deploy.env_file.stat().st_mode & 0o777 == mode
    # it says so, without the value; Compose got the new password for every call
    assert "REDIS_PASSWORD 가 없어서 새로 만들어 적었습니다" in result.stdout
    assert password not in result.output
    assert {c.redis_password for c in compose_calls(result)} == {password}


def test_a_second_start_keeps_the_generated_password(deploy: DeployRepo) -> None:
    without_password(deploy)
    assert deploy.run("start").returncode == 0
    first = deploy.env_file.read_bytes()
    password = env_password(deploy)

    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert deploy.env_file.read_bytes() == first
    assert "새로 만들어" not in result.output
    assert {c.redis_password for c in compose_calls(result)} == {password}


def test_start_keeps_an_existing_password_untouched(deploy: DeployRepo) -> None:
    before = deploy.env_file.read_bytes()
    assert f"\nREDIS_PASSWORD={FAKE_REDIS_PASSWORD}\n".encode() in before
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert deploy.env_file.read_bytes() == before
    assert {c.redis_password for c in compose_calls(result)} == {FAKE_REDIS_PASSWORD}
    assert_no_secret(result)


@pytest.mark.parametrize(
    ("line", "kept_prefix"),
    [
        (b"REDIS_PASSWORD=", b""),
        (b"REDIS_PASSWORD=your-redis-password-here", b""),
        (b'export REDIS_PASSWORD=""', b"export "),
        (b"  REDIS_PASSWORD = ", b"  "),
    ],
)
def test_start_fills_an_empty_or_placeholder_password_in_place(
    deploy: DeployRepo, line: bytes, kept_prefix: bytes
) -> None:
    without_password(deploy)
    lines = deploy.env_file.read_bytes().split(b"\n")
    lines.insert(1, line)  # right after the header's first line, far from the end
    before = b"\n".join(lines)
    deploy.env_file.write_bytes(before)
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()

    password = env_password(deploy)
    assert HEX64.fullmatch(password)
    lines[1] = kept_prefix + b"REDIS_PASSWORD=" + password.encode()
    assert deploy.env_file.read_bytes() == b"\n".join(lines)
    assert password not in result.output


def test_crlf_and_an_unterminated_last_line_are_respected(deploy: DeployRepo) -> None:
    body = "\r\n".join(f"{k}={v}" for k, v in FAKE_KEYS.items() if k != "REDIS_PASSWORD")
    deploy.env_file.write_bytes(body.encode())  # no line break after the last line
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    password = env_password(deploy)
    expected = f"{body}\n{GENERATED_COMMENT}\r\nREDIS_PASSWORD={password}\r\n"
    assert deploy.env_file.read_bytes() == expected.encode()

    filled = deploy.env_file.read_bytes()
    deploy.env_file.write_bytes(filled.replace(f"={password}\r".encode(), b"=\r"))
    assert deploy.run("start").returncode == 0
    again = env_password(deploy)
    assert again != password
    assert deploy.env_file.read_bytes() == filled.replace(password.encode(), again.encode())


def test_the_password_comes_from_openssl_when_it_works(deploy: DeployRepo) -> None:
    without_password(deploy)
    args = stub_openssl(deploy, "echo " + "5a" * 32)
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert args.read_text() == "rand -hex 32\n"
    assert env_password(deploy) == "5a" * 32


@pytest.mark.parametrize("body", ["exit 1", "echo not-hex", "echo " + "AB" * 32])
def test_without_a_working_openssl_the_password_comes_from_urandom(
    deploy: DeployRepo, body: str
) -> None:
    without_password(deploy)
    args = stub_openssl(deploy, body)
    passwords = []
    for _ in range(2):
        deploy.write_env({**FAKE_KEYS, "REDIS_PASSWORD": ""})
        result = deploy.run("start")
        assert result.returncode == 0, result.describe()
        passwords.append(env_password(deploy))
    assert args.read_text() == "rand -hex 32\n" * 2  # tried first
    assert all(HEX64.fullmatch(p) for p in passwords)
    assert passwords[0] != passwords[1]


def test_no_source_of_randomness_is_a_clear_error(deploy: DeployRepo) -> None:
    before = without_password(deploy)
    (deploy.sysbin / "od").unlink()
    result = deploy.run("start")
    assert result.returncode == 1, result.describe()
    assert "REDIS_PASSWORD=<긴 무작위 값>" in result.stderr
    assert deploy.env_file.read_bytes() == before
    assert_never_started(result)


def test_missing_keys_leave_the_password_for_later(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "REDIS_PASSWORD": None, "DISCORD_TOKEN": ""})
    before = deploy.env_file.read_bytes()
    result = deploy.run("start")
    assert result.returncode == 2
    assert deploy.env_file.read_bytes() == before


def test_restart_generates_a_missing_password_before_stopping(deploy: DeployRepo) -> None:
    without_password(deploy)
    result = deploy.run("restart")
    assert result.returncode == 0, result.describe()
    password = env_password(deploy)
    assert HEX64.fullmatch(password)
    down = result.compose("down")
    assert len(down) == 1 and down[0].redis_password == password
    assert result.compose("up", "-d")[0].redis_password == password
    assert password not in result.output


def test_only_the_line_that_counts_is_filled(deploy: DeployRepo) -> None:
    """Two REDIS_PASSWORD lines: the last one wins (for Compose and the script alike)."""
    without_password(deploy)
    before = deploy.env_file.read_bytes()
    deploy.env_file.write_bytes(
        b"REDIS_PASSWORD=overridden-0123456789\n" + before + b"REDIS_PASSWORD=\n"
    )
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    password = env_password(deploy)
    assert HEX64.fullmatch(password)
    assert deploy.env_file.read_bytes() == (
        b"REDIS_PASSWORD=overridden-0123456789\n" + before + f"REDIS_PASSWORD={password}\n".encode()
    )


def test_update_refuses_to_invent_a_password(deploy: DeployRepo) -> None:
    before = without_password(deploy)
    result = deploy.run("update")
    assert result.returncode == 2, result.describe()
    assert "REDIS_PASSWORD" in result.stderr
    assert "./deploy-multi.sh restart" in result.stderr
    assert deploy.env_file.read_bytes() == before
    assert_never_started(result)
    assert not result.compose("pull")


def test_update_with_a_password_changes_nothing_in_the_env_file(deploy: DeployRepo) -> None:
    before = deploy.env_file.read_bytes()
    result = deploy.run("update")
    assert result.returncode == 0, result.describe()
    assert deploy.env_file.read_bytes() == before
    assert result.compose("up", "-d", "redis")[0].redis_password == FAKE_REDIS_PASSWORD


@pytest.mark.parametrize("args", [["stop"], ["status"], ["logs", "2"]])
def test_commands_that_create_no_container_work_before_the_first_start(
    deploy: DeployRepo, args: list[str]
) -> None:
    before = without_password(deploy)
    result = deploy.run(*args)
    assert result.returncode == 0, result.describe()
    assert deploy.env_file.read_bytes() == before
    calls = compose_calls(result)
    assert calls
    stand_in = "stand-in-for-a-command-that-creates-no-container"
    assert {c.redis_password for c in calls} == {stand_in}
    assert not result.compose("up") and not result.compose("run")


@pytest.mark.parametrize("args", [["stop"], ["status"]])
def test_commands_that_create_no_container_use_a_set_password(deploy: DeployRepo, args) -> None:
    result = deploy.run(*args)
    assert {c.redis_password for c in compose_calls(result)} == {FAKE_REDIS_PASSWORD}


def test_shell_variables_cannot_override_the_env_file(deploy: DeployRepo) -> None:
    result = deploy.run(
        "start",
        REDIS_PASSWORD="from-the-shell-0123456789",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.describe()
    assert {c.redis_password for c in compose_calls(result)} == {FAKE_REDIS_PASSWORD}
    assert {c.redis_url for c in compose_calls(result)} == {""}  # compose's default applies
    assert "환경 변수 REDIS_PASSWORD 는 쓰지 않습니다" in result.stderr
    assert "from-the-shell-0123456789" not in result.output


def test_a_redis_url_in_the_env_file_reaches_compose(deploy: DeployRepo) -> None:
    external = "rediss://:x@cache.example:6380/2"
    deploy.write_env({**FAKE_KEYS, "REDIS_URL": external})
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert {c.redis_url for c in compose_calls(result)} == {external}


@pytest.mark.parametrize(
    "url", ["redis://redis:6379/0", "redis://redis", "redis://redis/0", "redis://redis:6379"]
)
def test_a_redis_url_to_the_compose_redis_without_password_is_refused(
    deploy: DeployRepo, url: str
) -> None:
    deploy.write_env({**FAKE_KEYS, "REDIS_URL": url})
    result = deploy.run("start")
    assert result.returncode == 2, result.describe()
    assert "REDIS_URL" in result.stderr and "비밀번호 없이" in result.stderr
    assert_never_started(result)


def test_password_with_characters_unsafe_in_a_url_is_refused(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "REDIS_PASSWORD": "p@ss/word:0123456789"})
    result = deploy.run("start")
    assert result.returncode == 2, result.describe()
    assert "REDIS_PASSWORD" in result.stderr and ". _ ~ -" in result.stderr
    assert "p@ss/word:0123456789" not in result.output
    assert_never_started(result)


def test_short_password_warns_and_proceeds(deploy: DeployRepo) -> None:
    deploy.write_env({**FAKE_KEYS, "REDIS_PASSWORD": "short-S3CR3T"})
    result = deploy.run("start")
    assert result.returncode == 0, result.describe()
    assert "REDIS_PASSWORD 가 16자보다 짧습니다" in result.stderr
    assert "short-S3CR3T" not in result.output


# --- secrets and colours -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["start"], {}),
        (["restart"], {}),
        (["update"], {"STUB_STARTING_POLLS": "1"}),
        (["status"], {"STUB_STATUS_RC": "1"}),
        (["start"], {"STUB_CHECK_FAIL": "1 2 3 4"}),
        (["update"], {"STUB_NEVER_HEALTHY": "bot-1", "HEALTH_TIMEOUT": "0"}),
    ],
)
def test_no_secret_value_is_ever_printed(deploy: DeployRepo, args, env) -> None:
    # every key reused somewhere: the warnings must name keys, never show values
    deploy.write_env({**FAKE_KEYS, "OPENAI_API_KEY_4": FAKE_KEYS["OPENAI_API_KEY_1"]})
    result = deploy.run(*args, **env)
    assert result.calls
    assert_no_secret(result)
    assert FAKE_KEYS["OPENAI_API_KEY_1"] not in result.output


def _run_on_tty(deploy: DeployRepo, *args: str, **env: str) -> str:
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [str(deploy.dir / "deploy-multi.sh"), *args],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env={
                "PATH": f"{deploy.stubbin}:{deploy.sysbin}",
                "HOME": str(deploy.root),
                "TERM": "xterm",
                "STUB_LOG": str(deploy.log),
                "STUB_STATE": str(deploy.state),
                **env,
            },
            timeout=30,
            check=False,
        )
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.returncode == 0
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_colours_only_on_a_tty_and_without_no_color(deploy: DeployRepo) -> None:
    assert "\x1b[" in _run_on_tty(deploy, "status")
    assert "\x1b[" not in _run_on_tty(deploy, "status", NO_COLOR="1")
    piped = deploy.run("status")
    assert "\x1b[" not in piped.output


def test_stub_records_calls(deploy: DeployRepo, tmp_path: Path) -> None:
    """Guard for the harness itself: the stub is what the script calls."""
    result = deploy.run("status")
    assert result.calls and isinstance(result.calls[0], Call)
    assert result.calls[0].argv == ["compose", "version"]


@pytest.mark.parametrize(("value", "placeholder"), sorted(PLACEHOLDER_CASES.items()))
def test_the_script_and_check_config_share_one_placeholder_rule(
    deploy: DeployRepo, value: str, placeholder: bool
) -> None:
    """The same hand-written table as tests/unit/test_env_manager.py: a DISCORD_TOKEN that
    is a placeholder stops `start` before anything runs, any other value passes the check."""
    deploy.write_env({**FAKE_KEYS, "DISCORD_TOKEN": value})
    result = deploy.run("start")
    stopped_for_token = result.returncode == 2 and "DISCORD_TOKEN" in result.stderr
    assert stopped_for_token is placeholder, result.describe()
