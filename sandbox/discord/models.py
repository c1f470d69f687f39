"""Records the fake keeps and the results it hands to tests.

Times named `at` are `time.monotonic()` seconds; `wall` is `time.time()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileRecord:
    """One uploaded file of a multipart request."""

    field: str
    filename: str
    size: int
    content_type: str


@dataclass
class RequestRecord:
    """One REST request and how the fake answered it."""

    method: str
    path: str  # as requested, below /api/v10
    route: str | None  # the spec path template it matched, None for unknown routes
    query: dict[str, str]
    token: str | None
    instance: str | None  # the URL's label, else the session's (interaction token), else None
    at: float
    wall: float
    body: Any = None  # JSON body, or the payload_json part of a multipart body
    files: list[FileRecord] = field(default_factory=list)
    status: int = 0  # 0 while the request is in flight
    code: int | None = None  # Discord error code of an error answer
    message: str | None = None  # error message of an error answer
    errors: dict[str, Any] | None = None  # the 50035 `errors` tree
    # Callbacks and interaction webhooks carry no Authorization: token and instance are then
    # those of the session that received the interaction token used in the URL.
    via_interaction_token: bool = False
    label: str | None = None  # the URL's `/i/<label>` prefix, None for a plain URL


@dataclass(frozen=True)
class SpecViolation:
    """A request body the OpenAPI spec rejects."""

    method: str
    path: str
    route: str
    field: str  # dotted path of the failing field, e.g. "data.embeds.0.title"
    message: str
    body: Any
    token: str | None
    instance: str | None
    at: float


@dataclass(frozen=True)
class IdentifyRecord:
    token: str | None
    instance: str | None
    session_id: str
    at: float
    wall: float
    shard: tuple[int, int] | None
    intents: int | None


@dataclass
class SessionInfo:
    """A gateway connection. `ready` once READY and GUILD_CREATE were sent.

    `instance` is the `/i/<label>` of the URL it connected to, known from the start; a
    connection to the plain URL gets the fallback label of its token at IDENTIFY.
    """

    session_id: str
    token: str | None = None
    instance: str | None = None
    label: str | None = None  # the URL's `/i/<label>`, None for the plain URL
    intents: int = 0
    shard: tuple[int, int] | None = None
    ready: bool = False
    open: bool = True
    connected_at: float = 0.0
    identified_at: float | None = None
    close_code: int | None = None


@dataclass(frozen=True)
class CallbackAttempt:
    """One POST to an interaction's callback route."""

    token: str | None  # bot token of the session whose copy of the interaction token was used
    instance: str | None  # that session's label
    session_id: str | None  # the session whose copy of the interaction token was used
    status: int
    code: int | None
    at: float
    ms: float  # since the interaction was dispatched
    type: int | None  # callback type from the body


@dataclass
class InteractionResult:
    """What the user sees of an interaction, once it settled."""

    interaction_id: int
    content: str | None
    embeds: list[dict[str, Any]]
    attachments: list[dict[str, Any]]  # filename, size, content_type (+ id, url)
    components: list[dict[str, Any]]
    ephemeral: bool
    deferred: bool  # callback 5 ("thinking") or 6 (deferred update)
    answered_by: str | None  # instance label of the first accepted callback
    ack_ms: float | None
    callback_attempts: list[CallbackAttempt]
    messages: list[dict[str, Any]]  # original + followups, final state, deleted ones left out
    modal: dict[str, Any] | None = None  # the modal, if the answer was one
    delivered_to: list[str | None] = field(default_factory=list)  # instances of the sessions
    # 2 slash command, 3 component press, 4 autocomplete, 5 modal submit.
    interaction_type: int = 2
    callback_type: int | None = None  # of the accepted callback
    # Component presses (and modals opened from one): the message the component is on, in
    # its current state, and whether this interaction changed it (callback 7, or an
    # @original edit after 6). Answered with 6 or 7, content/embeds/components above are
    # this message's: what the user sees.
    component_message: dict[str, Any] | None = None
    message_updated: bool = False
    # Autocomplete: the choices offered ([{"name", "value"}, ...]); None until answered.
    choices: list[dict[str, Any]] | None = None


@dataclass
class MessageResult:
    """The bot messages that followed a user message in its channel."""

    message_id: int
    messages: list[dict[str, Any]]
    instances: list[str | None]  # instance label per message, same order
    content: str | None  # of the first message
    embeds: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    answered_by: str | None  # instance that posted the first message
    reply_ms: float | None  # from dispatch to the first message
    typed: bool  # a typing indicator was triggered in the channel after the message
