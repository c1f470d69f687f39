"""다시 생성 and 변형 under an image result: persistent, served by the channel's owner.

One `DynamicItem` class for both: the custom id (`_spec.BUTTON_ID`) says which, and holds
every option but the prompt, which the message's embed carries. A press takes the one
answering path (`RoutedItem`, routed as /이미지 in its channel), so after a restart, or on
whichever instance owns the channel now, it is answered once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot.routed_items import RoutedItem
from commands.image._spec import BUTTON_ID, REGENERATE, VARY, ImageSpec, button_id

if TYPE_CHECKING:
    from commands.image._cog import ImageCommands

LABELS = {REGENERATE: ("다시 생성", "🔁"), VARY: ("변형", "🎲")}


class ImageButton(RoutedItem, discord.ui.DynamicItem[discord.ui.Button], template=BUTTON_ID):
    area_command = "이미지"

    def __init__(self, custom_id: str) -> None:
        match = BUTTON_ID.fullmatch(custom_id)
        if match is None:
            raise ValueError(f"not an image button id: {custom_id!r}")
        text, emoji = LABELS[match["action"]]
        super().__init__(
            discord.ui.Button(
                label=text, emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=custom_id
            )
        )
        self.match = match

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ImageButton:
        return cls(item.custom_id or match.string)

    async def on_press(self, interaction: discord.Interaction) -> None:
        cog: ImageCommands = interaction.client.get_cog("ImageCommands")  # type: ignore[attr-defined,assignment]
        await cog.on_button(interaction, self.match)


def result_view(spec: ImageSpec, served: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ImageButton(button_id(REGENERATE, spec, served)))
    view.add_item(ImageButton(button_id(VARY, spec, served)))
    return view
