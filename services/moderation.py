"""Prompt moderation: an operator's banned words and OpenAI's moderation endpoint.

`banned_word(text, words)` is a pure check against the configured words; `Moderation.check`
asks an OpenAI-compatible `/v1/moderations` (model `omni-moderation-latest` by default)
through the official `openai` SDK. Neither knows what the caller does with the answer: the
Korean messages for the user (`FLAGGED_MESSAGE`, `banned_word_message`) are exported for it.

Failures of the endpoint become the same `services.errors.ProviderError` subclasses as the
chat's (`services.openai_service.map_openai_error`), with provider "openai" and no key in
any text. One check, the SDK's single retry included, takes at most `timeout_s`.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from services.errors import ProviderError
from services.openai_service import PROVIDER, map_openai_error, openai_client

DEFAULT_MODEL = "omni-moderation-latest"
FLAGGED_MESSAGE = (
    "이 설명은 운영 정책에 맞지 않아 처리할 수 없어요. 내용을 바꿔서 다시 시도해 주세요."
)
BANNED_WORD_MESSAGE = "금지어(‘{word}’)가 들어 있어 처리할 수 없어요."
# Unicode categories dropped before comparing: separators (Z*), punctuation (P*), control
# characters such as tabs and newlines (Cc) and format characters, the zero-width ones (Cf).
_IGNORED_CATEGORIES = ("Z", "P", "Cc", "Cf")


def banned_word_message(word: str) -> str:
    """The Korean message for a prompt containing `word` (echoed so the user knows what)."""
    return BANNED_WORD_MESSAGE.format(word=word)


def _squeezed(text: str) -> str:
    """NFKC + casefold, then without spacing, punctuation or zero-width characters."""
    # NFKC again after casefold: casefolding can yield characters NFKC would still change.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(
        ch for ch in folded if not unicodedata.category(ch).startswith(_IGNORED_CATEGORIES)
    )


def banned_word(text: str, words: Sequence[str]) -> str | None:
    """The first of `words` (as configured) found in `text`, or None.

    Both sides are compared squeezed (`_squeezed`), so "B A D", "b.a.d" and full-width "ＢＡＤ"
    all contain "bad". The price is a match across word boundaries ("a bad" → "abad"), which
    an operator's list of whole insults rarely minds. Words that squeeze to nothing are ignored.
    """
    haystack = _squeezed(text)
    for word in words:
        needle = _squeezed(word)
        if needle and needle in haystack:
            return word
    return None


@dataclass(frozen=True)
class ModerationVerdict:
    """The endpoint's answer for one text: flagged or not, and the flagged category names
    as OpenAI spells them (e.g. "violence", "self-harm/intent"), sorted."""

    flagged: bool
    categories: tuple[str, ...] = ()


class Moderation:
    """Checks one text at a time with an OpenAI-compatible moderation endpoint."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = 10.0,
        max_retries: int = 1,
    ) -> None:
        if not api_key:
            raise ValueError("Moderation needs an API key")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._client = openai_client(api_key, base_url, timeout_s, max_retries)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Moderation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def check(self, text: str) -> ModerationVerdict:
        """The verdict for `text`; raises a `ProviderError` when the endpoint fails."""
        import openai  # on first use, like the chat client's (services/openai_service.py)

        try:
            # The SDK's timeout is per attempt; this bounds the retry and its wait too.
            async with asyncio.timeout(self.timeout_s):
                answer = await self._client.moderations.create(model=self.model, input=text)
        except (openai.OpenAIError, TimeoutError) as exc:
            raise map_openai_error(exc, api_key=self._api_key, api="moderation") from None
        if not answer.results:
            raise ProviderError(
                "OpenAI moderation answer has no result",
                provider=PROVIDER,
                request_id=answer._request_id,
            )
        result = answer.results[0]
        # by_alias: the API's names ("self-harm/intent"), not the SDK's attribute names.
        categories = result.categories.model_dump(by_alias=True)
        return ModerationVerdict(
            flagged=result.flagged,
            categories=tuple(sorted(name for name, hit in categories.items() if hit is True)),
        )
