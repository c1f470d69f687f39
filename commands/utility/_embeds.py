"""Embeds of the fleet utility commands, built from plain data so they are unit-testable."""

from __future__ import annotations

import time
from collections.abc import Callable

import discord

from bot.router import Decision, RoutingTable
from bot.status import InstanceStatus
from commands._formatting import (
    ROLE_COMMANDS,
    UTILITY_COMMANDS,
    format_duration,
    format_latency,
    instance_label,
    responder_label,
    role_label,
)
from env_manager import INSTANCE_ROLES, PROVIDER_NAMES

COLOR_OK = discord.Colour.green()
COLOR_INFO = discord.Colour.blurple()
COLOR_WARN = discord.Colour.orange()

Decide = Callable[[str | None, str], Decision]


def channel_label(channel_name: str | None) -> str:
    return "DM" if channel_name is None else f"#{channel_name}"


def ping_embed(status: InstanceStatus) -> discord.Embed:
    if status.instance_id == "all":
        description = "**단일 프로세스**가 응답했어요 (모든 역할 담당)."
    else:
        description = (
            f"인스턴스 **{instance_label(status.instance_id)}** "
            f"({role_label(status.role)} 담당)이 응답했어요."
        )
    embed = discord.Embed(title="🏓 퐁!", description=description, colour=COLOR_OK)
    embed.add_field(name="게이트웨이 지연", value=format_latency(status.latency_ms))
    embed.add_field(name="가동 시간", value=format_duration(status.uptime_s))
    embed.add_field(name="진행 중", value=f"{status.counters.in_flight}건")
    embed.add_field(name="공유 상태", value=COORDINATION_SHORT.get(status.coordination, "?"))
    embed.add_field(name="최근 1시간", value=hour_summary(status))
    embed.set_footer(text=f"버전 {status.version}")
    return embed


COORDINATION_SHORT: dict[str, str] = {
    "redis": "🟢 Redis",
    "warming": "🟡 Redis 재연결 직후",
    "degraded": "🟠 Redis 끊김 (정적 라우팅)",
    "local": "단일 프로세스",
}


def error_rate(handled: int, failed: int) -> str | None:
    """`실패 / (처리 + 실패)` as a whole percent, or None before any work."""
    total = handled + failed
    return None if total == 0 else f"{round(100 * failed / total)}%"


def hour_summary(status: InstanceStatus) -> str:
    counters = status.counters
    text = f"처리 {counters.handled_1h} · 실패 {counters.failed_1h}"
    rate = error_rate(counters.handled_1h, counters.failed_1h)
    return text if rate is None else f"{text} (오류율 {rate})"


COORDINATION_LABELS: dict[str, str] = {
    "redis": "🟢 Redis 연결됨 — 장애 시 자동 대체",
    "warming": "🟡 Redis 재연결 직후 — 모두 살아 있다고 보고 순서대로 대체",
    "degraded": "🟠 Redis 연결 끊김 — 정적 라우팅 (자동 대체 없음)",
    "local": "단일 프로세스 모드 — Redis 없이 혼자 처리",
}


# A stopping instance finishes its work and takes nothing new (peers answer instead).
DRAINING_LABEL = "⏳ 종료 중 (draining) — 새 요청은 다른 인스턴스가 받아요"
PROBLEM_LABEL = "⛔ 문제"


PROBLEM_HIDDEN = "⛔ 문제가 있어요 (자세한 내용은 관리자에게 보여요)"


def quota_line(quotas: dict[str, list[int]], *, detailed: bool) -> str | None:
    """Today's provider calls left: numbers for admins, only what ran out for others."""
    if not quotas:
        return None
    if detailed:
        parts = []
        for provider, (used, limit) in quotas.items():
            name = PROVIDER_NAMES.get(provider, provider)  # type: ignore[call-overload]
            left = "제한 없음" if not limit else f"{max(0, limit - used):,}/{limit:,}"
            parts.append(f"{name} {left}")
        return "남은 할당량 " + " · ".join(parts)
    spent = [
        PROVIDER_NAMES.get(p, p)  # type: ignore[call-overload]
        for p, (used, limit) in quotas.items()
        if limit and used >= limit
    ]
    return f"할당량 소진: {', '.join(spent)}" if spent else "할당량 여유 있음"


def _instance_field(status: InstanceStatus, *, detailed: bool) -> str:
    counters = status.counters
    lines = []
    if status.problem:
        lines.append(f"{PROBLEM_LABEL}: {status.problem}" if detailed else PROBLEM_HIDDEN)
    if status.draining:
        lines.append(DRAINING_LABEL)
    lines += [
        f"지연 {format_latency(status.latency_ms)} · 가동 {format_duration(status.uptime_s)}",
        f"1시간 {hour_summary(status)}",
        f"진행 중 {counters.in_flight}",
    ]
    quota = quota_line(status.quotas, detailed=detailed)
    if quota is not None:
        lines.append(quota)
    return "\n".join(lines)


def _icon(status: InstanceStatus) -> str:
    if status.problem:
        return "⛔"
    return "🟢" if status.ready else "🟡"


def fleet_status_embed(
    me: InstanceStatus,
    snapshots: dict[int, InstanceStatus] | None,
    mode: str,
    *,
    stale_after_s: float = 4.0,
    now: float | None = None,
    detailed: bool = False,
) -> discord.Embed:
    """Every instance online or offline, with latency, uptime and recent work.

    `detailed` (for admins, shown privately) adds quota numbers and what went wrong;
    everyone else reads a summary.

    A heartbeat older than `stale_after_s` (two intervals) is shown as silent: the
    instance may have just died, and the fleet is already covering for it.
    """
    now = time.time() if now is None else now
    description = COORDINATION_LABELS.get(mode, mode)
    online = 0
    fields: list[tuple[str, str]] = []
    if me.instance_id == "all":
        field = _instance_field(me, detailed=detailed)
        fields.append((f"{_icon(me)} {role_label(me.role)}", field))
        online = 1
    else:
        known = dict(snapshots) if snapshots is not None else {}
        known[int(me.instance_id)] = me  # our own view is the freshest
        for spec_id, role in INSTANCE_ROLES.items():
            snapshot = known.get(spec_id)
            if snapshot is None:
                state = "⚪ 알 수 없음" if snapshots is None else "🔴 오프라인"
                fields.append((f"#{spec_id} {role_label(role)}", state))
                continue
            silent_s = now - snapshot.updated_at
            if silent_s > stale_after_s:
                fields.append(
                    (f"🟠 #{spec_id} {role_label(role)}", f"응답 없음 ({silent_s:.0f}초째)")
                )
                continue
            online += 1
            field = _instance_field(snapshot, detailed=detailed)
            fields.append((f"{_icon(snapshot)} #{spec_id} {role_label(role)}", field))
        if snapshots is None:
            description += "\n다른 인스턴스의 상태는 Redis가 돌아오면 보여요."
    total = 1 if me.instance_id == "all" else len(INSTANCE_ROLES)
    embed = discord.Embed(
        title=f"📊 봇 상태 — {online}/{total} 온라인",
        description=description,
        colour=COLOR_OK if mode in ("redis", "local") and online == total else COLOR_WARN,
    )
    for name, value in fields:
        embed.add_field(name=name, value=value)
    embed.set_footer(text=f"응답: {responder_label(me.instance_id)} · 버전 {me.version}")
    return embed


def routing_summary(channel_name: str | None, decide: Decide) -> list[str]:
    """One line per command: who answers it in `channel_name`."""
    lines = []
    for command in (*ROLE_COMMANDS["admin"], *UTILITY_COMMANDS):
        decision = decide(channel_name, command)
        order = " → ".join(str(i) for i in decision.order)
        lines.append(f"/{command}: **{instance_label(decision.instance)}** (순서 {order})")
    return lines


def instances_embed(
    table: RoutingTable,
    channel_name: str | None,
    decide: Decide,
    answering: str,
) -> discord.Embed:
    """Role table plus who would answer each command in `channel_name`."""
    description = f"{channel_label(channel_name)} 채널 기준 담당 인스턴스"
    if answering == "all":
        description += "\n지금은 단일 프로세스 모드라 모든 명령에 이 프로세스가 응답해요."
    embed = discord.Embed(title="🗺️ 인스턴스 역할표", description=description, colour=COLOR_INFO)
    utility = " ".join(f"/{c}" for c in UTILITY_COMMANDS)
    for spec in sorted(table.values(), key=lambda s: s.id):
        patterns = (
            ", ".join(f"`{p}`" for p in spec.patterns)
            if not spec.is_fallback
            else "그 밖의 모든 채널, DM, 다른 인스턴스 대신"
        )
        commands = " ".join(f"/{c}" for c in ROLE_COMMANDS[spec.role])
        embed.add_field(
            name=f"#{spec.id} {role_label(spec.role)}",
            value=f"채널: {patterns}\n명령: {commands} {utility}",
            inline=False,
        )
    embed.add_field(
        name=f"{channel_label(channel_name)}에서 응답하는 인스턴스",
        value="\n".join(routing_summary(channel_name, decide)),
        inline=False,
    )
    embed.set_footer(text=f"응답: {responder_label(answering)}")
    return embed
