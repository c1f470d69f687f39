"""Run real `python -m bot run` processes against the local Discord double.

Used by the end-to-end tests, the benchmarks and `python -m bot demo`. Each instance
gets its own environment and its own log file; the runner watches the JSON log for the
`serving` event, and can SIGKILL, stop gracefully, or restart any instance.

The environment is a production one: every instance gets the same bot token
(`SANDBOX_TOKEN`) and the same fake provider keys, and differs only in INSTANCE_ID, its
health file and its endpoint URLs. Those carry the instance's label (`/i/<label>`, see
sandbox/discord/labels.py), which is how the double tells the sessions and requests of
one instance from another's, as Discord does by session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.discord.labels import labelled_url

# Settings the bot reads: never inherit them from the caller's environment.
BOT_SETTING_VARS = re.compile(
    r"^(INSTANCE_ID|ENV_FILE|DISCORD_.*|OPENAI_.*|MINIMAX_.*|STABILITY_.*|INSTANCE_\d_CHANNEL_PATTERNS"
    r"|REDIS_.*|DEV_GUILD_ID|LOG_LEVEL|LOG_FORMAT|LOG_DIR|HEALTH_.*|HEARTBEAT_INTERVAL|CLAIM_STEP"
    r"|IDENTIFY_SPACING|CHAT_.*|IMAGE_.*|VIDEO_.*|SESSION_START_RESERVE|MESSAGE_CONTENT_INTENT|SHUTDOWN_GRACE"
    r"|LOG_DISCORD_PAYLOADS|LOG_PROMPTS|QUOTA_.*|LIMIT_.*|ADMIN_ROLES|ACCESS_.*"
    r"|BANNED_WORDS|MODERATION_.*)$",
    re.IGNORECASE,
)
# The one bot token of the whole fleet, as in production. A fake secret: never sent or logged.
SANDBOX_TOKEN = "sandbox-bot-token"
# A provider endpoint no test gave a double for: a closed loopback port, never the internet.
# OpenAI's double is sandbox/providers (`Fleet(provider_urls={"openai": fake.base_url})`).
UNROUTABLE_PROVIDER = "http://127.0.0.1:9/v1"
# Defaults that keep a fleet quick to start on loopback; real deployments use the bot's own.
SANDBOX_TIMINGS = {
    "HEARTBEAT_INTERVAL": "0.5",
    "CLAIM_STEP": "0.4",
    "IDENTIFY_SPACING": "0.3",
    # The double sends its one guild right after READY: waiting 2 s for more is waste.
    "DISCORD_GUILD_READY_TIMEOUT": "0.1",
}


class FleetError(RuntimeError):
    """An instance failed to start or reach READY; the message carries its log tail."""


@dataclass
class Instance:
    label: str  # "1".."4" or "all"
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[dict[str, object]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log yet)"
        return "\n".join(text.splitlines()[-lines:])


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not BOT_SETTING_VARS.match(k)}


class Fleet:
    """One to four bot processes (or one single-mode process) on the double.

    `rest_url` and `gateway_url` are the double's plain URLs; each instance is given them
    below its own `/i/<label>`, its INSTANCE_ID. `provider_urls` maps "openai", "minimax",
    "stability" to the base URL each instance gets as `OPENAI_BASE_URL` etc. (a
    `FakeOpenAI.base_url`, say); a provider left out gets `UNROUTABLE_PROVIDER`.
    """

    def __init__(
        self,
        *,
        rest_url: str,
        gateway_url: str,
        workdir: Path,
        instances: Iterable[int | str] = (1, 2, 3, 4),
        redis_url: str = "redis://127.0.0.1:6379/0",
        key_prefix: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        provider_urls: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key_prefix = key_prefix or f"sandbox-{uuid.uuid4().hex[:10]}:"
        providers = {
            "openai": UNROUTABLE_PROVIDER,
            "minimax": UNROUTABLE_PROVIDER,
            "stability": UNROUTABLE_PROVIDER,
        } | dict(provider_urls or {})
        common = {
            "DISCORD_TOKEN": SANDBOX_TOKEN,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": self.key_prefix,
            "OPENAI_BASE_URL": providers["openai"],
            "MINIMAX_BASE_URL": providers["minimax"],
            "STABILITY_BASE_URL": providers["stability"],
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            **SANDBOX_TIMINGS,
        }
        self.instances: dict[str, Instance] = {}
        for raw in instances:
            label = str(raw)
            env = (
                _base_env()
                | common
                | _fake_keys()
                | {
                    "INSTANCE_ID": label,
                    "DISCORD_API_BASE_URL": labelled_url(rest_url, label),
                    "DISCORD_GATEWAY_URL": labelled_url(gateway_url, label),
                    "HEALTH_FILE": str(workdir / f"health-{label}.json"),
                    # Each process its own /healthz and /metrics port on this machine.
                    "HEALTH_PORT": str(free_port()),
                    "PYTHONUNBUFFERED": "1",
                }
            )
            env |= dict(extra_env or {})
            self.instances[label] = Instance(label, env, workdir / f"instance-{label}.log")

    # ---- lifecycle ----

    async def start(self, *, timeout: float = 60.0) -> None:
        """Start every instance and wait until all are READY."""
        for label in self.instances:
            await self.start_instance(label, wait=False)
        await asyncio.gather(*(self.wait_ready(label, timeout) for label in self.instances))

    async def start_instance(
        self, label: str | int, *, wait: bool = True, timeout: float = 60.0
    ) -> None:
        instance = self.instances[str(label)]
        if instance.running:
            raise FleetError(f"instance {label} is already running")
        instance.ready = asyncio.Event()
        instance.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.workdir,
            env=instance.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a demo terminal must not reach the bots first
        )
        instance._reader = asyncio.create_task(self._read_log(instance))
        if wait:
            await self.wait_ready(label, timeout)

    async def _read_log(self, instance: Instance) -> None:
        assert instance.process is not None and instance.process.stdout is not None
        with instance.log_path.open("a", encoding="utf-8") as log:
            while line := await instance.process.stdout.readline():
                text = line.decode("utf-8", errors="replace")
                log.write(text)
                log.flush()
                with contextlib.suppress(ValueError):
                    event = json.loads(text)
                    if isinstance(event, dict):
                        instance.events.append(event)
                        # `serving`: connected, and (in a fleet) seen by its peers.
                        if event.get("event") == "serving":
                            instance.ready.set()

    async def wait_ready(self, label: str | int, timeout: float = 60.0) -> None:
        instance = self.instances[str(label)]
        assert instance.process is not None
        ready = asyncio.ensure_future(instance.ready.wait())
        exited = asyncio.ensure_future(instance.process.wait())
        done, _ = await asyncio.wait(
            {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if exited in done:
            await asyncio.sleep(0.1)  # let the reader flush the last lines
            raise FleetError(
                f"instance {label} exited with code {instance.process.returncode} before READY:\n"
                f"{instance.log_tail()}"
            )
        exited.cancel()
        if ready not in done:
            raise FleetError(
                f"instance {label} not READY after {timeout:.0f}s:\n{instance.log_tail()}"
            )

    async def kill(self, label: str | int) -> None:
        """SIGKILL: the instance dies without a word, as in a crash or OOM kill."""
        await self._signal(str(label), signal.SIGKILL)

    async def stop(self, label: str | int, timeout: float = 15.0) -> None:
        """SIGTERM and wait: a graceful stop, as `docker stop` does."""
        instance = self.instances[str(label)]
        if not instance.running:
            return
        await self._signal(str(label), signal.SIGTERM, timeout=timeout)

    async def restart(self, label: str | int, *, timeout: float = 60.0) -> None:
        await self.stop(label)
        await self.start_instance(label, timeout=timeout)

    async def _signal(self, label: str, sig: signal.Signals, timeout: float = 15.0) -> None:
        instance = self.instances[label]
        process = instance.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if instance._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(instance._reader, 5)

    async def close(self) -> None:
        """Stop everything this runner started; nothing is left running."""
        await asyncio.gather(*(self.stop(label, timeout=10) for label in self.instances))

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- inspection ----

    def running_labels(self) -> list[str]:
        return [label for label, inst in self.instances.items() if inst.running]

    def events(self, label: str | int, name: str) -> list[dict[str, object]]:
        return [e for e in self.instances[str(label)].events if e.get("event") == name]

    def health_url(self, label: str | int, path: str = "/healthz") -> str:
        """The instance's health server (`/healthz`, `/metrics`)."""
        port = self.instances[str(label)].env["HEALTH_PORT"]
        return f"http://127.0.0.1:{port}{path}"

    def pids(self) -> list[int]:
        return [i.process.pid for i in self.instances.values() if i.process is not None]


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fake_keys() -> dict[str, str]:
    """Fake provider keys for all four instances, as every container reads one `.env.multi`.

    Every instance must see the same keys: the router's degraded order depends on them.
    """
    keys: dict[str, str] = {}
    for suffix in ("1", "2", "3", "4"):
        keys |= {
            f"OPENAI_API_KEY_{suffix}": f"sandbox-openai-key-{suffix}",
            f"MINIMAX_API_KEY_{suffix}": f"sandbox-minimax-key-{suffix}",
            f"STABILITY_API_KEY_{suffix}": f"sandbox-stability-key-{suffix}",
        }
    return keys
