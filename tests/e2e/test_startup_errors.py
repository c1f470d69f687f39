"""`python -m bot run` when Discord says no, or cannot be reached: a clear line, no traceback."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from aiohttp import web

from sandbox.fleet import BOT_SETTING_VARS

pytestmark = pytest.mark.e2e
TOKEN = "sandbox-wrong-token-SECRET"


def bot_env(rest_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not BOT_SETTING_VARS.match(k)}
    env |= {
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_BASE_URL": rest_url,
        "OPENAI_API_KEY": "k1",
        "MINIMAX_API_KEY": "k2",
        "STABILITY_API_KEY": "k3",
        "LOG_FORMAT": "json",
        "HEALTH_PORT": "0",  # no health server: these bots never get that far
    }
    return env


async def run_bot(env: dict[str, str]) -> tuple[int, list[dict[str, object]], str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return process.returncode, events, text


async def test_rejected_token_exits_2_with_a_hint(unused_tcp_port):
    async def unauthorized(request: web.Request) -> web.Response:
        return web.Response(
            status=401,
            text='{"message": "401: Unauthorized", "code": 0}',
            content_type="application/json",
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unauthorized)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        code, events, text = await run_bot(bot_env(f"http://127.0.0.1:{unused_tcp_port}/api/v10"))
    finally:
        await runner.cleanup()
    assert code == 2
    rejected = [e for e in events if e.get("event") == "discord_rejected_token"]
    assert rejected and "Reset Token" in rejected[0]["hint"]
    assert "Traceback" not in text and TOKEN not in text


async def test_unreachable_discord_exits_1_with_the_endpoint():
    code, events, text = await run_bot(bot_env("http://127.0.0.1:1/api/v10"))
    assert code == 1
    unreachable = [e for e in events if e.get("event") == "discord_unreachable"]
    assert unreachable and unreachable[0]["endpoint"] == "http://127.0.0.1:1/api/v10"
    assert "Traceback" not in text and TOKEN not in text
