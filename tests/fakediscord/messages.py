"""Messages in the fake Discord: building one from a create payload as Discord checks it,
storing, editing and deleting it, and announcing each change (MESSAGE_CREATE, MESSAGE_UPDATE,
MESSAGE_DELETE) to the sessions whose intents ask for it. Side effects: gateway events.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakediscord.gateway import _Gateway
from tests.fakediscord.model import (
    EMPTY_MESSAGE,
    EPHEMERAL,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    JSON,
    LOADING,
    MESSAGE_REPLY,
    SUPPRESS_EMBEDS,
    SUPPRESS_NOTIFICATIONS,
    UNKNOWN_MESSAGE,
    DiscordError,
    MessageEdit,
    _invalid,
    _now_iso,
    _Upload,
    is_ephemeral,
)

_MENTION = re.compile(r"<@!?(\d+)>")


class _Messages(_Gateway):
    """The messages of the fake's channels, and their gateway events."""

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
