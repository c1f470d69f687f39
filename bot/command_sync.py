"""A stable fingerprint of the command tree, so the fleet uploads it only when it changed."""

from __future__ import annotations

import hashlib
import json

import discord
from discord import app_commands


def tree_digest(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> str:
    """sha256 of the payload Discord would receive for `guild` (None: global)."""
    payload = sorted(
        (command.to_dict(tree) for command in tree.get_commands(guild=guild)),
        key=lambda c: (c.get("type", 1), c["name"]),
    )
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
