"""`compare`: the same `ack` and `stream` load against one single-mode process and against
the four-instance fleet, in one run, as ratios (fleet / single).

Each side gets a fresh world (its own Redis, doubles and bot processes), a warm-up `/핑`
per channel, then `/핑` at `rate` for `seconds` over the four role channels (bench/ack.py)
and then `streams` concurrent `/채팅` (bench/stream.py) in #채팅방-1. A ratio under 1 means
the fleet did better. What the fleet buys is not speed (one process answers a `/핑` in a
few milliseconds too) but what one process cannot do: survive its own death and spread
the CPU of many streams over several processes; the ratios show what that costs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import ack, stream
from ._world import BenchFailed, Options, Progress

QUICK = {"rate": 20.0, "seconds": 5.0, "streams": 5, "tokens": 200}
FULL = {"rate": 50.0, "seconds": 30.0, "streams": 40, "tokens": 800}
SIDES: dict[str, tuple[int | str, ...]] = {"single": ("all",), "fleet": (1, 2, 3, 4)}
ACK_KEYS = ("commands_sent", "answered", "lost", "duplicates", "ack_p50_ms", "ack_p99_ms")
STREAM_KEYS = (
    "completed",
    "lost",
    "duplicates",
    "first_edit_ms_p50",
    "edits_per_message_per_s_max",
    "cpu_ms_per_1k_tokens",
)
RATIOS = (
    ("ack", "ack_p50_ms"),
    ("ack", "ack_p99_ms"),
    ("stream", "first_edit_ms_p50"),
    ("stream", "cpu_ms_per_1k_tokens"),
)


async def run(workdir: Path, options: Options, progress: Progress) -> dict[str, Any]:
    load = dict(QUICK if options.quick else FULL)
    load["rate"] = options.ack_rate or load["rate"]
    load["seconds"] = options.ack_seconds or load["seconds"]
    load["streams"] = options.streams or load["streams"]
    load["tokens"] = options.stream_tokens or load["tokens"]
    result: dict[str, Any] = {"load": load}
    for side, instances in SIDES.items():
        result[side] = await _side(workdir / side, instances, load, progress, side)
    result["ratios_fleet_over_single"] = {
        f"{part}.{key}": _ratio(result["fleet"][part].get(key), result["single"][part].get(key))
        for part, key in RATIOS
    }
    failures = [
        f"{side} {part}: lost {result[side][part]['lost']}, "
        f"duplicates {result[side][part]['duplicates']}"
        for side in SIDES
        for part in ("ack", "stream")
        if result[side][part]["lost"] or result[side][part]["duplicates"]
    ]
    if failures:
        raise BenchFailed("; ".join(failures), result)
    return result


async def _side(
    workdir: Path,
    instances: tuple[int | str, ...],
    load: dict[str, Any],
    progress: Progress,
    side: str,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"instances": ",".join(str(i) for i in instances)}
    async with stream.open_stream_world(
        workdir, instances=instances, extra_env=ack.ENV, progress=progress
    ) as sw:
        await ack.warm_up(sw.world, figures, progress)
        pinged = await ack.phase(
            sw.world, load["rate"], load["seconds"], f"{side} /핑", figures, progress
        )
        figures["ack"] = {key: pinged[key] for key in ACK_KEYS}
        streamed = await stream.measure(
            sw, load["streams"], tokens=load["tokens"], progress=progress
        )
        figures["stream"] = {key: streamed.get(key) for key in STREAM_KEYS}
        figures["problems"] = sw.world.problems()
    return figures


def _ratio(fleet: float | None, single: float | None) -> float | None:
    if fleet is None or not single:
        return None
    return round(fleet / single, 2)
