"""`python -m bot status`: the fleet as Redis sees it, for operators and deploy scripts."""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.coordination import read_snapshots
from bot.router import DEFAULT_ROLES
from env_manager import Settings

COLUMNS = ("instance", "role", "state", "latency", "uptime", "1h ok/fail", "busy")


def render_table(snapshots: dict[int, dict[str, object]], now: float) -> str:
    rows: list[tuple[str, ...]] = [COLUMNS]
    for instance, role in DEFAULT_ROLES.items():
        snap = snapshots.get(instance)
        if snap is None:
            rows.append((str(instance), role, "offline", "", "", "", ""))
            continue
        counters = snap.get("counters") or {}
        latency = snap.get("latency_ms")
        rows.append(
            (
                str(instance),
                role,
                "ready" if snap.get("ready") else "starting",
                "-" if latency is None else f"{latency:.0f} ms",
                _short_duration(float(snap.get("uptime_s") or 0)),
                f"{counters.get('handled_1h', 0)}/{counters.get('failed_1h', 0)}",
                str(counters.get("in_flight", 0)),
            )
        )
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(len(COLUMNS))]
    lines = [
        "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    clock = time.strftime("%H:%M:%S", time.localtime(now))
    lines.append(f"{len(snapshots)}/{len(DEFAULT_ROLES)} online (as of {clock})")
    return "\n".join(lines)


def _short_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


async def print_fleet_status(settings: Settings, *, as_json: bool) -> int:
    client = aioredis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )
    try:
        snapshots = await read_snapshots(client, settings.redis_key_prefix)
    except (RedisError, OSError) as exc:
        print(
            f"Redis at {_redacted(settings.redis_url)} is unreachable ({exc.__class__.__name__}): "
            "instances fall back to static routing; start Redis or check REDIS_URL."
        )
        return 1
    finally:
        await client.aclose()
    if as_json:
        print(json.dumps({str(k): v for k, v in snapshots.items()}, ensure_ascii=False))
    else:
        print(render_table(snapshots, time.time()))
    return 0


def _redacted(url: str) -> str:
    """Hide a password in redis://user:password@host URLs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
