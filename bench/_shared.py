"""What the scenarios of one `python -m bench` run share.

Starting a four-instance world costs seconds, so idle, ack, stream and chaos take turns on
one fleet (`Shared.fleet`), opened on first use with everything each of them needs (the
timed OpenAI double, the production claim step, chaos' video clock) and closed when the
run ends. They run in that order: idle first (memory right after READY), chaos last (it
kills and restarts). Each reports only the problems that arose during its own turn, and
each starts on a quiet fleet: after a saturating ramp the instances may still be working
through a backlog, which would land on the next scenario's figures.

`figures` keeps what ack and stream measured, so compare can use them as its fleet side
when its load is the same (the full run) instead of sending that load a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from . import ack, chaos, stream
from ._measure import CpuWindow
from ._world import Options, Progress

FLEET = (1, 2, 3, 4)
# Quiet: no instance used more than this share of a core over one QUIET_WINDOW_S; waited
# for at most QUIET_LIMIT_S (then the scenario starts anyway, and `quiet_after_s` says so).
QUIET_PERCENT, QUIET_WINDOW_S, QUIET_LIMIT_S = 5.0, 0.5, 30.0


class Shared:
    def __init__(
        self, workdir: Path, options: Options, *, chaos_plan: chaos.Plan | None = None
    ) -> None:
        self.workdir = workdir
        self.options = options
        self.chaos_plan = chaos_plan or chaos.plan_for(options)
        self.figures: dict[str, dict[str, Any]] = {}
        self.quiet_waits: list[float] = []  # seconds each later scenario waited for quiet
        self._fleet: stream.StreamWorld | None = None
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def fleet(self, progress: Progress) -> stream.StreamWorld:
        """The shared four-instance fleet, started on first use, quiet on later ones."""
        async with self._lock:
            if self._fleet is not None:
                await self._wait_quiet(self._fleet, progress)
            else:
                plan = self.chaos_plan
                self._fleet = await self._stack.enter_async_context(
                    stream.open_stream_world(
                        self.workdir / "fleet",
                        instances=FLEET,
                        token_rate=self.options.stream_token_rate or stream.TOKEN_RATE,
                        extra_env=ack.ENV | chaos.world_env(plan),
                        minimax=chaos.video_clock(plan),
                        progress=progress,
                    )
                )
            return self._fleet

    async def _wait_quiet(self, sw: stream.StreamWorld, progress: Progress) -> None:
        pids = {label: sw.world.pid(label) for label in sw.world.fleet.instances}
        began = time.monotonic()
        while time.monotonic() - began < QUIET_LIMIT_S:
            window = CpuWindow.begin(pids)
            await asyncio.sleep(QUIET_WINDOW_S)
            _, percent = window.end()
            if max(percent.values()) <= QUIET_PERCENT:
                break
            progress(f"waiting for a quiet fleet (busiest at {max(percent.values()):.0f}%)")
        self.quiet_waits.append(round(time.monotonic() - began, 1))

    async def close(self) -> None:
        self._fleet = None
        await self._stack.aclose()
