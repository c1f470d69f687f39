"""GET /healthz and GET /metrics of one instance, on `HEALTH_PORT` (aiohttp).

`/healthz` answers 200 with a JSON snapshot while the instance serves: connected to the
gateway, its event loop responsive, not draining, not stopped for a reason (a fatal close,
the session-start budget). Otherwise 503, with the reason. The container healthcheck
(`python -m bot health`) and Prometheus read these; see README_MULTI.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.logging_setup import get_logger
from bot.metrics import CONTENT_TYPE, Metrics
from bot.tasks import stop_task

log = get_logger("bot.health")

LAG_PROBE_S = 0.5  # how often the loop-lag probe wakes
MAX_LAG_S = 2.0  # a loop this late to wake is not responsive


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str
    snapshot: dict[str, object]


class LoopLag:
    """How late the event loop wakes a sleeping task: a stuck loop shows here."""

    def __init__(self) -> None:
        self.lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._probe(), name="loop-lag")

    async def _probe(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(LAG_PROBE_S)
            self.lag_s = max(0.0, time.monotonic() - started - LAG_PROBE_S)

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)


class HealthServer:
    def __init__(
        self, health: Callable[[], Health], metrics: Metrics, *, host: str, port: int
    ) -> None:
        self.health = health
        self.metrics = metrics
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            # Serving Discord matters more than serving metrics: say so and go on.
            log.error(
                "health_server_unavailable",
                host=self.host,
                port=self.port,
                error=str(exc),
                hint="another process holds HEALTH_PORT; pick another or set HEALTH_PORT=0",
            )
            await self._runner.cleanup()
            self._runner = None
            return
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("health_server_listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        health = self.health()
        body = {"healthy": health.healthy, "reason": health.reason, **health.snapshot}
        return web.Response(
            status=200 if health.healthy else 503,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})
