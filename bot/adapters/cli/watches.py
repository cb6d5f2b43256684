"""Stage: the command line's watch and alert commands -> bot/core/commands.py: `watch add`,
`watch list`, `watch remove`, `watch mute`, `watch unmute`, `alerts`. Side effects: those of
the commands (watches and the alerts a backfill records).

Importing this module registers them on `bot.adapters.cli.main.cli` (bot/adapters/cli/main.py
imports it); the conventions are bot/adapters/cli/main.py's: exit codes 0/1/2, `--json` prints one
document on stdout, errors are one line on stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bot.adapters.cli.main import _CHANNEL_HELP, _emit, _fail, _guild_option, _scope, _with_app, cli

if TYPE_CHECKING:
    from bot.app import App


# ---- watches and alerts ------------------------------------------------------------------------
@cli.group()
def watch() -> None:
    """Watch a group, a place, keywords or a topic, and get alerts in a channel."""


@watch.command("add")
@click.argument("term")
@click.option(
    "--kind",
    type=click.Choice(["group", "place", "keyword", "topic"]),
    default=None,
    help="What TERM is; inferred when left out (a known group or place; keyword syntax or a "
    "short term: keyword; four or more words: topic).",
)
@click.option("--channel", default=None, help=_CHANNEL_HELP + " Alerts go there.")
@_guild_option
@click.option(
    "--radius",
    "radius_km",
    type=float,
    default=None,
    help="Place watches on a town: also fire for places within this many km.",
)
@click.option(
    "--type",
    "event_types",
    multiple=True,
    help="Fire only for this event type "
    "(repeatable): battles, explosions, civilians, protests, riots, strategic.",
)
@click.option(
    "--min-killed", type=int, default=None, help="Fire only when at least this many were killed."
)
@click.option(
    "--backfill",
    default="none",
    show_default=True,
    help="Alert on stories already "
    "stored too: none, the newest N stories, or those since a date (YYYY-MM-DD).",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Topic watches: the similarity a passage needs (default WIREWATCH_TOPIC_THRESHOLD).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def watch_add(
    ctx: click.Context,
    term: str,
    kind: str | None,
    channel: str | None,
    guild: int | None,
    radius_km: float | None,
    event_types: tuple[str, ...],
    min_killed: int | None,
    backfill: str,
    threshold: float | None,
    as_json: bool,
) -> None:
    """Add a watch. Examples: `watch add ISIL`, `watch add "Deir ez-Zor"`, `watch add Albu
    Kamal --radius 30`, `watch add '"car bomb" OR ied NOT training'`, `watch add "drone
    strikes on power plants" --kind topic`."""
    from bot.adapters.cli import render
    from bot.core import commands
    from bot.core.watches import Ambiguous

    if guild is not None and channel is None:
        _fail("--guild needs --channel CHANNEL_ID: the channel of that server alerts go to")
    _, target = _scope(guild, channel)
    target = target or "console"

    async def go(app: App) -> dict[str, Any]:
        try:
            return await commands.watch_add(
                app,
                term,
                kind=kind,  # type: ignore[arg-type]
                channel=target,
                radius_km=radius_km,
                event_types=list(event_types),
                min_killed=min_killed,
                backfill=backfill,
                threshold=threshold,
            )
        except Ambiguous as exc:
            choices = [{"term": c.term, "kind": c.kind, "label": c.label} for c in exc.choices]
            return {"error": str(exc), "choices": choices}

    doc = _with_app(ctx, go)
    if "error" in doc:
        if as_json:
            _emit(doc)
        _fail(doc["error"])
    if as_json:
        _emit(doc)
        return
    means = f" = {doc['canonical']}" if doc["canonical"] and doc["canonical"] != doc["term"] else ""
    render.out.print(
        f"watch {doc['watch_id']}: {doc['kind']} {doc['term']}{means}, alerts to {doc['channel']}",
        markup=False,
    )
    if doc["backfilled"]:
        render.out.print(f"{doc['backfilled']} alerts from stories already stored", markup=False)


@watch.command("list")
@click.option("--channel", default=None, help=_CHANNEL_HELP)
@_guild_option
@click.option("--all", "every", is_flag=True, help="Watches of every channel of every workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def watch_list(
    ctx: click.Context, channel: str | None, guild: int | None, every: bool, as_json: bool
) -> None:
    """List a workspace's watches, or one channel's (muted ones show until when)."""
    from bot.adapters.cli import render
    from bot.core import commands

    workspace, target = _scope(guild, channel)
    doc = _with_app(
        ctx,
        lambda app: commands.watch_list(
            app, workspace=None if every else workspace, channel=target
        ),
    )
    if as_json:
        _emit(doc)
    else:
        render.print_watches(doc["watches"])


@watch.command("remove")
@click.argument("watch_id", type=int)
@click.option("--channel", default=None, help=_CHANNEL_HELP)
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def watch_remove(
    ctx: click.Context, watch_id: int, channel: str | None, guild: int | None, as_json: bool
) -> None:
    """Remove a watch (alerts it fired stay listed)."""
    from bot.core import commands

    workspace, _ = _scope(guild, channel)
    doc = _with_app(ctx, lambda app: commands.watch_remove(app, watch_id, workspace=workspace))
    if as_json:
        _emit(doc)
    else:
        click.echo(f"removed watch {watch_id}")


@watch.command("mute")
@click.argument("watch_id", type=int)
@click.argument("duration")
@click.option("--channel", default=None, help=_CHANNEL_HELP)
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def watch_mute(
    ctx: click.Context,
    watch_id: int,
    duration: str,
    channel: str | None,
    guild: int | None,
    as_json: bool,
) -> None:
    """Mute (snooze) a watch for DURATION: 30m, 2h, 1d, 1w. Stories meanwhile do not alert."""
    from bot.core import commands

    workspace, _ = _scope(guild, channel)
    doc = _with_app(
        ctx, lambda app: commands.watch_mute(app, watch_id, duration, workspace=workspace)
    )
    if as_json:
        _emit(doc)
    else:
        click.echo(f"watch {watch_id} muted until {doc['muted_until']}")


@watch.command("unmute")
@click.argument("watch_id", type=int)
@click.option("--channel", default=None, help=_CHANNEL_HELP)
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def watch_unmute(
    ctx: click.Context, watch_id: int, channel: str | None, guild: int | None, as_json: bool
) -> None:
    """Unmute a watch now (this also resumes a watch paused because its channel refused a
    message)."""
    from bot.core import commands

    workspace, _ = _scope(guild, channel)
    doc = _with_app(ctx, lambda app: commands.watch_mute(app, watch_id, None, workspace=workspace))
    if as_json:
        _emit(doc)
    else:
        click.echo(f"watch {watch_id} unmuted")


@cli.command()
@click.option("--channel", default=None, help=_CHANNEL_HELP)
@_guild_option
@click.option("--all", "every", is_flag=True, help="Alerts of every channel of every workspace.")
@click.option("--pending", is_flag=True, help="Only alerts not delivered yet.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def alerts(
    ctx: click.Context,
    channel: str | None,
    guild: int | None,
    every: bool,
    pending: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Alerts recorded, newest first, with their sources and why they fired."""
    from bot.adapters.cli import render
    from bot.core import commands

    workspace, target = _scope(guild, channel)
    doc = _with_app(
        ctx,
        lambda app: commands.list_alerts(
            app,
            workspace=None if every else workspace,
            channel=None if every else target,
            pending=pending,
            limit=limit,
        ),
    )
    if as_json:
        _emit(doc)
    else:
        render.print_alerts(doc["alerts"])
