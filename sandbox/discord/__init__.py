"""A loopback Discord double (gateway websocket + REST) that enforces Discord's rules.

Usage (point discord.py at the fake before the client starts)::

    async with FakeDiscord(channels=["general"], threads={"general": ["t"]}) as fake:
        discord.http.Route.BASE = fake.rest_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        ...  # start the bot, then drive it:
        result = await (await fake.send_command("general", "핑")).wait_for_response()
"""

from .errors import DiscordError, UnknownTarget
from .handles import InteractionHandle, MessageHandle
from .messages import StoredMessage
from .models import (
    CallbackAttempt,
    FileRecord,
    IdentifyRecord,
    InteractionResult,
    MessageResult,
    RequestRecord,
    SessionInfo,
    SpecViolation,
)
from .rules import Rules
from .server import FakeDiscord

__all__ = [
    "CallbackAttempt",
    "DiscordError",
    "FakeDiscord",
    "FileRecord",
    "IdentifyRecord",
    "InteractionHandle",
    "InteractionResult",
    "MessageHandle",
    "MessageResult",
    "RequestRecord",
    "Rules",
    "SessionInfo",
    "SpecViolation",
    "StoredMessage",
    "UnknownTarget",
]
