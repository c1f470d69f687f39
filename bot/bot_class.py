"""MultiInstanceBot: one discord.py client of the fleet, gated by the router."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.answering import (
    AnswerPath,
    interaction_event,
    message_event,
    reply_error,
    reply_error_to_message,
)
from bot.command_sync import tree_digest
from bot.gate import AnswerGate
from bot.health_file import write_status
from bot.logging_setup import get_logger
from bot.routed_items import RoutedModal, dispatch_routed_modal
from bot.router import MESSAGE_COMMAND
from bot.status import Counters, InstanceStatus, package_version
from bot.store import FleetStore, Mode, open_store
from bot.tasks import stop_task
from env_manager import PROVIDERS, Settings

EXTENSIONS: tuple[str, ...] = ("commands.utility",)
# A routed chat message's handler (the chat area registers one).
MessageHandler = Callable[[discord.Message], Awaitable[None]]

log = get_logger("bot")


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
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=GatedCommandTree,
            help_command=None,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        self.settings = settings
        self.extensions_to_load = tuple(extensions)
        self.store = store or open_store(settings)
        self.gate = AnswerGate(settings, self.store)
        self.counters = Counters()
        self.answers = AnswerPath(self.gate, self.counters)
        self.routed_modals: list[type[RoutedModal]] = []
        self.message_handler: MessageHandler | None = None
        self.listener_errors = 0
        self.started_monotonic = time.monotonic()
        self._health_task: asyncio.Task[None] | None = None

    # ---- lifecycle ----

    async def setup_hook(self) -> None:
        for extension in self.extensions_to_load:
            await self.load_extension(extension)
        await self.store.start(self.status)
        delay = await self.store.startup.restart_delay()
        if delay:
            # A crash loop of four containers would burn Discord's 1000 daily session starts.
            log.warning("restart_backoff", delay_s=delay)
            await asyncio.sleep(delay)
        await self.sync_commands()
        self._health_task = asyncio.create_task(self._health_loop(), name="health-file")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.store.startup.wait_identify_slot(initial=initial)

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
        if self.store.mode in (Mode.LOCAL, Mode.DEGRADED):
            # Answering from now on; a fleet member logs it once its peers see it joined.
            log.info("serving", reason=self.store.mode.value)
        self.write_health()

    async def on_resumed(self) -> None:
        self.store.liveness.poke()

    async def on_disconnect(self) -> None:
        # Peers stop ranking this instance at their next beat instead of after the TTL.
        self.store.liveness.poke()

    async def close(self) -> None:
        if self._health_task is not None:
            await stop_task(self._health_task)
        await self.answers.close()
        await self.store.close()
        await super().close()
        self.write_health()

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
            ready=self.gateway_connected,
            latency_ms=self.latency_ms,
            uptime_s=self.uptime_s,
            version=package_version(),
            pid=os.getpid(),
            counters=self.counters.snapshot(),
            coordination=self.store.mode.value,
            providers={p: self.settings.api_key(p) is not None for p in PROVIDERS},
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
        if isinstance(message.channel, discord.DMChannel):
            return True
        if self.user in message.mentions:
            return True
        resolved = message.reference.resolved if message.reference else None
        return isinstance(resolved, discord.Message) and resolved.author == self.user
