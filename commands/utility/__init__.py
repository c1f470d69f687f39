"""/핑, /상태, /인스턴스: fleet utilities every instance serves.

`_cog.py` is the Discord glue, `_embeds.py` builds embeds from plain data, `_views.py`
holds the persistent buttons (python-discord's extension-package layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.utility._cog import UtilityCommands
from commands.utility._views import RefreshStatusButton

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot


async def setup(bot: MultiInstanceBot) -> None:
    await bot.add_cog(UtilityCommands(bot))
    bot.add_dynamic_items(RefreshStatusButton)
