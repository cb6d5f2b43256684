"""The Discord bot: slash commands, the "Why this alert?" menu and mentions, each turned into a
call of the chat-neutral command layer (bot/commands.py) and its result drawn as an embed.
Side effects: a gateway connection and REST calls; writes the synced command tree's hash to
`<data_dir>/discord_commands.json`.

A guild is a workspace ("discord:<guild_id>"): every command acts on the guild it was typed in,
and nothing of another guild is listed, suggested or answered. Configuration commands need the
Manage Channels permission, checked here on every call (Discord's `default_member_permissions`
applies to whole top-level commands, so /feed and /watch, whose `list` is for everyone, carry it
only as this check). Configuration replies and every error are ephemeral.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import discord
from discord import app_commands

from bot import commands
from bot.adapters.discord import embeds
from bot.adapters.discord.chat import channel_name, workspace_name
from bot.app import App
from bot.errors import UserError
from bot.extraction import parse_published
from bot.watches import Ambiguous
from index.eventtypes import EVENT_TYPES

log = logging.getLogger(__name__)

PAGE_TIMEOUT_S = 300.0  # paging buttons stop working after this
MANAGE = discord.Permissions(manage_channels=True)
HELP = (
    "**Ask** `/ask question` (or mention me): an answer from this server's feeds, citing them.\n"
    "**Feeds** `/feed add url`, `/feed list`, `/feed remove feed`.\n"
    "**Watches** `/watch add term` (a group, a place, keywords or a topic; alerts go to this "
    "channel or `channel`), `/watch list`, `/watch mute watch duration`, `/watch unmute watch`, "
    "`/watch remove watch`.\n"
    "**Alerts** `/alerts` (recent ones), `/why alert` or the message menu *Apps > Why this "
    "alert?* (what matched).\n"
    "**Status** `/status`: feeds in trouble, paused watches, alerts waiting.\n"
    "Adding or removing feeds and watches needs the Manage Channels permission."
)


class Reply:
    """What a command shows: embeds (pages when more than one) or a line of text."""

    def __init__(self, text: str = "", *, embeds: Sequence[discord.Embed] = ()) -> None:
        self.text = text
        self.embeds = list(embeds)


class Pager(discord.ui.View):
    """Previous/next buttons over pages of embeds; only the member who asked may turn them, and
    they stop working after PAGE_TIMEOUT_S."""

    def __init__(self, pages: Sequence[discord.Embed], owner_id: int) -> None:
        super().__init__(timeout=PAGE_TIMEOUT_S)
        self.pages = list(pages)
        self.owner_id = owner_id
        self.index = 0
        self.message: discord.InteractionMessage | discord.WebhookMessage | None = None
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the member who asked can turn these pages: run the command yourself.",
            ephemeral=True,
        )
        return False

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.index = max(0, self.index - 1)
        self._sync()
        await interaction.response.edit_message(embed=self.pages[self.index], view=self)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.index = min(len(self.pages) - 1, self.index + 1)
        self._sync()
        await interaction.response.edit_message(embed=self.pages[self.index], view=self)

    async def on_timeout(self) -> None:
        self.previous.disabled = self.next.disabled = True
        if self.message is not None:
            # the message may be gone or the token expired: then nothing is left to disable
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)


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
    ) -> None:
        intents = discord.Intents.default()  # no privileged intent: no members, presences
        intents.message_content = False  # mentions of the bot carry their text anyway
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,  # seconds to wait for the guilds at READY
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
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_path)

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected to Discord as %s in %d servers",
            user.name if user else "?",
            len(self.guilds),
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
        await _error(interaction, text)


async def _reply_safely(message: discord.Message, text: str) -> None:
    try:
        await message.reply(embeds.clip(text, embeds.CONTENT), mention_author=False)
    except discord.HTTPException as exc:
        log.warning("could not reply: %s", exc)


async def _error(interaction: discord.Interaction, text: str, *, public: bool = True) -> None:
    """An ephemeral error, whether or not the interaction was answered (deferred) already.
    `public`: whether a defer made a public "thinking..." message."""
    text = embeds.clip(text, embeds.CONTENT)
    try:
        if interaction.response.is_done():
            if public and not interaction.is_expired():
                # a public "thinking..." placeholder must not stay behind the error (the first
                # followup would replace it, public); an ephemeral one is simply replaced
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)


def _workspace(interaction: discord.Interaction) -> str:
    if interaction.guild_id is None:
        raise UserError("Use Wirewatch's commands in a server: each server has its own feeds.")
    return workspace_name(interaction.guild_id)


def _channel(interaction: discord.Interaction, channel: discord.abc.GuildChannel | None) -> str:
    guild_id = interaction.guild_id
    if guild_id is None:
        raise UserError("Use Wirewatch's commands in a server.")
    if channel is not None:
        if channel.guild.id != guild_id:
            raise UserError("That channel is in another server.")
        return channel_name(guild_id, channel.id)
    if interaction.channel_id is None:
        raise UserError("Give the channel alerts should go to.")
    return channel_name(guild_id, interaction.channel_id)


async def run(
    bot: WirewatchBot,
    interaction: discord.Interaction,
    work: Callable[[], Awaitable[Reply]],
    *,
    manager: bool = False,
    public: bool = False,
) -> None:
    """Answer an interaction: refuse while stopping or without the permission, defer at once
    (the work may take longer than Discord's 3 seconds), run it, show its reply or an error."""
    command = interaction.command.qualified_name if interaction.command else "?"
    where = {"guild_id": interaction.guild_id, "user_id": interaction.user.id}
    if bot.stopping:
        await _error(interaction, "Wirewatch is restarting: try again in a minute.")
        return
    if manager and not (
        interaction.permissions.manage_channels or interaction.permissions.administrator
    ):
        log.info("/%s refused: no Manage Channels permission", command, extra=where)
        await _error(interaction, "You need the Manage Channels permission for that.")
        return
    await interaction.response.defer(ephemeral=not public, thinking=True)
    log.info("/%s", command, extra=where)
    try:
        reply = await work()
    except Ambiguous as exc:
        choices = "\n".join(f"• {c.label}: use `{c.term}`" for c in exc.choices[:20])
        await _error(
            interaction, f"{exc.term!r} could mean several things:\n{choices}", public=public
        )
        return
    except UserError as exc:
        log.info("/%s: %s", command, exc, extra=where)
        await _error(interaction, str(exc), public=public)
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("/%s failed", command, extra=where)
        await _error(
            interaction, "That failed unexpectedly; the bot's log has the details.", public=public
        )
        return
    await _show(interaction, reply)


async def _show(interaction: discord.Interaction, reply: Reply) -> None:
    try:
        if len(reply.embeds) > 1:
            view = Pager(reply.embeds, interaction.user.id)
            view.message = await interaction.followup.send(
                embed=reply.embeds[0], view=view, wait=True
            )
        elif reply.embeds:
            await interaction.followup.send(embed=reply.embeds[0])
        else:
            await interaction.followup.send(embeds.clip(reply.text, embeds.CONTENT) or "Done.")
    except discord.HTTPException as exc:
        log.warning("could not send a command's reply: %s", exc)


# ---- the command tree ---------------------------------------------------------------------------
def build_tree(bot: WirewatchBot) -> None:
    """Every slash command, bound to this bot's App."""
    app = bot.app
    tree = bot.tree

    async def feed_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        found = await commands.feed_choices(
            app, current, workspace=workspace_name(interaction.guild_id)
        )
        return [app_commands.Choice(name=embeds.clip(label, 100), value=v) for label, v in found]

    async def watch_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        found = await commands.watch_choices(
            app, current, workspace=workspace_name(interaction.guild_id)
        )
        return [app_commands.Choice(name=embeds.clip(label, 100), value=v) for label, v in found]

    async def term_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        found = await commands.term_choices(app, current)
        return [
            app_commands.Choice(name=embeds.clip(label, 100), value=value[:100])
            for label, value in found
        ]

    # -- /feed --
    feed = app_commands.Group(name="feed", description="This server's news feeds", guild_only=True)

    @feed.command(name="add", description="Follow an RSS/Atom feed (Manage Channels)")
    @app_commands.describe(
        url="The feed's address (http or https)",
        interval="Seconds between polls (60 or more)",
        name="A name to show instead of the feed's title",
        backfill="Items already in the feed that may alert: none (default), a number of the "
        "newest, or since a date (YYYY-MM-DD)",
    )
    async def feed_add(
        interaction: discord.Interaction,
        url: str,
        interval: app_commands.Range[int, 60, 86400] | None = None,
        name: app_commands.Range[str, 1, 100] | None = None,
        backfill: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        async def work() -> Reply:
            doc = await commands.add_feed(
                app,
                url,
                interval_s=interval,
                name=name,
                workspace=_workspace(interaction),
                channel=_channel(interaction, None),
                backfill=backfill or "none",
            )
            given = str(doc["backfill"]).strip()
            looks_back = (
                "only items published from now on alert"
                if given.lower() == "none"
                else f"its {given} newest items alert too"
                if given.isdigit()
                else f"items published since {given} alert too"
            )
            return Reply(
                f"Following feed #{doc['feed_id']} <{doc['url']}>, polled every "
                f"{doc['interval_s']} s; {looks_back}. Add a watch (`/watch add`) to get "
                "alerts from it."
            )

        await run(bot, interaction, work, manager=True)

    @feed.command(name="remove", description="Stop following a feed (Manage Channels)")
    @app_commands.describe(feed="The feed (start typing its name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def feed_remove(interaction: discord.Interaction, feed: int) -> None:
        async def work() -> Reply:
            await commands.remove_feed(app, feed, workspace=_workspace(interaction))
            return Reply(f"Stopped following feed #{feed}.")

        await run(bot, interaction, work, manager=True)

    @feed.command(name="list", description="This server's feeds and their health")
    async def feed_list(interaction: discord.Interaction) -> None:
        async def work() -> Reply:
            doc = await commands.list_feeds(app, workspace=_workspace(interaction))
            return Reply(embeds=embeds.pages("Feeds", [_feed_line(f) for f in doc["feeds"]]))

        await run(bot, interaction, work, public=True)

    # -- /watch --
    watch = app_commands.Group(
        name="watch", description="Alerts on groups, places, keywords, topics", guild_only=True
    )

    @watch.command(
        name="add", description="Alert a channel about a group, place, keywords or topic"
    )
    @app_commands.describe(
        term='A group (ISIL), a place (Deir ez-Zor), keywords ("car bomb" OR ied) or a topic',
        kind="What the term is (guessed when left out)",
        radius="Place watches on a town: also places this many km around",
        type="Only events of this type",
        min_killed="Only events with at least this many killed",
        backfill="Also alert on stored news: none, a number of stories, or a date (YYYY-MM-DD)",
        channel="Where alerts go (default: this channel)",
    )
    @app_commands.autocomplete(term=term_autocomplete)
    @app_commands.choices(type=[app_commands.Choice(name=t, value=t) for t in EVENT_TYPES])
    async def watch_add(
        interaction: discord.Interaction,
        term: app_commands.Range[str, 1, 300],
        kind: Literal["group", "place", "keyword", "topic"] | None = None,
        radius: app_commands.Range[float, 1, 500] | None = None,
        type: str | None = None,  # the option's name users see
        min_killed: app_commands.Range[int, 1, 100000] | None = None,
        backfill: str | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        async def work() -> Reply:
            target = _channel(interaction, channel)
            doc = await commands.watch_add(
                app,
                term,
                channel=target,
                kind=kind,
                radius_km=radius,
                event_types=[type] if type else None,
                min_killed=min_killed,
                backfill=backfill,
            )
            means = f" = {doc['canonical']}" if doc["canonical"] not in (None, doc["term"]) else ""
            where = f"<#{target.rsplit(':', 1)[1]}>"
            extra = f"; {doc['backfilled']} alerts from stored news" if doc["backfilled"] else ""
            return Reply(
                f"Watch #{doc['watch_id']}: {doc['kind']} {doc['term']}{means}, alerts to "
                f"{where}{extra}."
            )

        await run(bot, interaction, work, manager=True)

    @watch.command(name="remove", description="Remove a watch (Manage Channels)")
    @app_commands.autocomplete(watch=watch_autocomplete)
    async def watch_remove(interaction: discord.Interaction, watch: int) -> None:
        async def work() -> Reply:
            await commands.watch_remove(app, watch, workspace=_workspace(interaction))
            return Reply(f"Removed watch #{watch}.")

        await run(bot, interaction, work, manager=True)

    @watch.command(name="mute", description="Snooze a watch: 30m, 2h, 1d, 1w (Manage Channels)")
    @app_commands.autocomplete(watch=watch_autocomplete)
    async def watch_mute(
        interaction: discord.Interaction, watch: int, duration: app_commands.Range[str, 1, 20]
    ) -> None:
        async def work() -> Reply:
            doc = await commands.watch_mute(app, watch, duration, workspace=_workspace(interaction))
            until = _when(doc["muted_until"])
            return Reply(f"Watch #{watch} muted until {until}.")

        await run(bot, interaction, work, manager=True)

    @watch.command(name="unmute", description="Resume a muted or paused watch (Manage Channels)")
    @app_commands.autocomplete(watch=watch_autocomplete)
    async def watch_unmute(interaction: discord.Interaction, watch: int) -> None:
        async def work() -> Reply:
            await commands.watch_mute(app, watch, None, workspace=_workspace(interaction))
            return Reply(f"Watch #{watch} is active again.")

        await run(bot, interaction, work, manager=True)

    @watch.command(name="list", description="This server's watches")
    async def watch_list(interaction: discord.Interaction) -> None:
        async def work() -> Reply:
            doc = await commands.watch_list(app, workspace=_workspace(interaction))
            return Reply(embeds=embeds.pages("Watches", [_watch_line(w) for w in doc["watches"]]))

        await run(bot, interaction, work, public=True)

    # -- /why --
    why = app_commands.Group(name="why", description="Why Wirewatch did something", guild_only=True)

    @why.command(name="alert", description="What matched for an alert")
    @app_commands.describe(alert='The alert\'s number (its message footer says "alert 12")')
    async def why_alert(
        interaction: discord.Interaction, alert: app_commands.Range[int, 1]
    ) -> None:
        async def work() -> Reply:
            doc = await commands.why_alert(app, workspace=_workspace(interaction), alert_id=alert)
            return Reply(embeds=[_why_embed(doc["alerts"])])

        await run(bot, interaction, work, public=True)

    async def why_message(interaction: discord.Interaction, message: discord.Message) -> None:
        async def work() -> Reply:
            doc = await commands.why_alert(
                app, workspace=_workspace(interaction), message_ref=str(message.id)
            )
            return Reply(embeds=[_why_embed(doc["alerts"])])

        await run(bot, interaction, work, public=True)

    menu = app_commands.ContextMenu(name="Why this alert?", callback=why_message)
    menu.guild_only = True

    # -- everyone --
    @app_commands.command(name="ask", description="Ask about this server's news; cited answers")
    @app_commands.describe(
        question="e.g. what happened in Raqqa this week?",
        as_of="Answer as of this date (YYYY-MM-DD): 'this week' counts from it",
    )
    @app_commands.guild_only()
    async def ask(
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        as_of: str | None = None,
    ) -> None:
        async def work() -> Reply:
            moment = _moment(as_of)
            doc = await commands.ask(app, question, workspace=_workspace(interaction), as_of=moment)
            return Reply(embeds=[embeds.answer_embed(doc)])

        await run(bot, interaction, work, public=True)

    @app_commands.command(name="alerts", description="Recent alerts of this server")
    @app_commands.guild_only()
    async def alerts(interaction: discord.Interaction) -> None:
        async def work() -> Reply:
            doc = await commands.list_alerts(app, workspace=_workspace(interaction), limit=100)
            lines = [_alert_line(a) for a in doc["alerts"]]
            return Reply(embeds=embeds.pages("Recent alerts", lines))

        await run(bot, interaction, work, public=True)

    @app_commands.command(name="status", description="Feeds, watches and alerts of this server")
    @app_commands.guild_only()
    async def status(interaction: discord.Interaction) -> None:
        async def work() -> Reply:
            doc = await commands.status(app, workspace=_workspace(interaction))
            return Reply(embeds=[_status_embed(doc)])

        await run(bot, interaction, work, public=True)

    @app_commands.command(name="help", description="What Wirewatch can do")
    async def help_(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            embed=embeds.text_embed("Wirewatch", HELP), ephemeral=True
        )

    everything: list[
        app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu
    ]
    everything = [feed, watch, why, menu, ask, alerts, status, help_]
    for command in everything:
        tree.add_command(command)


# ---- drawing results ----------------------------------------------------------------------------
def _when(iso: str | None) -> str:
    """An ISO time as Discord's own timestamp (shown in each reader's time zone)."""
    if not iso:
        return "never"
    try:
        return discord.utils.format_dt(datetime.fromisoformat(iso.replace("Z", "+00:00")), "f")
    except ValueError:
        return iso


def _moment(as_of: str | None) -> datetime | None:
    if not as_of:
        return None
    try:
        return parse_published(as_of)
    except ValueError as exc:
        raise UserError(f"as_of: {exc}") from None


def _feed_line(f: dict[str, Any]) -> str:
    name = embeds.markdown_link(f["name"] or f["url"], f["url"], 120)
    if not f["enabled"]:
        health = f"disabled after {f['error_count']} failures: {f['last_error']}"
    elif f["error_count"]:
        health = f"{f['error_count']} failures: {f['last_error']}"
    else:
        health = f["last_status"] or "not polled yet"
    return (
        f"**#{f['feed_id']}** {name}: {f['articles']} articles, every {f['interval_s']} s, "
        f"{embeds.clip(str(health), 200)}"
    )


def _watch_line(w: dict[str, Any]) -> str:
    means = f" = {w['canonical']}" if w["canonical"] and w["canonical"] != w["term"] else ""
    channel = w["channel"].rsplit(":", 1)[-1]
    line = f"**#{w['watch_id']}** {w['kind']} {embeds.clip(w['term'], 200)}{means} -> <#{channel}>"
    filters = [*w.get("event_types", [])]
    if w.get("min_killed") is not None:
        filters.append(f"killed >= {w['min_killed']}")
    if w.get("radius_km"):
        filters.append(f"within {w['radius_km']:g} km")
    if filters:
        line += f" ({', '.join(filters)})"
    if w.get("paused"):
        line += f"\n  **paused**: {embeds.clip(w['paused'], 300)} (`/watch unmute` resumes it)"
    elif w["muted_until"]:
        line += f", muted until {_when(w['muted_until'])}"
    return line


def _alert_line(a: dict[str, Any]) -> str:
    state = "failed" if a["failed"] else "waiting" if a["pending"] else "sent"
    terms = ", ".join(dict.fromkeys(m["term"] for m in a["matched"]))
    channel = a["channel"].rsplit(":", 1)[-1]
    return (
        f"**alert {a['alert_id']}** {embeds.markdown_link(a['title'], a['url'], 150)} "
        f"({', '.join(a['sources'][:3])}; matched {embeds.clip(terms, 100)}; <#{channel}>, "
        f"{state})"
    )


def _why_embed(alerts: list[dict[str, Any]]) -> discord.Embed:
    fields = []
    for a in alerts[:5]:
        reasons = "\n".join(f"watch #{m['watch_id']} {m['term']}: {m['why']}" for m in a["matched"])
        fields.append((f"alert {a['alert_id']}: {a['title']}", reasons or "no watch recorded"))
    first = alerts[0]
    title = "Why this alert" if len(alerts) == 1 else f"Why these {len(alerts)} alerts"
    sources = ", ".join(first["sources"])
    return embeds.make_embed(
        title, url=first["url"], description=f"Sources: {sources}", fields=fields, kind="alert"
    )


def _status_embed(doc: dict[str, Any]) -> discord.Embed:
    counts = (
        f"{doc['feeds']} feeds, {doc['articles']} articles in {doc['stories']} stories, "
        f"{doc['watches']} watches, {doc['alerts']} alerts ({doc['pending_alerts']} waiting). "
        f"Last poll: {_when(doc['last_polled_at'])}."
    )
    fields = []
    if doc["failing_feeds"]:
        fields.append(
            (
                "Feeds in trouble",
                "\n".join(
                    f"#{f['feed_id']} {f['name']}: "
                    + ("disabled, " if not f["enabled"] else "")
                    + f"{f['error_count']} failures ({f['last_error']})"
                    for f in doc["failing_feeds"]
                ),
            )
        )
    if doc["paused_watches"]:
        fields.append(
            (
                "Paused watches (the channel refused a message; `/watch unmute` resumes)",
                "\n".join(
                    f"#{w['watch_id']} {w['term']}: {w['reason']}" for w in doc["paused_watches"]
                ),
            )
        )
    if doc["muted_watches"]:
        fields.append(
            (
                "Muted watches",
                "\n".join(
                    f"#{w['watch_id']} {w['term']} until {_when(w['until'])}"
                    for w in doc["muted_watches"]
                ),
            )
        )
    return embeds.make_embed("Status", description=counts, fields=fields)
