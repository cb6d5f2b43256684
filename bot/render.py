"""Plain-terminal rendering of command results (rich), and progress bars on stderr.

Everything that comes from a feed, a user or an error is passed through `escape` before it meets
rich markup: a title such as "Idlib [live]" must print as is, and "[/i]" must not crash.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from index.ingest import Progress as ProgressFn

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

_STAGE_LABELS = {
    "fetch": "fetching feeds",
    "read": "reading files",
    "extract": "extracting event metadata",
    "embed": "embedding passages",
}


@contextmanager
def progress_reporter() -> Iterator[ProgressFn | None]:
    """A progress callback drawing bars on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(_STAGE_LABELS.get(stage, stage), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield report


def print_feeds(feeds: list[dict[str, Any]]) -> None:
    if not feeds:
        out.print("no feeds yet: add one with `wirewatch feeds add URL`")
        return
    table = Table("id", "feed", "every", "articles", "last polled", "status")
    for f in feeds:
        status = escape(f["last_status"] or "not polled yet")
        error = escape(str(f["last_error"]))
        if not f["enabled"]:
            status = f"[red]disabled[/red] after {f['error_count']} failures: {error}"
        elif f["error_count"]:
            status = f"[yellow]{f['error_count']} failures[/yellow]: {error}"
        url = escape(f["url"])
        name = f"{escape(f['name'])}\n[dim]{url}[/dim]" if f["name"] else url
        every = "file" if f.get("kind") == "file" else f"{f['interval_s']} s"
        table.add_row(
            str(f["feed_id"]),
            name,
            every,
            str(f["articles"]),
            (f["last_polled_at"] or "never").replace("+00:00", "Z"),
            status,
        )
    out.print(table)


def print_report(doc: dict[str, Any]) -> None:
    line = (
        f"{doc['feeds_polled']} feeds polled: {doc['new_articles']} new articles, "
        f"{doc.get('updated_articles', 0)} updated, {doc['duplicates']} duplicates, "
        f"{doc['failed_feeds']} failed; {doc.get('embedded', 0)} passages embedded"
    )
    out.print(line)
    for error in doc.get("errors", []):
        err.print(f"[yellow]feed failed[/yellow]: {escape(error)}")


def print_stats(doc: dict[str, Any]) -> None:
    table = Table("what", "count", show_header=False)
    for key, value in doc.items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    out.print(table)


def snippet(text: str, width: int = 300) -> str:
    return textwrap.shorten(text, width=width, placeholder=" …")


def print_results(doc: dict[str, Any], *, limit_text: int = 300) -> None:
    results = doc["results"]
    if not results:
        out.print(f"no passages match {escape(repr(doc['query']))} yet")
        return
    for n, r in enumerate(results, 1):
        when = (r["published_at"] or "")[:10]
        out.print(
            f"[bold]{n}. {escape(r['title'])}[/bold]  [dim]{escape(r['source'])}, "
            f"{when}, score {r['score']:.2f}[/dim]"
        )
        out.print(f"   {escape(snippet(r['text'], limit_text))}")
        if r["url"]:
            out.print(f"   [blue]{escape(r['url'])}[/blue]")


def print_event(doc: dict[str, Any]) -> None:
    """An `extract` document for people."""
    actors = (
        ", ".join(
            a["canonical"] + (f" ({a['text']})" if a["text"] != a["canonical"] else "")
            for a in doc["actors"]
        )
        or "none found"
    )
    out.print(f"actors: {actors}", markup=False)
    if not doc["places"]:
        out.print("places: none found")
    for p in doc["places"]:
        where = ", ".join(x for x in (p["admin1"], p["country"]) if x and x != p["canonical"])
        mark = "  <- main place" if p.get("main") else ""
        out.print(
            f"place: {p['text']} = {p['canonical']}"
            f"{f' ({where})' if where else ''} [{p['precision']}]{mark}",
            markup=False,
        )
    out.print(f"event types: {', '.join(doc['event_types']) or 'none'}", markup=False)
    for kind in ("killed", "injured"):
        count = doc["casualties"][kind]
        if count is not None:
            span = (
                str(count["best"])
                if count["low"] == count["high"]
                else f"{count['best']} ({count['low']}-{count['high']})"
            )
            out.print(f"{kind}: {span}")
    out.print(f"event date: {doc['event_date'] or 'not stated'}")
