"""Checks for text options the user types; failures become Korean ephemeral replies."""

from __future__ import annotations

import re

from services.errors import InvalidInputError

# Control characters other than tab and newline: invisible, and never meant for a model.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(value: str, *, label: str, max_length: int) -> str:
    """`value` without control characters, stripped; rejected when blank or longer than
    `max_length` characters."""
    text = CONTROL_CHARACTERS.sub("", value).strip()
    if not text:
        raise InvalidInputError(
            f"option {label!r} is empty",
            user_message=f"'{label}' 값이 비어 있어요. 내용을 입력해 주세요.",
        )
    if len(text) > max_length:
        raise InvalidInputError(
            f"option {label!r} has {len(text)} characters (max {max_length})",
            user_message=(
                f"'{label}' 값이 너무 길어요. "
                f"{max_length}자 이하로 줄여 주세요 (지금 {len(text)}자)."
            ),
        )
    return text
