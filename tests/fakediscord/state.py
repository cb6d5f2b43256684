"""What the fake Discord holds (guilds, channels, messages, users, synced commands, interactions,
gateway sessions) and what every part reads of it: the records of what the bot did, `wait_until`,
snowflakes, and the payloads Discord describes guilds, channels, members and the application with.
Side effects: none of its own; the asyncio Condition it holds wakes the fake's waiters.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from aiohttp import web

from tests.fakediscord.model import (
    API_PREFIX,
    APPLICATION_FLAGS,
    DEFAULT_BOT_USER_ID,
    DEFAULT_TOKEN,
    DEFAULT_USER_ID,
    DISCORD_EPOCH_MS,
    EVERYONE_PERMISSIONS,
    JSON,
    UNKNOWN_CHANNEL,
    DiscordError,
    FakeGuild,
    InteractionRecord,
    MessageEdit,
    RecordedRequest,
    _GatewaySession,
    _Rule,
    is_ephemeral,
)

T = TypeVar("T")


class _State:
    """The fake's state and the reads of it; the gateway, message, command and interaction
    parts build on it, and FakeDiscord (server.py) on them."""

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
        self._channels: dict[int, dict[int, JSON]] = {}
        for guild in guilds:
            self._add_channels(guild)
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

    # ---- addresses and connection ------------------------------------------------------------
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

    # ---- reading what the bot did ------------------------------------------------------------
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

    # ---- users -------------------------------------------------------------------------------
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

    # ---- internals: ids ----------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _snowflake(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (millis << 22) | (next(self._increment) & 0xFFF)
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return self._last_snowflake

    # ---- internals: payloads -----------------------------------------------------------------
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

    def _add_channels(self, guild: FakeGuild) -> None:
        for channel_id, name in guild.channel_names().items():
            self._channel_guild[channel_id] = guild.guild_id
            self._channel_names[channel_id] = name
            self._channels.setdefault(channel_id, {})

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
