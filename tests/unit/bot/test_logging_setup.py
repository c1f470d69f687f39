"""Logs: JSON lines bound to the instance, discord.py's records through the same pipeline."""

from __future__ import annotations

import json
import logging

from bot.logging_setup import configure_logging, get_logger


def test_json_lines_carry_instance_id_for_structlog_and_stdlib(capsys):
    configure_logging("3", "INFO", "json")
    get_logger("bot").info("ready", guilds=2)
    logging.getLogger("discord.gateway").warning("Shard ID %s heartbeat blocked", None)
    logging.getLogger("discord.client").debug("hidden below INFO")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["ready", "Shard ID None heartbeat blocked"]
    assert all(line["instance_id"] == "3" for line in lines)
    assert lines[0]["guilds"] == 2 and lines[0]["level"] == "info"
    assert lines[1]["logger"] == "discord.gateway" and lines[1]["level"] == "warning"


def test_exceptions_are_rendered_into_the_log_line(capsys):
    configure_logging("1", "INFO", "json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("bot").exception("command_failed")
    line = json.loads(capsys.readouterr().err.strip())
    assert line["event"] == "command_failed"
    assert "RuntimeError: boom" in line["exception"]


def test_console_format_is_human_readable(capsys):
    configure_logging("all", "INFO", "console")
    get_logger("bot").info("starting", role="all")
    err = capsys.readouterr().err
    assert "starting" in err and "instance_id=all" in err
    assert not err.lstrip().startswith("{")


def test_log_dir_gets_a_json_file_per_instance(tmp_path, capsys):
    configure_logging("2", "INFO", "console", str(tmp_path / "logs"))
    get_logger("bot").info("ready", guilds=1)
    logging.getLogger("discord.client").info("logging in")
    lines = (tmp_path / "logs" / "bot-2.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["ready", "logging in"]
    assert all(r["instance_id"] == "2" for r in records)
    assert "ready" in capsys.readouterr().err  # the console still gets it


def test_unwritable_log_dir_falls_back_to_stderr(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    configure_logging("3", "INFO", "json", str(blocker / "logs"))
    get_logger("bot").info("still_logging")
    err = capsys.readouterr().err
    assert "cannot write logs to" in err and "still_logging" in err
