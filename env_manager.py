"""Settings of one bot process: loaded once from `.env.multi` and the environment.

One pydantic-settings class per concern (python-discord's `constants.py` style), all
reachable from one `Settings` object: `settings.discord`, `settings.fleet`,
`settings.providers`, `settings.logging`, `settings.health`. Every environment variable
keeps its plain name (no section prefix), so `.env.multi` files stay valid. A new
feature adds a section here (chat, image, video, limits; see ARCHITECTURE.md).

The process environment wins over the file. Provider keys resolve per instance: for
INSTANCE_ID=n, `OPENAI_API_KEY_n` is used, falling back to `OPENAI_API_KEY`. Secrets are
SecretStr and never appear in reports, logs or reprs. This module imports nothing of
the bot: the router's table is built from these settings on the bot side.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_ENV_FILE = ".env.multi"
SINGLE_MODE = "all"

# The fleet's shape: four instances, each with a role; 4 is the fallback and manager.
INSTANCE_IDS: tuple[int, ...] = (1, 2, 3, 4)
FALLBACK_INSTANCE = 4
INSTANCE_ROLES: dict[int, str] = {1: "chat", 2: "image", 3: "video", 4: "admin"}
DEFAULT_PATTERNS: dict[int, tuple[str, ...]] = {
    1: ("채팅방-*", "*chat*"),
    2: ("이미지생성-*", "*image*"),
    3: ("비디오생성-*", "*video*"),
}

Provider = Literal["openai", "minimax", "stability"]
PROVIDERS: tuple[Provider, ...] = ("openai", "minimax", "stability")
PROVIDER_NAMES: dict[Provider, str] = {
    "openai": "OpenAI",
    "minimax": "MiniMax",
    "stability": "Stability AI",
}
PROVIDER_KEY_VARS: dict[Provider, str] = {
    "openai": "OPENAI_API_KEY",
    "minimax": "MINIMAX_API_KEY",
    "stability": "STABILITY_API_KEY",
}
# Which providers can serve each area (image works with either provider).
AREA_PROVIDERS: dict[str, tuple[Provider, ...]] = {
    "chat": ("openai",),
    "image": ("minimax", "stability"),
    "video": ("minimax",),
}
# Provider keys each role needs; instance 4 and single mode back up everything.
ROLE_REQUIRED_PROVIDERS: dict[str, tuple[Provider, ...]] = {
    "chat": ("openai",),
    "image": ("minimax", "stability"),
    "video": ("minimax",),
    "admin": PROVIDERS,
}
# What counts as a key not filled in yet: one glob a line, shared with deploy-multi.sh and
# deploy-multi.bat (bot/placeholders.txt, installed with the bot package).
PLACEHOLDER_FILE = Path(__file__).resolve().parent / "bot" / "placeholders.txt"
# Discord channel names are at most 100 characters without spaces; globs use * ? [..].
PATTERN_FORBIDDEN = re.compile(r"[\s/#]")


class ConfigError(Exception):
    """Configuration is unusable; `problems` are one-line, secret-free explanations."""

    def __init__(self, problems: list[str], *, instance: str) -> None:
        self.problems = problems
        self.instance = instance
        super().__init__(self.report())

    def report(self) -> str:
        scope = (
            "single-process mode" if self.instance == SINGLE_MODE else f"instance {self.instance}"
        )
        lines = [f"Configuration error for {scope}: {len(self.problems)} problem(s)."]
        lines += [f"  - {problem}" for problem in self.problems]
        lines.append(
            "Fix the variables in .env.multi (copy .env.multi.example if you have none) or the "
            "environment, then check again with: python -m bot check-config"
        )
        return "\n".join(lines)


@functools.cache
def placeholder_globs() -> tuple[str, ...]:
    lines = (line.strip() for line in PLACEHOLDER_FILE.read_text(encoding="utf-8").splitlines())
    return tuple(line.casefold() for line in lines if line and not line.startswith("#"))


def is_placeholder(value: str | None) -> bool:
    """Missing, blank, or (trimmed, in any case) a placeholder of bot/placeholders.txt."""
    if value is None or not value.strip():
        return True
    folded = value.strip().casefold()
    return any(fnmatch.fnmatchcase(folded, glob) for glob in placeholder_globs())


def parse_patterns(raw: str) -> tuple[str, ...]:
    """Split a comma-separated glob list; raise ValueError naming the bad entry."""
    patterns = tuple(part.strip() for part in raw.split(","))
    if patterns == ("",):
        return ()
    for pattern in patterns:
        if not pattern:
            raise ValueError("has an empty entry (check for a doubled or trailing comma)")
        if PATTERN_FORBIDDEN.search(pattern):
            raise ValueError(f"entry {pattern!r} contains a space, '/' or '#'")
        if pattern.count("[") != pattern.count("]"):
            raise ValueError(f"entry {pattern!r} has an unbalanced '[' or ']'")
        if len(pattern) > 100:
            raise ValueError(f"entry {pattern[:20]!r}... is longer than 100 characters")
    return patterns


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class Section(BaseSettings):
    """Common reading rules: plain variable names, secrets hidden from error messages."""

    model_config = SettingsConfigDict(
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )


class DiscordSettings(Section):
    """The Discord application and how this process reaches Discord."""

    discord_token: SecretStr | None = None
    discord_api_base_url: str | None = None  # a REST proxy, or the local double
    discord_gateway_url: str | None = None
    dev_guild_id: int | None = None  # sync commands to one guild (instant) instead of global
    # Discord allows one IDENTIFY per 5 s; only the local sandbox may go faster.
    identify_spacing: float = Field(default=5.5, ge=0.05, le=60)
    # discord.py waits this long after the last guild arrives before it calls the bot
    # ready (its default); the local sandbox, whose guild arrives at once, needs less.
    discord_guild_ready_timeout: float = Field(default=2.0, ge=0, le=30)
    # Refuse to IDENTIFY when fewer of the token's daily session starts are left: the last
    # ones are kept for a human to bring the bot back after fixing whatever burned them.
    session_start_reserve: int = Field(default=100, ge=0, le=1000)
    # The privileged Message Content intent (Developer Portal > Bot). Off: DMs and mentions
    # reach chat (Discord still sends their text); on: replies to the bot reach it too.
    message_content_intent: bool = False

    _blank = field_validator("dev_guild_id", mode="before")(_blank_is_none)


class FleetSettings(Section):
    """Who this process is in the fleet, and the shared state (Redis) it coordinates on."""

    instance_id: str = SINGLE_MODE
    instance_1_channel_patterns: str = ",".join(DEFAULT_PATTERNS[1])
    instance_2_channel_patterns: str = ",".join(DEFAULT_PATTERNS[2])
    instance_3_channel_patterns: str = ",".join(DEFAULT_PATTERNS[3])
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "mib:"
    heartbeat_interval: float = Field(default=2.0, ge=0.2, le=30)
    # The last of four ranks acts 3 x CLAIM_STEP after the event was created; it must
    # still be able to answer within Discord's 3 s, with gateway lag and a lapsed lease
    # to wait out (the gate stops acting at 2.4 s): 3 x 0.6 = 1.8 s leaves that room.
    claim_step: float = Field(default=0.5, ge=0.05, le=0.6)
    # After SIGTERM: seconds to let in-flight work finish before closing. Docker's
    # stop_grace_period (30 s in docker-compose.multi.yml) must stay above the maximum.
    shutdown_grace: float = Field(default=8.0, ge=0, le=25)

    @field_validator("instance_id", mode="before")
    @classmethod
    def _instance_id(cls, value: object) -> str:
        text = str(value).strip().lower() if value is not None else ""
        if text in ("", SINGLE_MODE):
            return SINGLE_MODE
        if text not in {str(i) for i in INSTANCE_IDS}:
            raise ValueError("must be 1, 2, 3, 4 or 'all' (unset also means 'all')")
        return text

    @field_validator(
        "instance_1_channel_patterns", "instance_2_channel_patterns", "instance_3_channel_patterns"
    )
    @classmethod
    def _patterns(cls, value: str) -> str:
        parse_patterns(value)
        return value

    @field_validator("redis_key_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("must be non-empty and contain no spaces (e.g. 'mib:')")
        return value

    @property
    def is_single(self) -> bool:
        return self.instance_id == SINGLE_MODE

    @property
    def instance_number(self) -> int | None:
        return None if self.is_single else int(self.instance_id)

    @property
    def role(self) -> str:
        return SINGLE_MODE if self.is_single else INSTANCE_ROLES[int(self.instance_id)]

    def channel_patterns(self, instance: int) -> tuple[str, ...]:
        """The channels `instance` specialises in; the fallback has none of its own."""
        if instance == FALLBACK_INSTANCE:
            return ()
        return parse_patterns(getattr(self, f"instance_{instance}_channel_patterns"))


class ProviderSettings(Section):
    """Provider keys (per instance, with an unsuffixed fallback) and endpoints."""

    openai_api_key: SecretStr | None = None
    openai_api_key_1: SecretStr | None = None
    openai_api_key_2: SecretStr | None = None
    openai_api_key_3: SecretStr | None = None
    openai_api_key_4: SecretStr | None = None
    minimax_api_key: SecretStr | None = None
    minimax_api_key_1: SecretStr | None = None
    minimax_api_key_2: SecretStr | None = None
    minimax_api_key_3: SecretStr | None = None
    minimax_api_key_4: SecretStr | None = None
    stability_api_key: SecretStr | None = None
    stability_api_key_1: SecretStr | None = None
    stability_api_key_2: SecretStr | None = None
    stability_api_key_3: SecretStr | None = None
    stability_api_key_4: SecretStr | None = None

    openai_base_url: str | None = None
    minimax_base_url: str | None = None
    stability_base_url: str | None = None

    def api_key(self, provider: Provider, instance: int | None) -> SecretStr | None:
        """The key `instance` (None: single mode) uses for `provider`, or None if unset."""
        base = PROVIDER_KEY_VARS[provider].lower()
        candidates = [f"{base}_{instance}", base] if instance is not None else [base]
        # Single mode also accepts the fallback instance's keys: one process stands in for all.
        if instance is None:
            candidates.append(f"{base}_{FALLBACK_INSTANCE}")
        for name in candidates:
            secret: SecretStr | None = getattr(self, name)
            if secret is not None and not is_placeholder(secret.get_secret_value()):
                return secret
        return None

    def areas(self, instance: int) -> frozenset[str]:
        """The areas `instance` holds a usable key for (what it can cover for others)."""
        return frozenset(
            area
            for area, providers in AREA_PROVIDERS.items()
            if any(self.api_key(p, instance) is not None for p in providers)
        )


class LoggingSettings(Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_dir: str | None = None  # also write rotating JSON logs here (containers: /app/logs)
    # discord.py's gateway/http/webhook DEBUG lines carry raw payloads (message text,
    # interaction tokens); they stay at INFO unless this asks for them.
    log_discord_payloads: bool = False
    # Prompts and questions are logged by their length only, unless this asks for them.
    log_prompts: bool = False

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    _blank = field_validator("log_dir", mode="before")(_blank_is_none)


DEFAULT_CHAT_SYSTEM_PROMPT = (
    "당신은 한국어 디스코드 커뮤니티의 친절하고 정확한 AI 도우미입니다. 질문한 사람의 말투에 맞춰 "
    "자연스러운 한국어로 답하고, 모르는 것은 모른다고 말하세요. 답은 디스코드 마크다운으로 쓰고, "
    "코드는 언어 이름을 붙인 코드 블록에 넣으세요."
)


class ChatSettings(Section):
    """/채팅 and chat by mention: the model, the stream's cadence, conversation memory."""

    # A current, inexpensive model with no announced shutdown date (the SDK's model list
    # marks gpt-5, gpt-5-mini and gpt-5-nano for shutdown on 2026-12-11).
    chat_model: str = "gpt-5.4-mini"
    # "chat": Chat Completions, which every OpenAI-compatible server speaks;
    # "responses": OpenAI's Responses API.
    chat_api: Literal["chat", "responses"] = "chat"
    chat_temperature: float = Field(default=0.7, ge=0, le=2)
    chat_max_output_tokens: int = Field(default=1500, ge=16, le=32000)
    chat_system_prompt: str = DEFAULT_CHAT_SYSTEM_PROMPT
    chat_timeout: float = Field(default=60.0, gt=0, le=600)  # seconds per provider request
    chat_max_retries: int = Field(default=2, ge=0, le=5)  # before the first token only
    # Discord tolerates about one edit per second per message from a well-behaved bot.
    chat_edit_interval: float = Field(default=1.0, ge=0.05, le=10)
    chat_prompt_max_chars: int = Field(default=4000, ge=10, le=6000)
    # Conversation memory: oldest turns dropped beyond this many characters; forgotten
    # this many hours after the last message.
    chat_memory_chars: int = Field(default=12000, ge=0, le=200_000)
    chat_memory_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    chat_image_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=25 * 1024 * 1024)
    chat_max_images: int = Field(default=4, ge=0, le=10)

    @field_validator("chat_model", "chat_system_prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


IMAGE_PROVIDERS: tuple[Provider, ...] = ("minimax", "stability")
MINIMAX_IMAGE_MODELS = ("image-01", "image-01-live")
STABILITY_IMAGE_MODELS = (
    "core",
    "ultra",
    "sd3.5-large",
    "sd3.5-large-turbo",
    "sd3.5-medium",
    "sd3.5-flash",
)


class ImageSettings(Section):
    """/이미지: which provider is tried first, default models, timeouts and failover pauses."""

    # `자동` tries these in order; a provider failing (down, rate limited, out of credit)
    # hands the request to the next one.
    image_provider_order: str = "minimax,stability"
    image_minimax_model: Literal["image-01", "image-01-live"] = "image-01"
    image_stability_model: Literal[
        "core", "ultra", "sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"
    ] = "core"
    image_timeout: float = Field(default=90.0, gt=0, le=600)  # seconds per provider request
    # Retries of one provider (429, 5xx, timeouts) before `자동` moves on to the next.
    image_max_retries: int = Field(default=1, ge=0, le=5)
    image_prompt_optimizer: bool = False  # MiniMax rewrites the prompt before drawing
    # After a rate limit or an outage a provider is skipped this many seconds; after a
    # spent balance, an exhausted quota or a rejected key (an operator must act), longer.
    image_rate_limit_cooldown: float = Field(default=60.0, ge=0, le=3600)
    image_account_cooldown: float = Field(default=600.0, ge=0, le=86400)
    # How often the "drawing…" message shows the time waited so far.
    image_progress_interval: float = Field(default=5.0, ge=0.5, le=60)
    # Images one instance draws at once; more wait their turn, round-robin per user, and
    # see their place in line.
    image_max_running: int = Field(default=8, ge=1, le=1000)
    # Longest prompt /이미지 takes (MiniMax allows 1500; shorter keeps requests cheap).
    image_prompt_max_chars: int = Field(default=1500, ge=10, le=1500)

    @field_validator("image_provider_order")
    @classmethod
    def _order(cls, value: str) -> str:
        names = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = [n for n in names if n not in IMAGE_PROVIDERS]
        if not names or unknown or len(set(names)) != len(names):
            raise ValueError(
                "must list image providers once each, comma-separated, from: "
                + ", ".join(IMAGE_PROVIDERS)
            )
        return ",".join(names)

    @property
    def provider_order(self) -> tuple[Provider, ...]:
        return tuple(n for n in self.image_provider_order.split(","))  # type: ignore[misc]


class VideoSettings(Section):
    """/비디오: defaults, how often the provider is polled, how long a job may take."""

    video_model: Literal["MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02"] = "MiniMax-Hailuo-2.3"
    video_duration: Literal[6, 10] = 6
    video_resolution: Literal["512P", "768P", "1080P"] = "768P"
    video_timeout: float = Field(default=30.0, gt=0, le=600)  # seconds per provider request
    video_max_retries: int = Field(default=2, ge=0, le=5)  # of polls and downloads
    video_poll_interval: float = Field(default=10.0, ge=0.05, le=300)
    video_deadline: float = Field(default=1200.0, ge=5, le=6 * 3600)  # from the request
    # Jobs one instance runs at once; more wait in its queue (never refused as busy).
    video_max_running: int = Field(default=10, ge=1, le=10_000)
    video_progress_interval: float = Field(default=15.0, ge=0.1, le=300)
    # Longest prompt /비디오 takes (MiniMax allows 2000).
    video_prompt_max_chars: int = Field(default=2000, ge=10, le=2000)


class HealthSettings(Section):
    health_file: str | None = None
    health_interval: float = Field(default=5.0, gt=0, le=60)
    # GET /healthz and /metrics; 0 turns the server off. Containers listen on 0.0.0.0 so
    # Prometheus can scrape them (compose sets it); elsewhere only this machine may ask.
    health_port: int = Field(default=8080, ge=0, le=65535)
    health_host: str = "127.0.0.1"

    _blank = field_validator("health_file", mode="before")(_blank_is_none)

    def path(self, instance_id: str) -> Path:
        if self.health_file:
            return Path(self.health_file)
        return Path(os.environ.get("TMPDIR", "/tmp")) / f"mib-health-{instance_id}.json"


def _comma_list(value: object) -> object:
    """`a, b,,c` -> ("a", "b", "c"): lists are written comma-separated in .env files."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# Comma-separated lists in .env files: `123, 456` (ids) or `잡담, 공지-*` (names).
IdList = Annotated[tuple[int, ...], NoDecode]
TextList = Annotated[tuple[str, ...], NoDecode]
# Commands whose use the limits and access lists can name (as users type them).
LIMITED_COMMANDS: tuple[str, ...] = ("채팅", "이미지", "비디오", "핑", "상태", "인스턴스")


class LimitsSettings(Section):
    """What each day and each user may spend: provider quotas and per-user limits."""

    # Provider calls a day per API key, counted across the fleet (instances sharing a key
    # share its budget); 0 turns a limit off. The day starts at midnight in QUOTA_TIMEZONE.
    quota_openai_daily: int = Field(default=1060, ge=0)
    quota_minimax_daily: int = Field(default=1060, ge=0)
    quota_stability_daily: int = Field(default=1060, ge=0)
    quota_timezone: str = "Asia/Seoul"
    # Per user, fleet-wide; 0 turns a limit off.
    limit_chat_per_minute: int = Field(default=5, ge=0)
    limit_chat_per_day: int = Field(default=0, ge=0)
    limit_image_per_minute: int = Field(default=3, ge=0)
    limit_image_per_day: int = Field(default=0, ge=0)
    limit_video_per_minute: int = Field(default=0, ge=0)
    limit_video_per_day: int = Field(default=5, ge=0)
    limit_video_running: int = Field(default=1, ge=0)
    # Members with one of these roles skip the per-user limits (never the provider quotas).
    limit_exempt_roles: IdList = ()
    # Members with one of these roles (or Manage Server) see quota numbers and error
    # details in /상태.
    admin_roles: IdList = ()

    _lists = field_validator("limit_exempt_roles", "admin_roles", mode="before")(_comma_list)

    @field_validator("quota_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Asia/Seoul or UTC"
            ) from None
        return value.strip()

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.quota_timezone)

    def daily_quota(self, provider: Provider) -> int:
        return int(getattr(self, f"quota_{provider}_daily"))


# Every access list, allow and deny per dimension (AccessSettings's fields).
ACCESS_FIELDS: tuple[str, ...] = tuple(
    f"access_{effect}_{dimension}"
    for dimension in ("guilds", "channels", "roles", "users")
    for effect in ("allow", "deny")
)


class AccessSettings(Section):
    """Who may use which command. Each entry is a value for every command, or
    `command:value` for one command (`이미지:123`); a denial wins over an allowance, and
    a non-empty allow list admits only what it names."""

    access_allow_guilds: TextList = ()
    access_deny_guilds: TextList = ()
    # Channel ids or names (globs like `잡담-*`; a thread counts as its parent channel).
    access_allow_channels: TextList = ()
    access_deny_channels: TextList = ()
    access_allow_roles: TextList = ()
    access_deny_roles: TextList = ()
    access_allow_users: TextList = ()
    access_deny_users: TextList = ()

    _lists = field_validator(*ACCESS_FIELDS, mode="before")(_comma_list)

    @field_validator(*ACCESS_FIELDS)
    @classmethod
    def _entries(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        ids_only = not info.field_name.endswith("_channels")
        for entry in value:
            command, _, target = entry.rpartition(":")
            if command and command not in LIMITED_COMMANDS:
                raise ValueError(
                    f"{entry!r} names an unknown command {command!r}; use one of "
                    + ", ".join(LIMITED_COMMANDS)
                )
            if not target or (ids_only and not target.isdigit()):
                raise ValueError(f"{entry!r} is not an id (digits, as Discord shows them)")
        return value


class ModerationSettings(Section):
    """Checks a prompt passes before a paid image or video call."""

    # Words refused in any prompt (case-insensitive, comma-separated).
    banned_words: TextList = ()
    # Ask OpenAI's free moderation endpoint first (uses this instance's OpenAI key).
    moderation_enabled: bool = False
    moderation_model: str = "omni-moderation-latest"
    moderation_timeout: float = Field(default=10.0, gt=0, le=120)

    _lists = field_validator("banned_words", mode="before")(_comma_list)


@dataclass(frozen=True)
class Settings:
    """Every setting the bot reads, one section per concern."""

    discord: DiscordSettings
    fleet: FleetSettings
    providers: ProviderSettings
    logging: LoggingSettings
    health: HealthSettings
    chat: ChatSettings
    image: ImageSettings
    video: VideoSettings
    limits: LimitsSettings
    access: AccessSettings
    moderation: ModerationSettings

    SECTIONS: ClassVar[dict[str, type[Section]]] = {
        "discord": DiscordSettings,
        "fleet": FleetSettings,
        "providers": ProviderSettings,
        "logging": LoggingSettings,
        "health": HealthSettings,
        "chat": ChatSettings,
        "image": ImageSettings,
        "video": VideoSettings,
        "limits": LimitsSettings,
        "access": AccessSettings,
        "moderation": ModerationSettings,
    }

    @classmethod
    def fields(cls) -> dict[str, FieldInfo]:
        """Every setting by (lower-case) variable name, across all sections."""
        return {name: info for s in cls.SECTIONS.values() for name, info in s.model_fields.items()}

    @classmethod
    def build(cls, env_file: Path | None = None, **values: Any) -> Settings:
        """Read every section from the environment and `env_file`; `values` override.

        Raises pydantic's ValidationError of the first section that fails, after reading
        them all, so `load_settings` can report every problem at once.
        """
        unknown = set(values) - set(cls.fields())
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        built: dict[str, Section] = {}
        errors: list[ValidationError] = []
        for attr, section in cls.SECTIONS.items():
            own = {k: v for k, v in values.items() if k in section.model_fields}
            try:
                built[attr] = section(_env_file=env_file, **own)  # type: ignore[call-arg]
            except ValidationError as exc:
                errors.append(exc)
        if errors:
            raise SettingsInvalid(errors)
        return cls(**built)  # type: ignore[arg-type]

    # ---- who this process is (used everywhere, so kept one step away) ----

    @property
    def instance_id(self) -> str:
        return self.fleet.instance_id

    @property
    def is_single(self) -> bool:
        return self.fleet.is_single

    @property
    def instance_number(self) -> int | None:
        return self.fleet.instance_number

    @property
    def role(self) -> str:
        return self.fleet.role

    def api_key(self, provider: Provider) -> SecretStr | None:
        """This instance's key for `provider`."""
        return self.providers.api_key(provider, self.instance_number)

    def health_path(self) -> Path:
        return self.health.path(self.instance_id)

    def secret_values(self) -> list[str]:
        """Every configured secret (the bot token, provider keys, the Redis password in
        REDIS_URL), for log redaction."""
        values = []
        for section in (self.discord, self.providers):
            for name in type(section).model_fields:
                value = getattr(section, name)
                if isinstance(value, SecretStr) and not is_placeholder(value.get_secret_value()):
                    values.append(value.get_secret_value())
        redis_password = urlsplit(self.fleet.redis_url).password
        if redis_password:
            values += sorted({redis_password, unquote(redis_password)})
        return values


class SettingsInvalid(Exception):
    """Validation failed in one or more sections."""

    def __init__(self, errors: list[ValidationError]) -> None:
        super().__init__(f"{sum(e.error_count() for e in errors)} invalid setting(s)")
        self.errors = errors

    def problems(self) -> list[str]:
        return [
            _describe_error(err) for exc in self.errors for err in exc.errors(include_input=False)
        ]


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    env_file: Path | None


def resolve_env_file(env_file: str | os.PathLike[str] | None) -> Path | None:
    """Explicit path (argument or ENV_FILE) must exist; the default is optional."""
    explicit = env_file if env_file is not None else os.environ.get("ENV_FILE") or None
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                [f"env file {str(path)!r} (from --env-file or ENV_FILE) does not exist"],
                instance=os.environ.get("INSTANCE_ID") or SINGLE_MODE,
            )
        return path
    default = Path(DEFAULT_ENV_FILE)
    return default if default.is_file() else None


def load_settings(
    env_file: str | os.PathLike[str] | None = None, *, instance: str | None = None
) -> LoadedSettings:
    """Read settings once; `instance` overrides INSTANCE_ID (used by check-config)."""
    path = resolve_env_file(env_file)
    overrides: dict[str, object] = {}
    if instance is not None:
        overrides["instance_id"] = instance
    try:
        settings = Settings.build(path, **overrides)
    except SettingsInvalid as exc:
        raise ConfigError(
            exc.problems(),
            instance=str(instance or os.environ.get("INSTANCE_ID") or SINGLE_MODE),
        ) from None
    return LoadedSettings(settings, path)


def _describe_error(err: Any) -> str:
    """`ADMIN_ROLES, item 2: Input should be a valid integer`: the variable, and for a
    list the 1-based position of the bad entry (never its value, which may be a secret)."""
    name, *rest = err["loc"]
    where = str(name).upper()
    where += "".join(f", item {part + 1}" if isinstance(part, int) else f".{part}" for part in rest)
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def validate_settings(settings: Settings) -> list[str]:
    """Problems that stop this instance from doing its job (empty list = fine)."""
    problems: list[str] = []
    token = settings.discord.discord_token
    if token is None or is_placeholder(token.get_secret_value()):
        problems.append(
            "DISCORD_TOKEN is missing or still the example placeholder: paste the bot token "
            "from the Discord developer portal (Bot > Reset Token)"
        )
    needed = ROLE_REQUIRED_PROVIDERS["admin" if settings.is_single else settings.role]
    for provider in needed:
        if settings.api_key(provider) is None:
            name = PROVIDER_KEY_VARS[provider]
            where = (
                f"{name} (or {name}_{FALLBACK_INSTANCE})"
                if settings.is_single
                else f"{name}_{settings.instance_id} (or {name})"
            )
            problems.append(
                f"{where} is missing or a placeholder: the {settings.role} role needs "
                f"a {PROVIDER_NAMES[provider]} API key"
            )
    return problems


def load_validated(
    env_file: str | os.PathLike[str] | None = None, *, instance: str | None = None
) -> LoadedSettings:
    loaded = load_settings(env_file, instance=instance)
    problems = validate_settings(loaded.settings)
    if problems:
        raise ConfigError(problems, instance=loaded.settings.instance_id)
    return loaded
