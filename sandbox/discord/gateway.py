"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, dispatches.

Frames are plain JSON text; discord.py reads text frames as-is, so the `compress=zlib-stream`
it asks for is ignored (Discord would honour it, but nothing here depends on compression).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from .labels import instance_of, labelled_url
from .models import IdentifyRecord, SessionInfo
from .state import DiscordState

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005


class GatewaySession:
    """One websocket connection; implements state.Session."""

    def __init__(
        self, state: DiscordState, ws: web.WebSocketResponse, label: str | None = None
    ) -> None:
        self.state = state
        self.ws = ws
        self.info = SessionInfo(
            session_id=uuid.uuid4().hex, instance=label, label=label, connected_at=time.monotonic()
        )
        self.seq = 0
        self._identified = False
        # Dispatches come from several tasks (driver calls, REST handlers); the lock keeps
        # frames in sequence-number order on the wire.
        self._send_lock = asyncio.Lock()

    async def _send(self, op: int, d: Any, event: str | None = None) -> None:
        async with self._send_lock:
            if self.ws.closed:
                return
            seq = None
            if op == OP_DISPATCH:
                self.seq += 1
                seq = self.seq
            frame = {"op": op, "d": d, "s": seq, "t": event}
            try:
                await self.ws.send_str(json.dumps(frame, ensure_ascii=False))
            except (ConnectionError, RuntimeError):
                log.debug("session %s: send failed, connection closing", self.info.session_id)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        await self._send(OP_DISPATCH, data, event)

    async def close(self, code: int) -> None:
        # Remember our own code: aiohttp reports the peer's reply code after a server close.
        if self.info.close_code is None:
            self.info.close_code = code
        await self.ws.close(code=code)

    async def run(self) -> None:
        await self._send(
            OP_HELLO,
            {"heartbeat_interval": self.state.rules.heartbeat_interval_ms, "_trace": ["sandbox"]},
        )
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                await self.close(CLOSE_DECODE_ERROR)
                break
            await self._on_frame(frame)

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == OP_HEARTBEAT:
            await self._send(OP_HEARTBEAT_ACK, None)
        elif op == OP_IDENTIFY:
            await self._identify(data if isinstance(data, dict) else {})
        elif op == OP_RESUME:
            # Sessions are not kept across connections: the client must IDENTIFY afresh.
            await self._send(OP_INVALID_SESSION, False)
        elif not self._identified:
            await self.close(CLOSE_NOT_AUTHENTICATED)
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._members_chunk(data if isinstance(data, dict) else {})
        elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE):
            pass
        else:
            log.debug("session %s: ignoring op %s", self.info.session_id, op)

    async def _identify(self, data: dict[str, Any]) -> None:
        if self._identified:
            await self.close(CLOSE_ALREADY_AUTHENTICATED)
            return
        token = data.get("token")
        if not isinstance(token, str) or not token:
            await self.close(CLOSE_AUTHENTICATION_FAILED)
            return
        token = token.removeprefix("Bot ")
        raw_shard = data.get("shard")
        shard = (int(raw_shard[0]), int(raw_shard[1])) if isinstance(raw_shard, list) else None
        info = self.info
        info.token = token
        if info.label is None:
            info.instance = instance_of(token)
        info.intents = int(data.get("intents") or 0)
        info.shard = shard
        info.identified_at = time.monotonic()
        self._identified = True
        self.state.identify_log.append(
            IdentifyRecord(
                token=token,
                instance=info.instance,
                session_id=info.session_id,
                at=info.identified_at,
                wall=time.time(),
                shard=shard,
                intents=info.intents,
            )
        )
        if self.state.rules.identify_close_code is not None:
            await self.close(self.state.rules.identify_close_code)
            return
        await self.dispatch("READY", self._ready_payload())
        await self.dispatch("GUILD_CREATE", self.state.world.guild_payload())
        info.ready = True
        self.state.changed()

    @property
    def gateway_url(self) -> str:
        """The URL this session came through (labelled or plain), for resuming."""
        url = self.state.gateway_url
        return url if self.info.label is None else labelled_url(url, self.info.label)

    def _ready_payload(self) -> dict[str, Any]:
        world = self.state.world
        user = world.bot.payload() | {"verified": True, "mfa_enabled": False, "email": None}
        out: dict[str, Any] = {
            "v": 10,
            "user": user,
            "user_settings": {},
            "guilds": [{"id": str(world.guild_id), "unavailable": True}],
            "session_id": self.info.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["seoul", "japan", "hongkong"],
            "application": {"id": str(world.app_id), "flags": world.application_payload()["flags"]},
            "auth": {},
            "_trace": ["sandbox"],
        }
        if self.info.shard is not None:
            out["shard"] = list(self.info.shard)
        return out

    async def _members_chunk(self, data: dict[str, Any]) -> None:
        world = self.state.world
        members = [world.member_payload(world.bot)] + [
            world.member_payload(u) for u in world.users.values()
        ]
        chunk: dict[str, Any] = {
            "guild_id": str(world.guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)


async def gateway_handler(
    state: DiscordState, request: web.Request, label: str | None = None
) -> web.WebSocketResponse:
    """One websocket connection; `label` is the `/i/<label>` of the URL, if any."""
    # `timeout` bounds the closing handshake, so stop() cannot hang on a silent client.
    ws = web.WebSocketResponse(autoping=True, max_msg_size=0, timeout=2.0)
    await ws.prepare(request)
    session = GatewaySession(state, ws, label)
    state.sessions.append(session)
    state.changed()
    try:
        await session.run()
    finally:
        session.info.open = False
        if session.info.close_code is None:
            session.info.close_code = ws.close_code
        with contextlib.suppress(Exception):
            await ws.close()
        state.changed()
    return ws
