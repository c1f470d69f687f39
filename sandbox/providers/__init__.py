"""Loopback doubles of the AI providers: OpenAI-compatible chat, MiniMax images and videos,
Stability images.

Like sandbox/discord/, these import nothing of the bot: tests, the e2e fleet and the demo
point the bot's `*_BASE_URL` settings at them, so no request ever leaves the machine.
"""

from ._server import RecordedCall
from .minimax_double import FakeMiniMax, MiniMaxReply, VideoTask
from .openai_double import FakeOpenAI, FakeReply, RecordedRequest
from .stability_double import FakeStability, StabilityReply

__all__ = [
    "FakeMiniMax",
    "FakeOpenAI",
    "FakeReply",
    "FakeStability",
    "MiniMaxReply",
    "RecordedCall",
    "RecordedRequest",
    "StabilityReply",
    "VideoTask",
]
