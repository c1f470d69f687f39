"""Persistent buttons of the utility commands: any instance serves a press, any time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.routed_items import RoutedItem
from commands.utility._status import fleet_status, sees_details

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot

REFRESH_STATUS_ID = "mib:status:refresh"


class RefreshStatusButton(
    RoutedItem, discord.ui.DynamicItem[discord.ui.Button], template=REFRESH_STATUS_ID
):
    """새로고침 on a /상태 message: redraws it with the fleet as it is now."""

    area_command = "상태"

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="새로고침",
                emoji="🔄",
                style=discord.ButtonStyle.secondary,
                custom_id=REFRESH_STATUS_ID,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: object
    ) -> RefreshStatusButton:
        return cls()

    async def on_press(self, interaction: discord.Interaction) -> None:
        bot: MultiInstanceBot = interaction.client  # type: ignore[assignment]
        # Details only on a private copy, and only for an admin: a public /상태 stays a
        # summary whoever refreshes it.
        private = interaction.message is not None and interaction.message.flags.ephemeral
        detailed = private and sees_details(interaction, bot.settings.limits.admin_roles)
        embed = await fleet_status(bot, detailed=detailed)
        await interaction.response.edit_message(embed=embed, view=status_view())


def status_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RefreshStatusButton())
    return view
