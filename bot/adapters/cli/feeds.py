"""Stage: the command line's feed and ingestion commands -> bot/core/commands.py: `feeds add`,
`feeds list`, `feeds remove`, `poll`, `ingest`, `reindex`, `stats`. Side effects: those of the
commands (subscriptions, polls and what they store in the data dir or database).

Importing this module registers them on `bot.adapters.cli.main.cli` (bot/adapters/cli/main.py
imports it); the conventions are bot/adapters/cli/main.py's: exit codes 0/1/2, `--json` prints one
document on stdout, errors are one line on stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from bot.adapters.cli.main import _emit, _fail, _guild_option, _scope, _serve, _with_app, cli


# ---- feeds ----------------------------------------------------------------------------------
@cli.group()
def feeds() -> None:
    """Subscribe to feeds, list them with their health, unsubscribe."""


@feeds.command("add")
@click.argument("url")
@click.option(
    "--interval",
    "interval_s",
    type=int,
    default=None,
    help="Seconds between polls (default WIREWATCH_POLL_INTERVAL_S, at least 60).",
)
@click.option("--name", default=None, help="A name to show instead of the feed's title.")
@click.option(
    "--backfill",
    default="none",
    show_default=True,
    help="Which items already in the feed may alert: none, the newest N, or those published "
    "since a date (YYYY-MM-DD). Items published later always may.",
)
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def feeds_add(
    ctx: click.Context,
    url: str,
    interval_s: int | None,
    name: str | None,
    backfill: str,
    guild: int | None,
    as_json: bool,
) -> None:
    """Subscribe the console workspace (or --guild's) to the feed at URL (http or https)."""
    from bot.core import commands

    workspace, _ = _scope(guild)
    doc = _with_app(
        ctx,
        lambda app: commands.add_feed(
            app, url, interval_s=interval_s, name=name, workspace=workspace, backfill=backfill
        ),
    )
    if as_json:
        _emit(doc)
    else:
        click.echo(f"subscribed: feed {doc['feed_id']} {doc['url']} (every {doc['interval_s']} s)")


@feeds.command("list")
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def feeds_list(ctx: click.Context, guild: int | None, as_json: bool) -> None:
    """List subscribed feeds with their health."""
    from bot.adapters.cli import render
    from bot.core import commands

    workspace, _ = _scope(guild)
    doc = _with_app(ctx, lambda app: commands.list_feeds(app, workspace=workspace))
    if as_json:
        _emit(doc)
    else:
        render.print_feeds(doc["feeds"])


@feeds.command("remove")
@click.argument("feed_id", type=int)
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def feeds_remove(ctx: click.Context, feed_id: int, guild: int | None, as_json: bool) -> None:
    """Unsubscribe from feed FEED_ID (see `feeds list`)."""
    from bot.core import commands

    workspace, _ = _scope(guild)
    doc = _with_app(ctx, lambda app: commands.remove_feed(app, feed_id, workspace=workspace))
    if as_json:
        _emit(doc)
    else:
        click.echo(f"removed feed {feed_id}")


# ---- ingestion ------------------------------------------------------------------------------
@cli.command()
@click.option("--once", is_flag=True, help="Poll every subscribed feed now, then exit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with --once).")
@click.pass_context
def poll(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Poll feeds: once now (--once), or on their schedule until interrupted."""
    from bot.adapters.cli import render
    from bot.core import commands

    if not once:
        _serve(ctx)
        return
    doc = _with_app(
        ctx,
        lambda app: commands.poll_once(app, workspace="console"),
        with_model=True,
        repair_mode="full",
        with_extractor=True,
    )
    if as_json:
        _emit(doc)
    else:
        render.print_report(doc)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ingest(ctx: click.Context, paths: Sequence[Path], as_json: bool) -> None:
    """Ingest local RSS/Atom files through the same pipeline (source = file name)."""
    from bot.adapters.cli import render
    from bot.core import commands

    for path in paths:
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            _fail(f"cannot read {path}: {exc.strerror or exc}")
    doc = _with_app(
        ctx,
        lambda app: commands.ingest_files(app, list(paths), workspace="console"),
        with_model=True,
        repair_mode="full",
        with_extractor=True,
    )
    errors = doc.pop("errors", [])
    if as_json:
        _emit(doc)
    else:
        render.print_report(doc)
    if errors:
        _fail("; ".join(errors), 2)


@cli.command()
@click.option("--re-embed", is_flag=True, help="Also recompute every passage's vector.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def reindex(ctx: click.Context, re_embed: bool, as_json: bool) -> None:
    """Rebuild the vector index from the database."""
    from bot.core import commands

    doc = _with_app(ctx, lambda app: commands.reindex(app, re_embed=re_embed), with_model=True)
    if as_json:
        _emit(doc)
    else:
        click.echo(f"vector index rebuilt: {doc['passages']} passages")


@cli.command()
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats(ctx: click.Context, guild: int | None, as_json: bool) -> None:
    """Counts of feeds, articles, stories, passages, watches and alerts."""
    from bot.adapters.cli import render
    from bot.core import commands

    workspace, _ = _scope(guild)
    doc = _with_app(ctx, lambda app: commands.stats(app, workspace=workspace))
    if as_json:
        _emit(doc)
    else:
        render.print_stats(doc)
