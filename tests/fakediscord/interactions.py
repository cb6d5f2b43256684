"""Interactions in the fake Discord: what users do (slash commands, autocomplete, context menus,
button presses, messages) sent as gateway events, and the REST side the bot answers on
(interaction callbacks, followups, webhook messages), with the 3-second window and the first
followup after a defer replacing the "thinking" message. Side effects: gateway events.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from tests.fakediscord.commands import _Commands
from tests.fakediscord.messages import _Messages
from tests.fakediscord.model import (
    _BODY,
    ALL_PERMISSIONS,
    ALLOWED_CALLBACKS,
    ALREADY_ACKNOWLEDGED,
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    CHANNEL_MESSAGE,
    DEFAULT_USER_ID,
    DEFERRED_CHANNEL_MESSAGE,
    EVERYONE_PERMISSIONS,
    JSON,
    LOADING,
    MESSAGE_CHAT_INPUT,
    MESSAGE_COMPONENT,
    MESSAGE_CONTEXT_MENU,
    MESSAGE_DEFAULT,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    UPDATE_MESSAGE,
    DiscordError,
    InteractionRecord,
    _int,
    _invalid,
    _json_response,
    is_ephemeral,
)


class _Interactions(_Messages, _Commands):
    """Users' actions, and the bot's answers to them."""

    # ---- users' actions ----------------------------------------------------------------------
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

    # ---- internals: interactions -------------------------------------------------------------
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

    # ---- HTTP: interaction callbacks and followups -------------------------------------------
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
