"""MultiInstanceBot: one discord.py client of the fleet, gated by the router."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.access import AccessPolicy
from bot.answering import (
    AnswerPath,
    has_original_response,
    interaction_event,
    message_event,
    reply_error,
    reply_error_to_message,
)
from bot.command_sync import tree_digest
from bot.gate import SERVE, Admission, Admit, AnswerGate
from bot.health_file import write_status
from bot.health_server import MAX_LAG_S, Health, HealthServer, LoopLag
from bot.job_runner import JobRunner
from bot.logging_setup import get_logger
from bot.metrics import Metrics
from bot.quota_budget import ProviderBudget
from bot.routed_items import RoutedModal, dispatch_routed_modal
from bot.router import MESSAGE_COMMAND, route
from bot.status import Counters, InstanceStatus, package_version
from bot.store import FleetStore, Mode, open_store
from bot.store.jobs import Job
from bot.store.startup import FatalRecord, session_start_refusal
from bot.tasks import stop_task
from bot.user_limits import UserLimits
from env_manager import PROVIDERS, Settings

EXTENSIONS: tuple[str, ...] = (
    "commands.utility",
    "commands.chat",
    "commands.image",
    "commands.video",
)
# The command a job kind routes as, for adoption (its channel's order for that command).
JOB_COMMANDS: dict[str, str] = {"video": "비디오"}
# A routed chat message's handler (the chat area registers one).
MessageHandler = Callable[[discord.Message], Awaitable[None]]

log = get_logger("bot")

# Gateway close codes after which reconnecting with the same configuration cannot work:
# code -> (what Discord said, what the operator does about it).
FATAL_CLOSE_CODES: dict[int, tuple[str, str]] = {
    4004: (
        "authentication failed",
        "DISCORD_TOKEN is wrong or was reset: copy a fresh token from the Developer Portal "
        "(Bot > Reset Token) into .env.multi",
    ),
    4013: (
        "invalid intents",
        "the gateway intents this release sends are not valid: report it; keep "
        "MESSAGE_CONTENT_INTENT=false meanwhile",
    ),
    4014: (
        "disallowed intents",
        "MESSAGE_CONTENT_INTENT=true asks for the privileged Message Content intent: turn on "
        "Developer Portal > Applications > (this bot) > Bot > Privileged Gateway Intents > "
        "Message Content Intent, or set MESSAGE_CONTENT_INTENT=false",
    ),
}
EXIT_FATAL_CLOSE = 2
EXIT_NO_SESSION_STARTS = 1


class BotStopped(Exception):
    """The bot stopped on purpose, for a reason it has already logged; `exit_code` for the CLI."""

    def __init__(self, problem: str, exit_code: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.exit_code = exit_code


def apply_discord_endpoints(settings: Settings) -> None:
    """Point discord.py at configured endpoints (a REST proxy, or the sandbox double).

    Must run before the client is created: Route builds URLs from the class attribute.
    """
    endpoints = settings.discord
    if endpoints.discord_api_base_url:
        discord.http.Route.BASE = endpoints.discord_api_base_url.rstrip("/")
    if endpoints.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(endpoints.discord_gateway_url)


class GatedCommandTree(app_commands.CommandTree["MultiInstanceBot"]):
    """Every instance registers the whole tree; commands and autocomplete take the
    answering path, so only the instance that wins the event runs them."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await self.client.answers.admit(
            interaction_event(interaction, self.client),
            lambda message: reply_error(interaction, message),
            interaction.response.is_done,
            lambda: has_original_response(interaction),
        )

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        event = interaction_event(interaction, self.client)
        message = self.client.answers.failed(event, cause)
        if message is not None:
            await reply_error(interaction, message)


# The bot never joins voice: skip discord.py's start-up warnings about voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class MultiInstanceBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        store: FleetStore | None = None,
        extensions: Sequence[str] = EXTENSIONS,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        # Privileged: Discord refuses the session (4014) unless the Developer Portal allows it.
        intents.message_content = settings.discord.message_content_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=GatedCommandTree,
            help_command=None,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            guild_ready_timeout=settings.discord.discord_guild_ready_timeout,
        )
        self.settings = settings
        self.extensions_to_load = tuple(extensions)
        self.store = store or open_store(settings)
        self.gate = AnswerGate(settings, self.store)
        self.metrics = Metrics(settings.instance_id)
        self.gate.metrics = self.metrics
        # Today's provider calls per key, shared by the fleet (areas spend it per call).
        self.budget = ProviderBudget(self.store.quotas, settings)
        # Per-user uses a minute / a day and videos running, fleet-wide (the areas count).
        self.user_limits = UserLimits(
            self.store.rates,
            self.store.quotas,
            settings.limits,
            running_ttl_s=settings.video.video_deadline + 60,
        )
        # Per-command admission (an area registers one: e.g. image declines while all its
        # providers are cooling down, so the next instance serves).
        self.admissions: dict[str, Admit] = {}
        self.gate.admit = self._admit
        video = settings.video
        self.job_runner = JobRunner(
            self.store.jobs,
            owner=settings.instance_number,
            incarnation=self.store.incarnation,
            max_running=video.video_max_running,
            poll_interval=video.video_poll_interval,
            deadline_s=video.video_deadline,
            progress_interval=video.video_progress_interval,
            adopt_interval=settings.fleet.heartbeat_interval,
            should_adopt=None if settings.is_single else self._should_adopt,
            owner_alive=lambda owner: owner in self.store.liveness.alive_view().announcing,
        )
        self.counters = Counters()
        self.answers = AnswerPath(
            self.gate, self.counters, self.metrics, AccessPolicy(settings.access)
        )
        self.routed_modals: list[type[RoutedModal]] = []
        self.message_handler: MessageHandler | None = None
        self.listener_errors = 0
        self.started_monotonic = time.monotonic()
        self._health_task: asyncio.Task[None] | None = None
        self.loop_lag = LoopLag()
        self.health_server = HealthServer(
            self.health,
            self.metrics,
            host=settings.health.health_host,
            port=settings.health.health_port,
        )
        self._watch_state()
        # Why this instance is not serving (shown by /상태 and `python -m bot health`).
        self.problem: str | None = None
        self._fatal_held = False
        self._drain_task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()  # set by close(): ends the waits before connecting

    async def _admit(self, command: str) -> Admission:
        admit = self.admissions.get(command)
        return SERVE if admit is None else await admit(command)

    async def _should_adopt(self, job: Job) -> bool:
        """A job whose owner stopped announcing itself goes to the first alive instance of
        its channel's order for its command (the store's compare-and-set keeps it single)."""
        if self.store.mode is not Mode.REDIS or job.owner is None:
            return False  # an untrusted view could adopt from a live owner
        view = self.store.liveness.alive_view()
        if job.owner in view.announcing:
            return False  # alive (or restarting): it resumes its own jobs
        command = JOB_COMMANDS.get(job.kind, job.kind)
        order = route(job.channel_name, command, view.alive, self.gate.table).order
        heirs = [i for i in order if i in view.alive and i != job.owner]
        if heirs[:1] != [self.settings.instance_number]:
            return False
        # Our view is up to a beat old: the owner may have just restarted.
        return await self.store.liveness.announcing_now(job.owner) is False

    # ---- lifecycle ----

    async def setup_hook(self) -> None:
        # First: /healthz says why while we back off, wait out a fatal close or connect.
        self.loop_lag.start()
        if self.settings.health.health_port:
            await self.health_server.start()
        for extension in self.extensions_to_load:
            await self.load_extension(extension)
        await self.store.start(self.status)
        # Jobs resume over REST alone: a video finished while we were down is delivered now.
        await self.job_runner.start()
        self._health_task = asyncio.create_task(self._health_loop(), name="health-file")
        await self._wait_out_fatal_close()
        delay = await self.store.startup.restart_delay()
        if delay:
            # A crash loop of four containers would burn Discord's 1000 daily session starts.
            log.warning("restart_backoff", delay_s=delay)
            await self._sleep_unless_closed(delay)
        if self._closing.is_set():  # stopped while waiting: nothing to upload or connect
            return
        await self.sync_commands()

    async def _sleep_unless_closed(self, seconds: float) -> None:
        """Wait before connecting, but let `docker stop` end the wait at once."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def config_fingerprint(self) -> str:
        """What a fatal close depends on: the token and the intents (never the token itself)."""
        token = self.http.token or ""
        raw = f"{token}|{self.intents.value}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    async def _wait_out_fatal_close(self) -> None:
        """After Discord ended a session for good, a restarted process waits before it
        IDENTIFYs with the same token and intents again (a restart loop would spend the
        token's daily session starts); a changed configuration goes ahead at once."""
        record = await self.store.startup.fatal_record()
        if record is None:
            return
        self._fatal_held = True
        if record.fingerprint != self.config_fingerprint():
            log.info(
                "fatal_hold_lifted",
                close_code=record.code,
                reason="DISCORD_TOKEN or MESSAGE_CONTENT_INTENT changed since Discord closed "
                "the last session",
            )
            await self.store.startup.clear_fatal()
            return
        wait = record.retry_at - time.time()
        if wait <= 0:
            return
        self.problem = (
            f"Discord closed the last session with {record.code} ({record.reason}); "
            f"waiting {wait / 60:.0f} min before trying again"
        )
        log.warning(
            "fatal_hold",
            close_code=record.code,
            reason=record.reason,
            wait_s=round(wait),
            hint="fix the cause; a changed DISCORD_TOKEN or MESSAGE_CONTENT_INTENT connects "
            "at the next start without waiting",
        )
        self.write_health()
        await self._sleep_unless_closed(wait)
        self.problem = None

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self._check_session_starts()
        await self.store.startup.wait_identify_slot(initial=initial)

    async def _check_session_starts(self) -> None:
        """Refuse to IDENTIFY when the token's daily session starts are nearly used up."""
        reserve = self.settings.discord.session_start_reserve
        if reserve <= 0:
            return
        try:
            _, _, limit = await self.http.get_bot_gateway()
        except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            # Not knowing is no reason to stay offline: IDENTIFY as before.
            log.warning("session_start_limit_unknown", error=exc.__class__.__name__)
            return
        refusal = session_start_refusal(dict(limit), reserve)
        if refusal is None:
            log.debug("session_starts_left", remaining=limit.get("remaining"))
            return
        log.error(
            "session_starts_exhausted",
            remaining=limit.get("remaining"),
            total=limit.get("total"),
            reset_after_s=round(int(limit.get("reset_after", 0)) / 1000),
            reserve=reserve,
            hint="not connecting, to keep the last session starts for a fixed release; find "
            "what restarts the bot (docker logs), then start it again after the reset",
        )
        self.problem = refusal
        raise BotStopped(refusal, EXIT_NO_SESSION_STARTS)

    async def connect(self, *, reconnect: bool = True) -> None:
        if self._closing.is_set():  # stopped before connecting (e.g. during a wait)
            return
        try:
            await super().connect(reconnect=reconnect)
        except discord.PrivilegedIntentsRequired:
            await self._fatal_close(4014)
        except discord.ConnectionClosed as exc:
            if exc.code in FATAL_CLOSE_CODES:
                await self._fatal_close(exc.code)
            raise

    async def _fatal_close(self, code: int) -> None:
        """Discord ended the session for good: say why, remember it, stop (exit code 2)."""
        what, hint = FATAL_CLOSE_CODES[code]
        self.problem = f"Discord closed the session with {code} ({what})"
        record = FatalRecord.now(code, what, self.config_fingerprint())
        log.error(
            "discord_closed_session_fatal",
            close_code=code,
            reason=what,
            hint=hint,
            retry_after_s=round(record.retry_at - record.at),
        )
        await self.store.startup.record_fatal(record)
        self.write_health()
        raise BotStopped(self.problem, EXIT_FATAL_CLOSE) from None

    async def sync_commands(self) -> None:
        """Upload the command tree, once per change, from whichever instance holds the lock."""
        guild_id = self.settings.discord.dev_guild_id
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        scope = f"guild:{guild.id}" if guild else "global"
        digest = tree_digest(self.tree, guild)
        if not await self.store.startup.begin_sync(scope, digest):
            log.info("command_sync_skipped", scope=scope, reason="unchanged or another instance")
            return
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.error("command_sync_failed", scope=scope, status=exc.status, code=exc.code)
            await self.store.startup.end_sync(scope, None)
            return
        await self.store.startup.end_sync(scope, digest)
        log.info("commands_synced", scope=scope, count=len(synced))

    async def on_ready(self) -> None:
        log.info(
            "ready",
            user=str(self.user),
            guilds=len(self.guilds),
            role=self.settings.role,
        )
        self.store.liveness.poke()
        if self._fatal_held:
            # The configuration that Discord closed for works now: forget the hold.
            self._fatal_held = False
            await self.store.startup.clear_fatal()
        if self.store.mode in (Mode.LOCAL, Mode.DEGRADED):
            # Answering from now on; a fleet member logs it once its peers see it joined.
            log.info("serving", reason=self.store.mode.value)
        self.write_health()

    async def on_resumed(self) -> None:
        self.store.liveness.poke()

    async def on_disconnect(self) -> None:
        # Peers stop ranking this instance at their next beat instead of after the TTL.
        self.store.liveness.poke()

    def request_stop(self) -> None:
        """SIGTERM: drain, then close. A second request closes at once."""
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self.drain_and_close(), name="drain")
        else:
            asyncio.get_running_loop().create_task(self.close())

    async def drain_and_close(self, grace: float | None = None) -> None:
        """Stop claiming new events (peers take them), let in-flight work finish for up to
        `grace` (SHUTDOWN_GRACE) seconds, then close."""
        grace = self.settings.fleet.shutdown_grace if grace is None else grace
        self.answers.draining = True
        log.info("draining", in_flight=self.counters.in_flight, grace_s=grace)
        # Peers stop ranking us at their next beat (a draining instance reports not ready).
        self.store.liveness.poke()
        self.write_health()
        deadline = time.monotonic() + grace
        # Polled: the work is counted in several places, none of which signals "all done".
        while self._busy() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        left = self.counters.in_flight
        if left:
            log.warning("drain_timed_out", in_flight=left, grace_s=grace)
        else:
            log.info("drained")
        await self.close()

    def _busy(self) -> bool:
        # In-flight work, and claims still being made final once their answer is in.
        return bool(self.counters.in_flight or self.answers.settling)

    async def close(self) -> None:
        self._closing.set()
        if self._health_task is not None:
            await stop_task(self._health_task)
        await self.answers.close()
        await self.job_runner.close()
        await self.store.close()
        await super().close()
        self.write_health()
        await self.health_server.stop()
        await self.loop_lag.stop()

    # ---- status ----

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    @property
    def gateway_connected(self) -> bool:
        """Connected to the gateway right now. discord.py keeps `is_ready()` true while it
        reconnects, so the websocket is asked too: peers never rank a deaf instance."""
        ws = self.ws
        return self.is_ready() and not self.is_closed() and ws is not None and ws.open

    @property
    def latency_ms(self) -> float | None:
        latency = self.latency
        return None if latency != latency or latency == float("inf") else latency * 1000

    def status(self) -> InstanceStatus:
        return InstanceStatus(
            instance_id=self.settings.instance_id,
            role=self.settings.role,
            ready=self.gateway_connected and not self.answers.draining,
            latency_ms=self.latency_ms,
            uptime_s=self.uptime_s,
            version=package_version(),
            pid=os.getpid(),
            counters=self.counters.snapshot(),
            coordination=self.store.mode.value,
            providers={p: self.settings.api_key(p) is not None for p in PROVIDERS},
            quotas=self.budget.snapshot(),
            problem=self.problem,
            # Once closed the drain is over: the last health file says "not connected".
            draining=self.answers.draining and not self.is_closed(),
        )

    def health(self) -> Health:
        """What /healthz answers: serving, or why not (see bot/health_server.py)."""
        status = self.status()
        snapshot = {
            "instance_id": status.instance_id,
            "role": status.role,
            "connected": self.gateway_connected,
            "latency_ms": None if status.latency_ms is None else round(status.latency_ms, 1),
            "uptime_s": round(status.uptime_s),
            "coordination": status.coordination,
            "in_flight": status.counters.in_flight,
            "jobs": self.job_runner.driving,
            "loop_lag_ms": round(self.loop_lag.lag_s * 1000),
            "version": status.version,
        }
        if self.problem:
            return Health(False, self.problem, snapshot)
        if self.answers.draining:
            return Health(False, "draining: finishing its work before it stops", snapshot)
        if not self.gateway_connected:
            return Health(False, "not connected to the Discord gateway", snapshot)
        if self.loop_lag.lag_s > MAX_LAG_S:
            lag = f"{self.loop_lag.lag_s:.1f}"
            return Health(False, f"event loop unresponsive ({lag} s late)", snapshot)
        return Health(True, "serving", snapshot)

    def _watch_state(self) -> None:
        """Gauges read at scrape time: whether we serve, the gateway, Redis, jobs, quotas."""
        metrics = self.metrics
        metrics.watch(
            "mib_up", "1 while this instance serves", (), lambda: {(): float(self.health().healthy)}
        )
        metrics.watch(
            "mib_gateway_connected",
            "1 while connected to the Discord gateway",
            (),
            lambda: {(): float(self.gateway_connected)},
        )
        metrics.watch(
            "mib_redis_mode",
            "1 for the shared-state mode this instance is in",
            ("mode",),
            lambda: {(m.value,): float(self.store.mode is m) for m in Mode},
        )
        metrics.watch(
            "mib_jobs",
            "Durable jobs this instance drives, by state",
            ("state",),
            lambda: {(s,): float(n) for s, n in self.job_runner.state_counts().items()},
        )
        metrics.watch(
            "mib_job_queue_length",
            "Jobs waiting for a running slot on this instance",
            (),
            lambda: {(): float(self.job_runner.queued)},
        )
        metrics.watch(
            "mib_quota_used",
            "Provider calls used today with this instance's key (fleet-wide count)",
            ("provider",),
            lambda: self.budget.gauges()[0],
        )
        metrics.watch(
            "mib_quota_remaining",
            "Provider calls left today with this instance's key (providers with a limit)",
            ("provider",),
            lambda: self.budget.gauges()[1],
        )

    def write_health(self) -> None:
        try:
            write_status(self.settings.health_path(), self.status())
        except OSError as exc:
            log.warning(
                "health_file_unwritable", path=str(self.settings.health_path()), error=str(exc)
            )

    async def _health_loop(self) -> None:
        while True:
            self.write_health()
            # Peers spend the same keys: refresh the quota gauges from the shared counts.
            await self.budget.refresh()
            await asyncio.sleep(self.settings.health.health_interval)

    # ---- events ----

    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: object
    ) -> None:
        self.answers.finished(interaction_event(interaction, self))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Modal submits never reach the tree; components reach their DynamicItem.
        if interaction.type is discord.InteractionType.modal_submit:
            await dispatch_routed_modal(interaction, self.routed_modals)

    async def on_message(self, message: discord.Message) -> None:
        """Chat triggers (mention, reply to the bot, DM) take the answering path."""
        if message.author.bot or self.user is None:
            return
        if not self._is_chat_trigger(message):
            return
        event = message_event(message, self, MESSAGE_COMMAND)

        async def work() -> None:
            log.info("chat_message_routed", message_id=message.id, channel=event.channel_name)
            if self.message_handler is not None:  # the chat area registers one
                await self.message_handler(message)

        await self.answers.handle(event, work, lambda text: reply_error_to_message(message, text))

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        """A listener failed: one English log line with the traceback, never a crash."""
        self.listener_errors += 1
        log.exception("listener_failed", listener=event_method)

    def _is_chat_trigger(self, message: discord.Message) -> bool:
        """A DM or a mention always; a reply to the bot only with the Message Content intent
        (without it a reply that does not ping the bot arrives with empty content)."""
        if isinstance(message.channel, discord.DMChannel):
            return True
        if self.user in message.mentions:
            return True
        if not self.settings.discord.message_content_intent:
            return False
        resolved = message.reference.resolved if message.reference else None
        return isinstance(resolved, discord.Message) and resolved.author == self.user
