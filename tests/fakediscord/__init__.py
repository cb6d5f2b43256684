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

The package's parts, each building on the ones before it: model.py (constants, records,
DiscordError), state.py (what the fake holds, and the reads of it), gateway.py (the websocket:
sessions, shards, heartbeats, dispatch), messages.py and commands.py (messages and synced
commands), interactions.py (users' actions and the bot's answers), server.py (FakeDiscord: start
and stop, injected failures, REST routes; `point_discord_at`, `logged_in`). Importing it has no
side effects.
"""

from tests.fakediscord.model import (
    ALL_PERMISSIONS,
    ALLOWED_CALLBACKS,
    ALREADY_ACKNOWLEDGED,
    API_PREFIX,
    APPLICATION_COMMAND,
    APPLICATION_FLAGS,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_FAILURES,
    CHANNEL_MESSAGE,
    DEFAULT_BOT_USER_ID,
    DEFAULT_TOKEN,
    DEFAULT_USER_ID,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    DISCORD_EPOCH_MS,
    EMPTY_MESSAGE,
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    INVALID_FORM_BODY,
    JSON,
    LOADING,
    MESSAGE_CHAT_INPUT,
    MESSAGE_COMPONENT,
    MESSAGE_CONTEXT_MENU,
    MESSAGE_DEFAULT,
    MESSAGE_REPLY,
    MISSING_ACCESS,
    MODAL,
    MODAL_SUBMIT,
    NOT_FOUND,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_RECONNECT,
    OP_RESUME,
    OPT_BOOLEAN,
    OPT_CHANNEL,
    OPT_INTEGER,
    OPT_MENTIONABLE,
    OPT_NUMBER,
    OPT_ROLE,
    OPT_STRING,
    OPT_SUB_COMMAND,
    OPT_SUB_COMMAND_GROUP,
    OPT_USER,
    PING,
    PONG,
    SUPPRESS_EMBEDS,
    SUPPRESS_NOTIFICATIONS,
    UNAUTHORIZED,
    UNKNOWN_APPLICATION,
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    UPDATE_MESSAGE,
    DiscordError,
    FakeGuild,
    InteractionRecord,
    MessageEdit,
    RecordedRequest,
    is_ephemeral,
    shard_of,
)
from tests.fakediscord.server import FakeDiscord, logged_in, point_discord_at

__all__ = [
    "ALLOWED_CALLBACKS",
    "ALL_PERMISSIONS",
    "ALREADY_ACKNOWLEDGED",
    "API_PREFIX",
    "APPLICATION_COMMAND",
    "APPLICATION_FLAGS",
    "AUTOCOMPLETE",
    "AUTOCOMPLETE_RESULT",
    "CHANNEL_FAILURES",
    "CHANNEL_MESSAGE",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_USER_ID",
    "DEFERRED_CHANNEL_MESSAGE",
    "DEFERRED_UPDATE_MESSAGE",
    "DISCORD_EPOCH_MS",
    "DiscordError",
    "EMPTY_MESSAGE",
    "EPHEMERAL",
    "EVERYONE_PERMISSIONS",
    "FakeDiscord",
    "FakeGuild",
    "INTENT_GUILD_MESSAGES",
    "INTENT_MESSAGE_CONTENT",
    "INVALID_FORM_BODY",
    "InteractionRecord",
    "JSON",
    "LOADING",
    "MESSAGE_CHAT_INPUT",
    "MESSAGE_COMPONENT",
    "MESSAGE_CONTEXT_MENU",
    "MESSAGE_DEFAULT",
    "MESSAGE_REPLY",
    "MISSING_ACCESS",
    "MODAL",
    "MODAL_SUBMIT",
    "MessageEdit",
    "NOT_FOUND",
    "OPT_BOOLEAN",
    "OPT_CHANNEL",
    "OPT_INTEGER",
    "OPT_MENTIONABLE",
    "OPT_NUMBER",
    "OPT_ROLE",
    "OPT_STRING",
    "OPT_SUB_COMMAND",
    "OPT_SUB_COMMAND_GROUP",
    "OPT_USER",
    "OP_DISPATCH",
    "OP_HEARTBEAT",
    "OP_HEARTBEAT_ACK",
    "OP_HELLO",
    "OP_IDENTIFY",
    "OP_INVALID_SESSION",
    "OP_RECONNECT",
    "OP_RESUME",
    "PING",
    "PONG",
    "RecordedRequest",
    "SUPPRESS_EMBEDS",
    "SUPPRESS_NOTIFICATIONS",
    "UNAUTHORIZED",
    "UNKNOWN_APPLICATION",
    "UNKNOWN_CHANNEL",
    "UNKNOWN_GUILD",
    "UNKNOWN_INTERACTION",
    "UNKNOWN_MESSAGE",
    "UNKNOWN_WEBHOOK",
    "UPDATE_MESSAGE",
    "is_ephemeral",
    "logged_in",
    "point_discord_at",
    "shard_of",
]
