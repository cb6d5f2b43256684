"""`wirewatch demo`: Wirewatch on its own sample feeds, served on 127.0.0.1.

The sample feeds (in `feeds/`, written for this project: three invented outlets reporting on
Syria and Iraq) carry date placeholders such as `@@RFC822:-2d3h@@`, rendered relative to now
when served, so the demo always looks current. State goes to `<data_dir>/demo`, recreated on
each run, so the commands printed at the end can be tried on it afterwards.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from rich.markup import escape

from bot.adapters.cli import render
from bot.adapters.cli.render import out
from bot.app import App, open_app
from bot.core import commands
from bot.core.cards import alert_card
from bot.settings import Settings
from index.store.rows import PlaceFilter

_PLACEHOLDER = re.compile(r"@@(RFC822|RFC3339):-(\d+)d(\d+)h(?:(\d+)m)?@@")

# (term, kind, radius_km): one watch of each kind.
WATCHES: tuple[tuple[str, str | None, float | None], ...] = (
    ("ISIL", None, None),
    ("Deir ez-Zor", None, None),
    ("Al Qaim", "place", 40.0),
    ('"car bomb" OR ied', None, None),
    ("families fleeing the fighting reach a camp", "topic", None),
)

QUESTIONS = (
    "What happened in Albu Kamal this week?",
    "How many were killed in the Mosul market car bomb?",
)

SEARCHES = (
    "air strike on civilians in Raqqa",
    "militants pledge allegiance to Islamic State near the Iraqi border",
    "families displaced by fighting arrive at a camp",
)


def render_feed(template: str, now: datetime) -> bytes:
    """Replace date placeholders with dates relative to `now`."""

    def replace(match: re.Match[str]) -> str:
        kind, days, hours, minutes = match.groups()
        when = now - timedelta(days=int(days), hours=int(hours), minutes=int(minutes or 0))
        if kind == "RFC822":
            return format_datetime(when, usegmt=True)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    return _PLACEHOLDER.sub(replace, template).encode("utf-8")


def sample_feeds(now: datetime) -> dict[str, bytes]:
    """File name -> rendered feed body."""
    folder = resources.files("bot.demo") / "feeds"
    return {
        item.name: render_feed(item.read_text(encoding="utf-8"), now)
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".xml")
    }


@contextmanager
def serve_feeds(bodies: dict[str, bytes], port: int = 0) -> Iterator[str]:
    """Serve feed bodies over HTTP on 127.0.0.1 (with ETags); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = bodies.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-feeds", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _command() -> str:
    """How to call wirewatch from here: by name if it is on PATH, else by its venv path."""
    beside = Path(sys.executable).with_name("wirewatch")
    if shutil.which("wirewatch") or not beside.exists():
        return "wirewatch"
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


async def _show_metadata(app: App) -> None:
    """What extraction found, and articles found by a group and by a region."""
    ws = await app.workspace_id()
    pipeline = app.require_pipeline()
    extractor = pipeline.extractor
    if extractor is None:
        return
    [isis] = extractor.catalogue.resolve("Daesh")
    by_group = await app.store.find_articles(ws, actor_keys=[isis.id])
    out.print(
        f"Articles naming {isis.name} (written ISIS, ISIL, IS, Daesh or Islamic State "
        f"by the outlets): {len(by_group)}",
        markup=False,
    )
    for article in by_group[:3]:
        meta = await app.store.event_metadata(article.article_id)
        if meta is None:
            continue
        mentions = sorted({a["mention"] for a in meta["actors"] if a["actor_key"] == isis.id})
        out.print(f"  • {article.title}  [{', '.join(mentions)}]", markup=False)
    region = next(p for p in extractor.gazetteer.resolve("Deir ez-Zor") if p.precision == "admin1")
    inside = await app.store.find_articles(
        ws, region=PlaceFilter(region.country_code, region.admin1_code)
    )
    out.print(f"Articles about places in {region.name} province: {len(inside)}", markup=False)
    for article in inside[:4]:
        meta = await app.store.event_metadata(article.article_id)
        if meta is None:
            continue
        places = ", ".join(
            p["mention"] for p in meta["places"] if p["admin1_code"] == region.admin1_code
        )
        event = meta["event"]
        killed = f"; {event['killed_best']} killed" if event["killed_best"] else ""
        types = ", ".join(meta["event_types"]) or "no event type"
        out.print(f"  • {article.title}  [{places}; {types}{killed}]", markup=False)


async def _add_watches(app: App) -> None:
    """One watch of each kind, looking back two days (the sample feeds span ten)."""
    since = (app.now() - timedelta(days=2)).date().isoformat()
    for term, kind, radius in WATCHES:
        doc = await commands.watch_add(
            app,
            term,
            kind=kind,  # type: ignore[arg-type]
            radius_km=radius,
            backfill=since,
            channel="console",
        )
        means = f" = {doc['canonical']}" if doc["canonical"] not in (None, term) else ""
        extra = f" within {radius:g} km" if radius else ""
        command = (
            f"$ wirewatch watch add {shlex.quote(term)}{f' --kind {kind}' if kind else ''}"
            f"{f' --radius {radius:g}' if radius else ''} --backfill {since}"
        )
        out.print(f"[cyan]{escape(command)}[/cyan]")
        out.print(f"  watch {doc['watch_id']}: {doc['kind']} {term}{means}{extra}", markup=False)


async def _show_alerts(app: App) -> None:
    """Deliver the recorded alerts to the console chat (a digest when there are many)."""
    from bot.adapters.console import ConsoleChat

    report = await commands.deliver_alerts(app, ConsoleChat())
    out.print(
        f"{report.alerts} alerts delivered in {report.sent} messages "
        f"({report.digests} digests: more than {app.settings.alert_digest_after} at once are "
        "rolled into one)."
    )
    listed = (await commands.list_alerts(app, limit=3, workspace="console"))["alerts"]
    out.print("[cyan]$ wirewatch alerts[/cyan] (the newest three, with why they fired)")
    render.print_alerts(listed)
    if listed:
        from bot.core.alerts import load_views

        [view] = await load_views(app.store, [listed[0]["alert_id"]], await app.gazetteer())
        out.print("One alert as a chat shows it:")
        render.print_card(alert_card(view))


async def run_demo(settings: Settings, *, chat: bool, port: int = 0) -> None:
    """The walkthrough: serve, subscribe, ingest, show stories and searches."""
    data_dir = settings.data_dir / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = settings.model_copy(
        update={
            "data_dir": data_dir,
            "allowed_networks": [*settings.allowed_networks, "127.0.0.1/32"],
        }
    )
    bodies = sample_feeds(datetime.now(UTC))
    out.rule("[bold]Wirewatch demo[/bold]")
    out.print(
        f"Serving {len(bodies)} sample feeds from invented outlets on 127.0.0.1; "
        f"state in {data_dir}/"
    )
    out.print("Loading the embedding model (all-MiniLM-L6-v2, bundled, offline)…")
    with serve_feeds(bodies, port) as base, render.progress_reporter() as progress:
        async with open_app(settings, progress=progress) as app:
            for name in bodies:
                await commands.add_feed(app, base + name, interval_s=300, workspace="console")
            out.print("\n[bold]1. Watch, subscribe and poll[/bold]")
            await _add_watches(app)
            report = await commands.poll_once(app, workspace="console")
            render.print_report(report)
            render.print_feeds((await commands.list_feeds(app, workspace="console"))["feeds"])
            again = await commands.poll_once(app, workspace="console")
            out.print(
                f"Polled again: {again['new_articles']} new articles (the feeds answered "
                "304 Not Modified to our conditional GET)."
            )

            out.print("\n[bold]2. Alerts, once per story, with the reason[/bold]")
            await _show_alerts(app)

            out.print("\n[bold]3. Stories told by more than one outlet[/bold]")
            for story in await app.store.multi_source_stories(limit=5):
                out.print(f"• {story.title}", markup=False)
                for article in story.articles:
                    out.print(f"    {article.source}: {article.title}", markup=False)

            out.print("\n[bold]4. Search by meaning[/bold]")
            for query in SEARCHES:
                out.print(f"\n[cyan]$ wirewatch search --per-story 1 {query!r}[/cyan]")
                render.print_results(
                    await commands.search(app, query, k=3, per_story=1, workspace="console"),
                    limit_text=220,
                )

            out.print("\n[bold]5. Event metadata, whatever the spelling[/bold]")
            await _show_metadata(app)

            out.print("\n[bold]6. Ask, and get an answer citing its sources[/bold]")
            for question in QUESTIONS:
                out.print(f"\n[cyan]$ wirewatch ask {shlex.quote(question)}[/cyan]")
                render.print_answer(await commands.ask(app, question, workspace="console"))

            stats = await commands.stats(app, workspace="console")
            out.print(
                f"\n{stats['articles']} articles in {stats['stories']} stories, "
                f"{stats['passages']} passages indexed."
            )
            out.print(
                f"Try it yourself: [cyan]{_command()} --data-dir {data_dir} ask "
                "'latest on Daesh'[/cyan]"
            )
            if chat:
                from bot.adapters.console import repl

                await repl(app)
