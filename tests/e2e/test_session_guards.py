"""`python -m bot run` protecting the token: too few session starts left, and gateway close
codes after which reconnecting cannot help (4004, 4014). Real processes on the double."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.discord import FakeDiscord
from sandbox.discord.rules import Rules
from sandbox.fleet import BOT_SETTING_VARS, free_port

pytestmark = pytest.mark.e2e
TOKEN = "sandbox-instance-all"


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(channels=["general"], threads={}, rules=Rules())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def env_for(fake: FakeDiscord, workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not BOT_SETTING_VARS.match(k)}
    return (
        env
        | {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE_URL": fake.rest_url,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "OPENAI_API_KEY": "k1",
            "MINIMAX_API_KEY": "k2",
            "STABILITY_API_KEY": "k3",
            "LOG_FORMAT": "json",
            "IDENTIFY_SPACING": "0.3",
            "HEALTH_FILE": str(workdir / "health.json"),
            "HEALTH_PORT": str(free_port()),  # never the default 8080 another process may hold
            "PYTHONUNBUFFERED": "1",
        }
        | extra
    )


class Bot:
    """One `python -m bot run` process whose JSON log lines are read as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, object]] = []
        self.text = ""

    @classmethod
    async def start(cls, env: dict[str, str]) -> Bot:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        return cls(process)

    async def _read_line(self) -> bool:
        assert self.process.stdout is not None
        line = (await self.process.stdout.readline()).decode()
        if not line:
            return False
        self.text += line
        if line.startswith("{"):
            self.events.append(json.loads(line))
        return True

    async def wait_for(self, event: str, timeout: float = 30) -> dict[str, object]:
        async def find() -> dict[str, object]:
            while True:
                for found in self.events:
                    if found.get("event") == event:
                        return found
                if not await self._read_line():
                    raise AssertionError(f"exited before {event!r}:\n{self.text}")

        return await asyncio.wait_for(find(), timeout)

    async def exit_code(self, timeout: float = 30) -> int:
        async def drain() -> None:
            while await self._read_line():
                pass

        await asyncio.wait_for(drain(), timeout)
        return await asyncio.wait_for(self.process.wait(), timeout)


async def health(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode().strip()


async def test_too_few_session_starts_left_stops_before_identifying(fake, tmp_path):
    fake.rules.session_starts_remaining = 42
    env = env_for(fake, tmp_path)
    bot = await Bot.start(env)
    assert await bot.exit_code() == 1
    refused = next(e for e in bot.events if e.get("event") == "session_starts_exhausted")
    assert (refused["remaining"], refused["total"], refused["reserve"]) == (42, 1000, 100)
    assert refused["reset_after_s"] == 86400
    assert fake.identify_log == [], "not one session start spent"
    assert (await health(env)).startswith(
        "unhealthy: instance all: only 42 of 1000 daily session starts left (reserve 100); "
        "Discord resets the count in 24.0 h: not connecting (status "
    )
    assert "Traceback" not in bot.text and TOKEN not in bot.text

    # A lower reserve (the operator's call) lets it connect.
    ok = await Bot.start(env | {"SESSION_START_RESERVE": "10"})
    await ok.wait_for("ready")
    ok.process.send_signal(signal.SIGTERM)
    assert await ok.exit_code() == 0


async def test_disallowed_intents_exit_2_and_a_restart_waits_instead_of_identifying(fake, tmp_path):
    fake.rules.identify_close_code = 4014
    env = env_for(fake, tmp_path, MESSAGE_CONTENT_INTENT="true")
    first = await Bot.start(env)
    assert await first.exit_code() == 2
    fatal = next(e for e in first.events if e.get("event") == "discord_closed_session_fatal")
    assert (fatal["close_code"], fatal["reason"], fatal["retry_after_s"]) == (
        4014,
        "disallowed intents",
        1200,
    )
    assert "Bot > Privileged Gateway Intents > Message Content Intent" in str(fatal["hint"])
    assert len(fake.identify_log) == 1
    assert (await health(env)).startswith(
        "unhealthy: instance all: Discord closed the session with 4014 (disallowed intents)"
    )
    assert "Traceback" not in first.text and TOKEN not in first.text

    # Docker restarts the container: same configuration, so it waits and never IDENTIFYs.
    again = await Bot.start(env)
    hold = await again.wait_for("fatal_hold")
    assert hold["close_code"] == 4014 and 1190 <= int(hold["wait_s"]) <= 1200
    await asyncio.sleep(1.0)
    assert len(fake.identify_log) == 1
    assert (await health(env)).startswith(
        "unhealthy: instance all: Discord closed the last session with 4014 "
        "(disallowed intents); waiting 20 min before trying again"
    )
    again.process.send_signal(signal.SIGTERM)
    assert await again.exit_code(timeout=10) == 0, again.text
    assert len(fake.identify_log) == 1

    # The operator turns the intent off: the configuration changed, so it connects now.
    fake.rules.identify_close_code = None
    fixed = await Bot.start(env | {"MESSAGE_CONTENT_INTENT": "false"})
    await fixed.wait_for("fatal_hold_lifted")
    await fixed.wait_for("ready")
    assert await health(env) == "healthy: instance all: serving"
    fixed.process.send_signal(signal.SIGTERM)
    assert await fixed.exit_code() == 0
    assert not (tmp_path / "health.json.fatal").exists(), "forgotten once a session worked"


async def test_authentication_failed_at_identify_exits_2_with_the_token_hint(fake, tmp_path):
    fake.rules.identify_close_code = 4004
    bot = await Bot.start(env_for(fake, tmp_path))
    assert await bot.exit_code() == 2
    fatal = next(e for e in bot.events if e.get("event") == "discord_closed_session_fatal")
    assert (fatal["close_code"], fatal["reason"]) == (4004, "authentication failed")
    assert "Reset Token" in str(fatal["hint"])
    assert (tmp_path / "health.json.fatal").exists()
    assert "Traceback" not in bot.text and TOKEN not in bot.text
