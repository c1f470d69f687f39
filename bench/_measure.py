"""Readings of a process from /proc (Linux only): resident memory and CPU time."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class NotLinux(RuntimeError):
    """The benchmarks read /proc, which only Linux has."""


def require_proc() -> None:
    if not Path("/proc/self/status").exists():
        raise NotLinux(f"the benchmarks read /proc (Linux only); this is {platform.system()}")


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])  # "VmRSS:   123456 kB"
    raise KeyError(f"{field} not in /proc/{pid}/status")


def rss_mb(pid: int) -> float:
    """Resident set size now, in MiB."""
    return round(_status_kb(pid, "VmRSS") / 1024, 1)


def peak_rss_mb(pid: int) -> float:
    """The highest resident set size the process has had (VmHWM), in MiB."""
    return round(_status_kb(pid, "VmHWM") / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in (...) may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


@dataclass
class CpuWindow:
    """CPU use of some processes between `CpuWindow.begin` and `end`, as percent of one core."""

    pids: dict[str, int]
    started: float
    cpu: dict[str, float]

    @classmethod
    def begin(cls, pids: dict[str, int]) -> CpuWindow:
        return cls(pids, time.monotonic(), {name: cpu_seconds(pid) for name, pid in pids.items()})

    def end(self) -> tuple[float, dict[str, float]]:
        """Seconds elapsed, and percent of one core per name."""
        elapsed = time.monotonic() - self.started
        used = {name: cpu_seconds(pid) - self.cpu[name] for name, pid in self.pids.items()}
        return elapsed, {name: round(100 * s / elapsed, 1) for name, s in used.items()}


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
