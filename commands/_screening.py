"""What a prompt passes before paid work: the operator's banned words (at once, before
anything is acknowledged) and, when MODERATION_ENABLED, OpenAI's moderation endpoint
(after the deferral, so a slow check never misses Discord's 3 s; a flagged prompt's
"thinking…" placeholder is then removed and the reason sent privately).

A moderation endpoint that fails lets the prompt through with a warning: the check is an
extra net (the providers filter content themselves), never a reason to stop serving.
Nothing flagged is sent to a provider, and no quota is reserved for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import NoReturn

import discord

from bot.answering import RefusalShown
from bot.logging_setup import get_logger
from env_manager import ModerationSettings, Settings
from services.errors import InvalidInputError, ProviderError
from services.moderation import FLAGGED_MESSAGE, Moderation, banned_word, banned_word_message

log = get_logger("commands.screening")


class PromptScreen:
    def __init__(
        self, settings: ModerationSettings, *, api_key: str | None, base_url: str | None
    ) -> None:
        self.banned_words = settings.banned_words
        self._moderation: Moderation | None = None
        if settings.moderation_enabled and api_key is not None:
            self._moderation = Moderation(
                api_key=api_key,
                base_url=base_url,
                model=settings.moderation_model,
                timeout_s=settings.moderation_timeout,
            )
        elif settings.moderation_enabled:
            log.warning("moderation_off", reason="MODERATION_ENABLED needs an OpenAI key")

    def check_words(self, texts: Iterable[str | None]) -> None:
        """Raise a private Korean refusal when a text holds a banned word."""
        for text in texts:
            word = banned_word(text or "", self.banned_words)
            if word is not None:
                raise InvalidInputError(
                    "prompt holds a configured banned word",
                    user_message=banned_word_message(word),
                )

    async def flagged(self, text: str) -> bool:
        """Whether the moderation endpoint flags `text` (False when it is off or down)."""
        if self._moderation is None:
            return False
        try:
            verdict = await self._moderation.check(text)
        except ProviderError as exc:
            log.warning("moderation_unavailable", error=exc.log_message, prompt_passed=True)
            return False
        if verdict.flagged:
            log.info("prompt_flagged", categories=list(verdict.categories))
        return verdict.flagged

    async def aclose(self) -> None:
        if self._moderation is not None:
            await self._moderation.aclose()


def prompt_screen(settings: Settings) -> PromptScreen:
    """The screen of this instance (moderation asks with its OpenAI key)."""
    key = settings.api_key("openai")
    return PromptScreen(
        settings.moderation,
        api_key=None if key is None else key.get_secret_value(),
        base_url=settings.providers.openai_base_url,
    )


async def refuse_after_deferral(interaction: discord.Interaction) -> NoReturn:
    """A flagged prompt after a public deferral: remove the placeholder, tell the user
    alone (the first followup after a deferral would keep the deferral's visibility),
    then end the command as refused (`RefusalShown`)."""
    with contextlib.suppress(discord.NotFound):
        await interaction.delete_original_response()
    await interaction.followup.send(FLAGGED_MESSAGE, ephemeral=True)
    raise RefusalShown("prompt flagged by moderation")
