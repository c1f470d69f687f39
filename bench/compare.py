"""`compare`: the same `ack` and `stream` load against one single-mode process and against
the four-instance fleet, in one run, as ratios (fleet / single).

Each side gets a warm-up `/핑` per channel, then `/핑` at `rate` for `seconds` over the
four role channels (bench/ack.py) and then `streams` concurrent `/채팅` (bench/stream.py)
in #채팅방-1. A ratio under 1 means the fleet did better. What the fleet buys is not speed
(one process answers a `/핑` in a few milliseconds too) but what one process cannot do:
survive its own death and spread the CPU of many streams over several processes; the
ratios show what that costs.

The full run's load is the ack and stream scenarios' own (50/s for 60 s; 40 streams of
600 tokens), so the fleet side is what those measured on the shared fleet in this run
(`fleet.measured_by`); run alone, compare measures it there itself. The single side always
gets a world of its own. `--quick` uses a smaller load and a fleet of its own, because it
runs beside the other scenarios (bench/__main__.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ack, stream
from ._world import BenchFailed, Options, Progress

if TYPE_CHECKING:
    from ._shared import Shared

QUICK = {"rate": 20.0, "seconds": 5.0, "streams": 5, "tokens": 100}
FLEET: tuple[int | str, ...] = (1, 2, 3, 4)
SINGLE: tuple[int | str, ...] = ("all",)
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
SIDES = ("single", "fleet")


async def run(shared: Shared, options: Options, progress: Progress) -> dict[str, Any]:
    load = load_of(options)
    result: dict[str, Any] = {"load": load}
    workdir = shared.workdir / "compare"
    if options.quick:
        async with stream.open_stream_world(
            workdir / "fleet", instances=FLEET, extra_env=ack.ENV, progress=progress
        ) as sw:
            result["fleet"] = await _measure(sw, load, progress, "fleet")
    else:
        result["fleet"] = _from_ack_and_stream(shared, load) or await _measure(
            await shared.fleet(progress), load, progress, "fleet"
        )
    async with stream.open_stream_world(
        workdir / "single", instances=SINGLE, extra_env=ack.ENV, progress=progress
    ) as sw:
        result["single"] = await _measure(sw, load, progress, "single")
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


def load_of(options: Options) -> dict[str, Any]:
    if options.quick:
        rate = options.ack_rate or QUICK["rate"]
        seconds = options.ack_seconds or QUICK["seconds"]
        streams = options.streams or QUICK["streams"]
        tokens = options.stream_tokens or QUICK["tokens"]
    else:
        rate, seconds = ack.load_of(options)
        streams, tokens = stream.load_of(options)
    return {"rate": rate, "seconds": seconds, "streams": streams, "tokens": tokens}


def _from_ack_and_stream(shared: Shared, load: dict[str, Any]) -> dict[str, Any] | None:
    """The fleet side as the ack and stream scenarios measured it in this run, if they
    ran with this load."""
    pinged, streamed = shared.figures.get("ack"), shared.figures.get("stream")
    if pinged is None or streamed is None:
        return None
    if (pinged["rate_per_s"], pinged["duration_s"]) != (load["rate"], load["seconds"]):
        return None
    if (streamed["streams"], streamed["tokens_per_answer"]) != (load["streams"], load["tokens"]):
        return None
    return {
        "instances": ",".join(str(i) for i in FLEET),
        "measured_by": "the ack and stream scenarios of this run",
        "ack": {key: pinged[key] for key in ACK_KEYS},
        "stream": {key: streamed.get(key) for key in STREAM_KEYS},
    }


async def _measure(
    sw: stream.StreamWorld, load: dict[str, Any], progress: Progress, side: str
) -> dict[str, Any]:
    figures: dict[str, Any] = {"instances": ",".join(sw.instances)}
    since = sw.world.mark()
    await ack.warm_up(sw.world, figures, progress)
    pinged = await ack.phase(
        sw.world, load["rate"], load["seconds"], f"{side} /핑", figures, progress
    )
    figures["ack"] = {key: pinged[key] for key in ACK_KEYS}
    streamed = await stream.measure(sw, load["streams"], tokens=load["tokens"], progress=progress)
    figures["stream"] = {key: streamed.get(key) for key in STREAM_KEYS}
    figures["problems"] = sw.world.problems(since)
    return figures


def _ratio(fleet: float | None, single: float | None) -> float | None:
    if fleet is None or not single:
        return None
    return round(fleet / single, 2)
