"""The fleet's shared state (ARCHITECTURE.md, "The fleet store")."""

from bot.store.base import AliveView, Mode
from bot.store.fleet_store import FleetStore, local_store, open_store, redis_store

__all__ = ["AliveView", "FleetStore", "Mode", "local_store", "open_store", "redis_store"]
