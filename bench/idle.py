"""`idle`: the four-instance fleet on Redis, READY and doing nothing: memory of each instance
(and the CPU its heartbeats and loops cost) after a few seconds of quiet.

It runs first on the run's shared fleet (bench/_shared.py), before any load."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ._measure import CpuWindow, rss_mb
from ._world import PRODUCTION_TIMINGS, Options, Progress

if TYPE_CHECKING:
    from ._shared import Shared

INSTANCES = (1, 2, 3, 4)
IDLE_S, QUICK_IDLE_S = 5.0, 2.0


async def run(shared: Shared, options: Options, progress: Progress) -> dict[str, Any]:
    idle_s = options.idle or (QUICK_IDLE_S if options.quick else IDLE_S)
    world = (await shared.fleet(progress)).world
    since = world.mark()
    pids = {str(label): world.pid(label) for label in INSTANCES}
    cpu = CpuWindow.begin(pids)
    end = time.monotonic() + idle_s
    while (left := end - time.monotonic()) > 0:
        progress(f"{len(INSTANCES)} instances READY, idle: {left:.0f}s left")
        await asyncio.sleep(min(1.0, left))
    elapsed, percent = cpu.end()
    rss = {label: rss_mb(pid) for label, pid in pids.items()}
    problems = world.problems(since)
    return {
        "instances": len(INSTANCES),
        "heartbeat_interval_s": float(PRODUCTION_TIMINGS["HEARTBEAT_INTERVAL"]),
        "idle_s": round(elapsed, 1),
        "rss_mb_idle_per_instance": max(rss.values()),
        "rss_mb_idle_by_instance": rss,
        "rss_mb_idle_total": round(sum(rss.values()), 1),
        "cpu_percent_idle_by_instance": percent,
        "problems": problems,
    }
