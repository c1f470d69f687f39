"""Start-up steps Discord limits per token: IDENTIFY spacing, restart backoff, command sync,
the daily session-start budget and the hold after a fatal close.

Keys: `identify:lock` (spacing), `identify:count:{day}` (daily session starts),
`starts:{id}` (restarts in the last 10 min), `lock:sync`, `commands:hash:{scope}` (the
uploaded tree's digest and package version) and `fatal:{id}` (why Discord ended this
instance's session for good, and until when it must not try again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.logging_setup import get_logger
from bot.store.base import StartupGuard
from bot.store.redis_link import REDIS_ERRORS, RedisLink

log = get_logger("bot.store.startup")

IDENTIFY_SPACING_S = 5.5  # Discord allows one IDENTIFY per 5 s per bucket; keep a margin.
SYNC_LOCK_TTL_S = 120
# Restart backoff: the first few quick restarts are free, then the wait doubles.
FREE_RESTARTS = 3
RESTART_WINDOW_S = 600
RESTART_BACKOFF_BASE_S = 5.0
RESTART_BACKOFF_CAP_S = 900.0
IDENTIFY_DAILY_WARN = 800  # of Discord's 1000 session starts per day and token
# After Discord ends a session with a fatal close code (bad token, bad or disallowed
# intents) a restarted process waits this long before it IDENTIFYs again with the same
# configuration: at most 3 attempts an hour per instance, whatever restarts it.
FATAL_HOLD_S = 1200.0


def _version_key(version: str) -> tuple[int, ...]:
    """Leading numbers of a version (`1.10.2rc1+abc` -> 1, 10, 2): the fallback ordering."""
    parts: list[int] = []
    for chunk in version.split("+")[0].split("."):
        digits = ""
        for ch in chunk:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) < len(chunk):
            break
    return tuple(parts)


def is_newer(version: str, than: str) -> bool:
    """True when `version` is a later release than `than` (PEP 440 where possible)."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging ships with pip's toolchain
        return _version_key(version) > _version_key(than)
    try:
        return Version(version) > Version(than)
    except InvalidVersion:
        return _version_key(version) > _version_key(than)


def session_start_refusal(limit: Mapping[str, object], reserve: int) -> str | None:
    """Why this process must not IDENTIFY, from `GET /gateway/bot`'s session_start_limit;
    None while at least `reserve` session starts are left."""
    remaining = int(limit.get("remaining", reserve))  # type: ignore[call-overload]
    if remaining >= reserve:
        return None
    total = int(limit.get("total", 1000))  # type: ignore[call-overload]
    reset_after_s = int(limit.get("reset_after", 0)) / 1000  # type: ignore[call-overload]
    return (
        f"only {remaining} of {total} daily session starts left (reserve {reserve}); "
        f"Discord resets the count in {reset_after_s / 3600:.1f} h: not connecting"
    )


@dataclass(frozen=True)
class FatalRecord:
    """Discord ended this instance's session for good; do not try again before `retry_at`
    unless the configuration (`fingerprint`: token and intents) has changed."""

    code: int
    reason: str  # one English line, no secrets
    fingerprint: str
    at: float
    retry_at: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> FatalRecord:
        data = json.loads(text)
        return cls(
            code=int(data["code"]),
            reason=str(data["reason"]),
            fingerprint=str(data["fingerprint"]),
            at=float(data["at"]),
            retry_at=float(data["retry_at"]),
        )

    @classmethod
    def now(cls, code: int, reason: str, fingerprint: str, hold_s: float = FATAL_HOLD_S):
        at = time.time()
        return cls(code, reason, fingerprint, at, at + hold_s)


class FatalFile:
    """The fatal record in a file beside the health file, for when there is no Redis: a
    container restarted by Docker keeps its /tmp."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, record: FatalRecord) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(record.to_json(), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("fatal_record_unwritable", path=str(self.path), error=str(exc))

    def read(self) -> FatalRecord | None:
        if self.path is None:
            return None
        try:
            return FatalRecord.from_json(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def clear(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()


def restart_backoff(starts_in_window: int) -> float:
    """Seconds to wait before connecting after the n-th start within the window."""
    extra = starts_in_window - FREE_RESTARTS
    if extra <= 0:
        return 0.0
    return min(RESTART_BACKOFF_CAP_S, RESTART_BACKOFF_BASE_S * 2 ** (extra - 1))


class LocalStartup(StartupGuard):
    """Alone on the token: only a re-IDENTIFY after a drop needs Discord's 5 s spacing."""

    def __init__(
        self, *, identify_spacing: float = IDENTIFY_SPACING_S, fatal_file: Path | None = None
    ) -> None:
        self.identify_spacing = identify_spacing
        self.fatal_file = FatalFile(fatal_file)

    async def record_fatal(self, record: FatalRecord) -> None:
        self.fatal_file.write(record)

    async def fatal_record(self) -> FatalRecord | None:
        return self.fatal_file.read()

    async def clear_fatal(self) -> None:
        self.fatal_file.clear()

    async def wait_identify_slot(self, *, initial: bool) -> None:
        if not initial:
            await asyncio.sleep(self.identify_spacing)

    async def restart_delay(self) -> float:
        return 0.0

    async def begin_sync(self, scope: str, digest: str) -> bool:
        return True

    async def end_sync(self, scope: str, digest: str | None) -> None:
        return None


class RedisStartup(StartupGuard):
    def __init__(
        self,
        link: RedisLink,
        instance_id: int,
        *,
        identify_spacing: float = IDENTIFY_SPACING_S,
        fatal_file: Path | None = None,
        version: str = "0",
    ) -> None:
        self.link = link
        self.instance_id = instance_id
        self.identify_spacing = identify_spacing
        # Used when Redis cannot be reached while recording or reading a fatal close.
        self.fatal_file = FatalFile(fatal_file)
        self.version = version

    async def record_fatal(self, record: FatalRecord) -> None:
        link = self.link
        ttl = max(1, int(record.retry_at - time.time()) + 1)
        try:
            await link.redis.set(link.key("fatal", self.instance_id), record.to_json(), ex=ttl)
        except REDIS_ERRORS as exc:
            link.failed(exc)
            self.fatal_file.write(record)

    async def fatal_record(self) -> FatalRecord | None:
        link = self.link
        try:
            raw = await link.redis.get(link.key("fatal", self.instance_id))
        except REDIS_ERRORS as exc:
            link.failed(exc)
            raw = None
        if raw is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return FatalRecord.from_json(raw)
        return self.fatal_file.read()

    async def clear_fatal(self) -> None:
        self.fatal_file.clear()
        with contextlib.suppress(*REDIS_ERRORS):
            await self.link.redis.delete(self.link.key("fatal", self.instance_id))

    async def wait_identify_slot(self, *, initial: bool) -> None:
        link = self.link
        lock = link.key("identify", "lock")
        waited = 0.0
        while True:
            try:
                if await link.redis.set(
                    lock, self.instance_id, nx=True, px=int(self.identify_spacing * 1000)
                ):
                    break
            except REDIS_ERRORS as exc:
                link.failed(exc)
                # Without Redis, stagger by id so four containers never IDENTIFY together.
                stagger = (self.instance_id - 1) * self.identify_spacing
                log.info("identify_without_redis", staggered_s=stagger)
                await asyncio.sleep(stagger)
                return
            step = min(0.25, self.identify_spacing / 4)
            await asyncio.sleep(step)
            waited += step
        await self._count_identify(waited)

    async def _count_identify(self, waited: float) -> None:
        day = time.strftime("%Y%m%d", time.gmtime())
        count = await self.link.count(self.link.key("identify", "count", day), 2 * 86400)
        if count is None:
            return
        level = log.warning if count >= IDENTIFY_DAILY_WARN else log.info
        level("identify_slot", waited_s=round(waited, 2), fleet_identifies_today=count)

    async def restart_delay(self) -> float:
        starts = await self.link.count(self.link.key("starts", self.instance_id), RESTART_WINDOW_S)
        return 0.0 if starts is None else restart_backoff(starts)

    async def begin_sync(self, scope: str, digest: str) -> bool:
        """Take the sync lock unless the tree is unchanged, or a newer release uploaded the
        one Discord has: during a rolling update an old instance that restarts must not
        put its older commands back over the new ones."""
        link = self.link
        lock = link.key("lock", "sync")
        try:
            if not await link.redis.set(lock, self.instance_id, nx=True, ex=SYNC_LOCK_TTL_S):
                return False
            stored, stored_version = await link.redis.mget(
                link.key("commands", "hash", scope), link.key("commands", "version", scope)
            )
            skip = stored == digest
            if not skip and stored_version and is_newer(stored_version, self.version):
                log.info(
                    "command_sync_skipped_newer_tree",
                    scope=scope,
                    uploaded_by_version=stored_version,
                    this_version=self.version,
                    reason="a newer release uploaded the command tree; not replacing it",
                )
                skip = True
            if skip:
                await link.redis.delete(lock)
                return False
        except REDIS_ERRORS as exc:
            link.failed(exc)
            return False
        return True

    async def end_sync(self, scope: str, digest: str | None) -> None:
        link = self.link
        try:
            if digest is not None:
                # Two keys, so that releases before this one still read a bare digest.
                await link.redis.mset(
                    {
                        link.key("commands", "hash", scope): digest,
                        link.key("commands", "version", scope): self.version,
                    }
                )
            await link.redis.delete(link.key("lock", "sync"))
        except REDIS_ERRORS as exc:
            link.failed(exc)
