"""The one answering path: every event the fleet may answer goes through here.

Slash commands, autocomplete, component presses, modal submits and routed chat messages
(and, next, job deliveries) are each turned into an `Event` and then: routed and claimed
(`AnswerGate`), counted (started / handled / failed / dropped), run, and on failure
mapped to a Korean message for the user and an English log line for the operator.
discord.py hands those kinds to different places (the command tree, the view store,
listeners), so each entry point is a thin adapter onto `AnswerPath`; see
ARCHITECTURE.md, "One answering path".
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import discord

from bot.access import AccessPolicy, Requester
from bot.channels import route_channel_name
from bot.gate import ACT_DEADLINE_S, AnswerGate, Verdict
from bot.logging_setup import bind_request, get_logger
from bot.metrics import Metrics
from bot.status import Counters
from bot.store.claims import LEASE_S
from bot.tasks import stop_task
from services.errors import UserFacingError

log = get_logger("bot.answering")

# Discord error codes meaning "someone else already answered / too late": not user-visible.
ALREADY_HANDLED_CODES = frozenset({40060, 10062})
# How often a held claim checks whether Discord has accepted the answer.
HOLD_POLL_S = 0.02
# Between two tries of a renewal or finalize the store did not answer.
STORE_RETRY_S = 0.05
# The winner checks the canary this long after the event was created.
CANARY_AFTER_S = 1.5
GENERIC_FAILURE = "명령을 처리하는 중 문제가 생겼어요. 잠시 후 다시 시도해 주세요."


class EventKind(StrEnum):
    COMMAND = "command"
    AUTOCOMPLETE = "autocomplete"
    COMPONENT = "component"
    MODAL = "modal"
    MESSAGE = "message"


# Kinds that are work for /상태's counters; autocomplete is keystrokes, not work.
COUNTED_KINDS = frozenset(
    {EventKind.COMMAND, EventKind.COMPONENT, EventKind.MODAL, EventKind.MESSAGE}
)


@dataclass(frozen=True)
class Event:
    """What the path needs to know of an event, whatever its kind."""

    kind: EventKind
    key: str  # the claim key: the interaction id, or `msg:<message id>`
    command: str  # the command it routes as (a button routes as its area's command)
    channel_name: str | None  # a thread's parent name; None in a DM
    created_at: float  # epoch seconds, from the snowflake: ranks wait from here
    guild_id: int | None = None
    user_id: int | None = None
    # What access lists look at: the channel's id (a thread's parent's; None in a DM) and
    # the member's role ids without @everyone (empty in a DM or for a non-member).
    channel_id: int | None = None
    role_ids: frozenset[int] = frozenset()

    def requester(self) -> Requester:
        return Requester(
            command=self.command,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            channel_name=self.channel_name,
            role_ids=self.role_ids,
            user_id=self.user_id if self.user_id is not None else 0,
        )

    def age_ms(self) -> int:
        return round((time.time() - self.created_at) * 1000)

    def log_fields(self) -> dict[str, object]:
        return {
            "event_kind": self.kind.value,
            "event_key": self.key,
            "command": self.command,
            "channel": self.channel_name,
            "guild_id": self.guild_id,
            "user_id": self.user_id,
        }

    def request_fields(self) -> dict[str, object]:
        """What every log line of this request carries (ARCHITECTURE.md, "Logs")."""
        if self.key.startswith("msg:"):
            source: dict[str, object] = {"message_id": self.key.removeprefix("msg:")}
        else:
            source = {"interaction_id": self.key}
        return {
            **source,
            "command": self.command,
            "guild_id": self.guild_id,
            "channel": self.channel_name,
            "user_id": self.user_id,
        }


INTERACTION_KINDS: dict[discord.InteractionType, EventKind] = {
    discord.InteractionType.application_command: EventKind.COMMAND,
    discord.InteractionType.autocomplete: EventKind.AUTOCOMPLETE,
    discord.InteractionType.component: EventKind.COMPONENT,
    discord.InteractionType.modal_submit: EventKind.MODAL,
}


def _access_channel_id(channel: object, guild_id: int | None) -> int | None:
    """The channel id access lists match: a thread counts as its parent; None in a DM."""
    if guild_id is None or channel is None:
        return None
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return getattr(channel, "id", None)


def role_ids_of(user: object, guild_id: int | None) -> frozenset[int]:
    """The member's role ids as Discord sent them with the event, @everyone left out.

    Read from the member payload rather than `Member.roles`, which drops roles the cache
    does not know yet: a role deny must not be missed for that.
    """
    if guild_id is None or not isinstance(user, discord.Member):
        return frozenset()
    return frozenset(user._roles).difference((guild_id,))


def interaction_event(
    interaction: discord.Interaction, client: discord.Client, *, command: str | None = None
) -> Event:
    """The event of an interaction; components and modals pass their area's `command`."""
    name = command if command is not None else str((interaction.data or {}).get("name", ""))
    guild_id = interaction.guild_id
    return Event(
        kind=INTERACTION_KINDS.get(interaction.type, EventKind.COMMAND),
        key=str(interaction.id),
        command=name,
        channel_name=route_channel_name(interaction.channel, client),
        created_at=discord.utils.snowflake_time(interaction.id).timestamp(),
        guild_id=guild_id,
        user_id=interaction.user.id if interaction.user else None,
        channel_id=_access_channel_id(interaction.channel, guild_id),
        role_ids=role_ids_of(interaction.user, guild_id),
    )


def message_event(message: discord.Message, client: discord.Client, command: str) -> Event:
    guild_id = message.guild.id if message.guild else None
    return Event(
        kind=EventKind.MESSAGE,
        key=f"msg:{message.id}",
        command=command,
        channel_name=route_channel_name(message.channel, client),
        created_at=message.created_at.timestamp(),
        guild_id=guild_id,
        user_id=message.author.id,
        channel_id=_access_channel_id(message.channel, guild_id),
        role_ids=role_ids_of(message.author, guild_id),
    )


class RefusalShown(Exception):
    """The work began, then turned out not to be allowed (a prompt flagged by moderation
    after the deferral), and the user has been told why: counted as refused, not failed,
    and nothing more is sent."""


class AlreadyShown(Exception):
    """A failure the answer itself already explains to the user (a streamed answer cut
    short keeps its text and a note): counted and logged, nothing more is sent."""

    def __init__(self, cause: UserFacingError) -> None:
        super().__init__(cause.log_message)
        self.cause = cause


def user_message_for(exc: BaseException) -> str | None:
    """The Korean text the user sees for a failure, or None when nothing must be shown."""
    if isinstance(exc, discord.HTTPException) and exc.code in ALREADY_HANDLED_CODES:
        return None  # another instance answered first, or the window closed
    if isinstance(exc, UserFacingError):
        return exc.user_message
    return GENERIC_FAILURE


ErrorReply = Callable[[str], Awaitable[None]]


Acknowledged = Callable[[], bool]
# Asks Discord whether the event already has an answer (an interaction's original response).
AnsweredElsewhere = Callable[[], Awaitable[bool]]


class AnswerPath:
    def __init__(
        self,
        gate: AnswerGate,
        counters: Counters,
        metrics: Metrics | None = None,
        access: AccessPolicy | None = None,
    ) -> None:
        self.gate = gate
        self.counters = counters
        self.metrics = metrics or Metrics("")
        # The access lists; None (or no entry configured) lets everyone through.
        self.access = access if access is not None and access.active else None
        # Events whose first visible output is already measured (see `first_output`).
        self._shown: set[str] = set()
        # Claims this instance holds as a lease, with "the work is over" for each.
        self._holding: dict[str, asyncio.Event] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Stopping (SIGTERM): admit nothing new, so peers take it; in-flight work finishes.
        self.draining = False

    async def admit(
        self,
        event: Event,
        refuse: ErrorReply,
        acknowledged: Acknowledged | None = None,
        answered_elsewhere: AnsweredElsewhere | None = None,
    ) -> bool:
        """Route, admit and claim: True when this instance does the work of `event`.

        A refusal is answered here (with `refuse`) and returns False. `acknowledged`
        tells when Discord accepted the answer, which makes the claim final; without it
        the claim becomes final when the work is over. `answered_elsewhere` is asked
        only when the claim was retaken from a holder that stopped confirming it: that
        holder may have answered just before it died, between Discord accepting its
        answer and making its claim final.

        The access lists are asked only once this instance has won the event, so exactly
        one instance answers an access refusal, the way it would answer the work.
        """
        bind_request(**event.request_fields())
        if self.draining:
            log.info("event_left_to_peers", reason="draining", **event.log_fields())
            return False
        self._note_seen(event)
        self.metrics.event_received(event.command, event.kind.value)
        result = await self.gate.should_answer(
            event.key, event.channel_name, event.command, event.created_at
        )
        if result.verdict is Verdict.SILENT:
            if result.declined:
                self.metrics.event_outcome(event.command, event.kind.value, "declined")
            log.debug("event_not_ours", **event.log_fields())
            return False
        if result.claimed:
            self._hold(event, acknowledged)
        elif acknowledged is not None:
            self._spawn(self._watch_ack(event, acknowledged), "ack")
        if result.retaken and answered_elsewhere is not None and await answered_elsewhere():
            log.info("takeover_found_answer", rank=result.rank, **event.log_fields())
            self._work_over(event)  # final for us now: no later rank asks again
            return False
        if result.verdict is Verdict.REFUSE:
            assert result.message is not None
            await self._refuse(event, refuse, result.message, "admission")
            return False
        if self.access is not None:
            denied = self.access.refusal(event.requester())
            if denied is not None:
                await self._refuse(event, refuse, denied, "access")
                return False
        if event.kind in COUNTED_KINDS:
            self.counters.started(event.key)
        return True

    async def _refuse(self, event: Event, refuse: ErrorReply, message: str, rule: str) -> None:
        """Answer an event this instance won with a reason instead of the work."""
        log.info("event_refused", reason=message, rule=rule, **event.log_fields())
        self.metrics.event_outcome(event.command, event.kind.value, "refused")
        if event.kind in COUNTED_KINDS:
            self.counters.record_refused()
        await refuse(message)
        self._work_over(event)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` in the background; `close` stops whatever is still running."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _hold(self, event: Event, acknowledged: Acknowledged | None) -> None:
        over = self._holding.setdefault(event.key, asyncio.Event())
        self._spawn(self._hold_claim(event, over, acknowledged), "claim")

    async def _hold_claim(
        self, event: Event, over: asyncio.Event, acknowledged: Acknowledged | None
    ) -> None:
        """Keep our lease alive until the answer is in, then make the claim final.

        Peers take a lapsed lease over only while the event is young enough to answer;
        past that, holding it longer protects nothing.
        """
        claims = self.gate.store.claims
        renew_every = LEASE_S / 3
        next_renew = time.monotonic() + renew_every
        give_up_at = event.created_at + ACT_DEADLINE_S + LEASE_S
        try:
            while (
                not (over.is_set() or (acknowledged is not None and acknowledged()))
                and time.time() < give_up_at
            ):
                if time.monotonic() >= next_renew:
                    renewed = await claims.renew(event.key)
                    # Unreachable: try again soon, so the renewal lands within the grace
                    # peers give a holder once the store is back (RECONNECT_GRACE_S).
                    wait = renew_every if renewed is not None else STORE_RETRY_S
                    next_renew = time.monotonic() + wait
                await asyncio.sleep(HOLD_POLL_S)
            if acknowledged is not None and acknowledged():
                self._observe_ack(event)
            # A finalize lost to an outage would leave a lease that lapses while peers may
            # still take the event over and answer it a second time: retry while they may.
            while await claims.finalize(event.key) is None and time.time() < give_up_at:  # noqa: ASYNC110
                await asyncio.sleep(STORE_RETRY_S)
        finally:
            self._holding.pop(event.key, None)
        await self._check_canary(event)

    async def _watch_ack(self, event: Event, acknowledged: Acknowledged) -> None:
        """Without a claim to hold (static routing), still time the acknowledgement."""
        give_up_at = event.created_at + ACT_DEADLINE_S + LEASE_S
        while not acknowledged() and time.time() < give_up_at:  # noqa: ASYNC110
            await asyncio.sleep(HOLD_POLL_S)
        if acknowledged():
            self._observe_ack(event)

    def _observe_ack(self, event: Event) -> None:
        self.metrics.observe(self.metrics.ack, event.command, time.time() - event.created_at)

    def first_output(
        self, key: str, command: str, created_at: float, at: float | None = None
    ) -> None:
        """The event's first visible output (a streamed answer's first text, an image's
        first progress line) at wall time `at` (now): measured once per event. Events
        that never call this count their first output at the end of the work."""
        if key in self._shown:
            return
        self._shown.add(key)
        shown = time.time() if at is None else at
        self.metrics.observe(self.metrics.first_output, command, shown - created_at)

    def _end_timings(self, event: Event) -> None:
        self.first_output(event.key, event.command, event.created_at)
        self._shown.discard(event.key)
        self.metrics.observe(self.metrics.completion, event.command, event.age_ms() / 1000)

    def _note_seen(self, event: Event) -> None:
        self._spawn(self.gate.store.claims.note_seen(event.key), "seen")

    async def _check_canary(self, event: Event) -> None:
        """Our one platform assumption: every connected instance receives every event.
        The winner compares how many did with how many are connected, once all had time."""
        await asyncio.sleep(max(0.0, event.created_at + CANARY_AFTER_S - time.time()))
        seen = await self.gate.store.claims.seen_by(event.key)
        connected = len(self.gate.store.liveness.alive_view().alive)
        if seen is not None and seen < connected:
            log.warning(
                "event_not_seen_by_every_instance",
                seen_by=seen,
                connected=connected,
                **event.log_fields(),
            )

    @property
    def settling(self) -> bool:
        """Claims still held or being made final (a clean stop waits for them; the
        canary's later look does not hold it up)."""
        return bool(self._holding)

    def _work_over(self, event: Event) -> None:
        over = self._holding.get(event.key)
        if over is not None:
            over.set()

    async def close(self) -> None:
        for task in list(self._background):
            await stop_task(task)

    def finished(self, event: Event) -> None:
        self._work_over(event)
        if event.kind in COUNTED_KINDS:
            self.counters.record_handled(event.key)
            # One line per answered request, whichever task reports it (slash commands
            # finish in discord.py's completion event, outside the request's context).
            log.info("event_answered", **event.request_fields(), duration_ms=event.age_ms())
        self.metrics.event_outcome(event.command, event.kind.value, "answered")
        self._end_timings(event)

    def failed(self, event: Event, exc: BaseException) -> str | None:
        """Count and log a failure; return the Korean message to show, if any."""
        self._work_over(event)
        if isinstance(exc, RefusalShown):
            self._end_timings(event)
            self.metrics.event_outcome(event.command, event.kind.value, "refused")
            if event.kind in COUNTED_KINDS:
                self.counters.dropped(event.key)  # no longer in flight
                self.counters.record_refused()
            log.info("event_refused", reason=str(exc), rule="screening", **event.log_fields())
            return None
        if isinstance(exc, AlreadyShown):
            self._end_timings(event)
            self.metrics.event_outcome(event.command, event.kind.value, "failed")
            if event.kind in COUNTED_KINDS:
                self.counters.record_failed(event.key)
            log.warning("event_failed_shown", reason=exc.cause.log_message, **event.log_fields())
            return None
        message = user_message_for(exc)
        if message is None:
            # The claim made this instance the only one to answer: Discord refusing the
            # answer means another instance answered too, or it came too late.
            log.warning(
                "answer_rejected_by_discord",
                code=getattr(exc, "code", None),
                age_ms=event.age_ms(),
                **event.log_fields(),
            )
            self.counters.dropped(event.key)
            self._shown.discard(event.key)
            self.metrics.event_outcome(event.command, event.kind.value, "dropped")
            return None
        self._end_timings(event)
        self.metrics.event_outcome(event.command, event.kind.value, "failed")
        if event.kind in COUNTED_KINDS:
            self.counters.record_failed(event.key)
        if isinstance(exc, UserFacingError):
            log.info("event_rejected", reason=exc.log_message, **event.log_fields())
        else:
            log.error("event_failed", exc_info=exc, **event.log_fields())
        return message

    async def handle(
        self,
        event: Event,
        work: Callable[[], Awaitable[None]],
        reply_error: ErrorReply,
        acknowledged: Acknowledged | None = None,
        answered_elsewhere: AnsweredElsewhere | None = None,
    ) -> bool:
        """Admit, run `work`, count it and show a failure; True if this instance did the work."""
        if not await self.admit(event, reply_error, acknowledged, answered_elsewhere):
            return False
        try:
            await work()
        except Exception as exc:
            message = self.failed(event, exc)
            if message is not None:
                await reply_error(message)
            return True
        self.finished(event)
        return True


AutocompleteCallback = TypeVar("AutocompleteCallback", bound=Callable[..., Awaitable[Any]])


def guarded_autocomplete(func: AutocompleteCallback) -> AutocompleteCallback:
    """Wrap an autocomplete callback so a failure takes the answering path.

    discord.py swallows autocomplete exceptions with a log line of its own and leaves the
    user with "loading options failed"; guarded, the failure is counted and logged like
    any other and the user gets an empty list at once. Every autocomplete callback in
    `commands/` uses this (a test checks).
    """

    @functools.wraps(func)
    async def guarded(*args: Any) -> Any:
        interaction = next(a for a in args if isinstance(a, discord.Interaction))
        try:
            return await func(*args)
        except Exception as exc:
            answers: AnswerPath = interaction.client.answers  # type: ignore[attr-defined]
            answers.failed(interaction_event(interaction, interaction.client), exc)
            return []

    guarded.__mib_guarded__ = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


# ---- showing an error where the user will see it ----


async def reply_error(interaction: discord.Interaction, message: str) -> None:
    """Show `message` for a failed interaction, whatever was already sent.

    Before any response: a private message. After a deferral ("thinking…"): the error
    replaces the placeholder, because Discord ignores the ephemeral flag on the first
    followup after a deferral and a placeholder left alone spins forever; a command
    that wants its errors private defers ephemerally. After a real response: a private
    followup. Autocomplete can only show choices: none.
    """
    response = interaction.response
    try:
        if interaction.type is discord.InteractionType.autocomplete:
            if not response.is_done():
                await response.autocomplete([])
        elif not response.is_done():
            await response.send_message(message, ephemeral=True)
        elif response.type is discord.InteractionResponseType.deferred_channel_message:
            await interaction.edit_original_response(
                content=f"⚠️ {message}", embeds=[], attachments=[], view=None
            )
        else:
            await interaction.followup.send(message, ephemeral=True)
    except discord.HTTPException as exc:
        if exc.code in ALREADY_HANDLED_CODES:
            log.debug("reply_already_handled", code=exc.code, interaction_id=interaction.id)
        else:
            log.warning("error_reply_failed", status=exc.status, code=exc.code)


async def has_original_response(interaction: discord.Interaction) -> bool:
    """Whether Discord holds a first response to `interaction` (GET @original: 10015
    Unknown Webhook before any). When Discord cannot say, False: answer, and its 40060
    refusal of a second callback stays the last guard."""
    if interaction.type is discord.InteractionType.autocomplete:
        return False  # answered by its callback alone: there is no @original
    try:
        await interaction.original_response()
    except discord.HTTPException:
        return False
    return True


def first_reply_nonce(message: discord.Message) -> str:
    """The nonce of the first reply to a chat trigger. Sent with `enforce_nonce` (discord.py
    adds it whenever a nonce is given), Discord drops a second copy of that reply from an
    instance cut off from Redis: for messages, Discord is the final arbiter too."""
    return str(message.id)


def error_reply_nonce(message: discord.Message) -> str:
    return f"e{message.id}"


async def reply_error_to_message(message: discord.Message, text: str) -> None:
    """A routed chat message that failed gets a reply saying so (never a traceback)."""
    try:
        await message.reply(text, mention_author=False, nonce=error_reply_nonce(message))
    except discord.HTTPException as exc:
        log.warning("error_reply_failed", status=exc.status, code=exc.code)
