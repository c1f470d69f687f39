"""The image area: /이미지 with MiniMax and Stability, failover, and persistent buttons.

`_cog.py` is the Discord glue, `_spec.py` what a request asks for and how its buttons
carry it (pure), `_texts.py` what the user reads, `_buttons.py` the persistent 다시 생성 /
변형 buttons, `_files.py` fits images under Discord's attachment limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.image._buttons import ImageButton
from commands.image._cog import ImageCommands

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot


async def setup(bot: MultiInstanceBot) -> None:
    cog = ImageCommands(bot)
    await bot.add_cog(cog)
    bot.add_dynamic_items(ImageButton)
    bot.admissions["이미지"] = cog.admission
