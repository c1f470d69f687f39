"""The chat area: /채팅 and chat by mention, answers streamed from a language model.

`_cog.py` is the Discord glue, `_stream.py` drives a streamed answer onto messages,
`_pages.py` decides (purely) how text becomes pages and edits, `_conversation.py` builds
what the model is sent (python-discord's extension-package layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.quota_budget import quota_admission
from commands.chat._cog import ChatCommands
from env_manager import AREA_PROVIDERS

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot


async def setup(bot: MultiInstanceBot) -> None:
    cog = ChatCommands(bot)
    await bot.add_cog(cog)
    bot.message_handler = cog.on_chat_message
    # This instance's OpenAI calls for today spent: the next instance answers.
    bot.admissions["채팅"] = quota_admission(bot.budget, AREA_PROVIDERS["chat"])
