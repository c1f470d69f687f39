"""`chaos`: the four-instance fleet under a steady load while its processes and its Redis
are hurt for real, one fault at a time.

The load: `/핑` at a steady rate (10 a second), round-robin over the four role channels
(#채팅방-1, #이미지생성-1, #비디오생성-1, #general, whose /핑 owners are instances 1, 2, 3,
4), plus a handful of `/비디오` in #비디오생성-1, sent between the faults so they run
through them, on a fast MiniMax clock (a task lives `video_s` on the double: 10 %
Preparing, 20 % Queueing, 70 % Processing).

The faults, in a random order (the seed is reported), each over before the next starts so
at most one instance is ever down:
- kill: SIGKILL a random instance, leave it down 2 to 7 s (within its 6 s liveness TTL,
  or beyond), start it again and wait until it serves (its peers see it). The crash-loop
  guard (three free starts in ten minutes, then 5 s doubling) is reset before each
  start: it would hold an instance killed a fifth time down for minutes, and it is not
  what is measured;
- freeze: SIGSTOP redis-server for 0.8 s, then SIGCONT (an fsync stall, a fork);
- Redis restart (full only): what `docker restart` does to the compose file's Redis,
  whose data lives on in its appendonly volume: writes paused, the data snapshotted (a
  replica's full sync), the server killed, down `redis_down_s`, then a new server on the
  same port loads the snapshot. The sandbox's own restart starts empty; production's
  does not. An answer sent just before Redis went, whose claim was not yet made final
  (that write dropped), has a lapsed lease when Redis returns: a peer may then claim it
  and try a second callback, which Discord refuses (40060, counted in `duplicates`).

Timings are the production ones where they shape what is measured: the heartbeat (2 s,
so a liveness TTL of 6 s) and the claim step (0.5 s).

What is reported:
- `commands_sent`, `answered`: every command (the /핑 and the /비디오), and those whose
  first callback Discord accepted (within its 3 s: a later one gets 10062);
- `lost`: sent but never answered within the 3 s; `lost_by_fault` says during what (a
  command sent within 3 s before a fault began, or while it lasted, counts for it);
- `duplicates`: commands with more than one callback attempt (a second instance tried:
  Discord refused it with 40060, or 10062 when late) or more than one visible message;
  `duplicates_visible`: those the user saw twice (more than one message);
- `takeover_ms_p50/p99/max`: for each kill, the first command sent to the killed
  instance's own channel after the kill that was answered; its acknowledgement time
  measured from its dispatch (what the first user to ask after the owner died waited).
  p99 is the nearest rank, so with fewer than 100 kills it is the slowest. Target: at
  most 1,500 ms. `takeover_from_kill_ms_*` measure the same answer from the kill (adding
  the wait for the next command in that channel, up to 0.4 s at 10/s);
- `ack_ms_p50/p99/max`: acknowledgement times of every answered command;
- `jobs_delivered`: /비디오 whose video reached the user; `jobs_failed`: those that ended
  with a Korean failure message instead (the owner killed between asking MiniMax and
  recording the task: the job is not started twice; Redis unreachable when the job was
  to be recorded: nothing paid, try again); `jobs_lost`: the others, whose
  user got neither (never acknowledged, or still "thinking" at the end);
  `jobs_duplicated`: a video delivered more than once or paid for with more than one
  MiniMax task; `jobs_adopted`/`jobs_resumed`: jobs a peer took over from a dead owner, or
  a restarted owner picked up again;
- `kills`, `redis_freezes`, `redis_restarts`: the faults injected; `fault_order` lists
  them (`k3`: instance 3 killed, `f`: a freeze, `r`: a Redis restart).

Lost, doubled or lost jobs make the scenario fail (`BenchFailed`, with everything above).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from sandbox.discord import InteractionHandle, InteractionResult
from sandbox.fleet import FleetError
from sandbox.redis_server import redis_server_binary

from . import _world
from ._world import PRODUCTION_TIMINGS, BenchFailed, Mark, Options, Progress, World

if TYPE_CHECKING:
    from ._shared import Shared

INSTANCES = (1, 2, 3, 4)
# Who answers /핑 where with the whole fleet up, by hand (tests/e2e/conftest.py's table).
OWNED_CHANNEL = {"1": "채팅방-1", "2": "이미지생성-1", "3": "비디오생성-1", "4": "general"}
LOAD_CHANNELS = tuple(OWNED_CHANNEL.values())
VIDEO_CHANNEL = "비디오생성-1"
VIDEO_USER = "bench-video"
DONE = "🎬 영상이 완성됐어요!"  # a delivered video's message starts so
FAILED = "⚠️"  # a job that ended in failure says why after this
ACK_DEADLINE_S = 3.0  # Discord's: a callback later than this is refused (10062)
CLAIM_STEP_S = "0.5"  # the production default (the sandbox's is 0.4)
HEARTBEAT_S = float(PRODUCTION_TIMINGS["HEARTBEAT_INTERVAL"])
RESTART_TIMEOUT_S = 60.0
VIDEO_GRACE_S = 60.0  # after the load, beyond a task's life, for the videos to settle
SECOND_DELIVERY_WAIT_S = 1.5  # time for a wrong second delivery to show up


@dataclass(frozen=True)
class Plan:
    """How much chaos; `plan_for(options)` picks the quick or the full one."""

    kills: int
    freezes: int
    redis_restarts: int
    videos: int
    rate: float = 10.0  # /핑 a second
    video_s: float = 20.0  # a video task's life on the MiniMax double
    poll_s: float = 1.0  # VIDEO_POLL_INTERVAL
    # A killed instance stays down this long: within its liveness TTL (6 s) or beyond.
    down_s: tuple[float, float] = (2.0, 7.0)
    gap_s: tuple[float, float] = (0.5, 1.5)  # quiet between two faults
    freeze_s: float = 0.8
    redis_down_s: float = 2.0
    lead_s: float = 3.0  # load before the first fault
    tail_s: float = 3.0  # load after the last one
    seed: int | None = None


# --quick: shorter outages (always within the liveness TTL) and videos.
QUICK = Plan(
    kills=2,
    freezes=2,
    redis_restarts=0,
    videos=3,
    video_s=6.0,
    down_s=(1.5, 3.0),
    lead_s=2.0,
    tail_s=2.0,
)
FULL = Plan(kills=20, freezes=6, redis_restarts=1, videos=8, video_s=30.0)
# Options fields (`--chaos-kills` ...) the command line may add; absent ones keep the plan's.
OPTION_FIELDS = ("kills", "freezes", "videos", "rate")


def plan_for(options: Options) -> Plan:
    base = QUICK if options.quick else FULL
    given = {f: getattr(options, f"chaos_{f}", None) for f in OPTION_FIELDS}
    return replace(base, **{k: v for k, v in given.items() if v is not None})


@dataclass
class Sent:
    handle: InteractionHandle
    command: str
    channel: str
    at: float  # monotonic, just before it was sent: Discord dispatched it no earlier
    prompt: str | None = None
    result: InteractionResult | None = None  # read once the load is over


@dataclass
class Fault:
    kind: str  # "kill", "freeze", "redis_restart"
    began: float
    ended: float = 0.0
    label: str | None = None  # the instance killed


@dataclass
class Chaos:
    world: World
    plan: Plan
    rng: random.Random
    progress: Progress
    since: Mark | None = None  # the shared world's records before chaos began
    sent: list[Sent] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    restart_s: list[float] = field(default_factory=list)  # kill -> serving again

    # ---- the load ----

    async def send(
        self, channel: str, command: str, prompt: str | None = None, user: str | None = None
    ) -> None:
        at = time.monotonic()
        handle = await self.world.fake.send_command(
            channel=channel,
            command=command,
            options={"설명": prompt} if prompt is not None else None,
            user=user,
        )
        self.sent.append(Sent(handle, command, channel, at, prompt))

    async def load(self, stop: asyncio.Event) -> None:
        """/핑 at `rate` a second over the four channels until `stop` (late ones go at once)."""
        began, i = time.monotonic(), 0
        while not stop.is_set():
            delay = began + i / self.plan.rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
            await self.send(LOAD_CHANNELS[i % len(LOAD_CHANNELS)], "핑")
            i += 1

    async def video(self, n: int) -> None:
        prompt = f"벤치마크 카오스 {n}: 파도가 치는 바다"
        await self.send(VIDEO_CHANNEL, "비디오", prompt=prompt, user=VIDEO_USER)

    # ---- the faults ----

    async def inject(self) -> None:
        """Every fault in a random order, the videos between them, with quiet gaps."""
        plan = self.plan
        kinds = ["kill"] * plan.kills + ["freeze"] * plan.freezes + ["redis"] * plan.redis_restarts
        self.rng.shuffle(kinds)
        # Video i goes out in the quiet before fault i * faults / videos, halfway through
        # it, so it is running when the fault comes: spread through the chaos.
        video_before = Counter(i * len(kinds) // plan.videos for i in range(plan.videos))
        quiet, videos = plan.lead_s, 0
        for index, kind in enumerate([*kinds, None]):
            await asyncio.sleep(quiet / 2)
            for _ in range(video_before[index]):
                await self.video(videos)
                videos += 1
            await asyncio.sleep(quiet / 2)
            if kind is None:
                break
            self.check_alive()
            self.progress(f"fault {index + 1}/{len(kinds)}: {kind}; {len(self.sent)} sent")
            if kind == "kill":
                await self.kill()
            elif kind == "freeze":
                await self.freeze()
            else:
                await self.restart_redis()
            quiet = plan.tail_s if index == len(kinds) - 1 else self.rng.uniform(*plan.gap_s)

    def check_alive(self) -> None:
        for label, instance in self.world.fleet.instances.items():
            if not instance.running:
                code = instance.process.returncode if instance.process else None
                raise FleetError(f"instance {label} exited on its own (code {code})")

    async def kill(self) -> None:
        label = self.rng.choice(sorted(self.world.fleet.instances))
        fault = Fault("kill", time.monotonic(), label=label)
        self.faults.append(fault)
        await self.world.fleet.kill(label)
        await asyncio.sleep(self.rng.uniform(*self.plan.down_s))
        await self.forget_starts(label)
        self.progress(f"instance {label} killed; starting it again")
        await self.world.fleet.start_instance(label, timeout=RESTART_TIMEOUT_S)
        fault.ended = time.monotonic()
        self.restart_s.append(fault.ended - fault.began)

    async def forget_starts(self, label: str) -> None:
        """Reset the instance's crash-loop count (`starts:{id}`, bot/store/startup.py)."""
        client = aioredis.Redis.from_url(self.world.redis.url)
        try:
            await client.delete(f"{self.world.fleet.key_prefix}starts:{label}")
        finally:
            await client.aclose()

    async def freeze(self) -> None:
        pid = self.world.redis_pid
        fault = Fault("freeze", time.monotonic())
        self.faults.append(fault)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.plan.freeze_s)
        finally:
            os.kill(pid, signal.SIGCONT)
            fault.ended = time.monotonic()

    async def restart_redis(self) -> None:
        """Stop Redis with its data saved, and start it again on the same port from it."""
        server = self.world.redis
        marks = {label: len(i.events) for label, i in self.world.fleet.instances.items()}
        fault = Fault("redis_restart", time.monotonic())
        self.faults.append(fault)
        client = aioredis.Redis.from_url(server.url)
        try:
            # Diskless: the snapshot comes over the socket, never as a file in our cwd.
            await client.config_set("repl-diskless-sync", "yes")
            await client.config_set("repl-diskless-sync-delay", "0")
            # As SHUTDOWN does: no write lands after the snapshot (clients block, then
            # see the connection drop, and retry on the new server).
            await client.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
            data = await asyncio.wait_for(full_sync(server.port), 10)
        finally:
            await client.aclose()
        server.stop()
        folder = self.world.workdir / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "dump.rdb").write_bytes(data)
        await asyncio.sleep(self.plan.redis_down_s)
        server.process = await start_redis(server.port, folder)
        _world._children.add(server.process.pid)  # for kill_leftovers after a Ctrl-C
        self.progress("Redis restarted; waiting for the fleet to reconnect")
        await self.reconnected(marks)
        fault.ended = time.monotonic()

    async def reconnected(self, marks: dict[str, int]) -> None:
        """Until every instance that went static is back on Redis, and two heartbeats."""
        back_at = time.monotonic()
        deadline = back_at + 30.0

        def static(label: str) -> bool:
            names = [
                e.get("event") for e in self.world.fleet.instances[label].events[marks[label] :]
            ]
            if "redis_unreachable_static_routing" not in names:
                return False
            last_down = len(names) - 1 - names[::-1].index("redis_unreachable_static_routing")
            return "redis_reconnected" not in names[last_down:]

        while any(static(label) for label in marks) or time.monotonic() < back_at + 2 * HEARTBEAT_S:
            if time.monotonic() > deadline:
                raise FleetError("the fleet did not reconnect to the restarted Redis in 30 s")
            await asyncio.sleep(0.2)

    # ---- the outcome ----

    async def settle(self) -> None:
        """Wait out the answers still possible, then the videos."""
        if self.sent:
            last = max(s.at for s in self.sent)
            await asyncio.sleep(max(0.0, last + ACK_DEADLINE_S + 0.5 - time.monotonic()))
        videos = [s for s in self.sent if s.prompt is not None]
        deadline = time.monotonic() + self.plan.video_s + VIDEO_GRACE_S
        while time.monotonic() < deadline:
            pending = [s for s in videos if not _settled(s.handle.result())]
            if not pending:
                break
            self.progress(f"waiting for {len(pending)}/{len(videos)} video(s)")
            await asyncio.sleep(0.5)
        await asyncio.sleep(SECOND_DELIVERY_WAIT_S)
        for s in self.sent:
            s.result = s.handle.result()

    def report(self) -> dict[str, Any]:
        results = [(s, s.result or s.handle.result()) for s in self.sent]
        answered = [(s, r) for s, r in results if r.answered_by is not None]
        lost = [s for s, r in results if r.answered_by is None]
        doubled = [s for s, r in results if len(r.callback_attempts) > 1 or len(r.messages) > 1]
        seen_twice = [s for s, r in results if len(r.messages) > 1]
        ack = sorted(r.ack_ms for _, r in answered if r.ack_ms is not None)
        skip = self.since.discord_errors if self.since else 0
        errors = Counter(e.code for e in self.world.fake.errors[skip:])
        kills = [f for f in self.faults if f.kind == "kill"]
        takeovers = self.takeovers(kills)
        out: dict[str, Any] = {
            "commands_sent": len(results),
            "answered": len(answered),
            "lost": len(lost),
            "duplicates": len(doubled),
            "duplicates_visible": len(seen_twice),
            **_stats("takeover_ms", [t["ms"] for t in takeovers]),
            **_stats("takeover_from_kill_ms", [t["from_kill_ms"] for t in takeovers]),
            "takeover_answered_by": dict(sorted(Counter(t["by"] for t in takeovers).items())),
            **_stats("ack_ms", ack),
            "kills": len(kills),
            "kills_by_instance": dict(sorted(Counter(f.label for f in kills).items())),
            "redis_freezes": sum(f.kind == "freeze" for f in self.faults),
            "redis_restarts": sum(f.kind == "redis_restart" for f in self.faults),
            "fault_order": " ".join(_short_name(f) for f in self.faults),
            "restart_s_max": round(max(self.restart_s), 1) if self.restart_s else None,
            "pings_sent": sum(s.command == "핑" for s in self.sent),
            "videos_sent": sum(s.prompt is not None for s in self.sent),
            "lost_by_fault": dict(Counter(self.during(s) for s in lost)),
            "discord_40060": errors.get(40060, 0),
            "discord_10062": errors.get(10062, 0),
        }
        return out | self.jobs()

    def takeovers(self, kills: list[Fault]) -> list[dict[str, Any]]:
        """Per kill: the first command answered of those sent to the owner's channel after."""
        found = []
        for kill in kills:
            channel = OWNED_CHANNEL[str(kill.label)]
            after = sorted(
                (s for s in self.sent if s.channel == channel and s.at >= kill.began),
                key=lambda s: s.at,
            )
            for s in after:
                result = s.result or s.handle.result()
                accepted = next((a for a in result.callback_attempts if a.status < 300), None)
                if accepted is not None:
                    found.append(
                        {
                            "ms": accepted.ms,
                            "from_kill_ms": (accepted.at - kill.began) * 1000,
                            "by": accepted.instance,
                        }
                    )
                    break
        return found

    def during(self, sent: Sent) -> str:
        """The fault a command was sent in (or within 3 s before it began), else "none"."""
        for fault in self.faults:
            ended = fault.ended or time.monotonic()
            if fault.began - ACK_DEADLINE_S <= sent.at <= ended:
                return fault.kind
        return "none"

    def jobs(self) -> dict[str, Any]:
        delivered = failed = lost = duplicated = 0
        for s in self.sent:
            if s.prompt is None:
                continue
            result = s.result or s.handle.result()
            quoted = f"> {s.prompt}"
            deliveries = [
                r
                for r in self.world.fake.requests
                if r.method in ("PATCH", "POST")
                and isinstance(r.body, dict)
                and DONE in str(r.body.get("content", ""))
                and quoted in str(r.body.get("content", ""))
                and r.status < 300
            ]
            tasks = [t for t in self.world.minimax.video_tasks if t.body.get("prompt") == s.prompt]
            if deliveries:
                delivered += 1
            elif str(result.content or "").startswith(FAILED):
                failed += 1
            else:
                lost += 1
            duplicated += len(deliveries) > 1 or len(tasks) > 1
        adopted = [
            e
            for label in self.world.fleet.instances
            for e in self.world.fleet.events(label, "job_adopted")
        ]
        return {
            "jobs_delivered": delivered,
            "jobs_failed": failed,
            "jobs_lost": lost,
            "jobs_duplicated": duplicated,
            "jobs_adopted": sum(e.get("reason") == "orphaned" for e in adopted),
            "jobs_resumed": sum(e.get("reason") == "own" for e in adopted),
            "provider_tasks": len(self.world.minimax.video_tasks),
        }


def _short_name(fault: Fault) -> str:
    """`k3` (instance 3 killed), `f` (a freeze), `r` (a Redis restart)."""
    return f"k{fault.label}" if fault.kind == "kill" else fault.kind[0]


def _settled(result: InteractionResult) -> bool:
    content = str(result.content or "")
    return content.startswith((DONE, FAILED))


def _stats(name: str, values: list[float]) -> dict[str, float | None]:
    """p50, p99 (nearest rank) and max, in whole ms; None without a sample."""
    ordered = sorted(values)

    def rank(q: float) -> float | None:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)]) if ordered else None

    return {f"{name}_p50": rank(0.5), f"{name}_p99": rank(0.99), f"{name}_max": rank(1.0)}


async def full_sync(port: int) -> bytes:
    """The server's data as an RDB file, asked for as a replica does (diskless)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"REPLCONF capa eof\r\n")
        await writer.drain()
        if not (await reader.readline()).startswith(b"+OK"):
            raise RuntimeError("redis-server refused REPLCONF")
        writer.write(b"PSYNC ? -1\r\n")
        await writer.drain()
        line = await reader.readline()
        if not line.startswith(b"+FULLRESYNC"):
            raise RuntimeError(f"redis-server answered PSYNC with {line!r}")
        while (line := await reader.readline()) in (b"\n", b"\r\n"):
            pass  # keep-alives while it forks
        if not line.startswith(b"$EOF:"):
            raise RuntimeError(f"expected a diskless transfer, got {line[:60]!r}")
        mark, data = line[5:].rstrip(b"\r\n"), b""
        while (end := data.find(mark)) < 0:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError("redis-server closed the transfer early")
            data += chunk
        return data[:end]
    finally:
        writer.close()


async def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A redis-server on `port` that loads `folder/dump.rdb`, once it answers PING."""
    process = _spawn_redis(port, folder)
    client = aioredis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    try:
        while True:
            with contextlib.suppress(aioredis.ConnectionError, aioredis.BusyLoadingError):
                if await client.ping():
                    return process
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError(f"redis-server did not start again on port {port}")
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()


def _spawn_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """LocalRedisServer's settings (memory only), plus where to load the data from."""
    return subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(folder), "--dbfilename", "dump.rdb"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal must not reach it before we stop it
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(timeout=10)


def world_env(plan: Plan) -> dict[str, str]:
    """What chaos needs of the fleet's settings (bench/_shared.py opens it with these)."""
    return {
        "CLAIM_STEP": CLAIM_STEP_S,
        "VIDEO_POLL_INTERVAL": str(plan.poll_s),
        "VIDEO_PROGRESS_INTERVAL": "5",
        # One bench user asks for every video, several running at once: the per-user
        # limits would turn most away, and they are not what is measured here.
        "LIMIT_VIDEO_RUNNING": "0",
        "LIMIT_VIDEO_PER_DAY": "0",
    }


def video_clock(plan: Plan) -> dict[str, float]:
    """The MiniMax double's clock: a task lives `plan.video_s`."""
    return {
        "video_prepare_s": 0.1 * plan.video_s,
        "video_queue_s": 0.2 * plan.video_s,
        "video_process_s": 0.7 * plan.video_s,
    }


async def run(shared: Shared, options: Options, progress: Progress) -> dict[str, Any]:
    """Chaos on the run's shared fleet, which it leaves hurt: it goes last."""
    plan = shared.chaos_plan
    seed = plan.seed if plan.seed is not None else random.randrange(2**32)
    result: dict[str, Any] = {
        "seed": seed,
        "rate_per_s": plan.rate,
        "heartbeat_interval_s": HEARTBEAT_S,
        "claim_step_s": float(CLAIM_STEP_S),
    }
    failure = ""
    world = (await shared.fleet(progress)).world
    since = world.mark()
    chaos = Chaos(world, plan, random.Random(seed), progress, since=since)
    stop = asyncio.Event()
    load = asyncio.create_task(chaos.load(stop))
    try:
        await chaos.inject()
    except (FleetError, RuntimeError, OSError, TimeoutError) as exc:
        failure = f"chaos stopped: {exc}"
    finally:
        stop.set()
        await load
    try:
        await chaos.settle()
    finally:
        result |= chaos.report()
        result["problems"] = world.problems(since)
    if not failure:
        counts = [(k, result[k]) for k in ("lost", "duplicates", "jobs_lost", "jobs_duplicated")]
        failure = ", ".join(f"{k} {v}" for k, v in counts if v)
    if failure:
        raise BenchFailed(failure, result)
    return result
