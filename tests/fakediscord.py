"""A small fake Discord (REST API v10 + gateway websocket) on 127.0.0.1 for end-to-end tests.

The real discord.py 2.x client logs in to it: point `discord.http.Route.BASE` at `fake.api_base`
and `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` at `fake.gateway_url` (`point_discord_at`
does both and restores them). The fake keeps what the bot posts (messages, edits, interaction
responses, command syncs, every REST request) and injects what users do: slash commands,
autocomplete, context menus, button presses and messages, as gateway events.

    async with FakeDiscord([FakeGuild(1, "Guild", {10: "news"})]) as fake:
        with point_discord_at(fake):
            ...  # client.login(fake.token); client.connect()
            rec = await fake.invoke("ping", channel_id=10)
            assert (await rec.final())["content"] == "pong"

Behaviour follows Discord where the bot can tell the difference: error bodies and codes, 429s
with the headers discord.py reads, message nonces with `enforce_nonce`, the 3-second window to
acknowledge an interaction, a first followup after a defer replacing the "thinking" message, no
`nonce` in history, message content withheld from the gateway without the MESSAGE_CONTENT intent
unless the bot is mentioned. Gateway frames go out as plain JSON text (discord.py only
decompresses binary frames, whatever `compress` it asked for).

Sharded clients (discord.AutoShardedClient, or several processes each with some shard ids) get
a session per shard, as from Discord: IDENTIFY carries `shard: [shard_id, shard_count]`, a
second IDENTIFY for a shard replaces its session, and a guild's events (its GUILD_CREATE at
READY, interactions, messages) go only to the session of shard `(guild_id >> 22) % shard_count`;
events without a guild go to shard 0. An IDENTIFY without `shard` is shard 0 of 1: every guild.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

if TYPE_CHECKING:
    import discord

JSON = dict[str, Any]
T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="discord.Client")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_BOT_USER_ID = 900_000_000_000_000_001
DEFAULT_USER_ID = 900_000_000_000_000_100
DEFAULT_TOKEN = "fake-bot-token"

# Permission bits (discord.Permissions.all() and what @everyone gets here).
ALL_PERMISSIONS = 0b0000_0000_0001_1111_0111_1111_1111_1111_1111_1111_1111_1111_1111_1111_1111_1111
EVERYONE_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 18)  # use external emojis
    | (1 << 31)  # use application commands
    | (1 << 38)  # send messages in threads
)
APPLICATION_FLAGS = (1 << 19) | (1 << 23)  # message content limited, application command badge

# Gateway opcodes and intents.
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_RECONNECT, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 9, 10, 11
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15

# Message flags and types.
SUPPRESS_EMBEDS, EPHEMERAL, LOADING, SUPPRESS_NOTIFICATIONS = 1 << 2, 1 << 6, 1 << 7, 1 << 12
MESSAGE_DEFAULT, MESSAGE_REPLY, MESSAGE_CHAT_INPUT, MESSAGE_CONTEXT_MENU = 0, 19, 20, 23

# Interaction types, and the callback types each one accepts.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 1, 4, 5
DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = 6, 7, 8, 9
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    PING: frozenset({PONG}),
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL}
    ),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
    ),
}

# Application command option types.
OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP, OPT_STRING, OPT_INTEGER, OPT_BOOLEAN = 1, 2, 3, 4, 5
OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE, OPT_NUMBER = 6, 7, 8, 9, 10

# (status, message, code) of the Discord errors the fake answers.
UNAUTHORIZED = (401, "401: Unauthorized", 0)
MISSING_ACCESS = (403, "Missing Access", 50001)
UNKNOWN_CHANNEL = (404, "Unknown Channel", 10003)
UNKNOWN_GUILD = (404, "Unknown Guild", 10004)
UNKNOWN_MESSAGE = (404, "Unknown Message", 10008)
UNKNOWN_APPLICATION = (404, "Unknown Application", 10002)
UNKNOWN_WEBHOOK = (404, "Unknown Webhook", 10015)
UNKNOWN_INTERACTION = (404, "Unknown interaction", 10062)
ALREADY_ACKNOWLEDGED = (400, "Interaction has already been acknowledged.", 40060)
EMPTY_MESSAGE = (400, "Cannot send an empty message", 50006)
INVALID_FORM_BODY = (400, "Invalid Form Body", 50035)
NOT_FOUND = (404, "404: Not Found", 0)
CHANNEL_FAILURES = {403: MISSING_ACCESS, 404: UNKNOWN_CHANNEL}

_MENTION = re.compile(r"<@!?(\d+)>")
_CHANNEL_PATH = re.compile(r"/channels/(\d+)(?:/|$)")
_TOKEN_ROUTES = re.compile(r"/(?:webhooks/\d+/[^/]+|interactions/\d+/[^/]+/callback)(?:/|$)")
_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
# Events whose own "id" is the guild's (the others name it in "guild_id").
_GUILD_OBJECT_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})


# ---- public records -------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeGuild:
    """A guild the bot is in, with its text channels (ids, or ids to names)."""

    guild_id: int
    name: str
    channels: list[int] | dict[int, str]
    member_count: int = 2
    owner_id: int = DEFAULT_USER_ID

    def channel_names(self) -> dict[int, str]:
        if isinstance(self.channels, dict):
            return dict(self.channels)
        return {channel_id: f"channel-{n}" for n, channel_id in enumerate(self.channels, 1)}


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request: path relative to `api_base`, JSON body (or multipart's payload_json),
    `time.monotonic()` at arrival, and the status the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    time: float
    status: int


@dataclass(frozen=True)
class MessageEdit:
    """An edit of a message by the bot: REST PATCH, webhook PATCH, or an UPDATE_MESSAGE callback."""

    channel_id: int
    message_id: int
    changes: JSON
    time: float


@dataclass(eq=False)
class InteractionRecord:
    """An interaction the fake sent, and what the bot did with it."""

    fake: FakeDiscord = field(repr=False)
    id: int
    token: str
    type: int
    payload: JSON = field(repr=False)
    channel_id: int
    guild_id: int | None
    shard_id: int | None = None  # the shard whose session got it (None: no session serves it)
    sent_at: float = 0.0
    responses: list[JSON] = field(default_factory=list)
    response_times: list[float] = field(default_factory=list)
    original_id: int | None = None  # the response message (or, for a component, its message)
    followup_ids: list[int] = field(default_factory=list)
    original_edits: int = 0

    @property
    def followups(self) -> list[JSON]:
        return [self.fake.get_message(message_id) for message_id in self.followup_ids]

    @property
    def original(self) -> JSON | None:
        return None if self.original_id is None else self.fake.get_message(self.original_id)

    @property
    def ephemeral(self) -> bool:
        """Whether the response the user sees is only shown to them (flags 64)."""
        message = self.original if self.responses else None
        if message is not None and message.get("deleted"):
            message = None  # the bot deleted its response: the user sees the followup
        if message is None and self.followup_ids:
            message = self.followups[0]
        return message is not None and is_ephemeral(message)

    @property
    def responded_after_s(self) -> float | None:
        """Seconds from the INTERACTION_CREATE to the first callback (Discord allows 3)."""
        return self.response_times[0] - self.sent_at if self.response_times else None

    @property
    def choices(self) -> list[JSON] | None:
        """The autocomplete choices (callback type 8), once the bot answered."""
        for response in self.responses:
            if response.get("type") == AUTOCOMPLETE_RESULT:
                return list((response.get("data") or {}).get("choices", []))
        return None

    async def response(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """The first callback the bot sent ({"type": ..., "data": ...})."""
        return await self.fake.wait_until(
            lambda: self.responses[0] if self.responses else None,
            timeout,
            f"a response to interaction {self.id} ({self._name()})",
        )

    async def final(self, timeout: float = 10.0) -> JSON:  # noqa: ASYNC109
        """The message the user ends up seeing: the type-4 message, the message updated by a
        type 7, or after a defer (5 or 6) the edited original or the first followup."""
        first = await self.response(timeout)
        kind = first.get("type")
        if kind not in (
            CHANNEL_MESSAGE,
            DEFERRED_CHANNEL_MESSAGE,
            DEFERRED_UPDATE_MESSAGE,
            UPDATE_MESSAGE,
        ):
            raise ValueError(f"interaction {self.id} was answered with type {kind}: no message")

        def settled() -> JSON | None:
            original = self.original
            if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
                return original
            if kind == DEFERRED_CHANNEL_MESSAGE:
                if original is not None and original.get("deleted"):
                    # "thinking..." deleted (to answer ephemerally): the followup is the answer
                    return self.followups[0] if self.followup_ids else None
                if original is not None and not original["flags"] & LOADING:
                    return original
                return None
            if self.original_edits and original is not None:
                return original
            return self.followups[0] if self.followup_ids else None

        return await self.fake.wait_until(
            settled, timeout, f"the final message of interaction {self.id} ({self._name()})"
        )

    def _name(self) -> str:
        data = self.payload.get("data") or {}
        return str(data.get("name") or data.get("custom_id") or self.type)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard a guild belongs to, as Discord assigns it."""
    return (guild_id >> 22) % shard_count


def is_ephemeral(message: Mapping[str, Any]) -> bool:
    """Whether a message dict is ephemeral (flags 64)."""
    return bool(int(message.get("flags") or 0) & EPHEMERAL)


class DiscordError(Exception):
    """Raised inside a handler: answered as a Discord error body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int,
        *,
        errors: JSON | None = None,
        headers: Mapping[str, str] | None = None,
        body: JSON | None = None,
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.body: JSON = {"message": message, "code": code} if body is None else body
        if errors is not None:
            self.body["errors"] = errors
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return _json_response(self.body, status=self.status, headers=self.headers)


@dataclass
class _Rule:
    """An injected failure: the next `remaining` requests matching method and path."""

    method: str
    pattern: re.Pattern[str]
    make_error: Callable[[], DiscordError]
    remaining: int | None  # None: for good

    def take(self, method: str, path: str) -> DiscordError | None:
        if method != self.method or not self.pattern.fullmatch(path):
            return None
        if self.remaining is not None:
            self.remaining -= 1
        return self.make_error()


@dataclass
class _Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Body:
    json: Any
    uploads: list[_Upload]


_BODY = web.RequestKey("body", _Body)


@dataclass
class _GatewaySession:
    session_id: str
    shard_id: int = 0
    shard_count: int = 1
    intents: int = 0
    seq: int = 0
    frames: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=10_000))
    ws: web.WebSocketResponse | None = None

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.ws.closed

    def serves(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.shard_count) == self.shard_id


def _json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly "application/json".
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _invalid(field_name: str, message: str, code: str = "BASE_TYPE_INVALID") -> DiscordError:
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return DiscordError(*INVALID_FORM_BODY, errors=errors)


# ---- the fake -------------------------------------------------------------------------------
class FakeDiscord:
    """Fake Discord REST + gateway for one bot. Use as `async with FakeDiscord(...) as fake`."""

    def __init__(
        self,
        guilds: Sequence[FakeGuild],
        *,
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        application_id: int | None = None,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "FakeBot",
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.guilds: dict[int, FakeGuild] = {guild.guild_id: guild for guild in guilds}
        self.bot_user_id = bot_user_id
        self.application_id = bot_user_id if application_id is None else application_id
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.bot_user: JSON = {
            "id": str(bot_user_id),
            "username": bot_name,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
            "email": None,
        }
        self.users: dict[int, JSON] = {bot_user_id: self.bot_user}

        # What the bot did.
        self.requests: list[RecordedRequest] = []
        self.synced: dict[int | None, list[JSON]] = {}
        self.sync_counts: Counter[int | None] = Counter()
        self.edits: list[MessageEdit] = []
        self.interactions: list[InteractionRecord] = []
        self.identify_payload: JSON | None = None  # the latest IDENTIFY, of any shard
        self.identifies: list[tuple[int, int, float]] = []  # (shard id, count, monotonic time)
        self.unrouted: list[tuple[str, int | None]] = []  # (event, guild id) no session served
        self.heartbeats = 0
        self.ready = asyncio.Event()
        self.attachments: dict[int, bytes] = {}
        self.server_errors: list[str] = []  # exceptions inside the fake (its bugs)

        # Knobs.
        self.nonce_window_s = 300.0
        self.interaction_window_s: float | None = 3.0  # None: no 3-second rule
        self.recommended_shards = 1  # GET /gateway/bot "shards" (a client with no shard count)
        self.max_concurrency = 1  # GET /gateway/bot: IDENTIFYs allowed per 5 s (not enforced)

        self._channel_guild: dict[int, int] = {}
        self._channel_names: dict[int, str] = {}
        for guild in guilds:
            for channel_id, name in guild.channel_names().items():
                self._channel_guild[channel_id] = guild.guild_id
                self._channel_names[channel_id] = name
        self._channels: dict[int, dict[int, JSON]] = {c: {} for c in self._channel_guild}
        self._by_id: dict[int, JSON] = {}  # every message, deleted ones too
        self._nonces: dict[tuple[int, str], tuple[float, int]] = {}
        self._failed_channels: dict[int, int] = {}
        self._rules: list[_Rule] = []
        self._interactions_by_token: dict[str, InteractionRecord] = {}
        self._interactions_by_id: dict[int, InteractionRecord] = {}
        self._last_snowflake = 0
        self._increment = itertools.count()
        self._changed = asyncio.Condition()
        self._send_lock = asyncio.Lock()
        self._sessions: dict[int, _GatewaySession] = {}  # by shard id
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ---- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        await self.close()
        if self.server_errors and exc_type is None:
            raise AssertionError(f"the fake Discord failed: {self.server_errors}")

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake discord closing")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    @property
    def bot_mention(self) -> str:
        return f"<@{self.bot_user_id}>"

    @property
    def connected(self) -> bool:
        """Whether a client is identified on an open gateway socket (of any shard)."""
        return any(session.open for session in self._sessions.values())

    @property
    def connected_shards(self) -> dict[int, int]:
        """Shard id -> shard count of each session on an open socket ({0: 1} unsharded)."""
        return {s.shard_id: s.shard_count for s in self._sessions.values() if s.open}

    # ---- reading what the bot did ---------------------------------------------------------
    def messages(self, channel_id: int, *, include_ephemeral: bool = True) -> list[JSON]:
        """The channel's current messages, oldest first, edits applied (copies)."""
        return [
            copy.deepcopy(message)
            for message in self._channels.get(channel_id, {}).values()
            if include_ephemeral or not is_ephemeral(message)
        ]

    def get_message(self, message_id: int) -> JSON:
        """A message's latest state (deleted ones too, with "deleted": True)."""
        return copy.deepcopy(self._by_id[message_id])

    async def wait_for_messages(
        self,
        channel_id: int,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        include_ephemeral: bool = True,
    ) -> list[JSON]:
        """Waits until the channel holds at least n messages; returns them, oldest first."""

        def enough() -> list[JSON] | None:
            live = self._channels.get(channel_id, {}).values()
            count = sum(1 for m in live if include_ephemeral or not is_ephemeral(m))
            if count < n:
                return None
            return self.messages(channel_id, include_ephemeral=include_ephemeral)

        return await self.wait_until(enough, timeout, f"{n} messages in channel {channel_id}")

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    @property
    def sync_count(self) -> int:
        return sum(self.sync_counts.values())

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> T:
        """Waits until `predicate()` returns something other than None, and returns that. It is
        checked whenever the fake's state changes (a request, a gateway message) and every
        50 ms, so it may look at the client's state too."""

        async def wait() -> T:
            async with self._changed:
                while (result := predicate()) is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.05)
                return result

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None

    async def wait_disconnected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self.wait_until(
            lambda: True if not self._sockets else None, timeout, "the client to disconnect"
        )

    # ---- failures to inject ---------------------------------------------------------------
    def fail_channel(self, channel_id: int, status: int = 403) -> None:
        """Every request on the channel answers 403 Missing Access or 404 Unknown Channel."""
        if status not in CHANNEL_FAILURES:
            raise ValueError(f"status must be one of {sorted(CHANNEL_FAILURES)}")
        self._failed_channels[channel_id] = status

    def restore_channel(self, channel_id: int) -> None:
        self._failed_channels.pop(channel_id, None)

    def rate_limit(
        self,
        method: str,
        path_regex: str,
        retry_after: float = 0.5,
        times: int = 1,
        *,
        is_global: bool = False,
    ) -> None:
        """The next `times` requests whose path (relative to api_base) fully matches answer 429,
        with the body and headers discord.py reads; it sleeps retry_after and retries."""

        def error() -> DiscordError:
            reset_after = f"{retry_after:.3f}"
            headers = {
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": reset_after,
                "X-RateLimit-Bucket": "fake" + secrets.token_hex(8),
                "X-RateLimit-Scope": "global" if is_global else "user",
                "Via": "1.1 google",  # without it discord.py takes a 429 for a Cloudflare ban
            }
            if is_global:
                headers["X-RateLimit-Global"] = "true"
            message = "You are being rate limited."
            body = {"message": message, "retry_after": retry_after, "global": is_global}
            return DiscordError(429, message, 0, headers=headers, body=body)

        self._rules.append(_Rule(method.upper(), re.compile(path_regex), error, times))

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        times: int | None = 1,
        *,
        message: str = "Internal Server Error",
        code: int = 0,
    ) -> None:
        """The next `times` (None: all) matching requests answer `status` with a Discord body."""
        rule = _Rule(
            method.upper(),
            re.compile(path_regex),
            lambda: DiscordError(status, message, code),
            times,
        )
        self._rules.append(rule)

    # ---- gateway: events out --------------------------------------------------------------
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

    async def send_reconnect(self, shard_id: int = 0) -> None:
        """Asks the client to reconnect the shard (op 7); discord.py comes back with RESUME."""
        session = self._sessions.get(shard_id)
        if session is None or session.ws is None:
            raise RuntimeError(f"no client is connected on shard {shard_id}")
        await self._send_op(session.ws, OP_RECONNECT, None)

    # ---- users' actions -------------------------------------------------------------------
    async def invoke(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        channel_id: int,
        guild_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        permissions: int = ALL_PERMISSIONS,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A user runs a slash command: `name` may hold a subcommand path ("feed add").
        Option types come from the synced definitions when known, else from Python types."""
        guild_id = self._guild_of(channel_id, guild_id)
        data = self._command_data(name, options or {}, guild_id, focused=None)
        return await self._interact(
            APPLICATION_COMMAND,
            data,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        channel_id: int,
        guild_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """A user types in option `focused`; returns the choices the bot answered."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} is not among the options")
        guild_id = self._guild_of(channel_id, guild_id)
        data = self._command_data(name, options, guild_id, focused=focused)
        record = await self._interact(
            AUTOCOMPLETE,
            data,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
        )
        await record.response(timeout)
        choices = record.choices
        if choices is None:
            raise AssertionError(f"autocomplete answered with {record.responses[0]}")
        return choices

    async def context_menu(
        self,
        name: str,
        message_id: int,
        *,
        user_id: int = DEFAULT_USER_ID,
        permissions: int = ALL_PERMISSIONS,
    ) -> InteractionRecord:
        """A user runs the message command `name` on a message the fake holds."""
        message = self._live_message(message_id)
        channel_id = int(message["channel_id"])
        guild_id = self._guild_of(channel_id, None)
        scope, definition = self._find_command(name, guild_id, command_type=3)
        data: JSON = {
            "id": definition["id"] if definition else str(self._snowflake()),
            "name": name,
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): copy.deepcopy(message)}},
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._interact(
            APPLICATION_COMMAND,
            data,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            permissions=permissions,
        )

    async def press(
        self,
        message: Mapping[str, Any],
        custom_id: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        guild_id: int | None = None,
        channel_id: int | None = None,
        values: Sequence[str] | None = None,
    ) -> InteractionRecord:
        """A user clicks the button (or picks `values` in the select) `custom_id` on a message."""
        current = self._live_message(int(message["id"]))
        component = _find_component(current.get("components", []), custom_id)
        if component is None:
            raise ValueError(f"message {current['id']} has no component {custom_id!r}")
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = list(values)
        channel_id = int(current["channel_id"]) if channel_id is None else channel_id
        guild_id = self._guild_of(channel_id, guild_id)
        record = await self._interact(
            MESSAGE_COMPONENT,
            data,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            message=current,
        )
        return record

    async def post_user_message(
        self,
        channel_id: int,
        content: str,
        *,
        author_id: int = DEFAULT_USER_ID,
        mentions: Sequence[int] = (),
        reply_to: int | None = None,
    ) -> JSON:
        """A user posts a message (MESSAGE_CREATE). `<@id>` in content mentions that user, as do
        `mentions`. Returns the message as stored (full content)."""
        self.channel_payload(channel_id)
        body: JSON = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to)}
        message = self._new_message(
            channel_id,
            self.user(author_id),
            body,
            extra_mentions=mentions,
        )
        await self._store_and_announce(message)
        return copy.deepcopy(message)

    def user(self, user_id: int, name: str | None = None) -> JSON:
        """The user dict of `user_id`, made up on first use (or renamed with `name`)."""
        if user_id == self.bot_user_id:
            return self.bot_user
        if user_id not in self.users or name is not None:
            self.users[user_id] = {
                "id": str(user_id),
                "username": name or f"user{user_id}",
                "discriminator": "0",
                "global_name": name,
                "avatar": None,
                "bot": False,
                "public_flags": 0,
            }
        return self.users[user_id]

    # ---- internals: ids ---------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _snowflake(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (millis << 22) | (next(self._increment) & 0xFFF)
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return self._last_snowflake

    # ---- internals: payloads --------------------------------------------------------------
    def channel_payload(self, channel_id: int) -> JSON:
        """The text channel as Discord describes it (GET /channels/{id}, GUILD_CREATE)."""
        if channel_id not in self._channel_guild:
            raise DiscordError(*UNKNOWN_CHANNEL)
        guild_id = self._channel_guild[channel_id]
        position = list(self.guilds[guild_id].channel_names()).index(channel_id)
        messages = self._channels[channel_id]
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": self._channel_names[channel_id],
            "position": position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "last_message_id": str(next(reversed(messages))) if messages else None,
        }

    def _guild_of(self, channel_id: int, guild_id: int | None) -> int:
        if channel_id not in self._channel_guild:
            raise ValueError(f"unknown channel {channel_id}")
        return self._channel_guild[channel_id] if guild_id is None else guild_id

    def _role_everyone(self, guild_id: int) -> JSON:
        return {
            "id": str(guild_id),
            "name": "@everyone",
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": 0,
            "permissions": str(EVERYONE_PERMISSIONS),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _member(
        self,
        user_id: int,
        *,
        permissions: int | None = None,
        roles: Sequence[int] = (),
        with_user: bool = True,
    ) -> JSON:
        member: JSON = {
            "roles": [str(role) for role in roles],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self.user(user_id)
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def _guild_payload(self, guild: FakeGuild) -> JSON:
        return {
            "id": str(guild.guild_id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [self._role_everyone(guild.guild_id)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "description": None,
        }

    def _guild_create(self, guild: FakeGuild) -> JSON:
        payload = self._guild_payload(guild)
        payload.update(
            joined_at="2024-01-01T00:00:00+00:00",
            large=False,
            unavailable=False,
            member_count=guild.member_count,
            voice_states=[],
            presences=[],
            threads=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            members=[self._member(self.bot_user_id)],
            channels=[self.channel_payload(channel_id) for channel_id in guild.channel_names()],
        )
        return payload

    def _application(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.user(DEFAULT_USER_ID),
            "verify_key": "0" * 64,
            "team": None,
            "flags": APPLICATION_FLAGS,
            "summary": "",
            "bot": self.bot_user,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
        }

    # ---- internals: messages --------------------------------------------------------------
    def _new_message(
        self,
        channel_id: int,
        author: JSON,
        body: Mapping[str, Any],
        *,
        type_: int | None = None,
        flags: int = 0,
        uploads: Sequence[_Upload] = (),
        extra_mentions: Sequence[int] = (),
        allow_empty: bool = False,
    ) -> JSON:
        """A message from a create payload (content, embeds, components, flags, nonce,
        message_reference); checks it as Discord does. Not stored yet."""
        content = body.get("content") or ""
        embeds = list(body.get("embeds") or [])
        components = list(body.get("components") or [])
        _check_message(content, embeds)
        attachments = [self._attachment(upload) for upload in uploads]
        if not (
            allow_empty
            or content
            or embeds
            or components
            or attachments
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(*EMPTY_MESSAGE)
        reference = body.get("message_reference")
        guild_id = self._channel_guild.get(channel_id)
        allowed = int(body.get("flags") or 0) & (
            SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS
        )
        message: JSON = {
            "id": str(self._snowflake()),
            "type": type_ if type_ is not None else (MESSAGE_REPLY if reference else 0),
            "channel_id": str(channel_id),
            "author": copy.deepcopy(author),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": self._mentions(content, extra_mentions),
            "mention_roles": [],
            "attachments": attachments,
            "embeds": embeds,
            "components": components,
            "pinned": False,
            "flags": allowed | flags,
        }
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if reference:
            referenced_id = int(reference["message_id"])
            referenced = self._by_id.get(referenced_id)
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise _invalid("message_reference", "Unknown message", "MESSAGE_REFERENCE_UNKNOWN")
            message["message_reference"] = {
                "type": 0,
                "message_id": str(referenced_id),
                "channel_id": str(reference.get("channel_id") or channel_id),
                **({"guild_id": str(guild_id)} if guild_id is not None else {}),
            }
            message["referenced_message"] = _strip_nonce(referenced) if referenced else None
        return message

    def _mentions(self, content: str, extra: Sequence[int] = ()) -> list[JSON]:
        ids = dict.fromkeys([*(int(m) for m in _MENTION.findall(content)), *extra])
        return [copy.deepcopy(self.user(user_id)) for user_id in ids]

    def _attachment(self, upload: _Upload) -> JSON:
        attachment_id = self._snowflake()
        self.attachments[attachment_id] = upload.data
        url = f"http://127.0.0.1:{self._port}/attachments/{attachment_id}/{upload.filename}"
        return {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
        }

    def _live_message(self, message_id: int, channel_id: int | None = None) -> JSON:
        message = self._by_id.get(message_id)
        if message is None or message.get("deleted"):
            raise DiscordError(*UNKNOWN_MESSAGE)
        if channel_id is not None and int(message["channel_id"]) != channel_id:
            raise DiscordError(*UNKNOWN_MESSAGE)
        return message

    def _store(self, message: JSON) -> None:
        channel_id, message_id = int(message["channel_id"]), int(message["id"])
        self._channels[channel_id][message_id] = message
        self._by_id[message_id] = message

    async def _store_and_announce(self, message: JSON) -> None:
        self._store(message)
        await self._announce("MESSAGE_CREATE", message)
        await self._notify()

    async def _edit(
        self,
        message: JSON,
        changes: Mapping[str, Any],
        uploads: Sequence[_Upload] = (),
        *,
        record: bool = True,
    ) -> JSON:
        """Applies an edit payload in place (clears LOADING), records it, sends MESSAGE_UPDATE."""
        updated = copy.deepcopy(message)
        if "content" in changes:
            updated["content"] = changes["content"] or ""
            updated["mentions"] = self._mentions(updated["content"])
        for key in ("embeds", "components"):
            if key in changes:
                updated[key] = list(changes[key] or [])
        if "attachments" in changes:
            kept = {str(a.get("id")) for a in changes["attachments"] or []}
            updated["attachments"] = [a for a in updated["attachments"] if a["id"] in kept]
        _check_message(updated["content"], updated["embeds"])
        updated["attachments"] += [self._attachment(upload) for upload in uploads]
        if not (
            updated["content"]
            or updated["embeds"]
            or updated["components"]
            or updated["attachments"]
        ):
            raise DiscordError(*EMPTY_MESSAGE)
        flags = int(updated["flags"]) & ~LOADING
        if "flags" in changes:
            flags = (flags & ~SUPPRESS_EMBEDS) | (int(changes["flags"] or 0) & SUPPRESS_EMBEDS)
        updated["flags"] = flags
        updated["edited_timestamp"] = _now_iso()
        message.clear()  # in place: the channel and the id index share this dict
        message.update(updated)
        if record:
            self.edits.append(
                MessageEdit(
                    int(message["channel_id"]),
                    int(message["id"]),
                    copy.deepcopy(dict(changes)),
                    time.monotonic(),
                )
            )
        await self._announce("MESSAGE_UPDATE", message)
        await self._notify()
        return message

    async def _delete(self, message: JSON) -> None:
        channel_id, message_id = int(message["channel_id"]), int(message["id"])
        self._channels[channel_id].pop(message_id, None)
        message["deleted"] = True
        if not is_ephemeral(message):
            data: JSON = {"id": str(message_id), "channel_id": str(channel_id)}
            if "guild_id" in message:
                data["guild_id"] = message["guild_id"]
            await self._announce("MESSAGE_DELETE", data, message_event=False)
        await self._notify()

    async def _announce(self, event: str, message: JSON, *, message_event: bool = True) -> None:
        """Sends a MESSAGE_* event if a client is identified with the GUILD_MESSAGES intent.
        Without MESSAGE_CONTENT, others' messages come without content unless they mention
        the bot (as Discord does). Each shard's session gets its own guilds' messages."""
        if message_event and is_ephemeral(message):  # only the user sees those
            return
        for session in self._sessions_for(event, message):
            if not session.intents & INTENT_GUILD_MESSAGES:
                continue
            data = copy.deepcopy(message)
            if message_event:
                data.pop("deleted", None)
                author_id = int(data["author"]["id"])
                mentioned = any(int(u["id"]) == self.bot_user_id for u in data.get("mentions", []))
                if (
                    author_id != self.bot_user_id
                    and not mentioned
                    and not session.intents & INTENT_MESSAGE_CONTENT
                ):
                    data.update(content="", embeds=[], attachments=[], components=[])
                if "guild_id" in data:
                    data["member"] = self._member(author_id, with_user=False)
            await self._send_event(session, event, data)

    # ---- internals: commands --------------------------------------------------------------
    def _find_command(
        self, name: str, guild_id: int | None, command_type: int = 1
    ) -> tuple[int | None, JSON | None]:
        """(scope, definition) of a synced command: the guild's first, then global."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.synced.get(scope, []):
                if command["name"] == name and command.get("type", 1) == command_type:
                    return scope, command
        return None, None

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any],
        guild_id: int | None,
        *,
        focused: str | None,
    ) -> JSON:
        root, *path = name.split()
        scope, definition = self._find_command(root, guild_id)
        data: JSON = {
            "id": definition["id"] if definition else str(self._snowflake()),
            "name": root,
            "type": 1,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        option_defs: list[JSON] | None = (
            None if definition is None else definition.get("options", [])
        )
        kinds: list[int] = []
        for depth, part in enumerate(path):
            kind = OPT_SUB_COMMAND_GROUP if depth < len(path) - 1 else OPT_SUB_COMMAND
            if option_defs is not None:
                match = next(
                    (
                        o
                        for o in option_defs
                        if o["name"] == part
                        and o["type"] in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP)
                    ),
                    None,
                )
                if match is None:
                    raise ValueError(f"{name!r}: the synced /{root} has no subcommand {part!r}")
                kind, option_defs = match["type"], match.get("options", [])
            kinds.append(kind)
        resolved: JSON = {}
        nested = [
            self._option(key, value, option_defs, resolved, guild_id, focused=key == focused)
            for key, value in options.items()
        ]
        for part, kind in reversed(list(zip(path, kinds, strict=True))):
            nested = [{"type": kind, "name": part, "options": nested}]
        data["options"] = nested
        if resolved:
            data["resolved"] = resolved
        return data

    def _option(
        self,
        name: str,
        value: Any,
        defs: list[JSON] | None,
        resolved: JSON,
        guild_id: int | None,
        *,
        focused: bool,
    ) -> JSON:
        definition = None
        if defs is not None:
            definition = next((d for d in defs if d["name"] == name), None)
            if definition is None:
                known = [d["name"] for d in defs]
                raise ValueError(f"option {name!r} is not in the synced definition ({known})")
        kind = int(definition["type"]) if definition else _python_option_type(value)
        option: JSON = {"type": kind, "name": name}
        if focused:
            option.update(value=value, focused=True)  # Discord sends what the user typed
            return option
        if kind == OPT_STRING:
            option["value"] = str(value)
        elif kind == OPT_INTEGER:
            option["value"] = int(value)
        elif kind == OPT_BOOLEAN:
            option["value"] = bool(value)
        elif kind == OPT_NUMBER:
            option["value"] = float(value)
        elif kind in (OPT_USER, OPT_MENTIONABLE):
            user_id = int(value)
            resolved.setdefault("users", {})[str(user_id)] = copy.deepcopy(self.user(user_id))
            resolved.setdefault("members", {})[str(user_id)] = self._member(
                user_id, permissions=ALL_PERMISSIONS, with_user=False
            )
            option["value"] = str(user_id)
        elif kind == OPT_CHANNEL:
            channel_id = int(value)
            channel = (
                self.channel_payload(channel_id)
                if channel_id in self._channel_guild
                else {
                    "id": str(channel_id),
                    "type": 0,
                    "name": f"channel-{channel_id}",
                    "guild_id": str(guild_id),
                }
            )
            channel["permissions"] = str(ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[str(channel_id)] = channel
            option["value"] = str(channel_id)
        elif kind == OPT_ROLE:
            role_id = int(value)
            role = self._role_everyone(role_id) | {"name": f"role-{role_id}", "position": 1}
            resolved.setdefault("roles", {})[str(role_id)] = role
            option["value"] = str(role_id)
        else:
            raise TypeError(f"option {name!r}: type {kind} is not supported by the fake")
        return option

    def _store_commands(self, scope: int | None, commands: list[JSON]) -> list[JSON]:
        if len(commands) > 100:
            raise _invalid("_root", "Must be 100 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self.synced.get(scope, [])}
        stored: list[JSON] = []
        for index, command in enumerate(commands):
            _check_command(index, command)
            kind = command.get("type", 1)
            entry = copy.deepcopy(command) | {
                "id": old.get((command["name"], kind)) or str(self._snowflake()),
                "application_id": str(self.application_id),
                "type": kind,
                "version": str(self._snowflake()),
                "default_member_permissions": command.get("default_member_permissions"),
                "description": command.get("description", ""),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.synced[scope] = stored
        self.sync_counts[scope] += 1
        return copy.deepcopy(stored)

    # ---- internals: interactions ----------------------------------------------------------
    async def _interact(
        self,
        kind: int,
        data: JSON,
        *,
        channel_id: int,
        guild_id: int,
        user_id: int,
        permissions: int = ALL_PERMISSIONS,
        roles: Sequence[int] = (),
        locale: str = "en-US",
        message: JSON | None = None,
    ) -> InteractionRecord:
        interaction_id = self._snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(24)
        channel = self.channel_payload(channel_id) | {"permissions": str(permissions)}
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": channel,
            "member": self._member(user_id, permissions=permissions, roles=roles),
            "token": token,
            "version": 1,
            "app_permissions": str(EVERYONE_PERMISSIONS),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        record = InteractionRecord(
            fake=self,
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            channel_id=channel_id,
            guild_id=guild_id,
            original_id=None if message is None else int(message["id"]),
        )
        self.interactions.append(record)
        self._interactions_by_id[interaction_id] = record
        self._interactions_by_token[token] = record
        served = self._sessions_for("INTERACTION_CREATE", payload)
        record.shard_id = served[0].shard_id if served else None
        record.sent_at = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _interaction_message_type(self, record: InteractionRecord) -> int:
        if record.type != APPLICATION_COMMAND:
            return MESSAGE_DEFAULT
        is_menu = record.payload["data"].get("type", 1) != 1
        return MESSAGE_CONTEXT_MENU if is_menu else MESSAGE_CHAT_INPUT

    def _interaction_metadata(self, record: InteractionRecord) -> JSON:
        return {
            "id": str(record.id),
            "type": record.type,
            "user": copy.deepcopy(record.payload["member"]["user"]),
            "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
        }

    def _record_by_token(self, request: web.Request) -> InteractionRecord:
        record = self._interactions_by_token.get(request.match_info["token"])
        if record is None or request.match_info["webhook_id"] != str(self.application_id):
            raise DiscordError(*UNKNOWN_WEBHOOK)
        return record

    def _record_message(self, record: InteractionRecord, message_ref: str) -> JSON:
        if message_ref == "@original":
            if not record.responses or record.original_id is None:
                raise DiscordError(*UNKNOWN_MESSAGE)
            return self._live_message(record.original_id)
        message_id = _int(message_ref, UNKNOWN_MESSAGE)
        if message_id not in record.followup_ids and message_id != record.original_id:
            raise DiscordError(*UNKNOWN_MESSAGE)
        return self._live_message(message_id)

    # ---- HTTP: plumbing -------------------------------------------------------------------
    def _add_routes(self, router: web.UrlDispatcher) -> None:
        api = API_PREFIX
        commands = f"{api}/applications/{{application_id}}/commands"
        guild_commands = f"{api}/applications/{{application_id}}/guilds/{{guild_id}}/commands"
        channel = f"{api}/channels/{{channel_id}}"
        message = f"{channel}/messages/{{message_id}}"
        webhook = f"{api}/webhooks/{{webhook_id}}/{{token}}"
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("GET", f"{api}/users/@me", self._get_me),
            ("GET", f"{api}/gateway", self._get_gateway),
            ("GET", f"{api}/gateway/bot", self._get_gateway),
            ("GET", f"{api}/oauth2/applications/@me", self._get_application),
            ("GET", f"{api}/applications/@me", self._get_application),
            ("GET", commands, self._get_commands),
            ("PUT", commands, self._put_commands),
            ("GET", guild_commands, self._get_commands),
            ("PUT", guild_commands, self._put_commands),
            ("GET", f"{api}/guilds/{{guild_id}}", self._get_guild),
            ("GET", f"{api}/guilds/{{guild_id}}/channels", self._get_guild_channels),
            ("GET", channel, self._get_channel),
            ("POST", f"{channel}/typing", self._typing),
            ("GET", f"{channel}/messages", self._get_history),
            ("POST", f"{channel}/messages", self._post_message),
            ("GET", message, self._get_message),
            ("PATCH", message, self._patch_message),
            ("DELETE", message, self._delete_message),
            ("PUT", f"{message}/reactions/{{emoji}}/@me", self._add_reaction),
            ("POST", f"{api}/interactions/{{interaction_id}}/{{token}}/callback", self._callback),
            ("POST", webhook, self._post_followup),
            ("GET", f"{webhook}/messages/{{message_ref}}", self._get_webhook_message),
            ("PATCH", f"{webhook}/messages/{{message_ref}}", self._patch_webhook_message),
            ("DELETE", f"{webhook}/messages/{{message_ref}}", self._delete_webhook_message),
            ("*", f"{api}/{{tail:.*}}", self._unknown_route),
            ("GET", "/gateway", self._gateway),
            ("GET", "/attachments/{attachment_id}/{filename}", self._get_attachment),
        ]
        for method, path, handler in routes:
            router.add_route(method, path, handler)

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        arrived = time.monotonic()
        path = request.path[len(API_PREFIX) :]
        body: Any = None
        response: web.StreamResponse
        try:
            body, uploads = await _read_body(request)
            request[_BODY] = _Body(body, uploads)
            self._check_auth(request, path)
            self._check_injections(request.method, path)
            response = await handler(request)
        except DiscordError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            response = DiscordError(exc.status, f"{exc.status}: {exc.reason}", 0).response()
        except Exception as exc:  # a bug in the fake: fail the request and, at close, the test
            self.server_errors.append(f"{request.method} {path}: {exc!r}")
            # 400, not 500: discord.py retries a 500 for seconds before giving up.
            response = DiscordError(400, f"fake Discord crashed: {exc!r}", 0).response()
        self.requests.append(
            RecordedRequest(
                request.method, path, dict(request.query), body, arrived, response.status
            )
        )
        await self._notify()
        return response

    def _check_auth(self, request: web.Request, path: str) -> None:
        if _TOKEN_ROUTES.match(path):
            return  # webhook and interaction routes are authorised by their token
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(*UNAUTHORIZED)

    def _check_injections(self, method: str, path: str) -> None:
        for rule in list(self._rules):
            error = rule.take(method, path)
            if error is not None:
                if rule.remaining == 0:
                    self._rules.remove(rule)
                raise error
        match = _CHANNEL_PATH.match(path)
        if match and int(match[1]) in self._failed_channels:
            raise DiscordError(*CHANNEL_FAILURES[self._failed_channels[int(match[1])]])

    # ---- HTTP: login, gateway, application, commands --------------------------------------
    async def _get_me(self, request: web.Request) -> web.Response:
        return _json_response(self.bot_user)

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": self.max_concurrency,
                },
            }
        )

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json_response(self._application())

    def _command_scope(self, request: web.Request) -> int | None:
        if request.match_info["application_id"] != str(self.application_id):
            raise DiscordError(*UNKNOWN_APPLICATION)
        if "guild_id" not in request.match_info:
            return None
        guild_id = _int(request.match_info["guild_id"], UNKNOWN_GUILD)
        if guild_id not in self.guilds:
            raise DiscordError(*MISSING_ACCESS)
        return guild_id

    async def _get_commands(self, request: web.Request) -> web.Response:
        return _json_response(self.synced.get(self._command_scope(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[_BODY].json
        if not isinstance(body, list):
            raise _invalid("_root", "Must be an array.", "LIST_TYPE_CONVERT")
        return _json_response(self._store_commands(scope, body))

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild = self.guilds.get(_int(request.match_info["guild_id"], UNKNOWN_GUILD))
        if guild is None:
            raise DiscordError(*UNKNOWN_GUILD)
        return _json_response(self._guild_payload(guild))

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.guilds.get(_int(request.match_info["guild_id"], UNKNOWN_GUILD))
        if guild is None:
            raise DiscordError(*UNKNOWN_GUILD)
        return _json_response([self.channel_payload(c) for c in guild.channel_names()])

    # ---- HTTP: channels and messages ------------------------------------------------------
    def _path_channel(self, request: web.Request) -> int:
        channel_id = _int(request.match_info["channel_id"], UNKNOWN_CHANNEL)
        self.channel_payload(channel_id)
        return channel_id

    async def _get_channel(self, request: web.Request) -> web.Response:
        return _json_response(self.channel_payload(self._path_channel(request)))

    async def _typing(self, request: web.Request) -> web.Response:
        self._path_channel(request)
        return web.Response(status=204)

    async def _post_message(self, request: web.Request) -> web.Response:
        channel_id = self._path_channel(request)
        body = request[_BODY].json or {}
        nonce = body.get("nonce")
        key = (channel_id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[0] <= self.nonce_window_s:
                existing = self._by_id[seen[1]]
                if not existing.get("deleted"):
                    return _json_response(existing)
        message = self._new_message(
            channel_id,
            self.bot_user,
            body | {"flags": int(body.get("flags") or 0) & ~EPHEMERAL},
            uploads=request[_BODY].uploads,
        )
        if nonce is not None:
            self._nonces[key] = (time.monotonic(), int(message["id"]))
        await self._store_and_announce(message)
        return _json_response(message)

    async def _get_history(self, request: web.Request) -> web.Response:
        channel_id = self._path_channel(request)
        query = request.query
        limit = max(1, min(100, int(query.get("limit", "50"))))
        live = [m for m in self._channels[channel_id].values() if not is_ephemeral(m)]
        if "around" in query:
            around = int(query["around"])
            older = [m for m in live if int(m["id"]) <= around][-(limit - limit // 2) :]
            newer = [m for m in live if int(m["id"]) > around][: limit // 2]
            picked = older + newer
        elif "after" in query:
            picked = [m for m in live if int(m["id"]) > int(query["after"])][:limit]
        else:
            before = int(query.get("before", str(1 << 63)))
            picked = [m for m in live if int(m["id"]) < before][-limit:]
        return _json_response([_strip_nonce(m) for m in reversed(picked)])

    async def _get_message(self, request: web.Request) -> web.Response:
        channel_id = self._path_channel(request)
        message_id = _int(request.match_info["message_id"], UNKNOWN_MESSAGE)
        message = self._live_message(message_id, channel_id)
        if is_ephemeral(message):
            raise DiscordError(*UNKNOWN_MESSAGE)
        return _json_response(_strip_nonce(message))

    async def _patch_message(self, request: web.Request) -> web.Response:
        channel_id = self._path_channel(request)
        message_id = _int(request.match_info["message_id"], UNKNOWN_MESSAGE)
        message = self._live_message(message_id, channel_id)
        if int(message["author"]["id"]) != self.bot_user_id:
            raise DiscordError(403, "Cannot edit a message authored by another user", 50005)
        edited = await self._edit(message, request[_BODY].json or {}, request[_BODY].uploads)
        return _json_response(edited)

    async def _delete_message(self, request: web.Request) -> web.Response:
        channel_id = self._path_channel(request)
        message_id = _int(request.match_info["message_id"], UNKNOWN_MESSAGE)
        await self._delete(self._live_message(message_id, channel_id))
        return web.Response(status=204)

    async def _add_reaction(self, request: web.Request) -> web.Response:
        channel_id = self._path_channel(request)
        message_id = _int(request.match_info["message_id"], UNKNOWN_MESSAGE)
        message = self._live_message(message_id, channel_id)
        emoji = request.match_info["emoji"]
        reactions: list[JSON] = message.setdefault("reactions", [])
        if not any(r["emoji"]["name"] == emoji and r["me"] for r in reactions):
            reactions.append({"count": 1, "me": True, "emoji": {"id": None, "name": emoji}})
        await self._notify()
        return web.Response(status=204)

    async def _get_attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(int(request.match_info["attachment_id"]))
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    async def _unknown_route(self, request: web.Request) -> web.Response:
        raise DiscordError(*NOT_FOUND)

    # ---- HTTP: interaction callbacks and followups ----------------------------------------
    async def _callback(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        interaction_id = _int(request.match_info["interaction_id"], UNKNOWN_INTERACTION)
        record = self._interactions_by_id.get(interaction_id)
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError(*UNKNOWN_INTERACTION)
        if record.responses:
            raise DiscordError(*ALREADY_ACKNOWLEDGED)
        window = self.interaction_window_s
        if window is not None and now - record.sent_at > window:
            raise DiscordError(*UNKNOWN_INTERACTION)
        body = request[_BODY].json or {}
        kind = body.get("type")
        if kind not in ALLOWED_CALLBACKS[record.type]:
            raise _invalid("type", f"Callback type {kind} is not valid for this interaction")
        data: JSON = body.get("data") or {}
        message: JSON | None = None
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            deferred = kind == DEFERRED_CHANNEL_MESSAGE
            message = self._new_message(
                record.channel_id,
                self.bot_user,
                {"flags": data.get("flags")} if deferred else data,
                type_=self._interaction_message_type(record),
                flags=LOADING if deferred else 0,
                uploads=request[_BODY].uploads,
                allow_empty=deferred,
            )
            message.update(
                application_id=str(self.application_id),
                interaction_metadata=self._interaction_metadata(record),
            )
        elif kind == UPDATE_MESSAGE and record.original_id is not None:
            target = self._live_message(record.original_id)
            message = await self._edit(target, data, request[_BODY].uploads)
            record.original_edits += 1
        if message is not None and kind != UPDATE_MESSAGE:
            self._store(message)
            record.original_id = int(message["id"])
        record.responses.append(copy.deepcopy(body))
        record.response_times.append(now)
        if message is not None and kind != UPDATE_MESSAGE:
            await self._announce("MESSAGE_CREATE", message)
        await self._notify()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        callback: JSON = {
            "interaction": {
                "id": str(record.id),
                "type": record.type,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message is not None and is_ephemeral(message)),
            }
        }
        if message is not None:
            callback["interaction"]["response_message_id"] = message["id"]
            callback["resource"] = {"type": kind, "message": message}
        return _json_response(callback)

    async def _post_followup(self, request: web.Request) -> web.Response:
        record = self._record_by_token(request)
        if not record.responses:
            raise DiscordError(*UNKNOWN_WEBHOOK)
        body: JSON = request[_BODY].json or {}
        original = self.get_message(record.original_id) if record.original_id else None
        if (
            original is not None
            and not original.get("deleted")
            and original["flags"] & LOADING
            and not record.followup_ids
        ):
            # The first followup after a defer replaces the "thinking" message; its
            # ephemerality is the defer's. Once the bot deleted that message, a followup is a
            # new message with its own flags.
            changes = {k: v for k, v in body.items() if k != "flags"}
            message = await self._edit(
                self._live_message(int(original["id"])),
                changes,
                request[_BODY].uploads,
                record=False,
            )
        else:
            message = self._new_message(
                record.channel_id,
                self.bot_user,
                body,
                uploads=request[_BODY].uploads,
            )
            message.update(
                application_id=str(self.application_id),
                webhook_id=str(self.application_id),
                interaction_metadata=self._interaction_metadata(record),
            )
            await self._store_and_announce(message)
        record.followup_ids.append(int(message["id"]))
        await self._notify()
        return _json_response(message)

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        record = self._record_by_token(request)
        return _json_response(self._record_message(record, request.match_info["message_ref"]))

    async def _patch_webhook_message(self, request: web.Request) -> web.Response:
        record = self._record_by_token(request)
        message_ref = request.match_info["message_ref"]
        message = self._record_message(record, message_ref)
        edited = await self._edit(message, request[_BODY].json or {}, request[_BODY].uploads)
        if int(edited["id"]) == record.original_id:
            record.original_edits += 1
        await self._notify()
        return _json_response(edited)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        record = self._record_by_token(request)
        await self._delete(self._record_message(record, request.match_info["message_ref"]))
        return web.Response(status=204)

    # ---- gateway --------------------------------------------------------------------------
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


# ---- helpers --------------------------------------------------------------------------------
@contextlib.contextmanager
def point_discord_at(fake: FakeDiscord) -> Iterator[None]:
    """Points discord.py's REST base and default gateway at the fake, and restores them."""
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def logged_in(
    fake: FakeDiscord,
    client: ClientT,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> AsyncIterator[ClientT]:
    """Logs a discord.py client in to the fake and connects it (no reconnecting); yields it
    once READY (every shard's), and closes it on the way out."""
    await client.login(fake.token)
    task = asyncio.create_task(client.connect(reconnect=False))
    try:
        await asyncio.wait_for(client.wait_until_ready(), timeout)
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, timeout)


async def _read_body(request: web.Request) -> tuple[Any, list[_Upload]]:
    """The JSON body (or multipart's payload_json) and the uploaded files."""
    if request.content_type == "multipart/form-data":
        payload: Any = None
        uploads: list[_Upload] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            raw = await part.read(decode=True)
            if part.name == "payload_json":
                payload = json.loads(raw)
            elif part.filename:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                uploads.append(_Upload(part.filename, content_type, bytes(raw)))
        return payload, uploads
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        raise DiscordError(400, "400: Bad Request", 50109) from None


def _event_guild(event: str, data: Mapping[str, Any]) -> int | None:
    """The guild a gateway event belongs to, if any."""
    guild_id = data.get("guild_id")
    if guild_id is None and event in _GUILD_OBJECT_EVENTS:
        guild_id = data.get("id")
    return None if guild_id is None else int(guild_id)


def _strip_nonce(message: JSON) -> JSON:
    """A message as history and GET show it: Discord returns no nonce there."""
    shown = copy.deepcopy(message)
    shown.pop("nonce", None)
    shown.pop("deleted", None)
    return shown


def _check_message(content: str, embeds: list[Any]) -> None:
    if len(content) > 2000:
        raise _invalid("content", "Must be 2000 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    if len(embeds) > 10:
        raise _invalid("embeds", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH")


def _check_command(index: int, command: Mapping[str, Any]) -> None:
    """The checks of Discord's that a bot can trip: names, descriptions, option order."""
    name = str(command.get("name", ""))
    kind = command.get("type", 1)
    # USER and MESSAGE commands (types 2, 3) may be mixed case and include spaces.
    valid = (
        _COMMAND_NAME.fullmatch(name) and name == name.lower()
        if kind == 1
        else 1 <= len(name) <= 32
    )
    if not valid:
        raise _invalid(
            f"{index}.name", f"Command name {name!r} is invalid", "APPLICATION_COMMAND_INVALID_NAME"
        )
    if kind == 1:
        _check_options(f"{index}", command)


def _check_options(where: str, parent: Mapping[str, Any]) -> None:
    description = str(parent.get("description", ""))
    if not 1 <= len(description) <= 100:
        raise _invalid(f"{where}.description", "Must be 1 to 100 in length.")
    options: list[JSON] = list(parent.get("options") or [])
    if len(options) > 25:
        raise _invalid(f"{where}.options", "Must be 25 or fewer in length.")
    seen_optional = False
    for n, option in enumerate(options):
        if not _COMMAND_NAME.fullmatch(str(option.get("name", ""))):
            raise _invalid(f"{where}.options.{n}.name", "Invalid option name")
        if option.get("type") in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP):
            _check_options(f"{where}.options.{n}", option)
            continue
        if option.get("required"):
            if seen_optional:
                raise _invalid(
                    f"{where}.options.{n}",
                    "Required options must be placed before non-required options",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                )
        else:
            seen_optional = True
        if not 1 <= len(str(option.get("description", ""))) <= 100:
            raise _invalid(f"{where}.options.{n}.description", "Must be 1 to 100 in length.")


def _find_component(components: list[JSON], custom_id: str) -> JSON | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        found = _find_component(component.get("components", []), custom_id)
        if found is not None:
            return found
        accessory = component.get("accessory")
        if isinstance(accessory, dict) and accessory.get("custom_id") == custom_id:
            return accessory
    return None


def _python_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return OPT_BOOLEAN
    if isinstance(value, int):
        return OPT_INTEGER
    if isinstance(value, float):
        return OPT_NUMBER
    if isinstance(value, str):
        return OPT_STRING
    raise TypeError(f"cannot infer an option type for {value!r}: sync the command first")


def _int(text: str, error: tuple[int, str, int]) -> int:
    try:
        return int(text)
    except ValueError:
        raise DiscordError(*error) from None
