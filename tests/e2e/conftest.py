"""End-to-end fixtures: the sandbox's Discord double driving real `python -m bot` processes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.discord import FakeDiscord, InteractionResult
from sandbox.fleet import SANDBOX_TOKEN, Fleet
from sandbox.providers import FakeMiniMax, FakeOpenAI, FakeStability
from sandbox.redis_server import LocalRedisServer
from tests import waiting

CHANNELS = ["채팅방-1", "이미지생성-1", "비디오생성-1", "general"]
THREADS = {"채팅방-1": ["스레드-1"]}
# Fake secrets the fleet hands the bots; no reply or record may ever contain them.
SECRET_MARKERS = (
    SANDBOX_TOKEN,  # the fleet's one bot token
    "sandbox-instance-",  # the tokens the in-process tests use
    "sandbox-openai-key",
    "sandbox-minimax-key",
    "sandbox-stability-key",
)
# /이미지 settings of every e2e fleet: short enough for tests, with the image doubles'
# `[[slow]]` (10 s) outlasting IMAGE_TIMEOUT. A test's `extra_env` overrides any of them.
IMAGE_TEST_ENV = {
    "IMAGE_TIMEOUT": "2",
    "IMAGE_MAX_RETRIES": "1",
    "IMAGE_RATE_LIMIT_COOLDOWN": "0",
    "IMAGE_ACCOUNT_COOLDOWN": "0",
    "IMAGE_PROGRESS_INTERVAL": "0.5",
    # One test user draws many images a minute here; the per-user limits have their own
    # tests (tests/integration/bot/test_user_limits.py and the commands' screening tests).
    "LIMIT_IMAGE_PER_MINUTE": "0",
}
IMAGE_SLOW_DELAY_S = 10.0


@dataclass
class Sandbox:
    fake: FakeDiscord
    fleet: Fleet
    workdir: Path
    redis: LocalRedisServer | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # The sandbox's provider doubles: every instance's OPENAI_BASE_URL, MINIMAX_BASE_URL
    # and STABILITY_BASE_URL point at them.
    openai: FakeOpenAI | None = None
    minimax: FakeMiniMax | None = None
    stability: FakeStability | None = None

    async def ask(
        self,
        channel: str | None,
        command: str,
        *,
        thread: str | None = None,
        options: dict[str, object] | None = None,
        timeout: float = 10.0,
        settle: float = 0.2,
    ) -> InteractionResult:
        handle = await self.fake.send_command(
            channel=channel, command=command, thread=thread, options=options
        )
        return await handle.wait_for_response(timeout=timeout, settle=settle)

    def codes(self, code: int) -> list[object]:
        return [e for e in self.fake.errors if e.code == code]

    def assert_no_secrets_sent(self) -> None:
        for record in self.fake.requests:
            text = f"{record.body}"
            for marker in SECRET_MARKERS:
                assert marker not in text, f"{marker!r} leaked in {record.method} {record.path}"
        for double in (self.openai, self.minimax, self.stability):
            if double is not None:
                assert_no_secrets_sent_to(double)

    def assert_one_token(self) -> None:
        """Every process identified with the fleet's one token, as in production; the
        double still told them apart (by the URL each session came through)."""
        identified = self.fake.identify_log
        assert identified, "nobody identified"
        assert {r.token for r in identified} == {SANDBOX_TOKEN}, "one token for the fleet"
        labels = set(self.fleet.instances)
        assert {r.instance for r in identified} == labels, "every instance, by its session"
        for session in self.fake.all_sessions:
            assert session.instance == session.label and session.label in labels, session
        # REST by the URL's label; callbacks by their session's, which must be the same.
        # Followups and edits may come from another instance: in production every session
        # receives the same interaction token, and a durable job adopted by a peer finishes
        # through the token its first owner recorded.
        for r in self.fake.requests:
            assert r.label in labels, f"{r.method} {r.path}: {r}"
            if not r.path.startswith("/webhooks/"):
                assert r.instance == r.label, f"{r.method} {r.path}: {r}"

    def assert_clean(self) -> None:
        """Nothing the double rejected: no spec violations, no double answers, no leaks."""
        assert self.fake.spec_violations == []
        assert self.codes(40060) == [], "an interaction was answered twice"
        assert self.fake.internal_errors == []
        self.assert_no_secrets_sent()


ProviderDouble = FakeOpenAI | FakeMiniMax | FakeStability


def assert_no_secrets_sent_to(double: ProviderDouble) -> None:
    """The provider gets its key in the Authorization header (never recorded), nowhere else."""
    for request in double.requests:
        text = f"{request.headers} {request.body}"
        for marker in SECRET_MARKERS:
            assert marker not in text, (
                f"{marker!r} sent to {type(double).__name__} in {request.path}"
            )


# Who answers what where with the whole default fleet up, written by hand (never computed
# by the router under test). Utilities go to the channel's specialist, else to 4.
EXPECTED_OWNER: dict[tuple[str | None, str], int] = {
    ("채팅방-1", "채팅"): 1,
    ("채팅방-1", "이미지"): 4,
    ("채팅방-1", "비디오"): 4,
    ("채팅방-1", "핑"): 1,
    ("채팅방-1", "상태"): 1,
    ("채팅방-1", "인스턴스"): 1,
    ("이미지생성-1", "채팅"): 4,
    ("이미지생성-1", "이미지"): 2,
    ("이미지생성-1", "비디오"): 4,
    ("이미지생성-1", "핑"): 2,
    ("이미지생성-1", "상태"): 2,
    ("이미지생성-1", "인스턴스"): 2,
    ("비디오생성-1", "채팅"): 4,
    ("비디오생성-1", "이미지"): 4,
    ("비디오생성-1", "비디오"): 3,
    ("비디오생성-1", "핑"): 3,
    ("비디오생성-1", "상태"): 3,
    ("비디오생성-1", "인스턴스"): 3,
    **{("general", c): 4 for c in ("채팅", "이미지", "비디오", "핑", "상태", "인스턴스")},
    **{(None, c): 4 for c in ("채팅", "이미지", "비디오", "핑", "상태", "인스턴스")},
}
COMMANDS = ("채팅", "이미지", "비디오", "핑", "상태", "인스턴스")


def expected_owner(channel: str | None, command: str) -> int:
    return EXPECTED_OWNER[(channel, command)]


def summary_owners(result: InteractionResult) -> dict[str, str]:
    """`/핑 -> #1` pairs from the last field of the /인스턴스 embed."""
    lines = result.embeds[0]["fields"][-1]["value"].splitlines()
    return dict(re.findall(r"^/(\S+): \*\*(#\d|단일 프로세스)\*\*", line)[0] for line in lines)


# ---- waiting for what the fleet did (never for a fixed time) ----


async def until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "never happened"
) -> None:
    """tests/waiting.py's `until`, polling every 0.1 s: a look here is often a request to
    the fleet (a /metrics page, a /인스턴스 command), and real processes take longer."""
    await waiting.until(predicate, timeout=timeout, what=what, every=0.1)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value, for every sample line of a Prometheus text page."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


def series(name: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


async def metrics(sb: Sandbox, label: str) -> dict[str, float]:
    status, body = await asyncio.to_thread(http_get, sb.fleet.health_url(label, "/metrics"))
    assert status == 200
    return samples(body)


Claims = dict[str, tuple[int, int]]


async def claims(sb: Sandbox, labels: tuple[str, ...]) -> Claims:
    """(won, lost) claims each of `labels` took since it started, from its /metrics."""
    found = {}
    for label in labels:
        page = await metrics(sb, label)
        won, lost = (
            int(page.get(series("mib_claims_total", instance=label, result=r), 0))
            for r in ("won", "lost")
        )
        found[label] = (won, lost)
    return found


async def settled_claims(sb: Sandbox, labels: tuple[str, ...], timeout: float = 20.0) -> Claims:
    """The claims of `labels` once every event so far was claimed by all of them: each event
    one winner and a loser for every other instance. Valid for a fleet whose instances are
    all alive, all in every order, and never restarted (their counters start together)."""
    found: Claims = {}

    async def settled() -> bool:
        nonlocal found
        found = await claims(sb, labels)
        won = sum(w for w, _ in found.values())
        lost = sum(lost for _, lost in found.values())
        return lost == (len(labels) - 1) * won

    await until(settled, timeout, f"claims never settled: {found}")
    return found


async def claims_since(
    sb: Sandbox, before: Claims, expected: Claims, timeout: float = 20.0
) -> None:
    """Wait until each instance of `expected` took as many claims since `before` as
    `expected` says (it received the events and decided), then check won and lost exactly.
    This is the proof that an instance which stayed silent did see the event."""
    labels = tuple(expected)
    now: Claims = {}

    async def decided() -> bool:
        nonlocal now
        now = await claims(sb, labels)
        return all(sum(now[k]) - sum(before[k]) >= sum(expected[k]) for k in labels)

    await until(decided, timeout, f"not every instance decided: {before} -> {now}")
    change = {k: (now[k][0] - before[k][0], now[k][1] - before[k][1]) for k in labels}
    assert change == expected, f"claims since: {change}"


def logged_now(sb: Sandbox, label: str, name: str, **fields: object) -> list[dict[str, object]]:
    """Events `name` instance `label` logged so far whose fields match `fields`."""
    return [
        e for e in sb.fleet.events(label, name) if all(e.get(k) == v for k, v in fields.items())
    ]


async def logged(
    sb: Sandbox, label: str, name: str, timeout: float = 15.0, **fields: object
) -> list[dict[str, object]]:
    """Wait until instance `label` logged event `name` with `fields`; its lines are read in
    order, so everything it logged before that line has been read too."""

    async def seen() -> bool:
        return bool(logged_now(sb, label, name, **fields))

    await until(seen, timeout, f"instance {label} never logged {name} {fields}")
    return logged_now(sb, label, name, **fields)


async def until_routed_to(
    sb: Sandbox,
    channel: str,
    owner: str,
    *,
    viewers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Until every viewer routes /핑 in `channel` to `owner`: it counts `owner` alive (and
    whoever precedes it in the order dead). `viewers` maps the channel a /인스턴스 is asked
    in to the instance that should answer it there (until the views agree, another may);
    by default instance 4 in #general. Each look is a real /인스턴스, answered from the
    view its instance routes by."""
    viewers = viewers or {"general": "4"}

    async def routed() -> bool:
        for asked_in, viewer in viewers.items():
            result = await sb.ask(asked_in, "인스턴스", options={"채널": channel})
            if result.answered_by != viewer or summary_owners(result)["핑"] != f"#{owner}":
                return False
        return True

    await until(routed, timeout, f"{viewers} never all routed /핑 in #{channel} to #{owner}")


SandboxFactory = Callable[..., "contextlib.AbstractAsyncContextManager[Sandbox]"]


@contextlib.asynccontextmanager
async def open_sandbox(
    workdir: Path,
    instances=(1, 2, 3, 4),
    *,
    redis_url: str,
    private_redis: bool = False,
    extra_env: dict[str, str] | None = None,
    per_instance_env: dict[str, dict[str, str]] | None = None,
    dev_guild: bool = False,
) -> AsyncIterator[Sandbox]:
    redis = LocalRedisServer() if private_redis else None
    if redis is not None:
        redis.start()
    fake = FakeDiscord(channels=CHANNELS, threads=THREADS)
    openai = FakeOpenAI(slow_token_delay_s=0.1)  # [[slow]]: an answer over a few seconds
    minimax = FakeMiniMax(slow_delay_s=IMAGE_SLOW_DELAY_S)
    stability = FakeStability(slow_delay_s=IMAGE_SLOW_DELAY_S)
    servers = (fake, openai, minimax, stability)
    fleet: Fleet | None = None
    try:
        for server in servers:
            await server.start()
        fleet = Fleet(
            rest_url=fake.rest_url,
            gateway_url=fake.gateway_url,
            workdir=workdir,
            instances=instances,
            redis_url=redis.url if redis else redis_url,
            extra_env=IMAGE_TEST_ENV | (extra_env or {}),
            provider_urls={
                "openai": openai.base_url,
                "minimax": minimax.base_url,
                "stability": stability.base_url,
            },
        )
        for label, env in (per_instance_env or {}).items():
            fleet.instances[label].env.update(env)
        if dev_guild:
            for instance in fleet.instances.values():
                instance.env["DEV_GUILD_ID"] = str(fake.guild_id)
        await fleet.start()
        yield Sandbox(
            fake, fleet, workdir, redis, openai=openai, minimax=minimax, stability=stability
        )
    finally:
        if fleet is not None:
            await fleet.close()
        for server in servers:
            await server.stop()  # a double that never started stops as a no-op
        if redis is not None:
            redis.stop()
    # Reached only when the test body passed: a body Discord would reject fails the test.
    assert fleet is not None  # it started, or the body would not have run
    assert fake.spec_violations == [], f"requests Discord's spec rejects: {fake.spec_violations}"
    Sandbox(fake, fleet, workdir).assert_one_token()
    assert fake.internal_errors == [], f"the double itself failed: {fake.internal_errors}"
    for double in (openai, minimax, stability):
        name = type(double).__name__
        assert double.errors == [], f"the {name} double itself failed: {double.errors}"
        assert_no_secrets_sent_to(double)
    for instance in fleet.instances.values():
        log = instance.log_path.read_text(encoding="utf-8") if instance.log_path.exists() else ""
        leaked = [marker for marker in SECRET_MARKERS if marker in log]
        assert not leaked, f"instance {instance.label} logged a secret ({leaked})"
        # Interaction tokens are secrets too (video jobs keep them for 15 minutes).
        tokens = [t for t in fake.state.tokens if t in log]
        assert not tokens, f"instance {instance.label} logged an interaction token"


@pytest.fixture
def sandbox_factory(tmp_path: Path, redis_url: str):
    def factory(**kwargs):
        return open_sandbox(tmp_path, redis_url=redis_url, **kwargs)

    return factory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet4(tmp_path_factory, redis_url: str) -> AsyncIterator[Sandbox]:
    """A four-instance fleet shared by the read-only tests of one module."""
    async with open_sandbox(tmp_path_factory.mktemp("fleet4"), redis_url=redis_url) as sandbox:
        yield sandbox
