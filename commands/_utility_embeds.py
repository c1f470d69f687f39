"""Embeds of the fleet utility commands, built from plain data so they are unit-testable."""

from __future__ import annotations

from collections.abc import Callable

import discord

from bot.router import FALLBACK_INSTANCE, Decision, RoutingTable
from bot.status import InstanceStatus
from commands._formatting import (
    ROLE_COMMANDS,
    UTILITY_COMMANDS,
    format_duration,
    format_latency,
    instance_label,
    role_label,
)

COLOR_OK = discord.Colour.green()
COLOR_INFO = discord.Colour.blurple()

Decide = Callable[[str | None, str], Decision]


def channel_label(channel_name: str | None) -> str:
    return "DM" if channel_name is None else f"#{channel_name}"


def ping_embed(status: InstanceStatus) -> discord.Embed:
    embed = discord.Embed(
        title="🏓 퐁!",
        description=(
            f"인스턴스 **{instance_label(status.instance_id)}** "
            f"({role_label(status.role)} 담당)이 응답했어요."
        ),
        colour=COLOR_OK,
    )
    embed.add_field(name="게이트웨이 지연", value=format_latency(status.latency_ms))
    embed.add_field(name="가동 시간", value=format_duration(status.uptime_s))
    embed.set_footer(text=f"버전 {status.version}")
    return embed


def status_embed(status: InstanceStatus) -> discord.Embed:
    """This instance's view; the fleet-wide table arrives with coordination."""
    counters = status.counters
    embed = discord.Embed(
        title=f"📊 상태 — 인스턴스 {instance_label(status.instance_id)}",
        colour=COLOR_OK if status.ready else discord.Colour.orange(),
    )
    embed.add_field(name="역할", value=role_label(status.role))
    embed.add_field(name="연결", value="🟢 온라인" if status.ready else "🟠 연결 중")
    embed.add_field(name="게이트웨이 지연", value=format_latency(status.latency_ms))
    embed.add_field(name="가동 시간", value=format_duration(status.uptime_s))
    embed.add_field(name="처리 / 실패", value=f"{counters.handled} / {counters.failed}")
    embed.add_field(name="진행 중", value=str(counters.in_flight))
    embed.set_footer(text=f"버전 {status.version}")
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
    embed = discord.Embed(
        title="🗺️ 인스턴스 역할표",
        description=f"{channel_label(channel_name)} 채널 기준 담당 인스턴스",
        colour=COLOR_INFO,
    )
    utility = " ".join(f"/{c}" for c in UTILITY_COMMANDS)
    for spec in sorted(table.values(), key=lambda s: s.id):
        patterns = (
            ", ".join(f"`{p}`" for p in spec.patterns)
            if spec.id != FALLBACK_INSTANCE
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
    embed.set_footer(text=f"응답: 인스턴스 {instance_label(answering)}")
    return embed
