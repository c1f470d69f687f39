"""/핑, /상태, /인스턴스: the Discord side of the fleet utilities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import guarded_autocomplete
from bot.channels import route_channel_name
from commands._validation import clean_text
from commands.utility._embeds import instances_embed, ping_embed
from commands.utility._status import fleet_status, sees_details
from commands.utility._views import status_view

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot

# Discord channel names are at most 100 characters; autocomplete shows at most 25 choices.
CHANNEL_NAME_MAX = 100
MAX_CHOICES = 25


def channel_choices(names: list[str], typed: str) -> list[app_commands.Choice[str]]:
    """Channel names containing what the user typed (case-insensitive), at most 25."""
    needle = typed.strip().removeprefix("#").casefold()
    matching = [name for name in names if needle in name.casefold()]
    return [app_commands.Choice(name=name, value=name) for name in matching[:MAX_CHOICES]]


class UtilityCommands(commands.Cog):
    def __init__(self, bot: MultiInstanceBot) -> None:
        self.bot = bot

    @app_commands.command(name="핑", description="응답한 인스턴스와 지연 시간을 보여줘요")
    async def ping(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=ping_embed(self.bot.status()))

    @app_commands.command(name="상태", description="모든 봇 인스턴스의 상태를 보여줘요")
    async def status(self, interaction: discord.Interaction) -> None:
        # An admin's view holds quota numbers and error details: shown to them alone.
        detailed = sees_details(interaction, self.bot.settings.limits.admin_roles)
        # Acknowledge first: reading the fleet from a slow Redis must not eat Discord's 3 s.
        await interaction.response.defer(ephemeral=detailed)
        embed = await fleet_status(self.bot, detailed=detailed)
        await interaction.followup.send(embed=embed, view=status_view(), ephemeral=detailed)

    @app_commands.command(
        name="인스턴스", description="인스턴스 역할표와 이 채널의 담당을 보여줘요"
    )
    @app_commands.rename(channel="채널")
    @app_commands.describe(channel="다른 채널 이름으로 확인해요 (예: 채팅방-1)")
    async def instances(self, interaction: discord.Interaction, channel: str | None = None) -> None:
        if channel is None:
            channel_name = route_channel_name(interaction.channel, self.bot)
        else:
            channel_name = clean_text(channel, label="채널", max_length=CHANNEL_NAME_MAX)
            channel_name = channel_name.removeprefix("#")
        embed = instances_embed(
            self.bot.gate.table, channel_name, self.bot.gate.decide, self.bot.settings.instance_id
        )
        await interaction.response.send_message(embed=embed)

    @instances.autocomplete("channel")
    @guarded_autocomplete
    async def instances_channel_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        guild = interaction.guild
        names = [c.name for c in guild.text_channels] if guild is not None else []
        return channel_choices(names, current)
