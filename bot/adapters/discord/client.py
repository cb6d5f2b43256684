"""The Discord client: logs in, syncs the slash commands when they changed, answers mentions.
Side effects: a gateway connection and REST calls; writes the synced command tree's hash to
`<data_dir>/discord_commands.json`.

A guild is a workspace ("discord:<guild_id>"): every command acts on the guild it was typed in,
and nothing of another guild is listed, suggested or answered. The commands themselves are in
tree.py; what they show, in embeds.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.adapters.discord import embeds
from bot.adapters.discord.chat import workspace_name
from bot.adapters.discord.tree import build_tree, error_reply
from bot.app import App
from bot.core import commands
from bot.core.errors import UserError

log = logging.getLogger(__name__)


class WirewatchBot(discord.Client):
    """The Discord client. Build it with the opened App; `stopping` refuses new commands while
    the process shuts down."""

    def __init__(
        self,
        app: App,
        *,
        guild_ids: Sequence[int] = (),
        state_path: Path | None = None,
        guild_ready_timeout: float = 2.0,
        http_trace: aiohttp.TraceConfig | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()  # no privileged intent: no members, presences
        intents.message_content = False  # mentions of the bot carry their text anyway
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,  # seconds to wait for the guilds at READY
            # sees every HTTP answer (the invalid-request guard); discord.py takes None as unset
            http_trace=http_trace,  # type: ignore[arg-type]
            **options,  # ShardedWirewatchBot: shard_ids, shard_count
        )
        self.app = app
        self.guild_ids = list(guild_ids)
        self.state_path = state_path
        self.stopping = False
        self.synced: list[str] = []  # scopes synced at this start ("global", "guild:<id>")
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        build_tree(self)

    # -- start-up ---------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        try:
            await self.sync_commands()
        except discord.HTTPException as exc:  # alerts still flow; the next start tries again
            log.error(
                "could not sync the slash commands (%s); the ones Discord has stay in use",
                exc,
            )

    async def sync_commands(self) -> list[str]:
        """Sync the command tree where it changed since the last sync (by its hash): globally,
        and at once to each guild of WIREWATCH_DISCORD_GUILD_IDS."""
        payload = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands()]
        digest = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()
        state = self._read_state()
        app_id = str(self.application_id)
        done: list[str] = []
        scopes: list[tuple[str, discord.Object | None]] = [("global", None)]
        scopes += [(f"guild:{g}", discord.Object(id=g)) for g in self.guild_ids]
        for scope, guild in scopes:
            key = f"{app_id}/{scope}"
            if state.get(key) == digest:
                continue
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            state[key] = digest
            done.append(scope)
            log.info("slash commands synced (%s)", scope)
        # a guild no longer listed loses its own copy (it keeps the global commands)
        listed = {f"{app_id}/guild:{g}" for g in self.guild_ids}
        for key in [k for k in state if k.startswith(f"{app_id}/guild:") and k not in listed]:
            guild = discord.Object(id=int(key.rsplit(":", 1)[1]))
            self.tree.clear_commands(guild=guild)
            await self.tree.sync(guild=guild)
            del state[key]
            done.append(f"cleared {key.split('/', 1)[1]}")
            log.info("slash commands of %s cleared (no longer listed)", key.split("/", 1)[1])
        if done:
            self._write_state(state)
        else:
            log.info("slash commands unchanged since the last sync; not syncing")
        self.synced = done
        return done

    def _read_state(self) -> dict[str, str]:
        if self.state_path is None:
            return {}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_state(self, state: dict[str, str]) -> None:
        if self.state_path is None:
            return
        # a temp file of this process's own: several `run` processes may share the data dir,
        # and one's rename must not take the file another is writing
        tmp = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_path)

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected to Discord as %s in %d servers",
            user.name if user else "?",
            len(self.guilds),
        )

    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("joined server %s (%d)", guild.name, guild.id, extra={"guild_id": guild.id})

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        log.info(
            "removed from server %s (%d); its feeds and watches stay stored",
            guild.name,
            guild.id,
            extra={"guild_id": guild.id},
        )

    # -- mentions ---------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        """ "@Wirewatch what happened in Raqqa?" is answered like /ask, as a reply."""
        me = self.user
        if me is None or message.author.bot or me not in message.mentions:
            return
        if message.guild is None:
            await _reply_safely(message, "Ask me in a server: answers come from its feeds.")
            return
        if self.stopping:
            await _reply_safely(message, "Restarting: ask again in a minute.")
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip(" ,:")
        if not question:
            await _reply_safely(message, "Ask me something, e.g. `@me what happened in Raqqa?`")
            return
        try:
            async with message.channel.typing():
                doc = await commands.ask(
                    self.app, question, workspace=workspace_name(message.guild.id)
                )
            await message.reply(embed=embeds.answer_embed(doc), mention_author=False)
        except UserError as exc:
            await _reply_safely(message, str(exc))
        except asyncio.CancelledError:
            raise
        except discord.HTTPException as exc:
            log.warning("could not answer a mention: %s", exc, extra={"target": message.channel.id})
        except Exception:
            log.exception("answering a mention failed")
            await _reply_safely(message, "That failed unexpectedly; the bot's log has the details.")

    # -- errors -----------------------------------------------------------------------------
    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Errors discord.py raises itself (a check, a bad option); ours are handled in run()."""
        if isinstance(error, app_commands.CheckFailure):
            text = "You need the Manage Channels permission for that."
        elif isinstance(
            error, app_commands.TransformerError | app_commands.CommandSignatureMismatch
        ):
            text = f"That option was not understood: {error}"
        else:
            log.error("slash command failed", exc_info=error)
            text = "That failed unexpectedly; the bot's log has the details."
        await error_reply(interaction, text)


async def _reply_safely(message: discord.Message, text: str) -> None:
    try:
        await message.reply(embeds.clip(text, embeds.CONTENT), mention_author=False)
    except discord.HTTPException as exc:
        log.warning("could not reply: %s", exc)


class ShardedWirewatchBot(WirewatchBot, discord.AutoShardedClient):
    """The bot on some shards of a sharded deployment (WIREWATCH_SHARD_IDS of
    WIREWATCH_SHARD_COUNT): each gateway process serves the guilds of its shards; discord.py
    routes each guild to its shard (guild_id >> 22) % shard_count."""
