"""The video area: /비디오 as durable jobs on MiniMax, delivered exactly once.

`_cog.py` is the Discord glue and the `video` job handler, `_texts.py` what the user
reads (pure), `_buttons.py` the persistent 취소 button. The jobs themselves are run by the
bot's `JobRunner` (bot/job_runner.py) and recorded in the fleet store (bot/store/jobs.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.quota_budget import quota_admission
from commands.video._buttons import CancelButton
from commands.video._cog import VideoCommands
from env_manager import AREA_PROVIDERS

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot


async def setup(bot: MultiInstanceBot) -> None:
    cog = VideoCommands(bot)
    await bot.add_cog(cog)
    bot.add_dynamic_items(CancelButton)
    bot.job_runner.register("video", cog.jobs)
    bot.admissions["비디오"] = quota_admission(bot.budget, AREA_PROVIDERS["video"])
