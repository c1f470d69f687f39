"""`stream`: many `/채팅` answers streamed at once, at a fixed token rate, shown on Discord.

The OpenAI double answers each bench question with a known text of `tokens` deltas
(`CHUNK_CHARS` characters each, a "token" here) sent `1 / token_rate` s apart. The bot
streams every answer onto its deferred reply (and followups past 2000 characters) with
the production cadence, CHAT_EDIT_INTERVAL = 1 s. Measured from outside, with the two
doubles' clocks (both run in this process, both `time.monotonic()`):

- `first_edit_ms_*`: the OpenAI double writing a stream's first text delta, to the Discord
  double receiving the first edit of that answer's message with text in it. The bot's own
  view (`first_token_to_first_edit_ms` of its `chat_answered` log line: its reader seeing
  the first delta, to its first write applied) is reported beside it as `*_bot_log`;
- `edits_per_message_per_s_max`: the most writes (edits, and the send that created a
  followup) any one message received in any 1 s window, from the Discord double's
  arrival times. Discord tolerates about one a second; the deferral itself is not counted;
- `cpu_ms_per_1k_tokens`: CPU time (/proc) of the bot process(es) that answered, over the
  run (first command sent to last answer finished), per 1000 tokens streamed.

Every answer is then checked on the Discord double: `completed` streams show the whole
text (whitespace between pages aside) and no writing marker; `lost` ones did not (never
answered, or not in full within the answers' length plus a grace); `duplicates` were
asked of OpenAI, or answered, more than once.

`measure(sw, streams, tokens=...)` runs the load against a world `open_stream_world`
opened (the four-instance fleet, or `instances=("all",)`: one single-mode process), so the
same load can be compared across both. The scenario itself measures on the run's shared
fleet (bench/_shared.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.discord import InteractionHandle
from sandbox.providers.openai_double import FakeOpenAI, FakeReply, RecordedRequest

from ._measure import cpu_seconds
from ._world import BenchFailed, Mark, Options, Progress, World, open_world

if TYPE_CHECKING:
    from ._shared import Shared

FULL_STREAMS, QUICK_STREAMS = 40, 5
# 600 tokens at 20 a second: 30 s, two Discord pages (2400 characters), inside the bot's
# 60 s CHAT_TIMEOUT for a whole answer. --quick: 100 tokens, 5 s, five edits.
FULL_TOKENS, QUICK_TOKENS = 600, 100
TOKEN_RATE = 20.0  # tokens a second, per stream
CHUNK_CHARS = 4  # characters per streamed delta (the double's default)
EDIT_INTERVAL_S = 1.0  # CHAT_EDIT_INTERVAL, the production default
INSTANCES: tuple[int | str, ...] = (1, 2, 3, 4)  # the fleet: /채팅 in #채팅방-1 is instance 1's
CHANNEL = "채팅방-1"
SPREAD_S = 1.0  # the commands go out evenly over this long, all streams then overlapping
SETTLE_GRACE_S = 30.0  # beyond the answers' own length, for the last ones to finish
WRITING_MARKER = "✍️"
# What becomes of a /채팅 the bot took: answered, or turned down (refused by a rule,
# rejected with a Korean message, failed unexpectedly).
SETTLED_EVENTS = ("chat_answered", "event_refused", "event_rejected", "event_failed")
STREAM_ENV = {
    "CHAT_EDIT_INTERVAL": str(EDIT_INTERVAL_S),
    # Off: the per-user limits and the daily OpenAI quota are not what is measured. Every
    # stream has a user of its own anyway, but a bigger load, or `measure` run again on one
    # world, must not be turned away by a limit (the quota is 1060 answers a key a day).
    "LIMIT_CHAT_PER_MINUTE": "0",
    "QUOTA_OPENAI_DAILY": "0",
}
_TAG = re.compile(r"\[(bench-[0-9a-f]+-\d+)\]")


@dataclass
class StreamSeen:
    """What the OpenAI double did for one bench question."""

    requests: int = 0  # chat requests that carried it (more than one: asked twice)
    tokens: int = 0  # text deltas written
    first_token_at: float | None = None  # monotonic, just before the first delta's write
    last_token_at: float | None = None


class TimedOpenAI(FakeOpenAI):
    """The OpenAI double, answering each bench question with its planned text (`answers`,
    by tag) and noting when it wrote each stream's text deltas. Other requests get the
    double's usual answers."""

    def __init__(self, *, token_rate: float = TOKEN_RATE, chunk_chars: int = CHUNK_CHARS) -> None:
        super().__init__(token_delay_s=1.0 / token_rate, chunk_chars=chunk_chars)
        self.token_rate = token_rate
        self.answers: dict[str, str] = {}
        self.seen: dict[str, StreamSeen] = {}

    def _choose(self, record: RecordedRequest) -> FakeReply:
        tag = tag_of(record.last_user_text())
        if tag is None or tag not in self.answers:
            return super()._choose(record)
        self.seen.setdefault(tag, StreamSeen()).requests += 1
        return FakeReply(text=self.answers[tag])

    async def _open_stream(
        self, request: web.Request, record: RecordedRequest, reply: FakeReply
    ) -> web.StreamResponse:
        response = await super()._open_stream(request, record, reply)
        tag = tag_of(record.last_user_text())
        if tag is None or tag not in self.answers:
            return response
        seen = self.seen.setdefault(tag, StreamSeen())
        write = response.write

        async def timed_write(data: bytes) -> None:
            if _carries_text(data):
                now = time.monotonic()
                if seen.first_token_at is None:
                    seen.first_token_at = now
                seen.last_token_at = now
                seen.tokens += 1
            await write(data)

        response.write = timed_write  # type: ignore[method-assign]
        return response


def _carries_text(data: bytes) -> bool:
    """Whether an SSE event of either API carries answer text (a delta, not the role)."""
    for line in data.split(b"\n"):
        if not line.startswith(b"data: {"):
            continue
        try:
            event = json.loads(line[len(b"data: ") :])
        except ValueError:
            return False
        if event.get("type") == "response.output_text.delta":  # the Responses API
            return bool(event.get("delta"))
        choices = event.get("choices") or []
        return bool(choices and (choices[0].get("delta") or {}).get("content"))
    return False


def tag_of(text: str) -> str | None:
    found = _TAG.search(text)
    return found.group(1) if found else None


def answer_text(tag: str, tokens: int, chunk_chars: int = CHUNK_CHARS) -> str:
    """A Korean answer of exactly `tokens * chunk_chars` characters, in paragraphs, ending
    in a non-blank character (so its last delta is never whitespace the pages drop)."""
    length = max(1, tokens * chunk_chars)
    sentences = (
        "이 문장은 답이 쓰이는 속도를 재려고 덧붙였어요. ",
        "디스코드 메시지는 1초에 한 번쯤 고쳐져요. ",
        "토큰은 일정한 속도로 도착해요.\n\n",
    )
    text = f"[{tag}] 스트리밍 벤치마크 답변이에요.\n\n"
    k = 0
    while len(text) < length:
        text += sentences[k % len(sentences)]
        k += 1
    return text[: length - 1] + "끝"


@dataclass
class StreamWorld:
    """A bench world (`world`) whose instances talk to the timed OpenAI double (`openai`)."""

    world: World
    openai: TimedOpenAI
    instances: tuple[str, ...] = field(default=())


@contextlib.asynccontextmanager
async def open_stream_world(
    workdir: Path,
    *,
    instances: Sequence[int | str] = INSTANCES,
    token_rate: float = TOKEN_RATE,
    extra_env: Mapping[str, str] | None = None,
    minimax: Mapping[str, Any] | None = None,
    progress: Progress = lambda _: None,
) -> AsyncIterator[StreamWorld]:
    """`open_world` with the timed OpenAI double and `STREAM_ENV`. `instances=("all",)`
    starts one single-mode process (which serves every channel)."""
    openai = TimedOpenAI(token_rate=token_rate)
    await openai.start()
    try:
        env = STREAM_ENV | {"OPENAI_BASE_URL": openai.base_url} | dict(extra_env or {})
        async with open_world(
            workdir,
            instances=tuple(instances),  # type: ignore[arg-type]  # "all" works too
            extra_env=env,
            minimax=minimax,
            progress=progress,
        ) as world:
            yield StreamWorld(world, openai, tuple(str(i) for i in instances))
    finally:
        await openai.stop()


async def run(shared: Shared, options: Options, progress: Progress) -> dict[str, Any]:
    streams, tokens = load_of(options)
    sw = await shared.fleet(progress)
    result = await measure(sw, streams, tokens=tokens, progress=progress)
    failures = failures_of(result)
    if failures:
        raise BenchFailed(f"of {streams} /채팅 streams: {failures} (see problems)", result)
    shared.figures["stream"] = result
    return result


def load_of(options: Options) -> tuple[int, int]:
    """How many concurrent streams, of how many tokens each, the options ask for."""
    streams = options.streams or (QUICK_STREAMS if options.quick else FULL_STREAMS)
    tokens = options.stream_tokens or (QUICK_TOKENS if options.quick else FULL_TOKENS)
    return streams, tokens


async def scenario(
    workdir: Path,
    *,
    streams: int,
    tokens: int,
    token_rate: float = TOKEN_RATE,
    instances: Sequence[int | str] = INSTANCES,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """Open a world, run `measure` once, close it; BenchFailed if any stream went wrong."""
    async with open_stream_world(
        workdir, instances=instances, token_rate=token_rate, progress=progress
    ) as sw:
        result = await measure(sw, streams, tokens=tokens, progress=progress)
    failures = failures_of(result)
    if failures:
        raise BenchFailed(f"of {streams} /채팅 streams: {failures} (see problems)", result)
    return result


async def measure(
    sw: StreamWorld,
    streams: int,
    *,
    tokens: int = FULL_TOKENS,
    channel: str = CHANNEL,
    spread_s: float = SPREAD_S,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """`streams` concurrent /채팅, each answered with `tokens` tokens, against an open world.

    Returns the figures (see the module's docstring) and `problems`; it raises only when an
    instance died. May be called again on the same world: each call has its own users.
    """
    world, openai = sw.world, sw.openai
    run_id = uuid.uuid4().hex[:6]
    tags = [f"bench-{run_id}-{i}" for i in range(streams)]
    for tag in tags:
        openai.answers[tag] = answer_text(tag, tokens, openai.chunk_chars)
    labels = sw.instances or tuple(world.fleet.instances)
    duration = tokens / openai.token_rate
    result: dict[str, Any] = {
        "instances": ",".join(labels),
        "streams": streams,
        "tokens_per_answer": tokens,
        "token_rate_target_per_s": openai.token_rate,
        "edit_interval_s": float(
            world.fleet.instances[labels[0]].env.get("CHAT_EDIT_INTERVAL", EDIT_INTERVAL_S)
        ),
    }
    requests_before = len(world.fake.requests)
    since, openai_errors_before = world.mark(), len(openai.errors)
    pids = {label: world.pid(label) for label in labels}
    cpu_before = {label: cpu_seconds(pid) for label, pid in pids.items()}
    began = time.monotonic()
    try:
        handles = await _send(world, tags, channel, spread_s, progress)
        await _wait_settled(
            sw, labels, handles, duration + spread_s + SETTLE_GRACE_S, progress, result
        )
    finally:
        elapsed = time.monotonic() - began
        cpu = {label: cpu_seconds(pid) - cpu_before[label] for label, pid in pids.items()}
        result["problems"] = _problems(sw, since, openai_errors_before)
    result["duration_s"] = round(elapsed, 1)
    _tally(sw, labels, tags, handles, requests_before, cpu, elapsed, result)
    return result


async def _send(
    world: World, tags: list[str], channel: str, spread_s: float, progress: Progress
) -> list[InteractionHandle]:
    handles = []
    began = time.monotonic()
    for i, tag in enumerate(tags):
        await asyncio.sleep(max(0.0, began + i * spread_s / len(tags) - time.monotonic()))
        handles.append(
            await world.fake.send_command(
                channel=channel,
                command="채팅",
                options={"질문": f"[{tag}] 스트리밍 벤치마크 질문이에요. 길게 답해 주세요."},
                user=tag,  # a user of its own per stream
            )
        )
        progress(f"sending /채팅 {i + 1}/{len(tags)}")
    return handles


async def _wait_settled(
    sw: StreamWorld,
    labels: Iterable[str],
    handles: list[InteractionHandle],
    timeout: float,
    progress: Progress,
    result: dict[str, Any],
) -> None:
    """Until the bot logged an end (answered, or turned down) for every stream, or timeout."""
    keys = {str(h.interaction_id) for h in handles}
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(sw.world, labels, result)
        settled = keys & _settled_keys(sw.world, labels)
        if len(settled) == len(keys) or time.monotonic() >= deadline:
            return
        sent = sum(s.tokens for s in sw.openai.seen.values())
        progress(f"streaming: {len(settled)}/{len(keys)} answered, {sent} tokens sent")
        await asyncio.sleep(0.5)


def _settled_keys(world: World, labels: Iterable[str]) -> set[str]:
    return {
        str(event.get("event_key"))
        for label in labels
        for name in SETTLED_EVENTS
        for event in world.fleet.events(label, name)
    }


def _check_alive(world: World, labels: Iterable[str], result: dict[str, Any]) -> None:
    for label in labels:
        instance = world.fleet.instances[label]
        if not instance.running:
            code = instance.process.returncode if instance.process else None
            raise BenchFailed(f"bot instance {label} exited (code {code})", result)


def _tally(
    sw: StreamWorld,
    labels: Sequence[str],
    tags: list[str],
    handles: list[InteractionHandle],
    requests_before: int,
    cpu: dict[str, float],
    elapsed: float,
    result: dict[str, Any],
) -> None:
    world, openai = sw.world, sw.openai
    by_id = {h.interaction_id: (tag, h) for tag, h in zip(tags, handles, strict=True)}
    writes, first_edit_at = _discord_writes(world, by_id, requests_before)
    answered = _answered_events(world, labels)
    completed = lost = duplicates = 0
    first_edit_ms: list[float] = []
    rates: list[float] = []
    answering: set[str] = set()
    for interaction_id, (tag, handle) in by_id.items():
        seen = openai.seen.get(tag, StreamSeen())
        outcome = handle.result()
        if outcome.answered_by is not None:
            answering.add(outcome.answered_by)
        shown = [str(m.get("content") or "") for m in outcome.messages]
        if _squash("".join(shown)) == _squash(openai.answers[tag]) and not any(
            WRITING_MARKER in page for page in shown
        ):
            completed += 1
        else:
            lost += 1
        if seen.requests > 1 or len(answered.get(str(interaction_id), [])) > 1:
            duplicates += 1
        at = first_edit_at.get(interaction_id)
        if at is not None and seen.first_token_at is not None:
            first_edit_ms.append((at - seen.first_token_at) * 1000)
        if seen.tokens > 1 and seen.first_token_at and seen.last_token_at:
            span = seen.last_token_at - seen.first_token_at
            if span > 0:
                rates.append((seen.tokens - 1) / span)
    tokens = sum(openai.seen.get(tag, StreamSeen()).tokens for tag in tags)
    bot_log_ms = [
        float(e["first_token_to_first_edit_ms"])
        for events in answered.values()
        for e in events
        if isinstance(e.get("first_token_to_first_edit_ms"), int | float)
    ]
    windows = [_most_in_window(times, 1.0) for times in writes.values()]
    gaps = [b - a for times in writes.values() for a, b in itertools.pairwise(times)]
    streamed = [label for label in labels if label in answering] or list(labels)
    result |= {
        "completed": completed,
        "lost": lost,
        "duplicates": duplicates,
        "tokens": tokens,
        "token_rate_per_s": round(statistics.median(rates), 1) if rates else None,
        **_percentiles("first_edit_ms", first_edit_ms),
        **_percentiles("first_edit_ms", bot_log_ms, suffix="_bot_log"),
        "edits_per_message_per_s_max": max(windows, default=None),
        "edit_gap_ms_min": round(min(gaps) * 1000) if gaps else None,
        "messages": len(writes),
        "writes": sum(len(times) for times in writes.values()),
        "answered_by": ",".join(sorted(answering)),
        "cpu_ms_per_1k_tokens": _per_1k(sum(cpu[label] for label in streamed), tokens),
        "cpu_ms_per_1k_tokens_all_instances": _per_1k(sum(cpu.values()), tokens),
        "cpu_percent_by_instance": {
            label: round(100 * seconds / elapsed, 1) for label, seconds in cpu.items()
        },
    }


def _discord_writes(
    world: World, by_id: Mapping[int, Any], requests_before: int
) -> tuple[dict[tuple[int, str], list[float]], dict[int, float]]:
    """Arrival times of the writes to each message of the bench interactions (keyed by
    interaction id and "original" or the followup's id), and of each interaction's first
    edit with text."""
    state = world.fake.state
    token_owner: dict[str, int] = {}
    for interaction_id in by_id:
        interaction = state.interactions[interaction_id]
        for recipient in interaction.recipients:
            token_owner[recipient.token] = interaction_id
    writes: dict[tuple[int, str], list[float]] = {}
    first_edit_at: dict[int, float] = {}
    for record in world.fake.requests[requests_before:]:
        # /webhooks/{application id}/{interaction token}/messages/{@original | message id}
        parts = record.path.split("/")
        if record.method != "PATCH" or len(parts) != 6 or parts[1] != "webhooks":
            continue
        owner = token_owner.get(parts[3])
        if owner is None or not 200 <= record.status < 300:
            continue
        original = state.interactions[owner].original_id
        message = "original" if parts[5] in ("@original", str(original)) else parts[5]
        writes.setdefault((owner, message), []).append(record.at)
        body = record.body if isinstance(record.body, dict) else {}
        if message == "original" and body.get("content") and owner not in first_edit_at:
            first_edit_at[owner] = record.at
    for interaction_id in by_id:
        for message_id in state.interactions[interaction_id].followup_ids:
            stored = state.store.get(message_id)
            if stored is not None:  # its creation: the first write of a followup page
                writes.setdefault((interaction_id, str(message_id)), []).append(stored.at)
    return {key: sorted(times) for key, times in writes.items()}, first_edit_at


def _answered_events(world: World, labels: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for label in labels:
        for event in world.fleet.events(label, "chat_answered"):
            found.setdefault(str(event.get("event_key")), []).append(event)
    return found


def _most_in_window(times: Sequence[float], window: float) -> int:
    """The most of the sorted `times` in any half-open window [t, t + window)."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _percentiles(name: str, values: list[float], suffix: str = "") -> dict[str, int | None]:
    ordered = sorted(values)
    if not ordered:
        return {f"{name}_{p}{suffix}": None for p in ("p50", "p95", "max")}
    return {
        f"{name}_p50{suffix}": round(statistics.median(ordered)),
        f"{name}_p95{suffix}": round(ordered[math.ceil(0.95 * len(ordered)) - 1]),
        f"{name}_max{suffix}": round(ordered[-1]),
    }


def _per_1k(cpu_s: float, tokens: int) -> float | None:
    return round(cpu_s * 1000 / (tokens / 1000), 1) if tokens else None


def _squash(text: str) -> str:
    return "".join(text.split())


def _problems(sw: StreamWorld, since: Mark, openai_errors_before: int) -> dict[str, Any]:
    found = sw.world.problems(since)
    if errors := sw.openai.errors[openai_errors_before:]:
        found["openai_double_errors"] = errors[:5]
    return found


def failures_of(result: dict[str, Any]) -> str:
    """What went wrong with the streams, in words; "" when every one was answered once."""
    found = [
        (result.get("lost", 0), "not answered in full"),
        (result.get("duplicates", 0), "asked of OpenAI or answered more than once"),
    ]
    return "; ".join(f"{count} {what}" for count, what in found if count)
