"""A test-only extension: commands, a button, a modal and a listener that fail on purpose.

Loaded next to the real utility commands by tests/integration/bot/test_answering.py to
drive every event kind through the answering path of a real `MultiInstanceBot`.
"""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import guarded_autocomplete
from bot.routed_items import RoutedItem, RoutedModal
from services.errors import UserFacingError

# A secret-looking detail that must never reach the user.
INTERNAL_DETAIL = "db-password=hunter2"


class Boom(RuntimeError):
    pass


class PressButton(
    RoutedItem, discord.ui.DynamicItem[discord.ui.Button], template=r"t:(?P<act>ok|fail)"
):
    area_command = "상태"

    def __init__(self, act: str) -> None:
        super().__init__(discord.ui.Button(label=act, custom_id=f"t:{act}"))
        self.act = act

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]) -> PressButton:
        return cls(match["act"])

    async def on_press(self, interaction: discord.Interaction) -> None:
        if self.act == "fail":
            raise Boom(INTERNAL_DETAIL)
        await interaction.response.edit_message(content="눌렸어요", view=None)


class NameModal(RoutedModal, title="이름"):
    template = re.compile(r"m:name:(?P<n>\d+)")
    area_command = "상태"

    def __init__(self, n: int) -> None:
        super().__init__(custom_id=f"m:name:{n}", timeout=900)
        self.n = n
        self.add_item(discord.ui.TextInput(label="이름", custom_id="name"))

    @classmethod
    def from_submit(cls, interaction, match: re.Match[str]) -> NameModal:
        return cls(int(match["n"]))

    async def on_routed_submit(self, interaction, values: dict[str, str]) -> None:
        if values["name"] == "실패":
            raise UserFacingError("test refusal", user_message="그 이름은 쓸 수 없어요.")
        await interaction.response.send_message(f"{self.n}번 이름: {values['name']}")


class AnsweringTestCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="공개지연", description="공개로 미룬 뒤 실패")
    async def public_defer(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        raise Boom(INTERNAL_DETAIL)

    @app_commands.command(name="비공개지연", description="비공개로 미룬 뒤 거절")
    async def private_defer(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        raise UserFacingError("quota", user_message="오늘 사용량을 다 썼어요.")

    @app_commands.command(name="답한뒤실패", description="답한 뒤 실패")
    async def answered_then_fail(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("첫 답")
        raise Boom(INTERNAL_DETAIL)

    @app_commands.command(name="버튼", description="버튼 두 개")
    async def buttons(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(PressButton("ok"))
        view.add_item(PressButton("fail"))
        await interaction.response.send_message("눌러 보세요", view=view)

    @app_commands.command(name="모달", description="모달 열기")
    async def modal(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NameModal(7))

    @app_commands.command(name="자동완성", description="자동완성이 실패")
    @app_commands.describe(word="단어")
    async def complete(self, interaction: discord.Interaction, word: str) -> None:
        await interaction.response.send_message(word)

    @complete.autocomplete("word")
    @guarded_autocomplete
    async def complete_word(self, interaction, current: str) -> list[app_commands.Choice[str]]:
        if current == "실패":
            raise Boom(INTERNAL_DETAIL)
        return [app_commands.Choice(name=f"{current}-1", value=f"{current}-1")]


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AnsweringTestCog(bot))
    bot.add_dynamic_items(PressButton)
    bot.routed_modals.append(NameModal)  # type: ignore[attr-defined]
