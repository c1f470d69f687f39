"""Errors that carry a Korean message fit to show a Discord user.

Kept free of Discord types so provider clients can raise them; the bot's central
error handler shows `user_message` and logs `log_message` (English, secret-free).
"""

from __future__ import annotations


class UserFacingError(Exception):
    """Base for failures the user should read about in Korean."""

    user_message: str = "요청을 처리하지 못했어요. 잠시 후 다시 시도해 주세요."

    def __init__(self, log_message: str, *, user_message: str | None = None) -> None:
        super().__init__(log_message)
        if user_message is not None:
            self.user_message = user_message

    @property
    def log_message(self) -> str:
        return str(self)


class InvalidInputError(UserFacingError):
    """A command option the user typed is empty, too long or malformed."""
