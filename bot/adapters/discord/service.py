"""The Discord side of `wirewatch run`: log in, keep the gateway connection, hand out the
ChatPort, and stop cleanly. Also the bot's invite URL.
Side effects: network connections to Discord (or to WIREWATCH_DISCORD_API_BASE and
WIREWATCH_DISCORD_GATEWAY_URL when set).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from typing import Any
from urllib.parse import urlencode

import discord
import yarl

from bot.adapters.discord.chat import DiscordChat
from bot.adapters.discord.client import ShardedWirewatchBot, WirewatchBot
from bot.adapters.discord.ratelimit import InvalidRequestGuard, RateLimiter, trace
from bot.app import App
from bot.core.errors import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)

# What the bot needs in a channel, and nothing more.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True
)
INVITE_SCOPES = ("bot", "applications.commands")


def point_at(settings: Settings) -> None:
    """Use the configured REST base and gateway instead of Discord's (a rate-limit proxy, a
    local test server). Unset, discord.py's defaults stay."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class DiscordService:
    """One logged-in bot over the App: `start()`, then `chat` delivers; `close()` stops."""

    def __init__(self, app: App, settings: Settings) -> None:
        if settings.discord_token is None:
            raise UserError("WIREWATCH_DISCORD_TOKEN is not set")
        point_at(settings)
        self._token = settings.discord_token
        guard = InvalidRequestGuard(settings.discord_invalid_pause)
        self.bot = bot_for(settings)(
            app,
            guild_ids=settings.discord_guild_ids,
            state_path=settings.data_dir / "discord_commands.json",
            http_trace=trace(guard),
            **shard_options(settings),
        )
        self.chat = DiscordChat(
            self.bot, limiter=RateLimiter(settings.discord_max_rps), guard=guard
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Log in (a refused token raises UserError) and connect the gateway in the background;
        the connection reconnects by itself."""
        try:
            await self.bot.login(self._token.get_secret_value())
        except discord.LoginFailure as exc:
            await self.bot.close()
            raise UserError(
                "Discord refused WIREWATCH_DISCORD_TOKEN: copy the bot's token again from the "
                "developer portal (Bot > Reset Token)"
            ) from exc
        except BaseException:  # the command sync in setup_hook, an unreachable API: no leaks
            await self.bot.close()
            raise
        self.task = asyncio.create_task(self.bot.connect(reconnect=True), name="discord-gateway")

    async def wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    def connected(self) -> bool:
        """Logged in, READY, and the gateway websocket open now, of every shard this process
        runs (for /healthz)."""
        bot = self.bot
        if not bot.is_ready() or bot.is_closed():
            return False
        if isinstance(bot, ShardedWirewatchBot):
            return bool(bot.shards) and all(not shard.is_closed() for shard in bot.shards.values())
        return bot.ws is not None and bool(bot.ws.open)

    def stop_taking_commands(self) -> None:
        self.bot.stopping = True

    async def close(self) -> None:
        """Close the gateway and the HTTP session."""
        self.stop_taking_commands()
        await self.bot.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, timeout=10)


def bot_for(settings: Settings) -> type[WirewatchBot]:
    """The client class: sharded when WIREWATCH_SHARD_COUNT is set."""
    return ShardedWirewatchBot if settings.shard_count is not None else WirewatchBot


def shard_options(settings: Settings) -> dict[str, Any]:
    """discord.py's sharding arguments: this process's shard ids (all when none are named)."""
    if settings.shard_count is None:
        return {}
    ids = settings.shard_ids or list(range(settings.shard_count))
    return {"shard_ids": ids, "shard_count": settings.shard_count}


def application_id_from_token(token: str) -> int:
    """A bot token's first part is its user id (= the application id), base64-encoded."""
    head = token.split(".", 1)[0]
    try:
        ident = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        ident = ""
    if not ident.isdigit():
        raise UserError(
            "cannot read the application id from WIREWATCH_DISCORD_TOKEN: give --client-id "
            "(the developer portal's General Information > Application ID)"
        )
    return int(ident)


def invite_url(client_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with only the permissions it needs."""
    query = urlencode(
        {
            "client_id": client_id,
            "scope": " ".join(INVITE_SCOPES),
            "permissions": INVITE_PERMISSIONS.value,
        }
    )
    return f"https://discord.com/oauth2/authorize?{query}"
