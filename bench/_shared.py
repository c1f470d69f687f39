"""What the scenarios of one `python -m bench` run share.

Starting a four-instance world costs seconds, so idle, ack, stream and chaos take turns on
one fleet (`Shared.fleet`), opened on first use with everything each of them needs (the
timed OpenAI double, the production claim step, chaos' video clock) and closed when the
run ends. They run in that order: idle first (memory right after READY), chaos last (it
kills and restarts). Each reports only the problems that arose during its own turn.

`figures` keeps what ack and stream measured, so compare can use them as its fleet side
when its load is the same (the full run) instead of sending that load a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from . import ack, chaos, stream
from ._world import Options, Progress

FLEET = (1, 2, 3, 4)


class Shared:
    def __init__(
        self, workdir: Path, options: Options, *, chaos_plan: chaos.Plan | None = None
    ) -> None:
        self.workdir = workdir
        self.options = options
        self.chaos_plan = chaos_plan or chaos.plan_for(options)
        self.figures: dict[str, dict[str, Any]] = {}
        self._fleet: stream.StreamWorld | None = None
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def fleet(self, progress: Progress) -> stream.StreamWorld:
        """The shared four-instance fleet, started on first use."""
        async with self._lock:
            if self._fleet is None:
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

    async def close(self) -> None:
        self._fleet = None
        await self._stack.aclose()
