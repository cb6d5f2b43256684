"""The fake Discord's vocabulary, shared by its parts: API v10 constants (ids, permission bits,
gateway opcodes and intents, message flags, interaction and callback types, option types, the
(status, message, code) of each error it answers), the records tests read (FakeGuild,
RecordedRequest, MessageEdit, InteractionRecord), DiscordError, and the small records and helpers
the REST and gateway parts pass around. No side effects.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakediscord.server import FakeDiscord


JSON = dict[str, Any]

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


# ---- public records --------------------------------------------------------------------------
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


def _int(text: str, error: tuple[int, str, int]) -> int:
    try:
        return int(text)
    except ValueError:
        raise DiscordError(*error) from None
