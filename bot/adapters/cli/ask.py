"""Stage: the command line's reading commands: `search` and `ask` (-> bot/core/commands.py) over the
stored articles, `extract` (-> bot/core/extraction.py) on a text. Side effects: none beyond reading
the data dir or database (and repairing the vector index, as every reader does).

Importing this module registers them on `bot.adapters.cli.main.cli` (bot/adapters/cli/main.py
imports it); the conventions are bot/adapters/cli/main.py's: exit codes 0/1/2, `--json` prints one
document on stdout, errors are one line on stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.adapters.cli.main import (
    _CHANNEL_HELP,
    _emit,
    _fail,
    _guild_option,
    _run,
    _scope,
    _settings,
    _with_app,
    cli,
)

if TYPE_CHECKING:
    from bot.app import App


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
    from bot.adapters.cli import render
    from bot.core import commands

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
    from bot.adapters.cli import render
    from bot.core import commands
    from bot.core.extraction import parse_published

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
    from bot.adapters.cli import render
    from bot.core import extraction

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
