"""The fake Discord server: FakeDiscord (start and stop on 127.0.0.1, failures to inject, the
REST routes for login, commands, guilds, channels and messages) and the helpers tests log a
discord.py client in with. Side effects: listens on an ephemeral port of 127.0.0.1 while started;
`point_discord_at` rebinds discord.py's REST base and default gateway until it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import BodyPartReader, web

if TYPE_CHECKING:
    import discord

from tests.fakediscord.interactions import _Interactions
from tests.fakediscord.messages import _strip_nonce
from tests.fakediscord.model import (
    _BODY,
    API_PREFIX,
    CHANNEL_FAILURES,
    EPHEMERAL,
    JSON,
    MISSING_ACCESS,
    NOT_FOUND,
    UNAUTHORIZED,
    UNKNOWN_APPLICATION,
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MESSAGE,
    DiscordError,
    RecordedRequest,
    _Body,
    _int,
    _invalid,
    _json_response,
    _Rule,
    _Upload,
    is_ephemeral,
)

ClientT = TypeVar("ClientT", bound="discord.Client")

_CHANNEL_PATH = re.compile(r"/channels/(\d+)(?:/|$)")
_TOKEN_ROUTES = re.compile(r"/(?:webhooks/\d+/[^/]+|interactions/\d+/[^/]+/callback)(?:/|$)")


class FakeDiscord(_Interactions):
    """Fake Discord REST + gateway for one bot. Use as `async with FakeDiscord(...) as fake`."""

    # ---- lifecycle ---------------------------------------------------------------------------
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

    # ---- failures to inject ------------------------------------------------------------------
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

    # ---- HTTP: plumbing ----------------------------------------------------------------------
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

    # ---- HTTP: login, gateway, application, commands -----------------------------------------
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

    # ---- HTTP: channels and messages ---------------------------------------------------------
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


# ---- helpers ---------------------------------------------------------------------------------
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
