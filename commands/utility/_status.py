"""The /상태 embed as this instance sees the fleet now (shared by the command and its button)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from commands.utility._embeds import fleet_status_embed

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot


def sees_details(interaction: discord.Interaction, admin_roles: tuple[int, ...]) -> bool:
    """Quota numbers and error details are for members who run the server: Manage Server,
    or one of ADMIN_ROLES."""
    if interaction.permissions.manage_guild:
        return True
    roles = getattr(interaction.user, "roles", ())
    return any(role.id in admin_roles for role in roles)


async def fleet_status(bot: MultiInstanceBot, *, detailed: bool = False) -> discord.Embed:
    snapshots = await bot.store.liveness.snapshots()
    stale_after = 2 * bot.settings.fleet.heartbeat_interval
    return fleet_status_embed(
        bot.status(), snapshots, bot.store.mode.value, stale_after_s=stale_after, detailed=detailed
    )
