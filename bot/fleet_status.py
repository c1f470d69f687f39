"""`python -m bot status`: the fleet as Redis sees it, for operators and deploy scripts."""

from __future__ import annotations

import dataclasses
import json
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.status import InstanceStatus
from bot.store.liveness import read_snapshots
from env_manager import INSTANCE_IDS, INSTANCE_ROLES, Settings

COLUMNS = ("instance", "role", "state", "latency", "uptime", "1h ok/fail", "busy")


def render_table(snapshots: dict[int, InstanceStatus], now: float) -> str:
    rows: list[tuple[str, ...]] = [COLUMNS]
    for instance, role in INSTANCE_ROLES.items():
        snap = snapshots.get(instance)
        if snap is None:
            rows.append((str(instance), role, "offline", "", "", "", ""))
            continue
        counters = snap.counters
        latency = snap.latency_ms
        rows.append(
            (
                str(instance),
                role,
                "ready" if snap.ready else "starting",
                "-" if latency is None else f"{latency:.0f} ms",
                _short_duration(snap.uptime_s),
                f"{counters.handled_1h}/{counters.failed_1h}",
                str(counters.in_flight),
            )
        )
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(len(COLUMNS))]
    lines = [
        "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    clock = time.strftime("%H:%M:%S", time.localtime(now))
    lines.append(f"{len(snapshots)}/{len(INSTANCE_ROLES)} online (as of {clock})")
    return "\n".join(lines)


def _short_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


async def print_fleet_status(settings: Settings, *, as_json: bool) -> int:
    client = aioredis.from_url(
        settings.fleet.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )
    try:
        snapshots = await read_snapshots(client, settings.fleet.redis_key_prefix, INSTANCE_IDS)
    except (RedisError, OSError) as exc:
        where = _redacted(settings.fleet.redis_url)
        print(
            f"Redis at {where} is unreachable ({exc.__class__.__name__}): "
            "instances fall back to static routing; start Redis or check REDIS_URL."
        )
        return 1
    finally:
        await client.aclose()
    if as_json:
        as_dicts = {str(k): dataclasses.asdict(v) for k, v in snapshots.items()}
        print(json.dumps(as_dicts, ensure_ascii=False))
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
