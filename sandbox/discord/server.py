"""FakeDiscord: the loopback Discord (gateway + REST) and the calls that drive it."""

from __future__ import annotations

import asyncio
import copy
import mimetypes
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from .errors import UnknownTarget
from .gateway import gateway_handler
from .handles import InteractionHandle, MessageHandle
from .interactions import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    COMPONENT_NAMES,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionState,
    Recipient,
    build_options,
    command_data,
    component_data,
    custom_ids,
    find_component,
    interaction_payload,
    modal_data,
    new_token,
)
from .labels import LABEL_PARAM, LABEL_ROUTE, labelled_url
from .messages import StoredMessage
from .models import IdentifyRecord, RequestRecord, SessionInfo, SpecViolation
from .rest import RestApp
from .routes import Routes
from .rules import REQUEST_MAX, MiB, Rules
from .state import DiscordState
from .world import Channel

DEFAULT_USER = "tester"


class FakeDiscord:
    """A Discord double on 127.0.0.1: one application, one bot user, one guild.

    Every `Authorization: Bot <token>` is accepted and authenticates as the same bot. Which
    instance sent what is told by the URL, not the token: every endpoint is also served
    below `/i/<label>` (`rest_url_for`, `gateway_url_for`), and the label lands on the
    session, the requests, the messages and the callbacks (`instance`). A client on the
    plain URLs is labelled by its token if it is `sandbox-instance-<label>`, else not at all
    (see labels.py).
    """

    def __init__(
        self,
        channels: Iterable[str] = ("general",),
        threads: dict[str, list[str]] | None = None,
        rules: Rules | None = None,
        *,
        guild_name: str = "샌드박스",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.rules = rules or Rules()
        self.state = DiscordState(self.rules, list(channels), threads, guild_name)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        routes = Routes(self.state)
        rest = RestApp(self.state, routes.upload_limit, routes.attribute)
        routes.register(rest)
        # Room above Discord's 25 MiB request cap so the fake itself answers 413 40005.
        app = web.Application(client_max_size=REQUEST_MAX + MiB)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get(LABEL_ROUTE + "/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        rest.mount(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        state = self.state
        state.base_url = f"http://{self._host}:{port}"
        state.rest_url = f"{state.base_url}/api/v10"
        state.gateway_url = f"ws://{self._host}:{port}/gateway"
        state.store.base_url = state.base_url

    async def stop(self) -> None:
        """Close every gateway session (1001, going away) and the server."""
        open_sessions = [s for s in self.state.sessions if s.info.open]
        await asyncio.gather(*(s.close(1001) for s in open_sessions), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        return await gateway_handler(self.state, request, request.match_info.get(LABEL_PARAM))

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        """Attachment URLs point here, like cdn.discordapp.com for real uploads."""
        blob = self.state.store.blobs.get(int(request.match_info["attachment_id"]))
        if blob is None:
            raise web.HTTPNotFound()
        kind = mimetypes.guess_type(request.match_info["filename"])[0]
        return web.Response(body=blob, content_type=kind or "application/octet-stream")

    # --- addresses and ids -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def rest_url(self) -> str:
        """http://127.0.0.1:PORT/api/v10 - for discord.http.Route.BASE."""
        return self.state.rest_url

    @property
    def gateway_url(self) -> str:
        """ws://127.0.0.1:PORT/gateway - for DiscordWebSocket.DEFAULT_GATEWAY."""
        return self.state.gateway_url

    def rest_url_for(self, label: str) -> str:
        """http://127.0.0.1:PORT/i/<label>/api/v10 - REST attributed to instance `label`."""
        return labelled_url(self.rest_url, label)

    def gateway_url_for(self, label: str) -> str:
        """ws://127.0.0.1:PORT/i/<label>/gateway - a session of instance `label`."""
        return labelled_url(self.gateway_url, label)

    @property
    def application_id(self) -> int:
        return self.state.world.app_id

    @property
    def bot_user_id(self) -> int:
        return self.state.world.bot.id

    @property
    def guild_id(self) -> int:
        return self.state.world.guild_id

    def channel_id(self, channel: str, thread: str | None = None) -> int:
        return self.state.world.resolve(channel, thread).id

    def user_id(self, name: str = DEFAULT_USER) -> int:
        return self.state.world.user(name).id

    # --- records ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    @property
    def errors(self) -> list[RequestRecord]:
        """Requests answered 4xx/5xx; `.code` is Discord's error code (None for plain 429s)."""
        return self.state.errors

    @property
    def spec_violations(self) -> list[SpecViolation]:
        return self.state.spec_violations

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of bugs in the fake itself (answered 500); should stay empty."""
        return self.state.internal_errors

    @property
    def identify_log(self) -> list[IdentifyRecord]:
        return self.state.identify_log

    @property
    def sessions(self) -> list[SessionInfo]:
        """Gateway sessions currently connected."""
        return [s.info for s in self.state.sessions if s.info.open]

    @property
    def all_sessions(self) -> list[SessionInfo]:
        """Every gateway session since start, closed ones included."""
        return [s.info for s in self.state.sessions]

    @property
    def registered_commands(self) -> dict[str, list[dict[str, Any]]]:
        """{"global": [...], "<guild id>": [...]} as the bot last registered them."""
        return self.state.commands.snapshot()

    @property
    def command_creates(self) -> dict[tuple[int | None, str], int]:
        """New command names per (scope, UTC date); Discord allows 200 a day per scope."""
        return dict(self.state.commands.creates)

    @property
    def bot_messages(self) -> list[StoredMessage]:
        """Every message the bot created (any channel, any route), with its instance label."""
        world = self.state.world
        return [m for m in self.state.store.by_id.values() if m.author_id == world.bot.id]

    def channel_messages(
        self, channel: str | int, thread: str | None = None, *, include_ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        """Current payloads of the messages in a channel (or thread), oldest first."""
        target = self._channel_ref(channel, thread)
        return [
            copy.deepcopy(m.payload)
            for m in sorted(self.state.store.in_channel(target.id), key=lambda m: m.id)
            if include_ephemeral or not m.ephemeral
        ]

    def _channel_ref(self, channel: str | int, thread: str | None) -> Channel:
        world = self.state.world
        if isinstance(channel, str) and (world.text_channel(channel) or not channel.isdigit()):
            return world.resolve(channel, thread)
        found = world.channels.get(int(channel))
        if found is None:
            raise UnknownTarget(f"unknown channel id {channel!r}")
        return found

    # --- waiting ---------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until predicate() holds, re-checking whenever the fake sees anything happen
        (a request, a gateway event, a session change). False on timeout."""
        return await self.state.wait_until(predicate, timeout)

    async def wait_for_sessions(self, n: int, timeout: float = 10.0) -> list[SessionInfo]:
        """Wait until at least n connected sessions got READY and GUILD_CREATE."""
        ok = await self.state.wait_until(lambda: len(self.state.ready_sessions()) >= n, timeout)
        ready = [s.info for s in self.state.ready_sessions()]
        if not ok:
            raise TimeoutError(
                f"{len(ready)} of {n} gateway session(s) ready after {timeout:.1f}s "
                f"(connected: {len(self.sessions)}, identifies: {len(self.identify_log)})"
            )
        return ready

    async def wait_for_commands(
        self, names: Iterable[str] = (), timeout: float = 10.0
    ) -> list[str]:
        """Wait until the bot registered slash commands (all of `names`, or any if empty)."""
        wanted = set(names)
        commands = self.state.commands

        def done() -> bool:
            present = set(commands.names(self.guild_id))
            return wanted <= present if wanted else bool(present)

        if not await self.state.wait_until(done, timeout):
            have = commands.names(self.guild_id) or "(none)"
            raise TimeoutError(f"commands registered after {timeout:.1f}s: {have}")
        return commands.names(self.guild_id)

    # --- driving ---------------------------------------------------------------------------

    def _target(self, channel: str | None, thread: str | None, user: str) -> Channel:
        world = self.state.world
        if channel is None:
            if thread is not None:
                raise ValueError("a DM has no threads")
            return world.dm_channel(world.user(user))
        return world.resolve(channel, thread)

    async def send_command(
        self,
        channel: str | None,
        command: str,
        options: dict[str, Any] | None = None,
        user: str | None = None,
        thread: str | None = None,
    ) -> InteractionHandle:
        """Dispatch a slash command's INTERACTION_CREATE to every ready session.

        `channel=None` is a DM. `command` may name a subcommand ("설정 채널"). Options are
        typed from the registered command. Unknown targets raise UnknownTarget.
        """
        return await self._command_interaction(
            APPLICATION_COMMAND, channel, command, options, user, thread
        )

    async def _command_interaction(
        self,
        kind: int,
        channel: str | None,
        command: str,
        options: dict[str, Any] | None,
        user: str | None,
        thread: str | None,
        focused: tuple[str, str] | None = None,
    ) -> InteractionHandle:
        """A slash command (or its autocomplete, with `focused`) to every ready session."""
        state, world = self.state, self.state.world
        username = user or DEFAULT_USER
        target = self._target(channel, thread, username)
        parts = command.strip().lstrip("/").split()
        if not parts:
            raise UnknownTarget("empty command name")
        name, path = parts[0], parts[1:]
        registered = self._registered(target, name)
        options_list, resolved = build_options(
            world,
            registered,
            path,
            options,
            lambda name, data, kind: state.store.new_attachment(target.id, name, data, kind),
            focused=focused,
        )
        full = " ".join([name, *path])
        where = world.describe(target)
        label = (
            f"/{full} in {where}"
            if focused is None
            else (f"autocomplete of {focused[0]!r} (/{full}) in {where}")
        )
        interaction = InteractionState(
            id=state.ids.next(),
            type=kind,
            command=full,
            label=label,
            channel=target,
            user=world.user(username),
            dispatched_at=time.monotonic(),
            attachment_size_limit=self.rules.attachment_size_limit,
        )
        data = command_data(registered, options_list, resolved)
        return await self._dispatch(interaction, interaction_payload(world, interaction, data))

    def _registered(self, target: Channel, name: str) -> dict[str, Any]:
        state, world = self.state, self.state.world
        guild_id = None if target.is_dm else world.guild_id
        registered = state.commands.find(name, guild_id)
        if registered is None or (target.is_dm and not _usable_in_dm(registered)):
            known = state.commands.names(guild_id)
            where = " in DMs (only global commands allowed there)" if target.is_dm else ""
            listing = ", ".join(f"/{n}" for n in known) or "(none: has the bot synced its tree?)"
            raise UnknownTarget(f"unknown command '/{name}'{where}; commands: {listing}")
        return registered

    async def _dispatch(
        self, interaction: InteractionState, payload: dict[str, Any]
    ) -> InteractionHandle:
        """INTERACTION_CREATE to every ready session, each with its own token."""
        state = self.state
        state.interactions[interaction.id] = interaction
        sessions = state.ready_sessions()
        for session in sessions:
            token = new_token(interaction.id, session.info.session_id)
            interaction.recipients.append(
                Recipient(session.info.session_id, session.info.instance, token, session.info.token)
            )
            state.tokens[token] = interaction
        # The 3 s deadline runs from dispatch, as Discord's runs from when it sent the event.
        interaction.dispatched_at = time.monotonic()
        await asyncio.gather(
            *(
                s.dispatch("INTERACTION_CREATE", payload | {"token": r.token})
                for s, r in zip(sessions, interaction.recipients, strict=True)
            )
        )
        state.changed(interaction)
        return InteractionHandle(state, interaction)

    async def send_autocomplete(
        self,
        channel: str | None,
        command: str,
        focused: str,
        value: str,
        *,
        options: dict[str, Any] | None = None,
        user: str | None = None,
        thread: str | None = None,
    ) -> InteractionHandle:
        """A user typing `value` into option `focused` of a slash command: an
        APPLICATION_COMMAND_AUTOCOMPLETE (type 4) to every ready session.

        The focused option must be declared with autocomplete; its value is sent as the
        typed text. `options` are the ones already filled in (typed as for send_command;
        required ones may be missing). Answered only by callback 8; see result().choices.
        """
        return await self._command_interaction(
            APPLICATION_COMMAND_AUTOCOMPLETE,
            channel,
            command,
            options,
            user,
            thread,
            focused=(focused, str(value)),
        )

    async def press_component(
        self,
        message_id: int | str | dict[str, Any],
        custom_id: str,
        *,
        user: str | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
    ) -> InteractionHandle:
        """A user using a component (button, or select with `values`) of a stored message:
        a MESSAGE_COMPONENT (type 3) interaction to every ready session.

        `message_id` may be an id or a message payload (e.g. from `result.messages`). The
        user defaults to the DM's recipient in a DM, to whoever got an ephemeral message,
        else to "tester". Callbacks 6 and 7 (and then @original) act on this message.
        """
        state, world = self.state, self.state.world
        ref = message_id.get("id") if isinstance(message_id, dict) else message_id
        message = state.store.get(ref)
        if message is None or message.deleted:
            raise UnknownTarget(f"no message {ref} (press_component needs a stored message)")
        channel = world.channels.get(message.channel_id)
        if channel is None:
            raise UnknownTarget(f"message {ref} is in an unknown channel")
        components = message.payload.get("components") or []
        component = find_component(components, custom_id)
        if component is None:
            ids = ", ".join(custom_ids(components)) or "(none: it has no components)"
            raise UnknownTarget(
                f"no component with custom_id {custom_id!r} on message {ref} in "
                f"{world.describe(channel)}; custom_ids: {ids}"
            )
        data = component_data(component, custom_id, component_type, values)
        presser = world.user(user or self._default_user(message, channel))
        kind = COMPONENT_NAMES.get(component_type, "component")
        interaction = InteractionState(
            id=state.ids.next(),
            type=MESSAGE_COMPONENT,
            command=custom_id,
            label=f"{kind} {custom_id!r} on message {ref} in {world.describe(channel)}",
            channel=channel,
            user=presser,
            dispatched_at=time.monotonic(),
            attachment_size_limit=self.rules.attachment_size_limit,
            message_id=message.id,
            custom_id=custom_id,
        )
        payload = interaction_payload(
            world, interaction, data, message=copy.deepcopy(message.payload)
        )
        return await self._dispatch(interaction, payload)

    def _default_user(self, message: StoredMessage, channel: Channel) -> str:
        if channel.is_dm and channel.recipient is not None:
            return channel.recipient.username
        source = self.state.interactions.get(message.interaction_id or -1)
        if message.ephemeral and source is not None:
            return source.user.username
        return DEFAULT_USER

    async def submit_modal(
        self, parent: InteractionHandle, values: dict[str, Any], *, user: str | None = None
    ) -> InteractionHandle:
        """The user submitting the modal `parent` was answered with (callback 9): a
        MODAL_SUBMIT (type 5) to every ready session.

        `values` maps the modal's input custom_ids to the text entered (a list of values
        for a select in a label). A modal opened from a component carries that message, and
        only then may the bot answer 6/7.
        """
        state, world = self.state, self.state.world
        opener = parent._interaction
        if opener.modal is None:
            raise UnknownTarget(
                f"{opener.label} (interaction {opener.id}) was not answered with a modal "
                f"(callback 9); callback type: {opener.callback_type}"
            )
        submitter = world.user(user) if user else opener.user
        if submitter.id != opener.user.id:
            raise ValueError(
                f"only {opener.user.username} sees the modal of {opener.label}, not {user}"
            )
        data = modal_data(opener.modal, values)
        message = state.store.get(opener.message_id)
        if message is not None and message.deleted:
            message = None
        modal_id = str(opener.modal.get("custom_id"))
        interaction = InteractionState(
            id=state.ids.next(),
            type=MODAL_SUBMIT,
            command=opener.command,
            label=f"modal {modal_id!r} (from {opener.label})",
            channel=opener.channel,
            user=submitter,
            dispatched_at=time.monotonic(),
            attachment_size_limit=self.rules.attachment_size_limit,
            message_id=message.id if message else None,
            custom_id=modal_id,
            parent=opener,
        )
        payload = interaction_payload(
            world,
            interaction,
            data,
            message=copy.deepcopy(message.payload) if message else None,
        )
        return await self._dispatch(interaction, payload)

    async def send_message(
        self,
        channel: str | None,
        content: str,
        user: str | None = None,
        thread: str | None = None,
        mentions_bot: bool = False,
        reply_to: int | str | dict[str, Any] | MessageHandle | None = None,
    ) -> MessageHandle:
        """A user's MESSAGE_CREATE to every ready session (intents permitting)."""
        state, world = self.state, self.state.world
        author = world.user(user or DEFAULT_USER)
        target = self._target(channel, thread, author.username)
        mention = f"<@{world.bot.id}>"
        if mentions_bot and mention not in content:
            content = f"{mention} {content}"
        message_id = state.ids.next()
        payload = state.store.skeleton(message_id, target, author)
        if reply_to is not None:
            replied = self._replied(reply_to, target)
            payload["type"] = 19
            payload["message_reference"] = {
                "type": 0,
                "channel_id": str(target.id),
                "message_id": str(replied.id),
                **({"guild_id": str(target.guild_id)} if target.guild_id else {}),
            }
            payload["referenced_message"] = dict(replied.payload)
        # Mentions as a client computes them (the replied-to author is pinged by default).
        state.store.apply(payload, {"content": content}, [], editing=False, allow_ephemeral=False)
        message = StoredMessage(
            id=message_id, channel_id=target.id, payload=payload, author_id=author.id, via="user"
        )
        state.store.add(message)
        await state.broadcast_message("MESSAGE_CREATE", message)
        state.changed()
        return MessageHandle(
            state, message, f"{author.username}'s message in {world.describe(target)}"
        )

    def _replied(
        self, ref: int | str | dict[str, Any] | MessageHandle, channel: Channel
    ) -> StoredMessage:
        message_id: int | str
        if isinstance(ref, MessageHandle):
            message_id = ref.message_id
        elif isinstance(ref, dict):
            message_id = ref["id"]
        else:
            message_id = ref
        found = self.state.store.get(message_id)
        if found is None or found.deleted or found.channel_id != channel.id:
            where = self.state.world.describe(channel)
            raise UnknownTarget(f"no message {message_id} in {where}")
        return found

    async def close_sessions(self, instance: str | None = None, code: int = 4000) -> int:
        """Close gateway sessions (all, or one instance's) as Discord would drop them."""
        closing = [
            s
            for s in self.state.sessions
            if s.info.open and (instance is None or s.info.instance == instance)
        ]
        for session in closing:
            await session.close(code)
        return len(closing)


def _usable_in_dm(command: dict[str, Any]) -> bool:
    if command.get("guild_id"):
        return False
    contexts = command.get("contexts")
    if contexts is not None:
        return 1 in contexts
    return command.get("dm_permission") is not False
