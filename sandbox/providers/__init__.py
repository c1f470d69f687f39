"""Loopback doubles of the AI providers (OpenAI-compatible today; MiniMax and Stability planned).

Like sandbox/discord/, these import nothing of the bot: tests, the e2e fleet and the demo
point the bot's `*_BASE_URL` settings at them, so no request ever leaves the machine.
"""

from .openai_double import FakeOpenAI, FakeReply, RecordedRequest

__all__ = ["FakeOpenAI", "FakeReply", "RecordedRequest"]
