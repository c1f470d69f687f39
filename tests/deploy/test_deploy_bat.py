"""deploy-multi.bat, checked structurally (no cmd.exe here)."""

from __future__ import annotations

import re

import pytest

from .support import REPO

SUBCOMMANDS = ("start", "stop", "restart", "status", "logs", "update", "monitoring", "help")


@pytest.fixture(scope="module")
def raw() -> bytes:
    return (REPO / "deploy-multi.bat").read_bytes()


@pytest.fixture(scope="module")
def lines(raw: bytes) -> list[str]:
    return raw.decode("ascii").split("\r\n")


@pytest.fixture(scope="module")
def code(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln.strip() and not ln.lstrip().lower().startswith("rem")]


def test_crlf_line_endings_and_ascii(raw: bytes) -> None:
    assert raw.isascii(), "keep the .bat ASCII: cmd reads it in the console code page"
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF: cmd needs CRLF line endings"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"


def test_starts_quietly_with_local_scope_in_its_own_folder(code: list[str]) -> None:
    assert code[0] == "@echo off"
    assert any(ln.startswith("setlocal EnableExtensions") for ln in code)
    assert 'cd /d "%~dp0"' in code


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_a_label_and_is_dispatched(code: list[str], sub: str) -> None:
    assert f":cmd_{sub}" in code
    assert f'if /i "%SUB%"=="{sub}" goto :cmd_{sub}' in code


def test_every_goto_and_call_target_exists(code: list[str]) -> None:
    labels = {ln.strip()[1:].lower() for ln in code if re.match(r"^:\w", ln.strip())}
    targets = set()
    for ln in code:
        targets |= {t.lower() for t in re.findall(r"\b(?:goto|call) :(\w+)", ln, re.IGNORECASE)}
    assert targets, "no goto/call found"
    assert targets <= labels, f"missing labels: {sorted(targets - labels)}"


def test_unknown_command_and_help_exit_codes(lines: list[str]) -> None:
    text = "\r\n".join(lines)
    unknown = text.split("Unknown command", 1)[1].split("\r\n\r\n", 1)[0]
    assert "exit /b 2" in unknown
    help_block = text.split("\r\n:cmd_help\r\n", 1)[1].split("\r\n\r\n", 1)[0]
    assert "exit /b 0" in help_block


def test_uses_the_compose_file_env_file_and_project_name(code: list[str]) -> None:
    text = "\n".join(code)
    assert 'set "COMPOSE_FILE_NAME=docker-compose.multi.yml"' in text
    assert 'set "ENV_FILE=.env.multi"' in text
    assert 'set "ENV_EXAMPLE=.env.multi.example"' in text
    compose = "docker compose -p %PROJECT_NAME% -f %COMPOSE_FILE_NAME% --env-file %ENV_FILE%"
    assert f'set "COMPOSE={compose}"' in text
    # every docker compose call goes through %COMPOSE% (only the version probe is bare)
    bare = [
        ln for ln in code if "docker compose" in ln and "COMPOSE=" not in ln and "echo" not in ln
    ]
    assert all("docker compose version" in ln for ln in bare), bare
    assert "copy %ENV_EXAMPLE% %ENV_FILE%" in text


def test_same_checks_and_commands_as_the_shell_script(code: list[str]) -> None:
    text = "\n".join(code)
    for needle in (
        "where docker",
        "docker compose version",
        "docker info",
        'if exist "%ENV_FILE%"',
        "run --rm --no-deps -T -e INSTANCE_ID=%1 bot-%1 python -m bot check-config --instance %1",
        "%COMPOSE% up -d --build",
        "%COMPOSE% down --remove-orphans",
        "%COMPOSE% ps --all",
        "%COMPOSE% exec -T bot-4 python -m bot status",
        "%COMPOSE% logs --tail %TAIL% %FOLLOW% %TARGET%",
        "%COMPOSE% build",
        "%COMPOSE% pull redis",
        "%COMPOSE% up -d --no-deps bot-%1",
        '--format "{{.State.Health.Status}}"',
        "timeout /t",
    ):
        assert needle in text, needle
    assert "down -v" not in text and "--volumes" not in text


def test_placeholders_follow_the_shared_rule_file(code: list[str]) -> None:
    """Like deploy-multi.sh and check-config: the globs of bot/placeholders.txt, trimmed,
    any case (PowerShell's -like), blank values too; only names come back, never values."""
    text = "\n".join(code)
    for needle in (
        'if not exist "bot\\placeholders.txt" goto :no_placeholder_rule',
        "Get-Content -LiteralPath 'bot\\placeholders.txt' -Encoding UTF8",
        "Where-Object { $_ -and -not $_.StartsWith('#') }",
        "$v=$_.Value.Trim(); if ($v -eq '' -or ($g | Where-Object { $v -like $_ })) { $_.Name }",
        'call set "_rest=%%PLACEHOLDER_VARS: %1 = %%"',
        'if not "%_rest%"=="%PLACEHOLDER_VARS%" exit /b 1',
    ):
        assert needle in text, needle
    assert "your-" not in text.split(":is_filled", 1)[1].split("exit /b 0", 1)[0]


def test_required_key_matrix(code: list[str]) -> None:
    needs = [ln for ln in code if ln.startswith("call :need ")]
    assert needs == [
        "call :need OPENAI_API_KEY 1",
        "call :need MINIMAX_API_KEY 2",
        "call :need STABILITY_API_KEY 2",
        "call :need MINIMAX_API_KEY 3",
        "call :need OPENAI_API_KEY 4",
        "call :need MINIMAX_API_KEY 4",
        "call :need STABILITY_API_KEY 4",
    ]
    assert any("ENVF_DISCORD_TOKEN" in ln for ln in code)


def test_update_loop_replaces_one_instance_at_a_time(code: list[str]) -> None:
    text = "\n".join(code)
    assert "for %%i in (1 2 3 4) do if not defined UPDATE_FAILED call :update_one %%i" in text
    assert "if defined UPDATE_FAILED exit /b 1" in text
    update_one = text.split("\n:update_one\n", 1)[1].split("\n:", 1)[0]
    assert update_one.index("up -d --no-deps bot-%1") < update_one.index("call :wait_healthy")


def test_errorlevels_are_checked_on_the_next_line(code: list[str]) -> None:
    """`call :x || ...` and `exit /b` without a code are avoided: the explicit form
    `call :x` + `if errorlevel 1 exit /b %errorlevel%` behaves the same in every cmd."""
    for ln in code:
        assert not re.search(r"\bcall :\w+[^&|]*(\|\||&&)", ln), ln
        assert ln.strip() != "exit /b", "exit /b without a code"


def test_parentheses_balance(code: list[str]) -> None:
    depth = 0
    for ln in code:
        if ln.lstrip().lower().startswith(("echo", ">&2 echo")):
            continue
        depth += ln.count("(") - ln.count(")")
        assert depth >= 0, ln
    assert depth == 0


def test_never_echoes_a_key_value(code: list[str]) -> None:
    for ln in code:
        if "echo" in ln.lower():
            assert "%ENVF_" not in ln and "!ENVF_" not in ln, ln


def label_block(code: list[str], label: str) -> str:
    """The lines of a label, up to the next label (a sub-label inside it ends it too)."""
    text = "\n".join(code)
    return text.split(f"\n:{label}\n", 1)[1].split("\n:", 1)[0]


def test_redis_variables_of_the_window_are_dropped_before_compose_runs(code: list[str]) -> None:
    text = "\n".join(code)
    unset = text.index('set "REDIS_PASSWORD="')
    assert text.index('set "REDIS_URL="') < text.index('set "COMPOSE=')
    assert unset < text.index('set "COMPOSE=')
    assert "if defined REDIS_PASSWORD >&2 echo [WARN]" in text


@pytest.mark.parametrize(
    ("sub", "mode"), [("start", "generate"), ("restart", "generate"), ("update", "require")]
)
def test_what_each_command_does_without_a_password(code: list[str], sub: str, mode: str) -> None:
    assert f"call :prepare {mode}" in label_block(code, f"cmd_{sub}")
    prepare = label_block(code, "prepare")
    check_keys = prepare.index("call :check_keys")
    ensure = prepare.index("call :ensure_redis_password %1")
    assert check_keys < ensure < prepare.index("call :check_redis_url") < prepare.index("build")


@pytest.mark.parametrize(
    ("sub", "then"),
    [("stop", "%COMPOSE% --profile monitoring down"), ("status", "call :show_status")],
)
def test_commands_that_create_no_container_get_a_stand_in(code: list[str], sub, then) -> None:
    block = label_block(code, f"cmd_{sub}")
    stand_in = block.index("call :stand_in_redis_password")
    assert block.index("call :require_env_file") < stand_in < block.index(then)


def test_logs_gets_the_stand_in_too(code: list[str]) -> None:
    logs = "\n".join(code).split("\n:logs_run\n", 1)[1].split("\n:", 1)[0]
    assert logs.index("call :stand_in_redis_password") < logs.index("%COMPOSE% logs")
    assert (
        'if not defined ENVF_REDIS_PASSWORD set "REDIS_PASSWORD='
        'stand-in-for-a-command-that-creates-no-container"'
    ) in label_block(code, "stand_in_redis_password")


def test_ensure_generates_only_when_asked_and_checks_the_result(code: list[str]) -> None:
    ensure = label_block(code, "ensure_redis_password")
    assert ensure.startswith(
        "call :is_filled ENVF_REDIS_PASSWORD\n"
        "if not errorlevel 1 goto :check_redis_password\n"
        'if /i not "%~1"=="generate" goto :no_redis_password\n'
        "call :write_redis_password\n"
        "if errorlevel 1 exit /b %errorlevel%\n"
        "call :load_env\n"
        "if errorlevel 1 exit /b %errorlevel%\n"
        "call :is_filled ENVF_REDIS_PASSWORD\n"
    )
    refusal = label_block(code, "no_redis_password")
    assert "%PROG% restart" in refusal and "exit /b 2" in refusal


def test_the_password_is_made_and_written_by_powershell_alone(code: list[str]) -> None:
    assert label_block(code, "write_redis_password") == (
        'set "PW_KEY=REDIS_PASSWORD"\n'
        'set "PW_COMMENT=# Redis password written by deploy-multi.bat. How to change it: '
        'README_MULTI.md"\n'
        "call :write_password\n"
        "exit /b %errorlevel%"
    )
    block = label_block(code, "write_password")
    parts = dict(re.findall(r'^set "(PS_\d)=(.*)"$', block, re.MULTILINE))
    assert sorted(parts) == ["PS_1", "PS_2", "PS_3", "PS_4", "PS_5"]
    script = " ".join(parts[k] for k in sorted(parts))
    # cmd expands the parts inside one pair of double quotes: nothing it would act on
    assert not re.search(r'["%!]', script), script
    for needle in (
        "[Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($b)",
        "New-Object byte[] 32",
        "$v=$env:PW_KEY+'='+[BitConverter]::ToString($b).Replace('-','').ToLower()",
        # bytes in and out as Latin-1: no BOM sniffing, every other byte kept
        "[Text.Encoding]::GetEncoding(28591)",
        "$e.GetString([IO.File]::ReadAllBytes($p))",
        "[IO.File]::WriteAllBytes($p,$e.GetBytes($t))",
        # the last plain KEY= line is the one the .bat and Compose use
        "[regex]::Matches($t,'(?m)^'+$env:PW_KEY+'=[^\\r\\n]*')",
        "$l=$m[$m.Count-1]",
        # appended when there is none: the caller's comment, then the password
        "$t+=$env:PW_COMMENT+$n+$v+$n",
    ):
        assert needle in script, needle
    assert (
        'powershell -NoProfile -NonInteractive -Command "%PS_1% %PS_2% %PS_3% %PS_4% %PS_5%"'
        in block
    )


def test_the_password_never_appears_on_a_command_line(code: list[str]) -> None:
    text = "\n".join(code)
    for key in ("REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert f"%ENVF_{key}%" not in text and f"!ENVF_{key}!" not in text
    assert label_block(code, "check_redis_password") == (
        'set "PW_KEY=REDIS_PASSWORD"\ncall :check_password\nexit /b %errorlevel%'
    )
    assert "$v=[Environment]::GetEnvironmentVariable('ENVF_'+$env:PW_KEY)" in label_block(
        code, "check_password"
    )


def test_password_characters_and_length_are_checked(code: list[str]) -> None:
    block = label_block(code, "check_password")
    assert "-cnotmatch '^[A-Za-z0-9._~-]+$') { exit 1 }" in block
    assert "if ($v.Length -lt 16) { exit 3 }" in block
    assert 'if "%RC%"=="1" (' in block and "exit /b 2" in block
    assert 'if "%RC%"=="3" >&2 echo [WARN]' in block


def test_redis_url_without_password_to_the_compose_redis_is_refused(code: list[str]) -> None:
    block = label_block(code, "check_redis_url")
    for needle in (
        'if /i "%_u%"=="redis://redis" goto :redis_url_without_password',
        'if /i "%_u:~0,14%"=="redis://redis:" goto :redis_url_without_password',
        'if /i "%_u:~0,14%"=="redis://redis/" goto :redis_url_without_password',
    ):
        assert needle in block
    assert len("redis://redis:") == 14
    assert "exit /b 2" in label_block(code, "redis_url_without_password")


# --- monitoring ----------------------------------------------------------------------------


def test_grafana_password_of_the_window_is_dropped_before_compose_runs(code: list[str]) -> None:
    text = "\n".join(code)
    assert text.index('set "GRAFANA_ADMIN_PASSWORD="') < text.index('set "COMPOSE=')
    assert "if defined GRAFANA_ADMIN_PASSWORD >&2 echo [WARN]" in text


def test_only_the_monitoring_stop_and_its_logs_enable_the_profile(code: list[str]) -> None:
    """Without --profile monitoring, Compose sees Redis and the bots: start, restart, update
    and status work as before."""
    profiled = [ln.strip() for ln in code if "--profile" in ln]
    assert profiled == [
        "%COMPOSE% --profile monitoring down --remove-orphans",  # stop: everything
        'if defined MONITORING set "COMPOSE=%COMPOSE% --profile monitoring"',  # logs grafana
        'set "COMPOSE=%COMPOSE% --profile monitoring"',  # monitoring start, stop, status
    ]
    logs = "\n".join(code).split("\n:cmd_logs\n", 1)[1].split("\n:logs_run\n", 1)[0]
    for service in ("prometheus", "grafana"):
        assert (
            f'if /i "%~1"=="{service}" (set "TARGET={service}" & set "MONITORING=1" '
            "& goto :logs_next)"
        ) in logs


def test_monitoring_checks_its_action_then_enables_the_profile(code: list[str]) -> None:
    text = "\n".join(code)
    head = text.split("\n:cmd_monitoring\n", 1)[1].split("\n:monitoring_go\n", 1)[0]
    assert head.startswith('set "ACTION=%~2"\nif not "%~3"=="" goto :monitoring_usage\n')
    for action in ("start", "stop", "status"):
        assert f'if /i "%ACTION%"=="{action}" goto :monitoring_go' in head
    assert "exit /b 2" in head.split(":monitoring_usage", 1)[1]
    go = label_block(code, "monitoring_go")
    steps = [
        "call :require_docker",
        "call :require_env_file",
        "call :stand_in_redis_password",
        'set "COMPOSE=%COMPOSE% --profile monitoring"',
        'if /i "%ACTION%"=="stop" goto :monitoring_stop',
        'if /i "%ACTION%"=="status" goto :monitoring_status',
        "call :ensure_grafana_password",
        "%COMPOSE% up -d prometheus grafana",
        "call :wait_healthy grafana",
        "%PROG% logs grafana",
        "call :show_monitoring",
    ]
    positions = [go.index(step) for step in steps]
    assert positions == sorted(positions), go
    assert "%COMPOSE% rm --stop --force prometheus grafana" in label_block(code, "monitoring_stop")
    assert "call :show_monitoring" in label_block(code, "monitoring_status")


def test_show_monitoring_is_the_same_as_the_shell_scripts(code: list[str]) -> None:
    block = label_block(code, "show_monitoring")
    for needle in (
        "%COMPOSE% ps --all prometheus grafana",
        # cmd passes the quotes through; docker reads \" as a quote: up{job="mib-bots"}
        "%COMPOSE% exec -T prometheus promtool query instant http://localhost:9090 "
        '"up{job=\\"mib-bots\\"}"',
        "http://localhost:3000",
        "GRAFANA_ADMIN_PASSWORD in %ENV_FILE%",
        "ssh -L 3000:localhost:3000 USER@SERVER",
    ):
        assert needle in block, needle


def test_grafana_password_is_made_like_the_redis_one(code: list[str]) -> None:
    block = label_block(code, "ensure_grafana_password")
    assert block.startswith(
        "call :load_env\n"
        "if errorlevel 1 exit /b %errorlevel%\n"
        'set "PW_KEY=GRAFANA_ADMIN_PASSWORD"\n'
        "call :is_filled ENVF_GRAFANA_ADMIN_PASSWORD\n"
        "if not errorlevel 1 goto :check_password\n"
        'set "PW_COMMENT=# Grafana admin password written by deploy-multi.bat. See Monitoring '
        'in README_MULTI.md"\n'
        "call :write_password\n"
        "if errorlevel 1 exit /b %errorlevel%\n"
        "call :load_env\n"
        "if errorlevel 1 exit /b %errorlevel%\n"
        "call :is_filled ENVF_GRAFANA_ADMIN_PASSWORD\n"
    )
    assert "The value is not shown." in block
