"""The /상태 embed as this instance sees the fleet now (shared by the command and its button)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from commands.utility._embeds import fleet_status_embed

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot


async def fleet_status(bot: MultiInstanceBot) -> discord.Embed:
    snapshots = await bot.store.liveness.snapshots()
    stale_after = 2 * bot.settings.fleet.heartbeat_interval
    return fleet_status_embed(
        bot.status(), snapshots, bot.store.mode.value, stale_after_s=stale_after
    )
