"""A provider that accepts the connection and never answers: a loopback TCP server that
takes every connection and the request bytes sent on it, and sends nothing back, ever.

Not an HTTP server that is slow (the doubles' `[[slow]]` marker): no status line, no
headers, not a byte. Only the client's own read timeout gets it out. Connections stay open
until the client gives up or `stop()` closes them.
"""

from __future__ import annotations

import asyncio
import contextlib


class BlackHole:
    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted so far
        self.bytes_received = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._swallow, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def __aenter__(self) -> BlackHole:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while chunk := await reader.read(65536):
                self.bytes_received += len(chunk)
        self._writers.discard(writer)
        writer.close()
