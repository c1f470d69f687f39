"""Knobs of the fake Discord and the platform limits it enforces."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass
class Rules:
    """Behaviour switches; mutable at runtime (tests flip `rate_limit_mode` mid-run)."""

    ack_deadline_s: float = 3.0
    token_life_s: float = 900.0
    rate_limit_mode: bool = False
    attachment_size_limit: int = 10 * MiB
    heartbeat_interval_ms: int = 41250
    max_concurrency: int = 1
    # Discord: 200 application command creates per day per scope (only new names count).
    command_creates_per_day: int = 200
    # Seconds a 429 in rate_limit_mode tells the client to wait.
    retry_after_s: float = 0.5
    # GET /gateway/bot's session_start_limit.remaining; None: 1000 minus the IDENTIFYs seen.
    session_starts_remaining: int | None = None
    # Close every session right after its IDENTIFY with this code (4004 authentication
    # failed, 4013 invalid intents, 4014 disallowed intents); None: send READY.
    identify_close_code: int | None = None


# Message limits Discord enforces on bots (the OpenAPI spec allows 4000 for content).
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
# Components (classic messages hold up to 5 action rows; components v2 lift that).
COMPONENT_ACTION_ROW = 1
COMPONENT_BUTTON = 2
FLAG_COMPONENTS_V2 = 1 << 15
ACTION_ROWS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
# Autocomplete results.
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
DEFAULT_UPLOAD_LIMIT = 10 * MiB
REQUEST_MAX = 25 * MiB
