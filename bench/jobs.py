"""`jobs`: many /비디오 jobs held in the polling state on one bot instance (the video one).

The MiniMax double keeps every video task in Processing, so each job stays in the job
runner's poll loop (a MiniMax query every VIDEO_POLL_INTERVAL, a progress edit on Discord
every VIDEO_PROGRESS_INTERVAL, a job record read and saved in Redis each time). The
commands go out at a steady rate; once the bot has started every job, the instance's RSS
and its CPU over a window are read from /proc, and the queries the double received in the
window show that the jobs really poll.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import TYPE_CHECKING, Any

from sandbox.discord import InteractionHandle

from ._measure import CpuWindow, peak_rss_mb, rss_mb
from ._world import PRODUCTION_TIMINGS, BenchFailed, Options, Progress, World, open_world

if TYPE_CHECKING:
    from ._shared import Shared

FULL_JOBS, QUICK_JOBS = 1000, 200
# The window spans whole poll periods (3, or 2 with --quick), so every job polls the same
# number of times in it: 30 s by default, which also spans two whole progress periods.
FULL_WINDOW_POLLS, QUICK_WINDOW_POLLS = 3, 2
# VIDEO_POLL_INTERVAL: the production default; --quick polls faster to fill its window sooner.
FULL_POLL_S, QUICK_POLL_S = 10.0, 2.0
PROGRESS_INTERVAL_S = 15.0  # VIDEO_PROGRESS_INTERVAL, the production default
INSTANCE = 3  # the video role
CHANNEL = "비디오생성-1"
QUERY_PATH = "/v1/query/video_generation"
# Tasks reach Processing at once and stay there for good.
HOLD_IN_PROCESSING = {"video_prepare_s": 0.0, "video_queue_s": 0.0, "video_process_s": 10**6}
ACK_GRACE_S = 15.0  # after the last command, for the acknowledgements still to come
START_GRACE_S = 60.0  # after those, for the bot to start every acknowledged job
# What becomes of an acknowledged /비디오: its job starts, its start fails, or the command
# is turned down (a Korean message; `event_failed`: an unexpected error).
SETTLED_EVENTS = ("job_started", "job_start_failed", "event_rejected", "event_failed")


async def run(shared: Shared, options: Options, progress: Progress) -> dict[str, Any]:
    """On a world of its own (one instance, MiniMax tasks that never finish)."""
    workdir = shared.workdir / "jobs"
    n = options.jobs or (QUICK_JOBS if options.quick else FULL_JOBS)
    periods = QUICK_WINDOW_POLLS if options.quick else FULL_WINDOW_POLLS
    poll_s = options.poll_interval or (QUICK_POLL_S if options.quick else FULL_POLL_S)
    window = options.window or periods * poll_s
    env = {
        "VIDEO_MAX_RUNNING": str(max(n, 1000)),
        "VIDEO_POLL_INTERVAL": str(poll_s),
        "VIDEO_PROGRESS_INTERVAL": str(PROGRESS_INTERVAL_S),
        # The load comes from a handful of bench users: per-user limits and the daily
        # quota would turn most of it away, and they are not what is measured here.
        "LIMIT_VIDEO_RUNNING": "0",
        "LIMIT_VIDEO_PER_DAY": "0",
        "QUOTA_MINIMAX_DAILY": "0",
    }
    result: dict[str, Any] = {
        "poll_interval_s": poll_s,
        "progress_interval_s": PROGRESS_INTERVAL_S,
        "heartbeat_interval_s": float(PRODUCTION_TIMINGS["HEARTBEAT_INTERVAL"]),
    }
    async with open_world(
        workdir,
        instances=(INSTANCE,),
        extra_env=env,
        minimax=HOLD_IN_PROCESSING,
        progress=progress,
    ) as world:
        result["rss_mb_before_jobs"] = rss_mb(world.pid(INSTANCE))
        try:
            await _submit_and_start(world, n, options.rate, result, progress)
            # Measured even when some jobs were lost: what a struggling bot costs is a finding.
            await _measure(world, window, result, progress)
        finally:
            result["problems"] = world.problems()
    held = result["jobs_polling"]
    grown = result["rss_mb_per_instance_at_jobs"] - result["rss_mb_before_jobs"]
    result["rss_kb_per_job"] = round(grown * 1024 / held) if held else None
    if held >= 1000:
        result["rss_mb_per_instance_at_1000_jobs"] = result["rss_mb_per_instance_at_jobs"]
    failures = _failures(result)
    if failures:
        raise BenchFailed(f"of {n} /비디오 commands: {failures} (see problems)", result)
    return result


async def _submit_and_start(
    world: World, n: int, rate: float, result: dict[str, Any], progress: Progress
) -> None:
    handles = await _send(world, n, rate, result, progress)
    acked = await _acknowledged(handles, progress)
    result["commands_lost"] = n - len(acked)
    ack_ms = sorted(ms for ms in acked.values() if ms is not None)
    if ack_ms:
        result["ack_ms_p50"] = round(statistics.median(ack_ms))
        result["ack_ms_p95"] = round(ack_ms[int(0.95 * (len(ack_ms) - 1))])
        result["ack_ms_max"] = round(ack_ms[-1])

    def count(name: str) -> int:
        return len(world.fleet.events(INSTANCE, name))

    def settled() -> int:  # commands whose job started, or that the bot turned down
        return sum(count(name) for name in SETTLED_EVENTS)

    deadline = time.monotonic() + START_GRACE_S
    while settled() < len(acked) and time.monotonic() < deadline:
        _check_alive(world, result)
        progress(f"jobs started {count('job_started')}/{len(acked)}")
        await asyncio.sleep(0.5)
    result["jobs_submitted"] = count("job_submitted")
    result["jobs_started"] = count("job_started")
    result["provider_tasks"] = len(world.minimax.video_tasks)
    result["commands_refused"] = count("event_rejected") + count("event_failed")
    result["jobs_start_failed"] = count("job_start_failed")
    result["jobs_not_started"] = len(acked) - settled()


def _failures(result: dict[str, Any]) -> str:
    """What kept the bot from holding every job, in words; "" when it held them all."""
    found = [
        (result["commands_lost"], "never acknowledged"),
        (result["commands_refused"], "refused by the bot"),
        (result["jobs_start_failed"], "failed to start"),
        (result["jobs_not_started"], f"not started within {START_GRACE_S:.0f}s"),
        (result["jobs_started"] - result["jobs_polling"], "started but not polled in the window"),
    ]
    return "; ".join(f"{count} {what}" for count, what in found if count > 0)


async def _send(
    world: World, n: int, rate: float, result: dict[str, Any], progress: Progress
) -> list[InteractionHandle]:
    """`/비디오` n times, `rate` a second, each from its own user."""
    handles = []
    began = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
        handle = await world.fake.send_command(
            channel=CHANNEL,
            command="비디오",
            options={"설명": f"벤치마크 {i}: 파도가 치는 바다"},
            user=f"bench{i}",
        )
        handles.append(handle)
        if i % 25 == 0:
            progress(f"sending /비디오 {i + 1}/{n}")
    elapsed = time.monotonic() - began
    result["commands_sent"] = n
    result["send_rate_per_s"] = round(n / elapsed, 1) if elapsed > 0 else None
    return handles


async def _acknowledged(
    handles: list[InteractionHandle], progress: Progress
) -> dict[int, float | None]:
    """Interaction id -> acknowledgement time (ms) of each command the bot acknowledged."""
    acked: dict[int, float | None] = {}
    pending = list(handles)
    deadline = time.monotonic() + ACK_GRACE_S
    while pending and time.monotonic() < deadline:
        still = []
        for handle in pending:
            result = handle.result()
            if result.answered_by is None:
                still.append(handle)
            else:
                acked[handle.interaction_id] = result.ack_ms
        pending = still
        if pending:
            progress(f"acknowledged {len(acked)}/{len(handles)}")
            await asyncio.sleep(0.5)
    return acked


async def _measure(world: World, window: float, result: dict[str, Any], progress: Progress) -> None:
    """RSS, CPU and the double's view of the polling, over `window` seconds."""
    pid = world.pid(INSTANCE)
    queries_before = len(world.minimax.requests)
    discord_before = len(world.fake.requests)
    redis_before = world.redis_calls()
    cpu = CpuWindow.begin({"bot": pid, "harness": os.getpid(), "redis": world.redis_pid})
    end = time.monotonic() + window
    while (left := end - time.monotonic()) > 0:
        _check_alive(world, result)
        progress(f"measuring {len(world.minimax.video_tasks)} polling jobs: {left:.0f}s left")
        await asyncio.sleep(min(1.0, left))
    elapsed, percent = cpu.end()
    result["rss_mb_per_instance_at_jobs"] = rss_mb(pid)
    result["rss_mb_peak"] = peak_rss_mb(pid)
    polls = [r for r in world.minimax.requests[queries_before:] if r.path == QUERY_PATH]
    polled = {str(r.body.get("task_id")) for r in polls if isinstance(r.body, dict)}
    processing = {t.task_id for t in world.minimax.video_tasks if t.state == "Processing"}
    edits = [r for r in world.fake.requests[discord_before:] if r.method == "PATCH"]
    result |= {
        "window_s": round(elapsed, 1),
        "cpu_percent_polling": percent["bot"],
        "cpu_percent_harness": percent["harness"],  # this process: the doubles
        "cpu_percent_redis": percent["redis"],
        "polls_per_s": round(len(polls) / elapsed, 1),
        "redis_calls_per_s": _rates(redis_before, world.redis_calls(), elapsed),
        "progress_edits_per_s": round(len(edits) / elapsed, 1),
        "jobs_polling": len(polled & processing),
        "jobs_ended": len(world.fleet.events(INSTANCE, "job_ended")),
    }


def _rates(before: dict[str, int], after: dict[str, int], elapsed: float) -> dict[str, float]:
    """Calls a second in the window, by command, busiest first, with the total."""
    rates = {k: round((n - before.get(k, 0)) / elapsed, 1) for k, n in after.items()}
    busy = {k: r for k, r in sorted(rates.items(), key=lambda kv: -kv[1]) if r > 0}
    return {"total": round(sum(busy.values()), 1), **busy}


def _check_alive(world: World, result: dict[str, Any]) -> None:
    instance = world.fleet.instances[str(INSTANCE)]
    if not instance.running:
        code = instance.process.returncode if instance.process else None
        raise BenchFailed(f"bot instance {INSTANCE} exited (code {code})", result)
