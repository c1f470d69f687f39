"""Channel names as the router sees them."""

from __future__ import annotations

import discord


def route_channel_name(channel: object, client: discord.Client | None = None) -> str | None:
    """The name routing uses: a thread's parent name, a channel's name, None for a DM.

    A channel the cache has not seen (e.g. a thread created while this instance was
    down) still routes by its parent when the client can resolve it.
    """
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        if parent is None and client is not None and channel.parent_id:
            parent = client.get_channel(channel.parent_id)
        return getattr(parent, "name", None)
    if isinstance(channel, discord.DMChannel | discord.GroupChannel) or channel is None:
        return None
    return getattr(channel, "name", None)
