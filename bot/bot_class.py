"""MultiInstanceBot: one discord.py client of the fleet, gated by the router."""

from __future__ import annotations

import asyncio
import os
import time

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.channels import route_channel_name
from bot.command_sync import tree_digest
from bot.coordination import Coordinator, LocalCoordinator, RedisCoordinator
from bot.gate import AnswerGate
from bot.health_file import write_status
from bot.logging_setup import get_logger
from bot.router import MESSAGE_COMMAND
from bot.status import Counters, InstanceStatus, package_version
from bot.tasks import stop_task
from env_manager import SERVICES, Settings
from services.errors import UserFacingError

EXTENSIONS: tuple[str, ...] = ("commands.utility_commands",)
# Discord error codes meaning "someone else already answered / too late": not user-visible.
ALREADY_HANDLED_CODES = frozenset({40060, 10062})
GENERIC_FAILURE = "명령을 처리하는 중 문제가 생겼어요. 잠시 후 다시 시도해 주세요."

log = get_logger("bot")


def apply_discord_endpoints(settings: Settings) -> None:
    """Point discord.py at configured endpoints (a REST proxy, or the sandbox double).

    Must run before the client is created: Route builds URLs from the class attribute.
    """
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class GatedCommandTree(app_commands.CommandTree["MultiInstanceBot"]):
    """Every instance registers the whole tree; only the routed owner runs a command."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot = self.client
        name = str((interaction.data or {}).get("name", ""))
        channel_name = route_channel_name(interaction.channel, bot)
        answer = await bot.gate.should_answer(str(interaction.id), channel_name, name)
        if answer:
            bot.counters.started(str(interaction.id))
        else:
            log.debug(
                "interaction_not_ours",
                interaction_id=interaction.id,
                command=name,
                channel=channel_name,
            )
        return answer

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        bot = self.client
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command.name if interaction.command else "?"
        if isinstance(cause, discord.HTTPException) and cause.code in ALREADY_HANDLED_CODES:
            # Another instance answered first (or the window closed): not the user's concern.
            log.debug("interaction_taken_elsewhere", code=cause.code, command=command)
            bot.counters.dropped(str(interaction.id))
            return
        bot.counters.record_failed(str(interaction.id))
        if isinstance(cause, UserFacingError):
            log.info("command_rejected", command=command, reason=cause.log_message)
            message = cause.user_message
        else:
            log.error("command_failed", command=command, exc_info=cause)
            message = GENERIC_FAILURE
        await send_ephemeral(interaction, message)


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Reply privately whether or not the interaction was acknowledged already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException as exc:
        if exc.code in ALREADY_HANDLED_CODES:
            log.debug("reply_already_handled", code=exc.code, interaction_id=interaction.id)
        else:
            log.warning("reply_failed", status=exc.status, code=exc.code)


def make_coordinator(settings: Settings) -> Coordinator:
    """In-process for single mode; Redis for a fleet member."""
    if settings.instance_number is None:
        return LocalCoordinator(identify_spacing=settings.identify_spacing)
    return RedisCoordinator(
        settings.instance_number,
        settings.redis_url,
        prefix=settings.redis_key_prefix,
        heartbeat_interval=settings.heartbeat_interval,
        identify_spacing=settings.identify_spacing,
    )


# The bot never joins voice: skip discord.py's start-up warnings about voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class MultiInstanceBot(commands.Bot):
    def __init__(self, settings: Settings, *, coordinator: Coordinator | None = None) -> None:
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
        self.coordinator = coordinator or make_coordinator(settings)
        self.gate = AnswerGate(settings, self.coordinator)
        self.counters = Counters()
        self.started_monotonic = time.monotonic()
        self._health_task: asyncio.Task[None] | None = None

    # ---- lifecycle ----

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.coordinator.start(self.snapshot)
        delay = await self.coordinator.restart_delay()
        if delay:
            # A crash loop of four containers would burn Discord's 1000 daily session starts.
            log.warning("restart_backoff", delay_s=delay)
            await asyncio.sleep(delay)
        await self.sync_commands()
        self._health_task = asyncio.create_task(self._health_loop(), name="health-file")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.coordinator.wait_identify_slot(initial=initial)

    async def sync_commands(self) -> None:
        """Upload the command tree, once per change, from whichever instance holds the lock."""
        guild = (
            discord.Object(id=self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        )
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        scope = f"guild:{guild.id}" if guild else "global"
        digest = tree_digest(self.tree, guild)
        if not await self.coordinator.begin_sync(scope, digest):
            log.info("command_sync_skipped", scope=scope, reason="unchanged or another instance")
            return
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.error("command_sync_failed", scope=scope, status=exc.status, code=exc.code)
            await self.coordinator.end_sync(scope, None)
            return
        await self.coordinator.end_sync(scope, digest)
        log.info("commands_synced", scope=scope, count=len(synced))

    async def on_ready(self) -> None:
        log.info(
            "ready",
            user=str(self.user),
            guilds=len(self.guilds),
            role=self.settings.role,
        )
        self.write_health()

    async def close(self) -> None:
        if self._health_task is not None:
            await stop_task(self._health_task)
        await self.coordinator.close()
        await super().close()
        self.write_health()

    # ---- status ----

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    @property
    def latency_ms(self) -> float | None:
        latency = self.latency
        return None if latency != latency or latency == float("inf") else latency * 1000

    def status(self) -> InstanceStatus:
        return InstanceStatus(
            instance_id=self.settings.instance_id,
            role=self.settings.role,
            ready=self.is_ready() and not self.is_closed(),
            latency_ms=self.latency_ms,
            uptime_s=self.uptime_s,
            version=package_version(),
            pid=os.getpid(),
            counters=self.counters,
            coordination=self.coordinator.mode.value,
            providers={service: self.settings.api_key(service) is not None for service in SERVICES},
        )

    def snapshot(self) -> dict[str, object]:
        return self.status().as_dict()

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
            await asyncio.sleep(self.settings.health_interval)

    # ---- events ----

    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: object
    ) -> None:
        self.counters.record_handled(str(interaction.id))

    async def on_message(self, message: discord.Message) -> None:
        """Route chat triggers (mention or reply to the bot); the chat cog listens for them."""
        if message.author.bot or self.user is None:
            return
        if not self._is_chat_trigger(message):
            return
        channel_name = route_channel_name(message.channel, self)
        if await self.gate.should_answer(f"msg:{message.id}", channel_name, MESSAGE_COMMAND):
            log.info("chat_message_routed", message_id=message.id, channel=channel_name)
            self.dispatch("routed_message", message)

    def _is_chat_trigger(self, message: discord.Message) -> bool:
        if isinstance(message.channel, discord.DMChannel):
            return True
        if self.user in message.mentions:
            return True
        resolved = message.reference.resolved if message.reference else None
        return isinstance(resolved, discord.Message) and resolved.author == self.user
