"""Channel routes: messages (create, edit, delete, fetch), reactions, typing."""

from __future__ import annotations

from typing import Any

from . import errors as e
from .errors import FieldError
from .messages import TYPE_REPLY, StoredMessage, require_not_empty
from .rest import Call, Reply, RestApp, path_int
from .state import DiscordState
from .world import Channel


class ChannelRoutes:
    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self.world = state.world
        self.store = state.store

    def register(self, rest: RestApp) -> None:
        chan = "/channels/{channel_id}"
        rest.add("GET", chan, self.get_channel)
        rest.add("GET", chan + "/messages", self.list_messages)
        rest.add("POST", chan + "/messages", self.create_message)
        rest.add("GET", chan + "/messages/{message_id}", self.get_message)
        rest.add("PATCH", chan + "/messages/{message_id}", self.edit_message)
        rest.add("DELETE", chan + "/messages/{message_id}", self.delete_message)
        react = chan + "/messages/{message_id}/reactions/{emoji_name}/@me"
        rest.add("PUT", react, self.add_reaction)
        rest.add("DELETE", react, self.remove_reaction)
        rest.add("POST", chan + "/typing", self.typing)

    def _channel(self, call: Call) -> Channel:
        channel = self.world.channels.get(path_int(call.params["channel_id"]) or -1)
        if channel is None:
            raise e.unknown_channel()
        return channel

    def _message(self, call: Call, channel: Channel) -> StoredMessage:
        message = self.store.get(call.params["message_id"])
        # Ephemeral interaction answers are not reachable through channel routes.
        if message is None or message.deleted or message.ephemeral:
            raise e.unknown_message()
        if message.channel_id != channel.id:
            raise e.unknown_message()
        return message

    async def get_channel(self, call: Call) -> Reply:
        return Reply(body=self.world.channel_payload(self._channel(call)))

    async def list_messages(self, call: Call) -> Reply:
        channel = self._channel(call)
        limit = max(1, min(100, call.query_int("limit", 50)))
        messages = [m for m in self.store.in_channel(channel.id) if not m.ephemeral]
        if "before" in call.request.query:
            before = call.query_int("before", 0)
            messages = [m for m in messages if m.id < before]
        if "after" in call.request.query:
            after = call.query_int("after", 0)
            messages = sorted((m for m in messages if m.id > after), key=lambda m: m.id)[:limit]
        messages = sorted(messages, key=lambda m: m.id, reverse=True)[:limit]
        return Reply(body=[dict(m.payload) for m in messages])

    async def get_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        return Reply(body=dict(self._message(call, channel).payload))

    async def create_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        body = call.json_object
        self.store.check_body(body)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self.store.get(self.store.nonces.get((channel.id, str(nonce)), -1))
            if earlier is not None:
                return Reply(body=dict(earlier.payload))  # Discord dedupes enforced nonces
        message_id = self.state.ids.next()
        payload = self.store.skeleton(message_id, channel, self.world.bot)
        if nonce is not None:
            payload["nonce"] = nonce
        self._reference(payload, body, channel)
        self.store.apply(payload, body, call.uploads, editing=False, allow_ephemeral=False)
        require_not_empty(payload)
        message = StoredMessage(
            id=message_id,
            channel_id=channel.id,
            payload=payload,
            author_id=self.world.bot.id,
            via="channel",
            instance=call.instance,
            token=call.token,
        )
        self.store.add(message)
        if nonce is not None and body.get("enforce_nonce"):
            self.store.nonces[(channel.id, str(nonce))] = message_id
        await self.state.broadcast_message("MESSAGE_CREATE", message)
        return Reply(body=dict(payload))

    def _reference(self, payload: dict[str, Any], body: dict[str, Any], channel: Channel) -> None:
        ref = body.get("message_reference")
        if not isinstance(ref, dict) or ref.get("message_id") is None:
            return
        target = self.store.get(str(ref["message_id"]))
        if target is None or target.deleted:
            if ref.get("fail_if_not_exists") is False:
                return
            raise e.invalid_form_body(
                [
                    FieldError(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                ]
            )
        payload["type"] = TYPE_REPLY
        payload["message_reference"] = self.store.reference(target)
        payload["referenced_message"] = dict(target.payload)

    async def edit_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        message = self._message(call, channel)
        if message.author_id != self.world.bot.id:
            raise e.cannot_edit_others()
        body = call.json_object
        self.store.check_body(body)
        self.store.edit(message, body, call.uploads)
        await self.state.broadcast_message("MESSAGE_UPDATE", message)
        return Reply(body=dict(message.payload))

    async def delete_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        message = self._message(call, channel)
        message.deleted = True
        await self.state.broadcast_delete(message)
        return Reply(status=204)

    async def add_reaction(self, call: Call) -> Reply:
        message = self._message(call, self._channel(call))
        emoji = call.params["emoji_name"]
        reactions = message.payload.setdefault("reactions", [])
        found = next((r for r in reactions if r["emoji"]["name"] == emoji), None)
        if found is None:
            reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
        elif not found["me"]:
            found["me"], found["count"] = True, found["count"] + 1
        return Reply(status=204)

    async def remove_reaction(self, call: Call) -> Reply:
        message = self._message(call, self._channel(call))
        emoji = call.params["emoji_name"]
        reactions = message.payload.get("reactions", [])
        for reaction in reactions:
            if reaction["emoji"]["name"] == emoji and reaction["me"]:
                reaction["me"], reaction["count"] = False, reaction["count"] - 1
        message.payload["reactions"] = [r for r in reactions if r["count"] > 0]
        return Reply(status=204)

    async def typing(self, call: Call) -> Reply:
        self._channel(call)
        return Reply(status=204)
