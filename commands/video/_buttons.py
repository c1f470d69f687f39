"""취소 under a video's progress message: persistent, only the requester's press counts.

The custom id holds the job id and the requester; the press takes the one answering path
(routed as /비디오 in its channel), so whichever instance serves the channel answers it,
and the job's owner (maybe another instance) sees the request in the shared store.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot.routed_items import RoutedItem

if TYPE_CHECKING:
    from commands.video._cog import VideoCommands

CANCEL_ID = re.compile(r"mib:vid:cancel:(?P<job>[0-9a-f]{16}):(?P<user>\d{1,20})")


def cancel_id(job_id: str, user_id: int) -> str:
    return f"mib:vid:cancel:{job_id}:{user_id}"


class CancelButton(RoutedItem, discord.ui.DynamicItem[discord.ui.Button], template=CANCEL_ID):
    area_command = "비디오"

    def __init__(self, job_id: str, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="취소",
                emoji="🛑",
                style=discord.ButtonStyle.danger,
                custom_id=cancel_id(job_id, user_id),
            )
        )
        self.job_id = job_id
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> CancelButton:
        return cls(match["job"], int(match["user"]))

    async def on_press(self, interaction: discord.Interaction) -> None:
        cog: VideoCommands = interaction.client.get_cog("VideoCommands")  # type: ignore[attr-defined,assignment]
        await cog.on_cancel(interaction, self.job_id, self.user_id)


def cancel_view(job_id: str, user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id, user_id))
    return view
