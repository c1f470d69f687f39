"""The fleet store: one object holding every shared-state concern of this instance.

`open_store(settings)` picks in-process stores for single-process mode and Redis
stores (sharing one `RedisLink`) for a fleet member. Callers use `store.liveness`,
`store.claims`, `store.startup`, `store.memory`, `store.jobs`, `store.quotas`,
`store.rates` and `store.mode`, never Redis directly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from bot.status import package_version
from bot.store.base import (
    Claims,
    ConversationMemory,
    Jobs,
    Liveness,
    Mode,
    Quotas,
    StartupGuard,
    StatusSource,
)
from bot.store.claims import LocalClaims, RedisClaims
from bot.store.jobs import LocalJobs, RedisJobs
from bot.store.liveness import LocalLiveness, RedisLiveness
from bot.store.memory import LocalMemory, RedisMemory
from bot.store.quotas import LocalQuotas, QuotasWithStandIn, RedisQuotas
from bot.store.rates import LocalRates, Rates, RatesWithStandIn, RedisRates
from bot.store.redis_link import RedisLink
from bot.store.startup import IDENTIFY_SPACING_S, LocalStartup, RedisStartup
from env_manager import INSTANCE_IDS, Settings


@dataclass
class FleetStore:
    liveness: Liveness
    claims: Claims
    startup: StartupGuard
    memory: ConversationMemory
    jobs: Jobs
    quotas: Quotas
    rates: Rates
    link: RedisLink | None = None  # None: single-process, nothing shared
    # This process's incarnation: instance id plus a per-start id; names its claims.
    incarnation: str = field(default_factory=lambda: new_incarnation(None))

    @property
    def mode(self) -> Mode:
        return Mode.LOCAL if self.link is None else self.link.mode

    async def start(self, status: StatusSource) -> None:
        await self.liveness.start(status)

    async def close(self) -> None:
        await self.liveness.close()
        if self.link is not None:
            await self.link.close()


def new_incarnation(instance_id: int | None) -> str:
    return f"{instance_id if instance_id is not None else 'all'}.{secrets.token_hex(4)}"


# Chat memory defaults when no settings are given (tests, tools); see ChatSettings.
MEMORY_CHARS = 12000
MEMORY_TTL_S = 24 * 3600.0


def local_store(
    instance_id: int | None = None,
    *,
    identify_spacing: float = IDENTIFY_SPACING_S,
    fatal_file: Path | None = None,
    memory_chars: int = MEMORY_CHARS,
    memory_ttl_s: float = MEMORY_TTL_S,
) -> FleetStore:
    return FleetStore(
        liveness=LocalLiveness(INSTANCE_IDS, instance_id),
        claims=LocalClaims(),
        startup=LocalStartup(identify_spacing=identify_spacing, fatal_file=fatal_file),
        memory=LocalMemory(budget_chars=memory_chars, ttl_s=memory_ttl_s),
        jobs=LocalJobs(),
        quotas=LocalQuotas(),
        rates=LocalRates(),
    )


def redis_store(
    instance_id: int,
    url: str,
    *,
    prefix: str = "mib:",
    heartbeat_interval: float = 2.0,
    identify_spacing: float = IDENTIFY_SPACING_S,
    fatal_file: Path | None = None,
    version: str | None = None,
    memory_chars: int = MEMORY_CHARS,
    memory_ttl_s: float = MEMORY_TTL_S,
) -> FleetStore:
    # Trust the liveness view again one TTL after Redis returns: peers have re-announced.
    # Degrade only after two heartbeats' worth of failures: a stall is not an outage.
    link = RedisLink(
        url,
        prefix=prefix,
        warmup_s=heartbeat_interval * 3,
        degrade_after_s=max(1.0, heartbeat_interval * 2),
    )
    incarnation = new_incarnation(instance_id)
    return FleetStore(
        liveness=RedisLiveness(
            link, instance_id, INSTANCE_IDS, heartbeat_interval=heartbeat_interval
        ),
        claims=RedisClaims(link, incarnation),
        startup=RedisStartup(
            link,
            instance_id,
            identify_spacing=identify_spacing,
            fatal_file=fatal_file,
            version=version if version is not None else package_version(),
        ),
        memory=RedisMemory(link, budget_chars=memory_chars, ttl_s=memory_ttl_s),
        jobs=RedisJobs(link),
        # Counted in the process while Redis is away: never unlimited, never stopped.
        quotas=QuotasWithStandIn(RedisQuotas(link)),
        rates=RatesWithStandIn(RedisRates(link)),
        link=link,
        incarnation=incarnation,
    )


def open_store(settings: Settings) -> FleetStore:
    """In-process for single mode; Redis for a fleet member."""
    spacing = settings.discord.identify_spacing
    fatal_file = fatal_file_for(settings)
    memory = {
        "memory_chars": settings.chat.chat_memory_chars,
        "memory_ttl_s": settings.chat.chat_memory_ttl_hours * 3600,
    }
    if settings.instance_number is None:
        return local_store(identify_spacing=spacing, fatal_file=fatal_file, **memory)
    return redis_store(
        settings.instance_number,
        settings.fleet.redis_url,
        prefix=settings.fleet.redis_key_prefix,
        heartbeat_interval=settings.fleet.heartbeat_interval,
        identify_spacing=spacing,
        fatal_file=fatal_file,
        **memory,
    )


def fatal_file_for(settings: Settings) -> Path:
    """Where a fatal close is remembered without Redis: beside the health file."""
    health = settings.health_path()
    return health.with_name(health.name + ".fatal")
