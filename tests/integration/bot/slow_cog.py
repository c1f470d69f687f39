"""A test-only extension: commands that take a while, to stop a bot in the middle of one."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

SLOW_ANSWER = "천천히 끝냈어요"


class SlowCommands(commands.Cog):
    @app_commands.command(name="느린", description="1초 걸려요")
    async def slow(self, interaction: discord.Interaction) -> None:
        await asyncio.sleep(1.0)
        await interaction.response.send_message(SLOW_ANSWER)

    @app_commands.command(name="아주느린", description="2.5초 걸려요")
    async def slower(self, interaction: discord.Interaction) -> None:
        await asyncio.sleep(2.5)
        await interaction.response.send_message(SLOW_ANSWER)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(SlowCommands())
