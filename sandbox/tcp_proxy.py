"""A loopback TCP proxy that injects network faults between the bot and Redis.

Tests and the chaos benchmarks put it in front of a real redis-server and then make
the network misbehave the way production networks do: replies that arrive too late
for the client (it times out, the command had landed), a link that stops forwarding
(a partition), or one that is cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._late_replies = 0  # replies to withhold (the client times out, then retries)
        self._refusing = False  # new connections are closed at once (the server is down)
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- faults ----

    def withhold_replies(self, count: int = 1) -> None:
        """Forward the next `count` commands but never deliver their replies."""
        self._late_replies += count

    def stall(self) -> None:
        """Stop forwarding in both directions; connections stay open (a partition)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        """Drop every open connection at once."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def down(self) -> None:
        """Look like a Redis that went away with its data kept (a restart from its
        append-only file): open connections drop, new ones are closed at once."""
        self._refusing = True
        self.cut()

    def up(self) -> None:
        """Accept connections again (the restarted Redis, with every key it had)."""
        self._refusing = False

    # ---- plumbing ----

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for pipe in (
            self._pipe(reader, up_writer, replies=False),
            self._pipe(up_reader, writer, replies=True),
        ):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, replies: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                if replies and self._late_replies > 0:
                    self._late_replies -= 1
                    continue  # lost on the way back: the client will time out
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
            self._writers.discard(writer)
