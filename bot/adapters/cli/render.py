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

from bot.core.ports import Card
from index.extract.events import describe
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
        f"{doc['failed_feeds']} failed; {doc.get('embedded', 0)} passages embedded; "
        f"{doc.get('alerts', 0)} alerts"
    )
    out.print(line)
    for error in doc.get("errors", []):
        err.print(f"[yellow]feed failed[/yellow]: {escape(error)}")


def print_stats(doc: dict[str, Any]) -> None:
    table = Table("what", "count", show_header=False)
    for key, value in doc.items():
        shown = f"{value:,}" if isinstance(value, int) else "-" if value is None else str(value)
        table.add_row(key.replace("_", " "), shown)
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
    for e in doc.get("events", []):
        killed, injured = (e[k]["best"] if e[k] else None for k in ("killed", "injured"))
        place = e["place"]["text"] if e["place"] else None
        what = describe(
            e["type"],
            e["sub_type"],
            place,
            killed,
            injured,
            civilians_killed=bool(e["killed"] and e["killed"].get("civilians")),
            civilians_injured=bool(e["injured"] and e["injured"].get("civilians")),
        )
        out.print(
            f"event: {what}, {e['date'] or 'date not stated'}" + ("  <- main" if e["main"] else ""),
            markup=False,
        )


def print_card(card: Card, *, header: str = "") -> None:
    """A card on the terminal."""
    label = {"update": "updated", "digest": "digest", "alert": "alert"}.get(card.kind, card.kind)
    out.print(
        f"[bold yellow]{escape(header or label)}[/bold yellow] [bold]{escape(card.title)}[/bold]"
    )
    for title, url, detail in card.items:
        out.print(f"  • {escape(title)} [dim]({escape(detail)})[/dim]")
        if url:
            out.print(f"    [blue]{escape(url)}[/blue]")
    if card.body:
        for line in card.body.splitlines():
            out.print(f"  {escape(line)}")
    for name, value in card.fields:
        out.print(f"  [dim]{escape(name)}:[/dim] {escape(value)}")
    if card.url:
        out.print(f"  [blue]{escape(card.url)}[/blue]")
    if card.footer:
        out.print(f"  [green]{escape(card.footer)}[/green]")


def print_alerts(alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        out.print("no alerts yet: add a watch with `wirewatch watch add TERM`")
        return
    for a in alerts:
        state = ("failed" if a["failed"] else "pending" if a["pending"] else "delivered") + (
            " in a digest" if a["digest"] else ""
        )
        sources = ", ".join(a["sources"])
        out.print(
            f"[bold]#{a['alert_id']} {escape(a['title'])}[/bold]  [dim]{escape(a['channel'])}, "
            f"{a['created_at'].replace('+00:00', 'Z')}, {state}[/dim]"
        )
        out.print(f"   sources: {escape(sources)}")
        for m in a["matched"]:
            out.print(f"   matched #{m['watch_id']} {escape(m['term'])}: {escape(m['why'])}")
        if a["url"]:
            out.print(f"   [blue]{escape(a['url'])}[/blue]")


def print_watches(watches: list[dict[str, Any]]) -> None:
    if not watches:
        out.print("no watches yet: add one with `wirewatch watch add TERM`")
        return
    for w in watches:
        means = f" = {w['canonical']}" if w["canonical"] and w["canonical"] != w["term"] else ""
        filters = [*w.get("event_types", [])]
        if w.get("min_killed") is not None:
            filters.append(f"killed >= {w['min_killed']}")
        if w.get("radius_km"):
            filters.append(f"radius {w['radius_km']:g} km")
        if w.get("threshold") is not None:
            filters.append(f"similarity >= {w['threshold']:g}")
        line = f"#{w['watch_id']} {w['kind']} {w['term']}{means} -> {w['channel']}"
        if filters:
            line += f" ({', '.join(filters)})"
        if w["muted_until"]:
            line += f", muted until {w['muted_until'].replace('+00:00', 'Z')}"
        out.print(line, markup=False)


def print_answer(doc: dict[str, Any]) -> None:
    """An `ask` document for people: the answer, then its numbered sources."""
    out.print(doc["answer"], markup=False)
    if doc["citations"]:
        out.print("")
    for c in doc["citations"]:
        when = (c["published_at"] or "")[:10]
        out.print(f"[{c['n']}] {c['title']} ({c['source']}, {when})", markup=False)
        if c["url"]:
            out.print(f"    {c['url']}", markup=False, style="blue")
