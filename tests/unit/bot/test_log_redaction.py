"""DEBUG logs never carry tokens: discord.py's payload loggers stay quiet unless asked, and
whatever is logged, interaction tokens, webhook URLs and bot tokens are redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import configure_logging, get_logger, redact

BOT_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpTRUNSRVQ"
CALLBACK_URL = f"https://discord.com/api/v10/interactions/1234567890/{INTERACTION_TOKEN}/callback"
WEBHOOK_URL = f"https://discord.com/api/v10/webhooks/1111/{INTERACTION_TOKEN}/messages/@original"
MESSAGE_TEXT = "my private message text"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in ("discord.gateway", "discord.http")}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def emit_like_discord_py() -> None:
    """Records shaped like discord.py's own DEBUG lines (http.py, gateway.py, webhook)."""
    logging.getLogger("discord.http").debug(
        "%s %s with %s has returned %s", "POST", CALLBACK_URL, '{"type": 4}', 204
    )
    event = {
        "t": "INTERACTION_CREATE",
        "op": 0,
        "d": {"id": "1234567890", "token": INTERACTION_TOKEN, "data": {"name": "핑"}},
    }
    logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", None, event)
    logging.getLogger("discord.webhook.async_").debug(
        "Webhook ID %s with %s %s has returned status code %s", 1111, "PATCH", WEBHOOK_URL, 200
    )
    logging.getLogger("discord.state").debug("MESSAGE_CREATE: %s", MESSAGE_TEXT)


def file_lines(tmp_path) -> list[dict]:
    text = (tmp_path / "logs" / "bot-1.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_at_debug_discord_payload_loggers_stay_at_info(tmp_path, capsys):
    configure_logging("1", "DEBUG", "json", str(tmp_path / "logs"), secrets=[BOT_TOKEN])
    emit_like_discord_py()
    events = [r["event"] for r in file_lines(tmp_path)]
    assert events == ["MESSAGE_CREATE: my private message text"], "only discord.state's line"
    assert INTERACTION_TOKEN not in capsys.readouterr().err


def test_payload_lines_asked_for_come_with_tokens_redacted(tmp_path, capsys):
    configure_logging(
        "1", "DEBUG", "json", str(tmp_path / "logs"), discord_payloads=True, secrets=[BOT_TOKEN]
    )
    emit_like_discord_py()
    get_logger("bot").info("login", authorization=f"Bot {BOT_TOKEN}", raw=BOT_TOKEN)
    try:
        raise RuntimeError(f"POST {WEBHOOK_URL} failed")
    except RuntimeError:
        logging.getLogger("discord.client").exception("Attempting a reconnect")
    text = (tmp_path / "logs" / "bot-1.log").read_text(encoding="utf-8")
    console = capsys.readouterr().err
    for written in (text, console):
        assert INTERACTION_TOKEN not in written
        assert BOT_TOKEN not in written
    records = file_lines(tmp_path)
    assert records[0]["event"] == (
        "POST https://discord.com/api/v10/interactions/1234567890/[redacted]/callback "
        'with {"type": 4} has returned 204'
    )
    assert "'token': '[redacted]'" in records[1]["event"]
    assert records[2]["event"] == (
        "Webhook ID 1111 with PATCH https://discord.com/api/v10/webhooks/1111/[redacted]"
        "/messages/@original has returned status code 200"
    )
    login = next(r for r in records if r["event"] == "login")
    assert (login["authorization"], login["raw"]) == ("Bot [redacted]", "[redacted]")
    assert "webhooks/1111/[redacted]/messages" in records[-1]["exception"]


def test_redact_leaves_ordinary_text_alone():
    line = "Bot started in 3 guilds; token bucket refilled"
    assert redact(line) == line
    assert redact('{"token": "abc.def"}') == '{"token": "[redacted]"}'
    assert redact("key=sk-live-123456789", secrets=["sk-live-123456789"]) == "key=[redacted]"
