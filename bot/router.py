"""The routing rule of the fleet: which instance answers a command in a channel.

Pure and free of I/O so it can be table- and property-tested, and reused by the
`python -m bot route` CLI. It knows the vocabulary (commands, areas, roles) and the
rule; the table of instances comes from the settings (`bot/routing_table.py`).
See ARCHITECTURE.md, "Roles and the router".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

# The area each command belongs to; None means a fleet utility every instance serves.
COMMAND_AREAS: dict[str, str | None] = {
    "채팅": "chat",
    "이미지": "image",
    "비디오": "video",
    "핑": None,
    "상태": None,
    "인스턴스": None,
}
# Chat messages (mentions, replies) route like the chat command.
MESSAGE_COMMAND = "채팅"

ROLE_AREAS: dict[str, frozenset[str]] = {
    "chat": frozenset({"chat"}),
    "image": frozenset({"image"}),
    "video": frozenset({"video"}),
    "admin": frozenset({"chat", "image", "video"}),
}
# The role that answers everything no specialist takes, and backs up the others.
FALLBACK_ROLE = "admin"


class UnknownCommandError(ValueError):
    """A command name the fleet does not serve."""


@dataclass(frozen=True)
class InstanceSpec:
    """What the router knows of one instance: its role, channels and usable areas."""

    id: int
    role: str
    patterns: tuple[str, ...]
    # Areas it holds provider keys for; lets it cover others when they are down.
    areas: frozenset[str]

    @property
    def is_fallback(self) -> bool:
        return self.role == FALLBACK_ROLE

    def matches(self, channel_name: str) -> bool:
        name = channel_name.casefold()
        return any(fnmatchcase(name, pattern.casefold()) for pattern in self.patterns)

    def role_serves(self, command: str) -> bool:
        area = COMMAND_AREAS[command]
        return area is None or area in ROLE_AREAS[self.role]

    def can_serve(self, command: str) -> bool:
        area = COMMAND_AREAS[command]
        return area is None or area in self.areas


@dataclass(frozen=True)
class Decision:
    """A routing decision: full preference order and the first alive instance in it."""

    order: tuple[int, ...]
    instance: int | None

    def as_json(self) -> dict[str, object]:
        return {"instance": self.instance, "order": list(self.order)}


RoutingTable = Mapping[int, InstanceSpec]


def normalize_command(command: str) -> str:
    """Accept `/핑` or `핑`; raise UnknownCommandError for anything else."""
    name = command.strip().removeprefix("/").strip()
    if name not in COMMAND_AREAS:
        known = ", ".join(f"/{c}" for c in COMMAND_AREAS)
        raise UnknownCommandError(f"unknown command {command!r}; known commands: {known}")
    return name


def preference_order(
    channel_name: str | None, command: str, table: RoutingTable
) -> tuple[int, ...]:
    """Specialists matching the channel, then the fallback, then any other capable instance.

    `channel_name` is the channel's name (a thread passes its parent's), or None for a DM.
    """
    command = normalize_command(command)
    specs = sorted(table.values(), key=lambda s: s.id)
    order: list[int] = []
    if channel_name is not None:
        order = [
            spec.id
            for spec in specs
            if not spec.is_fallback and spec.matches(channel_name) and spec.role_serves(command)
        ]
    order += [spec.id for spec in specs if spec.is_fallback]
    order += [spec.id for spec in specs if spec.id not in order and spec.can_serve(command)]
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
