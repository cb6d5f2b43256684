"""The fake Discord's gateway websocket: HELLO, heartbeats, IDENTIFY (one session per shard,
a guild's events to the session of its shard), RESUME with replay, RECONNECT, and DISPATCH of
events to the sessions that serve them. Side effects: writes frames to the clients' websockets.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakediscord.model import (
    APPLICATION_FLAGS,
    JSON,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_RECONNECT,
    OP_RESUME,
    FakeGuild,
    _GatewaySession,
)
from tests.fakediscord.state import _State

# Events whose own "id" is the guild's (the others name it in "guild_id").
_GUILD_OBJECT_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})


class _Gateway(_State):
    """Gateway sessions and the events sent on them."""

    # ---- events out --------------------------------------------------------------------------
    async def dispatch(self, event: str, data: JSON, *, shard_id: int | None = None) -> int:
        """Sends a DISPATCH (op 0) event to the session of its guild's shard (shard 0 for an
        event without a guild), or of `shard_id`; returns its sequence number there. Events
        sent while the client is reconnecting are replayed when it resumes. With no session
        for that shard the event is dropped, as Discord drops it, and listed in `unrouted`."""
        if not self._sessions:
            raise RuntimeError("no client has identified on the gateway")
        if shard_id is None:
            sessions = self._sessions_for(event, data)
        else:
            sessions = [s for s in self._sessions.values() if s.shard_id == shard_id]
        if not sessions:
            self.unrouted.append((event, _event_guild(event, data)))
        seq = 0
        for session in sessions:
            seq = await self._send_event(session, event, data)
        return seq

    def _sessions_for(self, event: str, data: Mapping[str, Any]) -> list[_GatewaySession]:
        guild_id = _event_guild(event, data)
        if guild_id is None:
            return [s for s in self._sessions.values() if s.shard_id == 0]
        return [s for s in self._sessions.values() if s.serves(guild_id)]

    async def _send_event(self, session: _GatewaySession, event: str, data: JSON) -> int:
        async with self._send_lock:
            session.seq += 1
            frame = json.dumps({"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data})
            session.frames.append((session.seq, frame))
            if session.ws is not None and not session.ws.closed:
                with contextlib.suppress(ConnectionResetError):
                    await session.ws.send_str(frame)
            return session.seq

    async def join_guild(self, guild: FakeGuild) -> None:
        """The bot is added to `guild` (someone opened its invite URL): GUILD_CREATE, without
        the "unavailable" of the GUILD_CREATEs that follow READY (which a client reads as a
        guild it was already in, coming available)."""
        self.guilds[guild.guild_id] = guild
        self._add_channels(guild)
        payload = self._guild_create(guild)
        payload.pop("unavailable", None)
        await self.dispatch("GUILD_CREATE", payload)

    async def leave_guild(self, guild_id: int) -> None:
        """The bot is removed from the guild: GUILD_DELETE."""
        await self.dispatch("GUILD_DELETE", {"id": str(guild_id)})
        del self.guilds[guild_id]

    async def send_reconnect(self, shard_id: int = 0) -> None:
        """Asks the client to reconnect the shard (op 7); discord.py comes back with RESUME."""
        session = self._sessions.get(shard_id)
        if session is None or session.ws is None:
            raise RuntimeError(f"no client is connected on shard {shard_id}")
        await self._send_op(session.ws, OP_RECONNECT, None)

    # ---- the websocket -----------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await self._send_op(ws, OP_HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_gateway_message(ws, json.loads(frame.data))
                elif frame.type is WSMsgType.ERROR:
                    break
        finally:
            self._sockets.discard(ws)
            for session in self._sessions.values():
                if session.ws is ws:
                    session.ws = None
            await self._notify()
        return ws

    async def _send_op(self, ws: web.WebSocketResponse, op: int, data: Any) -> None:
        async with self._send_lock:
            if not ws.closed:
                await ws.send_str(json.dumps({"op": op, "d": data, "s": None, "t": None}))

    async def _on_gateway_message(self, ws: web.WebSocketResponse, message: JSON) -> None:
        op, data = message.get("op"), message.get("d")
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            await self._send_op(ws, OP_HEARTBEAT_ACK, None)
            await self._notify()
        elif op == OP_IDENTIFY:
            await self._identify(ws, data or {})
        elif op == OP_RESUME:
            await self._resume(ws, data or {})

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard", [0, 1])
        if not (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(n, int) for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        shard_id, shard_count = shard
        self.ready.clear()
        self.identify_payload = copy.deepcopy(data)
        self.identifies.append((shard_id, shard_count, time.monotonic()))
        for stale in [s for s in self._sessions.values() if s.shard_count != shard_count]:
            if not stale.open:  # a deployment with another shard count, gone
                del self._sessions[stale.shard_id]
        session = _GatewaySession(
            session_id=secrets.token_hex(16),
            shard_id=shard_id,
            shard_count=shard_count,
            intents=int(data.get("intents") or 0),
            ws=ws,
        )
        self._sessions[shard_id] = session  # a shard's older session gets nothing more
        guilds = [g for g in self.guilds.values() if session.serves(g.guild_id)]
        await self._send_event(
            session,
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "shard": [shard_id, shard_count],
                "application": {"id": str(self.application_id), "flags": APPLICATION_FLAGS},
                "guilds": [{"id": str(g.guild_id), "unavailable": True} for g in guilds],
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
            },
        )
        for guild in guilds:
            await self._send_event(session, "GUILD_CREATE", self._guild_create(guild))
        self.ready.set()
        await self._notify()

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> None:
        session = next(
            (s for s in self._sessions.values() if s.session_id == data.get("session_id")), None
        )
        if session is None or data.get("token") != self.token:
            await self._send_op(ws, OP_INVALID_SESSION, False)
            return
        session.ws = ws
        last_seen = int(data.get("seq") or 0)
        async with self._send_lock:
            for seq, frame in list(session.frames):
                if seq > last_seen:
                    await ws.send_str(frame)
        await self._send_event(session, "RESUMED", {})
        await self._notify()


def _event_guild(event: str, data: Mapping[str, Any]) -> int | None:
    """The guild a gateway event belongs to, if any."""
    guild_id = data.get("guild_id")
    if guild_id is None and event in _GUILD_OBJECT_EVENTS:
        guild_id = data.get("id")
    return None if guild_id is None else int(guild_id)
