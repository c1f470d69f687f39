"""Korean wording shared by the command cogs."""

from __future__ import annotations

ROLE_LABELS: dict[str, str] = {
    "chat": "채팅",
    "image": "이미지",
    "video": "비디오",
    "admin": "관리·예비",
    "all": "전체 (단일 프로세스)",
}
ROLE_COMMANDS: dict[str, tuple[str, ...]] = {
    "chat": ("채팅",),
    "image": ("이미지",),
    "video": ("비디오",),
    "admin": ("채팅", "이미지", "비디오"),
}
UTILITY_COMMANDS: tuple[str, ...] = ("핑", "상태", "인스턴스")


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
