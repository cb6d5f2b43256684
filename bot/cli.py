"""The `wirewatch` command line (click), per ../shared/CONTRACT.md.

Exit codes: 0 success; 1 runtime failure; 2 bad usage or bad input (one line on stderr).
`--json` prints exactly one JSON document on stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from bot.errors import UserError
from bot.settings import Settings
from index.errors import NewsIndexError

if TYPE_CHECKING:
    from bot.app import App, Repair

T = TypeVar("T")
log = logging.getLogger("wirewatch")


@dataclass
class Ctx:
    data_dir: Path | None
    verbose: int
    settings: Settings | None = None  # read on first use, so `--help` works whatever the env


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; expected failures become one line on stderr."""
    try:
        return asyncio.run(coro)
    except UserError as exc:
        _fail(str(exc), 2)
    except NewsIndexError as exc:
        _fail(str(exc), 1)
    except sqlite3.Error as exc:
        _fail(f"database error: {exc} (is another process holding the data dir?)", 1)
    except OSError as exc:  # includes a lock on the vector index that was never released
        _fail(f"{type(exc).__name__}: {exc}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # PostgreSQL's errors, without importing its driver here
        if type(exc).__module__.startswith("asyncpg"):
            _fail(f"database error: {type(exc).__name__}: {exc}", 1)
        raise


def _emit(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False))


def _settings(ctx: click.Context) -> Settings:
    """The settings (env, `.env`, then `--data-dir`), read once; a bad value exits 2."""
    from pydantic import ValidationError

    obj = ctx.find_object(Ctx)
    assert obj is not None, "the `cli` group sets ctx.obj"
    if obj.settings is None:
        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            field = "WIREWATCH_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
            message = str(first["msg"]).removeprefix("Value error, ")
            _fail(f"bad configuration {field}: {message}")
        if obj.data_dir is not None:
            settings = settings.model_copy(update={"data_dir": obj.data_dir})
        obj.settings = settings
        _setup_logging(logging.getLevelName(logging.getLogger().level), settings)
    return obj.settings


def _prepare_data_dir(settings: Settings) -> None:
    """Create the data dir, or exit 2 saying why it cannot be used."""
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        _fail(
            f"the data directory {path} is a file; point --data-dir or WIREWATCH_DATA_DIR "
            "at a directory"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(
            f"cannot use {path} as the data directory ({exc.strerror or exc}); point "
            "--data-dir or WIREWATCH_DATA_DIR at a directory you can write to"
        )


def _with_app(
    ctx: click.Context,
    fn: Callable[[App], Awaitable[T]],
    *,
    with_model: bool = False,
    repair_mode: Repair = "none",
    with_extractor: bool = False,
) -> T:
    """Open the app for one command, run `fn` on it, close it. Commands that ingest ask for
    the event-metadata extractor too."""
    from bot.app import open_app
    from bot.render import progress_reporter

    settings = _settings(ctx)
    _prepare_data_dir(settings)

    async def go() -> T:
        with progress_reporter() as progress:
            async with open_app(
                settings,
                with_model=with_model,
                repair_mode=repair_mode,
                progress=progress,
                with_extractor=with_extractor,
            ) as app:
                return await fn(app)

    return _run(go())


def _setup_logging(level: str, settings: Settings | None = None) -> None:
    """Logs on stderr; with the settings, in their format and with their secrets redacted."""
    from bot.logs import configure

    if settings is None:
        configure(level)
    else:
        configure(level, settings.log_format, settings.secret_values())


def _guild_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--guild",
        type=click.IntRange(min=1),
        default=None,
        help="Act on this Discord server's workspace (its id) instead of the console's.",
    )(f)


def _scope(guild: int | None, channel: str | None = None) -> tuple[str, str | None]:
    """(workspace, channel) from --guild and --channel: the guild's workspace, else the
    channel's, else the console's. Exits with a usage error on a channel of another guild."""
    from bot.watches import channel_workspace

    if guild is not None and channel is not None and channel.isdigit():
        channel = f"discord:{guild}:{channel}"
    try:
        workspace = channel_workspace(channel) if channel else "console"
    except UserError as exc:
        _fail(str(exc))
    if guild is not None:
        if channel is not None and workspace != f"discord:{guild}":
            _fail(f"--channel {channel} is not a channel of --guild {guild}")
        workspace = f"discord:{guild}"
    return workspace, channel


@click.group(name="wirewatch", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the database and vector index live (env WIREWATCH_DATA_DIR; default ./var).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) to stderr.")
@click.version_option(package_name="wirewatch")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: int) -> None:
    """Wirewatch: watch conflict and security news feeds, search them, get alerts."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def restore_logging() -> None:  # `main()` may run more than once in a process (tests)
        root.handlers[:], level = saved
        root.setLevel(level)

    ctx.call_on_close(restore_logging)
    _setup_logging({0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG"))
    ctx.obj = Ctx(data_dir=data_dir, verbose=verbose)


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
    from bot import commands

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
    from bot import commands, render

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
    from bot import commands

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
    from bot import commands, render

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
    from bot import commands, render

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
    from bot import commands

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
    from bot import commands, render

    workspace, _ = _scope(guild)
    doc = _with_app(ctx, lambda app: commands.stats(app, workspace=workspace))
    if as_json:
        _emit(doc)
    else:
        render.print_stats(doc)


# ---- reading --------------------------------------------------------------------------------
@cli.command()
@click.argument("query")
@click.option(
    "--k", "k", type=click.IntRange(1, 200), default=5, show_default=True, help="How many passages."
)
@click.option(
    "--per-story",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="At most this many passages from any one story (0 = no limit).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, k: int, per_story: int, as_json: bool) -> None:
    """Passages most similar in meaning to QUERY, best first."""
    from bot import commands, render

    if not query.strip():
        _fail("the query is empty: give some words to search for")
    doc = _with_app(
        ctx,
        lambda app: commands.search(app, query, k=k, per_story=per_story, workspace="console"),
        with_model=True,
        repair_mode="index",
    )
    if as_json:
        _emit(doc)
    else:
        render.print_results(doc)


_CHANNEL_HELP = (
    "console (default) or discord:<guild_id>:<channel_id> (with --guild, the channel id alone)."
)


# ---- questions ---------------------------------------------------------------------------------
@cli.command()
@click.argument("question", required=False)
@click.option("--k", type=int, default=5, show_default=True, help="Articles to cite at most.")
@click.option(
    "--batch",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file of questions, one per line; prints JSON Lines, one answer each, in order.",
)
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "bm25", "dense"]),
    default="hybrid",
    show_default=True,
    help="Retrieval: BM25 and meaning fused, or one of them alone (for comparison).",
)
@click.option(
    "--as-of",
    default=None,
    help="Answer as of this date or time (ISO): 'this week' and 'yesterday' count from it.",
)
@click.option("--channel", default=None, help=_CHANNEL_HELP)
@_guild_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    k: int,
    batch: Path | None,
    mode: str,
    as_of: str | None,
    channel: str | None,
    guild: int | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the workspace's articles, citing them as [1], [2]. Examples:
    `ask "what happened in Albu Kamal this week?"`, `ask "how many were killed in the Mosul
    market bombing?"`, `ask "latest on HTS"`. A --batch line is a question, or a JSON object
    {"question": ..., "as_of": ...}."""
    from bot import commands, render
    from bot.extraction import parse_published

    def moment(value: str | None) -> datetime | None:
        try:
            return parse_published(value) if value else None
        except ValueError as exc:
            _fail(f"--as-of: {exc}")

    if (question is None) == (batch is None):
        _fail("give a QUESTION or --batch FILE (one of them)")
    workspace, _ = _scope(guild, channel)
    default_moment = moment(as_of)
    if batch is not None:
        try:
            lines = [q for q in batch.read_text(encoding="utf-8").splitlines() if q.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read {batch}: {exc}")
        questions: list[tuple[str, datetime | None]] = []
        for number, line in enumerate(lines, 1):
            if not line.lstrip().startswith("{"):
                questions.append((line, default_moment))
                continue
            try:
                item = json.loads(line)
                when = moment(item.get("as_of")) or default_moment
                questions.append((str(item["question"]), when))
            except (ValueError, KeyError, TypeError, AttributeError):
                _fail(f'{batch} line {number}: neither a question nor {{"question": ...}} JSON')

        async def many(app: App) -> list[dict[str, Any]]:
            return [
                await commands.ask(app, q, k=k, workspace=workspace, mode=mode, as_of=when)
                for q, when in questions
            ]

        for doc in _with_app(ctx, many, with_model=True, repair_mode="index"):
            click.echo(json.dumps(doc, ensure_ascii=False))
        return
    assert question is not None
    doc = _with_app(
        ctx,
        lambda app: commands.ask(
            app, question, k=k, workspace=workspace, mode=mode, as_of=default_moment
        ),
        with_model=True,
        repair_mode="index",
    )
    if as_json:
        _emit(doc)
    else:
        render.print_answer(doc)


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
    from bot import commands, render
    from bot.watches import Ambiguous

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
    from bot import commands, render

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
    from bot import commands

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
    from bot import commands

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
    from bot import commands

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
    from bot import commands, render

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


def _serve(ctx: click.Context, *, chat: bool = False, poll: bool = True) -> None:
    from bot.jobs import serve

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    obj: Ctx = ctx.obj
    _setup_logging("DEBUG" if obj.verbose > 1 else settings.log_level, settings)
    _run(serve(settings, chat=chat, poll=poll))


@cli.command()
@click.argument("path", required=False)
@click.option(
    "--batch",
    "batch",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help='JSON Lines file of {"id", "text", "published"}; prints JSON Lines.',
)
@click.option(
    "--published", default=None, help="When the text was published (ISO date or time; default now)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def extract(
    ctx: click.Context, path: str | None, batch: Path | None, published: str | None, as_json: bool
) -> None:
    """Event metadata of a text: actors, places, event types, casualties, event date.

    Reads PATH, or stdin with "-" (the first line is the title). Nothing is stored."""
    from bot import extraction, render

    settings = _settings(ctx)
    if batch is not None:
        if path is not None:
            _fail("give either PATH or --batch FILE, not both")
        try:
            lines = batch.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read {batch}: {exc}")
        try:
            items = extraction.parse_batch(lines)
        except ValueError as exc:
            _fail(f"{batch}: {exc}")
        for doc in _run(extraction.extract_batch(settings, items)):
            _emit(doc)
        return
    if path is None:
        _fail("give a file to read, or - for stdin, or --batch FILE")
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")
    try:
        when = extraction.parse_published(published)
    except ValueError as exc:
        _fail(str(exc))
    doc = _run(extraction.extract_one(settings, text, when))
    if as_json:
        _emit(doc)
    else:
        render.print_event(doc)


# ---- running --------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--no-poll",
    is_flag=True,
    help="Serve commands and deliver alerts only; `wirewatch worker` processes poll.",
)
@click.pass_context
def run(ctx: click.Context, no_poll: bool) -> None:
    """Poll feeds on their schedule and deliver alerts until interrupted (logs to stderr).

    With WIREWATCH_DISCORD_TOKEN set, the Discord bot serves slash commands and posts alerts
    to Discord channels; on a terminal the console chat runs beside it. With
    WIREWATCH_METRICS_PORT set, serves /healthz and /metrics (on 127.0.0.1 unless
    WIREWATCH_METRICS_HOST says otherwise). Stops cleanly on SIGINT/SIGTERM.

    On PostgreSQL (WIREWATCH_DATABASE_URL) any number of `run` processes may share the
    database: polls are claimed feed by feed, and exactly one process (the holder of the sender
    lease) delivers the outbox."""
    _serve(ctx, chat=sys.stdin is not None and sys.stdin.isatty(), poll=not no_poll)


@cli.command()
@click.option(
    "--client-id",
    type=click.IntRange(min=1),
    default=None,
    help="The bot's application id (default: read from WIREWATCH_DISCORD_TOKEN).",
)
@click.pass_context
def invite(ctx: click.Context, client_id: int | None) -> None:
    """Print the URL that adds the bot to a server (scopes bot and applications.commands;
    permissions View Channel, Send Messages, Embed Links, Read Message History)."""
    from bot.adapters.discord.service import application_id_from_token, invite_url

    if client_id is None:
        token = _settings(ctx).discord_token
        if token is None:
            _fail("set WIREWATCH_DISCORD_TOKEN or give --client-id (the Application ID)")
        try:
            client_id = application_id_from_token(token.get_secret_value())
        except UserError as exc:
            _fail(str(exc))
    click.echo(invite_url(client_id))


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """The console chat alone (no scheduler): search, feeds, stats."""
    from bot.adapters.console import chat as console_chat

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    _run(console_chat(settings))


@cli.command()
@click.option("--no-chat", is_flag=True, help="Exit after the walkthrough.")
@click.option("--port", type=int, default=0, help="Port for the sample feed server (0 = any).")
@click.pass_context
def demo(ctx: click.Context, no_chat: bool, port: int) -> None:
    """Walk through Wirewatch on its own sample feeds, served on 127.0.0.1."""
    from bot.demo import run_demo

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    chat = not no_chat and sys.stdin is not None and sys.stdin.isatty()
    _run(run_demo(settings, chat=chat, port=port))


# the operations (backup, restore, prune, migrate-to) and the worker live in their own modules;
# importing them registers them on `cli`
from bot import opscli, scalecli  # noqa: E402, F401


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="wirewatch")


if __name__ == "__main__":  # pragma: no cover
    main()
