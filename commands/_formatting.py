"""Korean wording shared by the command cogs."""

from __future__ import annotations

from bot.router import COMMAND_AREAS, ROLE_AREAS

ROLE_LABELS: dict[str, str] = {
    "chat": "채팅",
    "image": "이미지",
    "video": "비디오",
    "admin": "관리·예비",
    "all": "전체 (단일 프로세스)",
}
# Derived from the router's vocabulary so the tables shown to users cannot drift from routing.
ROLE_COMMANDS: dict[str, tuple[str, ...]] = {
    role: tuple(c for c, area in COMMAND_AREAS.items() if area in areas)
    for role, areas in ROLE_AREAS.items()
}
UTILITY_COMMANDS: tuple[str, ...] = tuple(c for c, a in COMMAND_AREAS.items() if a is None)


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def instance_label(instance_id: str | int | None) -> str:
    if instance_id in (None, "all"):
        return "단일 프로세스"
    return f"#{instance_id}"


def responder_label(instance_id: str | int | None) -> str:
    """`인스턴스 #2`, or `단일 프로세스` when one process serves everything."""
    label = instance_label(instance_id)
    return label if label == "단일 프로세스" else f"인스턴스 {label}"


def format_duration(seconds: float) -> str:
    """`3일 4시간`, `5분 2초`: the two largest units, good enough on a phone."""
    total = max(0, int(seconds))
    units = (("일", 86400), ("시간", 3600), ("분", 60), ("초", 1))
    parts: list[str] = []
    for name, size in units:
        value, total = divmod(total, size)
        if value or (not parts and size == 1):
            parts.append(f"{value}{name}")
        if len(parts) == 2:
            break
    return " ".join(parts)


def format_latency(latency_ms: float | None) -> str:
    return "측정 중" if latency_ms is None else f"{latency_ms:.0f} ms"
