"""/핑, /상태, /인스턴스: fleet utilities every instance serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.channels import route_channel_name
from commands._utility_embeds import fleet_status_embed, instances_embed, ping_embed
from commands._validation import clean_text

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot

# Discord channel names are at most 100 characters.
CHANNEL_NAME_MAX = 100


class UtilityCommands(commands.Cog):
    def __init__(self, bot: MultiInstanceBot) -> None:
        self.bot = bot

    @app_commands.command(name="핑", description="응답한 인스턴스와 지연 시간을 보여줘요")
    async def ping(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=ping_embed(self.bot.status()))

    @app_commands.command(name="상태", description="모든 봇 인스턴스의 상태를 보여줘요")
    async def status(self, interaction: discord.Interaction) -> None:
        snapshots = await self.bot.coordinator.snapshots()
        mode = self.bot.coordinator.mode.value
        stale_after = 2 * self.bot.settings.heartbeat_interval
        embed = fleet_status_embed(self.bot.status(), snapshots, mode, stale_after_s=stale_after)
        await interaction.response.send_message(embed=embed)

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


async def setup(bot: MultiInstanceBot) -> None:
    await bot.add_cog(UtilityCommands(bot))
