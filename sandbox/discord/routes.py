"""REST routes: identity, gateway discovery and application commands; registers the
interaction and channel routes too."""

from __future__ import annotations

from . import errors as e
from .channel_routes import ChannelRoutes
from .interaction_routes import InteractionRoutes
from .labels import labelled_url
from .rest import Call, Reply, RestApp
from .rules import DEFAULT_UPLOAD_LIMIT
from .state import DiscordState
from .world import User


class Routes:
    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self.world = state.world
        self.interactions = InteractionRoutes(state)
        self.channels = ChannelRoutes(state)

    def register(self, rest: RestApp) -> None:
        add = rest.add
        add("GET", "/users/@me", self.get_me)
        add("POST", "/users/@me/channels", self.create_dm)
        add("GET", "/users/{user_id}", self.get_user)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/gateway", self.get_gateway, auth=False, rate_limited=False)
        add("GET", "/gateway/bot", self.get_gateway_bot, rate_limited=False)
        for base in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            add("GET", base, self.list_commands)
            add("PUT", base, self.overwrite_commands)
            add("POST", base, self.upsert_command)
            add("GET", base + "/{command_id}", self.get_command)
            add("PATCH", base + "/{command_id}", self.patch_command)
            add("DELETE", base + "/{command_id}", self.delete_command)
        self.interactions.register(rest)
        self.channels.register(rest)

    def attribute(self, call: Call) -> tuple[str | None, str | None] | None:
        """(bot token, instance) of the session an interaction token in the URL was sent to:
        callbacks and interaction webhooks carry no Authorization."""
        token = call.params.get("interaction_token") or call.params.get("webhook_token")
        interaction = self.state.tokens.get(token or "")
        recipient = interaction.recipient(token or "") if interaction else None
        return (recipient.bot_token, recipient.instance) if recipient else None

    def upload_limit(self, call: Call) -> int:
        """Interaction responses may carry files up to the interaction's own limit."""
        token = call.params.get("interaction_token") or call.params.get("webhook_token")
        interaction = self.state.tokens.get(token or "")
        return interaction.attachment_size_limit if interaction else DEFAULT_UPLOAD_LIMIT

    # --- identity ----------------------------------------------------------------------------

    async def get_me(self, call: Call) -> Reply:
        me = self.world.bot.payload() | {"verified": True, "mfa_enabled": False, "locale": "ko"}
        return Reply(body=me)

    def _user(self, call: Call) -> User:
        wanted = call.params["user_id"]
        known = [self.world.bot, *self.world.users.values()]
        user = next((u for u in known if str(u.id) == wanted), None)
        if user is None:
            raise e.DiscordError(404, 10013, "Unknown User")
        return user

    async def get_user(self, call: Call) -> Reply:
        return Reply(body=self._user(call).payload())

    async def get_member(self, call: Call) -> Reply:
        if call.params["guild_id"] != str(self.world.guild_id):
            raise e.DiscordError(404, 10004, "Unknown Guild")
        try:
            user = self._user(call)
        except e.DiscordError:
            raise e.DiscordError(404, 10007, "Unknown Member") from None
        return Reply(body=self.world.member_payload(user))

    async def get_application(self, call: Call) -> Reply:
        return Reply(body=self.world.application_payload())

    async def create_dm(self, call: Call) -> Reply:
        recipient = str(call.json_object.get("recipient_id", ""))
        user = next((u for u in self.world.users.values() if str(u.id) == recipient), None)
        if user is None:
            raise e.DiscordError(404, 10013, "Unknown User")
        return Reply(body=self.world.channel_payload(self.world.dm_channel(user)))

    def _gateway_url(self, call: Call) -> str:
        """The gateway as the caller should see it: below its own `/i/<label>`, if any."""
        label = call.record.label
        url = self.state.gateway_url
        return url if label is None else labelled_url(url, label)

    async def get_gateway(self, call: Call) -> Reply:
        return Reply(body={"url": self._gateway_url(call)})

    async def get_gateway_bot(self, call: Call) -> Reply:
        used = len(self.state.identify_log)
        limit = {
            "total": 1000,
            "remaining": (
                max(0, 1000 - used)
                if self.state.rules.session_starts_remaining is None
                else self.state.rules.session_starts_remaining
            ),
            "reset_after": 86_400_000,
            "max_concurrency": self.state.rules.max_concurrency,
        }
        body = {"url": self._gateway_url(call), "shards": 1, "session_start_limit": limit}
        return Reply(body=body)

    # --- application commands ----------------------------------------------------------------

    def _scope(self, call: Call) -> int | None:
        if call.params["application_id"] != str(self.world.app_id):
            raise e.unknown_application()
        guild = call.params.get("guild_id")
        if guild is None:
            return None
        if guild != str(self.world.guild_id):
            raise e.DiscordError(404, 10004, "Unknown Guild")
        return int(guild)

    async def list_commands(self, call: Call) -> Reply:
        return Reply(body=self.state.commands.in_scope(self._scope(call)))

    async def overwrite_commands(self, call: Call) -> Reply:
        scope = self._scope(call)
        return Reply(body=self.state.commands.overwrite(scope, list(call.body or [])))

    async def upsert_command(self, call: Call) -> Reply:
        command, created = self.state.commands.upsert(self._scope(call), dict(call.body or {}))
        return Reply(status=201 if created else 200, body=command)

    async def get_command(self, call: Call) -> Reply:
        command = self.state.commands.get(self._scope(call), call.params["command_id"])
        if command is None:
            raise e.unknown_command()
        return Reply(body=command)

    async def patch_command(self, call: Call) -> Reply:
        scope = self._scope(call)
        command = self.state.commands.patch(scope, call.params["command_id"], call.body or {})
        if command is None:
            raise e.unknown_command()
        return Reply(body=command)

    async def delete_command(self, call: Call) -> Reply:
        if not self.state.commands.delete(self._scope(call), call.params["command_id"]):
            raise e.unknown_command()
        return Reply(status=204)
