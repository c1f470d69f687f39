"""`ack`: `/핑` at a steady rate over the four-instance fleet, and how fast it is acknowledged.

The commands go round the four role channels (#채팅방-1, #이미지생성-1, #비디오생성-1,
#general), so each instance owns a quarter of them; every instance receives every command
and the router and the Redis claims decide who answers. `/핑` needs no provider and has no
per-user limit, so nothing but the answering path is measured. One `/핑` per channel is
answered first (not counted) so every instance has loaded its claim script.

Keys (of the steady phase; the ramp's steps carry the same ones):
- `ack_p50_ms`, `ack_p99_ms`, `ack_max_ms`: interaction dispatched by the Discord double ->
  first callback it accepted (the double's `ack_ms`), over the answered commands
  (nearest-rank percentiles).
- `answered`: commands with an accepted callback, which the double accepts only within
  Discord's 3 s; `lost` = `commands_sent` - `answered`.
- `duplicates`: commands with a second callback attempt (refused 40060, or 10062 when
  late) or a second visible message (two instances answering).
- `answered_by_instance`, `not_by_owner` (answered by an instance that does not own the
  channel: a takeover, since every instance is alive).
- `send_rate_per_s`: the rate the harness really sent at (it shares the cores).

The full run then ramps on from the steady rate: RAMP_STEP_S (10 s) at each rate, up in
steps of RAMP_STEP (50/s: 100, 150, ...) to `--ack-ramp-to` (400/s), waiting after each
step until its commands are 3.5 s old. `max_rate_per_s` is the last rate (the steady one
included) at which lost = 0, duplicates = 0, ack_p99_ms <= RAMP_P99_LIMIT_MS (1000 ms: a
third of Discord's 3 s, the rest left for a real network) and the harness sent at >= 90 %
of the rate; the ramp stops at the first step that misses, and `ramp_stopped_by` says why.

It runs on the run's shared fleet (bench/_shared.py).
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import time
from typing import TYPE_CHECKING, Any

from sandbox.discord import InteractionHandle

from ._measure import CpuWindow
from ._world import CHANNELS, BenchFailed, Options, Progress, World

if TYPE_CHECKING:
    from ._shared import Shared

INSTANCES = (1, 2, 3, 4)
OWNER = dict(zip(CHANNELS, ("1", "2", "3", "4"), strict=True))
COMMAND = "핑"
QUICK_RATE, QUICK_SECONDS = 20.0, 10.0
FULL_RATE, FULL_SECONDS = 50.0, 60.0
FULL_RAMP_TO = 400.0
RAMP_STEP, RAMP_STEP_S = 50.0, 10.0
RAMP_P99_LIMIT_MS = 1000.0
SEND_RATE_SLACK = 0.9  # a step the harness sent slower than this share of its rate fails
ACK_DEADLINE_S = 3.0  # Discord's; the double refuses later callbacks (10062)
# After the deadline of the last command, for second callbacks still on their way.
LATE_GRACE_S = 0.5
USERS = 100  # the commands come from this many bench users, in turn
ENV = {
    # Production claim step (the sandbox's is 0.4 s): the next ranks' waits shape what
    # happens when an owner falls behind under load. /핑 has no per-user limit, so no
    # LIMIT_* needs switching off.
    "CLAIM_STEP": "0.5",
}


async def run(shared: Shared, options: Options, progress: Progress) -> dict[str, Any]:
    rate, seconds = load_of(options)
    ramp_to = options.ack_ramp_to
    if ramp_to is None:
        ramp_to = 0.0 if options.quick else FULL_RAMP_TO
    result: dict[str, Any] = {
        "instances": len(INSTANCES),
        "command": f"/{COMMAND}",
        "channels": ", ".join(f"#{c}" for c in CHANNELS),
        "rate_per_s": rate,
        "duration_s": seconds,
    }
    world = (await shared.fleet(progress)).world
    since = world.mark()
    try:
        await warm_up(world, result, progress)
        steady = await phase(world, rate, seconds, "steady", result, progress)
        result |= steady
        result["problems"] = world.problems(since)
        failures = _failures(steady)
        if failures:
            raise BenchFailed(f"at {rate:g}/s: {failures}", result)
        shared.figures["ack"] = steady
        if ramp_to > 0:
            await _ramp(world, rate, ramp_to, result, progress)
    finally:
        result.setdefault("problems", world.problems(since))
    return result


def load_of(options: Options) -> tuple[float, float]:
    """The steady phase's rate (/s) and length (s) the options ask for."""
    rate = options.ack_rate or (QUICK_RATE if options.quick else FULL_RATE)
    seconds = options.ack_seconds or (QUICK_SECONDS if options.quick else FULL_SECONDS)
    return rate, seconds


async def warm_up(world: World, result: dict[str, Any], progress: Progress) -> None:
    """One answered /핑 per channel, so no instance loads its claim script under load."""
    progress("warming up: one /핑 per channel")
    for channel in CHANNELS:
        handle = await world.fake.send_command(channel=channel, command=COMMAND, user="bench")
        try:
            await handle.wait_for_response(timeout=10, settle=0.05)
        except TimeoutError as exc:
            raise BenchFailed(f"warm-up /{COMMAND} in #{channel}: {exc}", result) from None


async def _ramp(
    world: World, steady: float, ramp_to: float, result: dict[str, Any], progress: Progress
) -> None:
    since = world.mark()
    steps: dict[str, dict[str, Any]] = {}
    result["max_rate_rule"] = (
        f"{RAMP_STEP_S:g} s at each rate from the steady {steady:g}/s up in steps of "
        f"{RAMP_STEP:g}/s to {ramp_to:g}/s; max = last rate with lost=0, duplicates=0, "
        f"ack_p99_ms<={RAMP_P99_LIMIT_MS:g} and sent at >={SEND_RATE_SLACK:.0%} of the rate"
    )
    # The steady phase passed (run() stops otherwise): it is the first rate that holds.
    result["max_rate_per_s"] = steady if not _too_slow(result, steady) else 0.0
    result["ramp_stopped_by"] = f"reached {ramp_to:g}/s"
    result["ramp"] = steps
    rate = steady + RAMP_STEP
    while rate <= ramp_to:
        step = await phase(world, rate, RAMP_STEP_S, f"ramp {rate:g}/s", result, progress)
        steps[f"{rate:g}"] = step
        missed = _failures(step) or _too_slow(step, rate)
        if missed:
            result["ramp_stopped_by"] = f"{rate:g}/s: {missed}"
            break
        result["max_rate_per_s"] = rate
        rate += RAMP_STEP
    result["ramp_problems"] = world.problems(since)


async def phase(
    world: World,
    rate: float,
    seconds: float,
    name: str,
    result: dict[str, Any],
    progress: Progress,
) -> dict[str, Any]:
    """`/핑` at `rate` for `seconds`, then wait for the answers; the figures of the phase."""
    n = max(1, round(rate * seconds))
    pids = {f"bot_{label}": world.pid(label) for label in world.fleet.instances}
    pids |= {"harness": os.getpid(), "redis": world.redis_pid}
    cpu = CpuWindow.begin(pids)
    sent: list[tuple[str, InteractionHandle]] = []
    began = time.monotonic()
    last = began
    for i in range(n):
        await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
        channel = CHANNELS[i % len(CHANNELS)]
        handle = await world.fake.send_command(
            channel=channel, command=COMMAND, user=f"bench{i % USERS}"
        )
        last = time.monotonic()
        sent.append((channel, handle))
        if i % max(1, int(rate)) == 0:
            _check_alive(world, result)
            progress(f"{name}: sent /{COMMAND} {i + 1}/{n}")
    _, cpu_percent = cpu.end()
    # Past Discord's deadline of the last command, and room for late second callbacks. Not
    # polled: the doubles run on this event loop, and their timestamps are the figures.
    deadline = last + ACK_DEADLINE_S + LATE_GRACE_S
    while (left := deadline - time.monotonic()) > 0:
        progress(f"{name}: sent {n}, waiting {left:.0f}s for answers and late callbacks")
        await asyncio.sleep(min(0.5, left))
    return _summary(sent, rate, seconds, began, last, cpu_percent)


def _summary(
    sent: list[tuple[str, InteractionHandle]],
    rate: float,
    seconds: float,
    began: float,
    last: float,
    cpu_percent: dict[str, float],
) -> dict[str, Any]:
    n = len(sent)
    acks: list[float] = []
    by_instance: collections.Counter[str] = collections.Counter()
    duplicates = not_by_owner = refused_40060 = 0
    for channel, handle in sent:
        r = handle.result()
        refused_40060 += sum(1 for a in r.callback_attempts if a.code == 40060)
        if len(r.callback_attempts) > 1 or len(r.messages) > 1:
            duplicates += 1
        if r.answered_by is None or r.ack_ms is None:
            continue
        acks.append(r.ack_ms)
        by_instance[r.answered_by] += 1
        if r.answered_by != OWNER[channel]:
            not_by_owner += 1
    acks.sort()
    spread = last - began
    return {
        "rate_per_s": rate,
        "duration_s": seconds,
        "commands_sent": n,
        "send_rate_per_s": round((n - 1) / spread, 1) if n > 1 and spread > 0 else None,
        "answered": len(acks),
        "lost": n - len(acks),
        "duplicates": duplicates,
        "callbacks_refused_40060": refused_40060,
        "ack_p50_ms": _percentile(acks, 50),
        "ack_p90_ms": _percentile(acks, 90),
        "ack_p99_ms": _percentile(acks, 99),
        "ack_max_ms": round(acks[-1], 1) if acks else None,
        "answered_by_instance": {k: by_instance[k] for k in sorted(by_instance)},
        "not_by_owner": not_by_owner,
        "cpu_percent_while_sending": cpu_percent,
    }


def _percentile(ordered: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)


def _failures(phase: dict[str, Any]) -> str:
    found = [(phase["lost"], "lost"), (phase["duplicates"], "answered twice")]
    return "; ".join(f"{count} {what}" for count, what in found if count > 0)


def _too_slow(step: dict[str, Any], rate: float) -> str:
    p99 = step["ack_p99_ms"]
    if p99 is None or p99 > RAMP_P99_LIMIT_MS:
        return f"ack_p99_ms {p99} > {RAMP_P99_LIMIT_MS:g}"
    sent_rate = step["send_rate_per_s"]
    if sent_rate is not None and sent_rate < SEND_RATE_SLACK * rate:
        return f"the harness sent only {sent_rate}/s"
    return ""


def _check_alive(world: World, result: dict[str, Any]) -> None:
    for label in world.fleet.instances:
        instance = world.fleet.instances[str(label)]
        if not instance.running:
            code = instance.process.returncode if instance.process else None
            raise BenchFailed(f"bot instance {label} exited (code {code})", result)
