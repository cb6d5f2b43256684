"""The slash commands and the message menu: each turns an interaction into a call of the
chat-neutral command layer (bot/core/commands.py) and shows its result as an embed, or its error as
an ephemeral sentence. Side effects: replies through Discord's interaction endpoints.

Every command is acknowledged at once ("thinking...") and answered when its work is done, so
Discord's 3 seconds always hold. Configuration commands check the Manage Channels permission
here, on every call (Discord's `default_member_permissions` applies to whole top-level
commands, and /feed and /watch hold a `list` that is for everyone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands

from bot.adapters.discord import embeds
from bot.adapters.discord.chat import channel_name, workspace_name
from bot.core import commands
from bot.core.errors import UserError
from bot.core.extraction import parse_published
from bot.core.watches import Ambiguous
from index.extract.eventtypes import EVENT_TYPES

if TYPE_CHECKING:
    from bot.adapters.discord.client import WirewatchBot

log = logging.getLogger(__name__)

PAGE_TIMEOUT_S = 300.0  # paging buttons stop working after this
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


async def error_reply(interaction: discord.Interaction, text: str, *, public: bool = True) -> None:
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
        await error_reply(interaction, "Wirewatch is restarting: try again in a minute.")
        return
    if manager and not (
        interaction.permissions.manage_channels or interaction.permissions.administrator
    ):
        log.info("/%s refused: no Manage Channels permission", command, extra=where)
        await error_reply(interaction, "You need the Manage Channels permission for that.")
        return
    await interaction.response.defer(ephemeral=not public, thinking=True)
    log.info("/%s", command, extra=where)
    try:
        reply = await work()
    except Ambiguous as exc:
        choices = "\n".join(f"• {c.label}: use `{c.term}`" for c in exc.choices[:20])
        await error_reply(
            interaction, f"{exc.term!r} could mean several things:\n{choices}", public=public
        )
        return
    except UserError as exc:
        log.info("/%s: %s", command, exc, extra=where)
        await error_reply(interaction, str(exc), public=public)
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("/%s failed", command, extra=where)
        await error_reply(
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

    def id_autocomplete(
        lookup: Callable[..., Awaitable[list[tuple[str, int]]]],
    ) -> Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[int]]]]:
        """Autocomplete over the guild's own feeds or watches (`lookup`: a *_choices)."""

        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[int]]:
            if interaction.guild_id is None:
                return []
            found = await lookup(app, current, workspace=workspace_name(interaction.guild_id))
            return [
                app_commands.Choice(name=embeds.clip(label, 100), value=v) for label, v in found
            ]

        return complete

    feed_autocomplete = id_autocomplete(commands.feed_choices)
    watch_autocomplete = id_autocomplete(commands.watch_choices)

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
            return Reply(embeds=embeds.pages("Feeds", [embeds.feed_line(f) for f in doc["feeds"]]))

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
            until = embeds.when(doc["muted_until"])
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
            return Reply(
                embeds=embeds.pages("Watches", [embeds.watch_line(w) for w in doc["watches"]])
            )

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
            return Reply(embeds=[embeds.why_embed(doc["alerts"])])

        await run(bot, interaction, work, public=True)

    async def why_message(interaction: discord.Interaction, message: discord.Message) -> None:
        async def work() -> Reply:
            doc = await commands.why_alert(
                app, workspace=_workspace(interaction), message_ref=str(message.id)
            )
            return Reply(embeds=[embeds.why_embed(doc["alerts"])])

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
            lines = [embeds.alert_line(a) for a in doc["alerts"]]
            return Reply(embeds=embeds.pages("Recent alerts", lines))

        await run(bot, interaction, work, public=True)

    @app_commands.command(name="status", description="Feeds, watches and alerts of this server")
    @app_commands.guild_only()
    async def status(interaction: discord.Interaction) -> None:
        async def work() -> Reply:
            doc = await commands.status(app, workspace=_workspace(interaction))
            return Reply(embeds=[embeds.status_embed(doc)])

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


def _moment(as_of: str | None) -> datetime | None:
    if not as_of:
        return None
    try:
        return parse_published(as_of)
    except ValueError as exc:
        raise UserError(f"as_of: {exc}") from None
