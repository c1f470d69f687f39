"""The router's table, built from the settings (the router itself reads no settings)."""

from __future__ import annotations

from bot.router import InstanceSpec, RoutingTable
from env_manager import INSTANCE_IDS, INSTANCE_ROLES, Settings


def routing_table(settings: Settings) -> RoutingTable:
    """Every instance with its role, configured channel patterns and usable areas."""
    return {
        i: InstanceSpec(
            id=i,
            role=INSTANCE_ROLES[i],
            patterns=settings.fleet.channel_patterns(i),
            areas=settings.providers.areas(i),
        )
        for i in INSTANCE_IDS
    }
