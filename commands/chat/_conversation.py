"""What the model is sent: the system prompt, the remembered turns and the new question."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.memory import MemoryTurn
from services.openai_service import ImagePart, Turn


def conversation_key(*, thread_id: int | None, channel_id: int | None, user_id: int) -> str:
    """Memory is per thread; outside threads per channel and user; in DMs per user."""
    if thread_id is not None:
        return f"thread:{thread_id}"
    if channel_id is None:
        return f"dm:{user_id}"
    return f"channel:{channel_id}:user:{user_id}"


def model_turns(
    system_prompt: str,
    history: Sequence[MemoryTurn],
    question: str,
    images: Sequence[ImagePart] = (),
) -> list[Turn]:
    """The turns to send. Memory dropped its oldest turns first, so it may begin with an
    answer whose question is gone: such a leading answer is left out."""
    remembered = list(history)
    while remembered and remembered[0].role == "assistant":
        remembered.pop(0)
    turns = [Turn("system", system_prompt)]
    turns += [Turn(t.role, t.text) for t in remembered if t.text]
    turns.append(Turn("user", question, tuple(images)))
    return turns


def remembered_question(question: str, image_count: int) -> str:
    """How a question is kept in memory: images are not stored, only noted."""
    if not image_count:
        return question
    return f"{question}\n(이미지 {image_count}장 첨부)"
