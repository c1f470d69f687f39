"""`python -m bench` works end to end on a tiny load: the report is whole, every job was
held and polled, nothing was lost, and no process outlives the run, even after Ctrl-C.
Correctness only: no timing or memory figure is asserted."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# 20 jobs polled twice a second, measured over 2 s: a few seconds after the fleet is READY.
TINY = ["--jobs", "20", "--window", "2", "--poll-interval", "0.5"]
JOBS_KEYS = {
    "rss_mb_per_instance_at_jobs",
    "cpu_percent_polling",
    "polls_per_s",
    "poll_interval_s",
    "commands_sent",
    "commands_lost",
    "jobs_submitted",
    "jobs_started",
    "jobs_polling",
    "provider_tasks",
    "redis_calls_per_s",
    "problems",
}


@contextlib.contextmanager
def running_bench(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m bench ARGS`, stopped on the way out whatever happened: Ctrl-C first (its
    own cleanup), then SIGKILL for it and anything it started that is still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: set[int] = set()
    try:
        yield process
    finally:
        if process.poll() is None:
            started = descendants(process.pid)
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        for pid in still_running(started):
            os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> set[int]:
    """Every live descendant of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def still_running(pids: set[int]) -> set[int]:
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def test_jobs_quick_json_holds_every_job_polling(tmp_path: Path) -> None:
    with running_bench("jobs", "--quick", "--json", *TINY, "--workdir", str(tmp_path)) as process:
        stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, f"{stdout}\n{stderr}"
    report = json.loads(stdout)
    assert set(report) == {"machine", "jobs"}
    assert {"cores", "python", "platform"} <= set(report["machine"])
    jobs = report["jobs"]
    assert set(jobs) >= JOBS_KEYS, JOBS_KEYS - set(jobs)
    assert "error" not in jobs, jobs
    assert jobs["commands_sent"] == 20
    assert jobs["commands_lost"] == 0
    assert jobs["jobs_submitted"] == jobs["jobs_started"] == jobs["provider_tasks"] == 20
    assert jobs["jobs_polling"] == jobs["jobs_submitted"], jobs
    assert jobs["polls_per_s"] > 0
    assert (tmp_path / "jobs" / "instance-3.log").exists(), "--workdir keeps the bot's log"


def test_ctrl_c_stops_every_process_it_started(tmp_path: Path) -> None:
    log = tmp_path / "jobs" / "instance-3.log"
    with running_bench("jobs", *TINY, "--window", "60", "--workdir", str(tmp_path)) as process:
        deadline = time.monotonic() + 60
        while not (log.exists() and '"job_started"' in log.read_text(encoding="utf-8")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no job started"
            time.sleep(0.2)
        children = descendants(process.pid)
        assert len(children) >= 2, "a bot and redis-server run"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    deadline = time.monotonic() + 5
    while still_running(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert still_running(children) == set(), "a process outlived the run"
