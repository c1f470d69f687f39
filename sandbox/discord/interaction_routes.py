"""Interaction routes: the callback (first one wins, 3 s deadline) and the interaction
webhook (followups and @original, 15 min token life)."""

from __future__ import annotations

from typing import Any

from . import errors as e
from .errors import FieldError
from .interactions import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_DEFERRED,
    CALLBACK_MESSAGE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    UPDATE_CALLBACKS,
    InteractionState,
    Recipient,
)
from .limits import choice_errors
from .messages import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    TYPE_CHAT_INPUT_COMMAND,
    TYPE_DEFAULT,
    TYPE_REPLY,
    StoredMessage,
    components_out,
    require_not_empty,
)
from .models import CallbackAttempt
from .rest import Call, Reply, RestApp, path_int
from .state import DiscordState

ORIGINAL = "@original"


class InteractionRoutes:
    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self.world = state.world
        self.store = state.store

    def register(self, rest: RestApp) -> None:
        # Neither route takes an Authorization header: the token in the URL is the credential.
        rest.add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.callback,
            auth=False,
            after=self.record_callback,
        )
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        rest.add("POST", hook, self.followup, auth=False)
        # "@original" must be registered before the "{message_id}" twin that would match it.
        for path in (hook + "/messages/@original", hook + "/messages/{message_id}"):
            rest.add("GET", path, self.get_message, auth=False)
            rest.add("PATCH", path, self.edit_message, auth=False)
            rest.add("DELETE", path, self.delete_message, auth=False)

    # --- callback ------------------------------------------------------------------------------

    def _callback_target(self, call: Call) -> tuple[InteractionState, Recipient] | None:
        interaction_id = path_int(call.params["interaction_id"])
        interaction = self.state.interactions.get(interaction_id or -1)
        if interaction is None:
            return None
        recipient = interaction.recipient(call.params["interaction_token"])
        return (interaction, recipient) if recipient else None

    async def callback(self, call: Call) -> Reply:
        target = self._callback_target(call)
        if target is None:
            raise e.unknown_interaction()
        interaction, _ = target
        body = call.json_object
        kind = int(body.get("type", 0))
        # First callback wins, even one that arrives late; a late first one finds it dead.
        # callback_type is set before the first await of the winner, `accepted` only after
        # its answer: either means a second callback comes too late.
        if interaction.acknowledged or interaction.callback_type is not None:
            raise e.already_acknowledged()
        if call.at - interaction.dispatched_at > self.state.rules.ack_deadline_s:
            raise e.unknown_interaction()
        if kind not in interaction.allowed_callbacks:
            raise e.invalid_form_body(
                [
                    FieldError(
                        ("type",), "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid callback type"
                    )
                ]
            )
        raw_data = body.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        message: StoredMessage | None = None  # a new message the callback creates
        updated: StoredMessage | None = None  # the component's message, for 6 and 7
        if kind == CALLBACK_MESSAGE:
            self.store.check_body(data, ("data",))
            message = self._callback_message(interaction, call, data)
            require_not_empty(message.payload)
        elif kind == CALLBACK_DEFERRED:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._callback_message(interaction, call, {})
            message.payload["flags"] = flags
        elif kind in UPDATE_CALLBACKS:
            updated = self._component_message(interaction)
            if kind == CALLBACK_UPDATE:
                self.store.check_body(data, ("data",))
                self.store.edit(updated, data, call.uploads)
        elif kind == CALLBACK_AUTOCOMPLETE:
            errors = choice_errors(data)
            if errors:
                raise e.invalid_form_body(errors)
            interaction.choices = [
                {k: v for k, v in c.items() if v is not None}
                for c in data.get("choices") or []
                if isinstance(c, dict)
            ]
        elif kind == CALLBACK_MODAL:
            interaction.modal = {**data, "components": components_out(data.get("components") or [])}
        # Acknowledge before any await so a concurrent second callback sees it.
        interaction.callback_type = kind
        if message is not None:
            interaction.original_id = message.id
            self.store.add(message)
            await self.state.broadcast_message("MESSAGE_CREATE", message)
        if updated is not None:
            # For a component interaction answered 6/7, @original is the component's message.
            interaction.original_id = updated.id
            if kind == CALLBACK_UPDATE:
                interaction.updated = True
                await self.state.broadcast_message("MESSAGE_UPDATE", updated)
        if not call.flag("with_response"):
            return Reply(status=204)
        return Reply(body=self._callback_body(interaction, kind, message or updated))

    def _component_message(self, interaction: InteractionState) -> StoredMessage:
        message = self.store.get(interaction.message_id)
        if message is None or message.deleted:
            raise e.unknown_message()
        return message

    def _callback_body(
        self, interaction: InteractionState, kind: int, message: StoredMessage | None
    ) -> dict[str, Any]:
        # discord.py 2.5+ reads `interaction` and `resource` (a 204 would break it).
        summary: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        if message is not None:
            summary |= {
                "response_message_id": str(message.id),
                "response_message_loading": message.loading,
                "response_message_ephemeral": message.ephemeral,
            }
        channel = interaction.channel
        summary["channel_id"] = str(channel.id)
        if channel.guild_id is not None:
            summary["guild_id"] = str(channel.guild_id)
        resource: dict[str, Any] = {"type": kind}
        if message is not None and kind in (CALLBACK_MESSAGE, CALLBACK_UPDATE):
            resource["message"] = dict(message.payload)
        return {"interaction": summary, "resource": resource}

    def record_callback(self, call: Call) -> None:
        """Every callback attempt, accepted or not, lands in the interaction's history."""
        target = self._callback_target(call)
        if target is None:
            return
        interaction, recipient = target
        kind = call.json_object.get("type")
        attempt = CallbackAttempt(
            token=recipient.bot_token,
            instance=recipient.instance,
            session_id=recipient.session_id,
            status=call.record.status,
            code=call.record.code,
            at=call.at,
            ms=(call.at - interaction.dispatched_at) * 1000,
            type=kind if isinstance(kind, int) else None,
        )
        interaction.attempts.append(attempt)
        if call.record.status < 300 and interaction.accepted is None:
            interaction.accepted = attempt
        self.state.changed(interaction)

    def _callback_message(
        self, interaction: InteractionState, call: Call, data: dict[str, Any]
    ) -> StoredMessage:
        """The message a 4/5 callback creates. A slash command's answer is a
        CHAT_INPUT_COMMAND message; a component's answer replies to the component's message
        (so does that of a modal opened from a component)."""
        component_message = self.store.get(interaction.message_id)
        if component_message is None:
            return self._interaction_message(
                interaction, call, data, TYPE_CHAT_INPUT_COMMAND, via="callback"
            )
        message = self._interaction_message(interaction, call, data, TYPE_REPLY, via="callback")
        message.payload["message_reference"] = self.store.reference(component_message)
        return message

    def _metadata(self, interaction: InteractionState) -> dict[str, Any]:
        """A message's `interaction_metadata` for the interaction that created it."""
        out: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.user.payload(),
            "authorizing_integration_owners": {"0": str(self.world.guild_id)},
        }
        if interaction.type in (APPLICATION_COMMAND, APPLICATION_COMMAND_AUTOCOMPLETE):
            out |= {"name": interaction.command, "command_type": 1}
        elif interaction.type == MESSAGE_COMPONENT and interaction.message_id is not None:
            out["interacted_message_id"] = str(interaction.message_id)
        elif interaction.type == MODAL_SUBMIT and interaction.parent is not None:
            out["triggering_interaction_metadata"] = self._metadata(interaction.parent)
        return out

    def _interaction_message(
        self,
        interaction: InteractionState,
        call: Call,
        data: dict[str, Any],
        type_: int,
        *,
        via: str = "followup",
    ) -> StoredMessage:
        message_id = self.state.ids.next()
        payload = self.store.skeleton(message_id, interaction.channel, self.world.bot, type_=type_)
        app_id = str(self.world.app_id)
        payload |= {"webhook_id": app_id, "application_id": app_id}
        if via == "callback":
            payload["interaction_metadata"] = self._metadata(interaction)
            command = interaction if interaction.type == APPLICATION_COMMAND else None
            if interaction.parent is not None and interaction.parent.type == APPLICATION_COMMAND:
                command = interaction.parent
            if command is not None:
                # The deprecated `interaction` object, still sent for command answers.
                payload["interaction"] = {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "name": command.command,
                    "user": interaction.user.payload(),
                }
        self.store.apply(payload, data, call.uploads, editing=False, allow_ephemeral=True)
        return StoredMessage(
            id=message_id,
            channel_id=interaction.channel.id,
            payload=payload,
            author_id=self.world.bot.id,
            via=via,
            instance=call.instance,
            token=call.token,
            interaction_id=interaction.id,
        )

    # --- webhook -------------------------------------------------------------------------------

    def _webhook(self, call: Call) -> InteractionState:
        if call.params["webhook_id"] != str(self.world.app_id):
            raise e.unknown_webhook()
        interaction = self.state.tokens.get(call.params["webhook_token"])
        if interaction is None:
            raise e.invalid_webhook_token()
        if call.at - interaction.dispatched_at > self.state.rules.token_life_s:
            raise e.invalid_webhook_token()
        if not interaction.acknowledged:
            # Any webhook call before the first callback: the webhook does not exist yet.
            raise e.unknown_webhook()
        if interaction.type == APPLICATION_COMMAND_AUTOCOMPLETE:
            raise e.unknown_webhook()  # an autocomplete is answered by its callback alone
        return interaction

    def _note(self, interaction: InteractionState, call: Call, what: str) -> None:
        interaction.webhook_calls.append(f"{call.request.method} {what} by {call.instance or '?'}")
        self.state.changed(interaction)

    def _webhook_message(self, interaction: InteractionState, call: Call) -> StoredMessage:
        ref = call.params.get("message_id", ORIGINAL)
        message_id = interaction.original_id if ref == ORIGINAL else path_int(ref)
        allowed = {interaction.original_id, *interaction.followup_ids} - {None}
        message = self.store.get(message_id) if message_id in allowed else None
        if message is None or message.deleted:
            raise e.unknown_message()
        return message

    async def followup(self, call: Call) -> Reply:
        interaction = self._webhook(call)
        body = call.json_object
        self.store.check_body(body)
        original = self.store.get(interaction.original_id or -1)
        if interaction.deferred and original and original.loading and not original.deleted:
            # Discord: the first followup after a deferral replaces the "thinking" message,
            # keeping the ephemerality chosen at deferral.
            message = original
            self.store.fill(message, body, call.uploads)
            event = "MESSAGE_UPDATE"
        else:
            type_ = TYPE_DEFAULT
            if original is not None and not original.deleted and not original.ephemeral:
                type_ = TYPE_REPLY
            message = self._interaction_message(interaction, call, body, type_)
            require_not_empty(message.payload)
            if type_ == TYPE_REPLY and original is not None:
                message.payload["message_reference"] = self.store.reference(original)
            self.store.add(message)
            interaction.followup_ids.append(message.id)
            event = "MESSAGE_CREATE"
        self._note(interaction, call, f"followup -> {message.id}")
        await self.state.broadcast_message(event, message)
        if not call.flag("wait"):
            return Reply(status=204)
        return Reply(body=dict(message.payload))

    async def get_message(self, call: Call) -> Reply:
        # Before the first callback there is no @original: 10015 Unknown Webhook, as Discord.
        interaction = self._webhook(call)
        return Reply(body=dict(self._webhook_message(interaction, call).payload))

    async def edit_message(self, call: Call) -> Reply:
        interaction = self._webhook(call)
        message = self._webhook_message(interaction, call)
        body = call.json_object
        self.store.check_body(body)
        if message.loading:
            self.store.fill(message, body, call.uploads)
        else:
            self.store.edit(message, body, call.uploads)
        if message.id == interaction.message_id:
            interaction.updated = True
        self._note(interaction, call, f"message {message.id}")
        await self.state.broadcast_message("MESSAGE_UPDATE", message)
        return Reply(body=dict(message.payload))

    async def delete_message(self, call: Call) -> Reply:
        interaction = self._webhook(call)
        message = self._webhook_message(interaction, call)
        message.deleted = True
        self._note(interaction, call, f"message {message.id} (delete)")
        await self.state.broadcast_delete(message)
        return Reply(status=204)
