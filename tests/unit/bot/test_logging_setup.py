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
