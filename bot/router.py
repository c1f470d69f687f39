"""The routing rule of the fleet: which instance answers a command in a channel.

Pure and free of I/O so it can be table- and property-tested, and reused by the
`python -m bot route` CLI. Only the standard library's glob matcher is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

FALLBACK_INSTANCE = 4
INSTANCE_IDS: tuple[int, ...] = (1, 2, 3, 4)

# Service areas a command belongs to; None means a fleet utility every instance serves.
COMMAND_SERVICES: dict[str, str | None] = {
    "채팅": "chat",
    "이미지": "image",
    "비디오": "video",
    "핑": None,
    "상태": None,
    "인스턴스": None,
}
# Chat messages (mentions, replies) route like the chat command.
MESSAGE_COMMAND = "채팅"

ROLE_SERVICES: dict[str, frozenset[str]] = {
    "chat": frozenset({"chat"}),
    "image": frozenset({"image"}),
    "video": frozenset({"video"}),
    "admin": frozenset({"chat", "image", "video"}),
}
DEFAULT_ROLES: dict[int, str] = {1: "chat", 2: "image", 3: "video", 4: "admin"}
DEFAULT_PATTERNS: dict[int, tuple[str, ...]] = {
    1: ("채팅방-*", "*chat*"),
    2: ("이미지생성-*", "*image*"),
    3: ("비디오생성-*", "*video*"),
    4: (),
}


class UnknownCommandError(ValueError):
    """A command name the fleet does not serve."""


@dataclass(frozen=True)
class InstanceSpec:
    """What the router knows of one instance: its role, channels and usable services."""

    id: int
    role: str
    patterns: tuple[str, ...]
    # Services it holds credentials for; lets it cover others in degraded mode.
    services: frozenset[str]

    def matches(self, channel_name: str) -> bool:
        name = channel_name.casefold()
        return any(fnmatchcase(name, pattern.casefold()) for pattern in self.patterns)

    def role_serves(self, command: str) -> bool:
        service = COMMAND_SERVICES[command]
        return service is None or service in ROLE_SERVICES[self.role]

    def can_serve(self, command: str) -> bool:
        service = COMMAND_SERVICES[command]
        return service is None or service in self.services


@dataclass(frozen=True)
class Decision:
    """A routing decision: full preference order and the first alive instance in it."""

    order: tuple[int, ...]
    instance: int | None

    def as_json(self) -> dict[str, object]:
        return {"instance": self.instance, "order": list(self.order)}


RoutingTable = dict[int, InstanceSpec]


def default_table() -> RoutingTable:
    """The documented default table, every instance holding the keys of its own role."""
    return {
        i: InstanceSpec(i, DEFAULT_ROLES[i], DEFAULT_PATTERNS[i], ROLE_SERVICES[DEFAULT_ROLES[i]])
        for i in INSTANCE_IDS
    }


def normalize_command(command: str) -> str:
    """Accept `/핑` or `핑`; raise UnknownCommandError for anything else."""
    name = command.strip().removeprefix("/").strip()
    if name not in COMMAND_SERVICES:
        known = ", ".join(f"/{c}" for c in COMMAND_SERVICES)
        raise UnknownCommandError(f"unknown command {command!r}; known commands: {known}")
    return name


def preference_order(
    channel_name: str | None, command: str, table: RoutingTable
) -> tuple[int, ...]:
    """Specialists matching the channel, then the fallback, then any other capable instance.

    `channel_name` is the channel's name (a thread passes its parent's), or None for a DM.
    """
    command = normalize_command(command)
    order: list[int] = []
    if channel_name is not None:
        order = [
            spec.id
            for spec in sorted(table.values(), key=lambda s: s.id)
            if spec.id != FALLBACK_INSTANCE
            and spec.matches(channel_name)
            and spec.role_serves(command)
        ]
    if FALLBACK_INSTANCE in table:
        order.append(FALLBACK_INSTANCE)
    order += [
        spec.id
        for spec in sorted(table.values(), key=lambda s: s.id)
        if spec.id not in order and spec.can_serve(command)
    ]
    return tuple(order)


def route(
    channel_name: str | None, command: str, alive: Iterable[int], table: RoutingTable
) -> Decision:
    """Decide who answers given the set of alive instances."""
    order = preference_order(channel_name, command, table)
    alive_set = set(alive)
    owner = next((i for i in order if i in alive_set), None)
    return Decision(order=order, instance=owner)


def alive_rank(order: Iterable[int], alive: Iterable[int], instance_id: int) -> int | None:
    """Position of `instance_id` among the alive instances of `order` (0 = owner)."""
    alive_set = set(alive)
    ranked = [i for i in order if i in alive_set]
    return ranked.index(instance_id) if instance_id in ranked else None
