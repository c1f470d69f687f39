"""`python -m bot`: run an instance, explain a routing decision, check configuration."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.router import UnknownCommandError, route
from bot.routing_table import routing_table
from env_manager import INSTANCE_IDS, ConfigError, Settings, load_settings, load_validated

if TYPE_CHECKING:  # discord.py is imported lazily: `health` runs every 15 s in containers
    from bot.bot_class import MultiInstanceBot

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _parse_down(raw: str) -> frozenset[int]:
    try:
        down = frozenset(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--down expects ids like 1,3 (got {raw!r})") from None
    if not down <= set(INSTANCE_IDS):
        raise argparse.ArgumentTypeError(f"--down ids must be within 1..4 (got {raw!r})")
    return down


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Multi-instance Discord AI bot"
    )
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND")

    run = sub.add_parser("run", help="run this instance (default)")
    run.add_argument("--env-file", help="settings file (default: .env.multi, or $ENV_FILE)")

    route_p = sub.add_parser("route", help="explain which instance answers a command in a channel")
    route_p.add_argument(
        "--channel", help="channel name (for a thread: its parent's name); omit for a DM"
    )
    route_p.add_argument("--command", required=True, help="command name, e.g. 채팅 or /핑")
    route_p.add_argument(
        "--down", type=_parse_down, default=frozenset(), help="instances to treat as down, e.g. 1,3"
    )
    route_p.add_argument(
        "--json", action="store_true", help='print {"instance": N, "order": [...]}'
    )
    route_p.add_argument("--env-file", help="read channel patterns from this file")

    check = sub.add_parser("check-config", help="validate settings; exit 2 with a report if not")
    check.add_argument("--env-file", help="settings file (default: .env.multi, or $ENV_FILE)")
    check.add_argument("--instance", help="instance to check: 1..4 or all (default: $INSTANCE_ID)")

    health = sub.add_parser("health", help="exit 0 if this container's instance is connected")
    health.add_argument("--env-file", help="settings file (default: .env.multi, or $ENV_FILE)")

    status = sub.add_parser("status", help="print the fleet's status from Redis")
    status.add_argument("--json", action="store_true", help="one JSON object per instance id")
    status.add_argument("--env-file", help="settings file (default: .env.multi, or $ENV_FILE)")

    from bot.demo import add_parser as add_demo_parser

    add_demo_parser(sub)
    return parser


def cmd_route(args: argparse.Namespace) -> int:
    settings = load_settings(args.env_file).settings
    alive = set(INSTANCE_IDS) - args.down
    try:
        decision = route(args.channel, args.command, alive, routing_table(settings))
    except UnknownCommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(decision.as_json()))
    else:
        where = f"#{args.channel}" if args.channel is not None else "a DM"
        print(f"{args.command} in {where}")
        print(f"  preference order: {' -> '.join(map(str, decision.order))}")
        if args.down:
            print(f"  down: {', '.join(map(str, sorted(args.down)))}")
        if decision.instance is None:
            print("  answered by: nobody (every instance in the order is down)")
        else:
            print(f"  answered by: instance {decision.instance}")
    return EXIT_OK if decision.instance is not None else EXIT_FAILURE


def cmd_check_config(args: argparse.Namespace) -> int:
    loaded = load_validated(args.env_file, instance=args.instance)
    settings = loaded.settings
    source = str(loaded.env_file) if loaded.env_file else "environment only (no env file)"
    scope = "single-process mode" if settings.is_single else f"instance {settings.instance_id}"
    print(f"OK: {scope} ({settings.role}) configuration is valid; settings from {source}")
    if settings.discord.message_content_intent:
        print(MESSAGE_CONTENT_NOTE)
    return EXIT_OK


MESSAGE_CONTENT_NOTE = (
    "Note: MESSAGE_CONTENT_INTENT=true asks Discord for the privileged Message Content "
    "intent. Turn it on first in the Developer Portal (Applications > this bot > Bot > "
    "Privileged Gateway Intents > Message Content Intent), or Discord closes every session "
    "with 4014 and the bot stops."
)


HEALTH_TIMEOUT_S = 3.0


def cmd_health(args: argparse.Namespace) -> int:
    """Ask this container's instance at GET /healthz; when nothing answers there (stopped,
    starting, HEALTH_PORT=0), the status file it last wrote says why."""
    from bot.health_file import judge

    settings = load_settings(args.env_file).settings
    port = settings.health.health_port
    if port:
        answer = _ask_healthz(port)
        if answer is not None:
            healthy, reason = answer
            print(("healthy: " if healthy else "unhealthy: ") + reason)
            return EXIT_OK if healthy else EXIT_FAILURE
    verdict = judge(settings.health_path(), settings.health.health_interval)
    print(("healthy: " if verdict.healthy else "unhealthy: ") + verdict.reason)
    return EXIT_OK if verdict.healthy else EXIT_FAILURE


def _ask_healthz(port: int) -> tuple[bool, str] | None:
    """(healthy, reason) from the local health server, or None when it does not answer."""
    import json
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503: unhealthy, with the reason in the body
        try:
            body = json.loads(exc.read())
        except ValueError:
            return False, f"health server answered HTTP {exc.code}"
    except (OSError, ValueError):
        return None
    instance = body.get("instance_id", "?")
    return bool(body.get("healthy")), f"instance {instance}: {body.get('reason', 'no reason')}"


def cmd_status(args: argparse.Namespace) -> int:
    from bot.fleet_status import print_fleet_status

    settings = load_settings(args.env_file).settings
    return asyncio.run(print_fleet_status(settings, as_json=args.json))


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_validated(getattr(args, "env_file", None)).settings
    import aiohttp
    import discord

    from bot.bot_class import BotStopped
    from bot.logging_setup import configure_logging, get_logger

    logs = settings.logging
    configure_logging(
        settings.instance_id,
        logs.log_level,
        logs.log_format,
        logs.log_dir,
        discord_payloads=logs.log_discord_payloads,
        secrets=settings.secret_values(),
    )
    log = get_logger("bot.run")
    try:
        asyncio.run(run_bot(settings))
    except BotStopped as exc:
        # Already logged where it happened, with what to do about it.
        log.info("stopped", exit_code=exc.exit_code, problem=exc.problem)
        return exc.exit_code
    except discord.LoginFailure:
        log.error(
            "discord_rejected_token",
            hint="DISCORD_TOKEN is wrong or was reset: copy a fresh token from the developer "
            "portal (Bot > Reset Token) into .env.multi",
        )
        return EXIT_USAGE
    except aiohttp.ClientError as exc:
        log.error(
            "discord_unreachable",
            endpoint=discord.http.Route.BASE,
            error=exc.__class__.__name__,
            hint="check the network or DISCORD_API_BASE_URL; the container restarts and retries",
        )
        return EXIT_FAILURE
    return EXIT_OK


async def run_bot(settings: Settings) -> None:
    """Start the bot and close it cleanly on SIGTERM/SIGINT (docker stop, Ctrl-C)."""
    from bot.bot_class import MultiInstanceBot, apply_discord_endpoints
    from bot.logging_setup import get_logger

    log = get_logger("bot.run")
    apply_discord_endpoints(settings)
    bot = MultiInstanceBot(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: _request_stop(bot, s))
    token = settings.discord.discord_token
    assert token is not None  # validated above
    log.info("starting", role=settings.role, version=bot.status().version)
    async with bot:
        await bot.start(token.get_secret_value())
    log.info("stopped")


def _request_stop(bot: MultiInstanceBot, sig: signal.Signals) -> None:
    """First signal: drain (no new work, in-flight work finishes); a second: stop now."""
    from bot.logging_setup import get_logger

    get_logger("bot.run").info("stop_requested", signal=sig.name)
    bot.request_stop()


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    try:
        return asyncio.run(run_demo(args))
    except KeyboardInterrupt:
        return 130


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "route": cmd_route,
    "check-config": cmd_check_config,
    "health": cmd_health,
    "status": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS[args.subcommand or "run"]
    try:
        return handler(args)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
