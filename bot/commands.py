"""Chat-neutral command surface: each function takes an open App and returns the JSON document
of ../shared/CONTRACT.md. The CLI prints these; the chat adapters render them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app import App
from bot.errors import UserError
from index import feeds as feeds_stage
from index import ingest as ingest_stage
from index import search as search_stage
from index.errors import FeedRefused
from index.models import Hit, IngestReport
from index.timeutil import to_iso


def _iso(value: Any) -> str | None:
    return None if value is None else to_iso(value)


async def add_feed(
    app: App,
    url: str,
    *,
    interval_s: int | None = None,
    name: str | None = None,
    workspace: str = "console",
) -> dict[str, Any]:
    settings = app.settings
    interval = settings.poll_interval_s if interval_s is None else interval_s
    if interval < 60:
        raise UserError(
            f"--interval {interval} is too short: feeds are polled at most once a "
            "minute (use 60 or more)"
        )
    try:
        url = feeds_stage.validate_feed_url(url)
        await feeds_stage.check_url_allowed(url, settings.fetch_policy())
    except FeedRefused as exc:
        raise UserError(exc.reason) from exc
    ws = await app.workspace_id(workspace)
    feed_id = await app.store.subscribe(ws, url, interval_s=interval, name=name, now=app.now())
    return {"feed_id": feed_id, "url": url, "interval_s": interval}


async def list_feeds(app: App, *, workspace: str = "console") -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    rows = await app.store.list_feeds(ws)
    return {
        "feeds": [
            {
                "feed_id": r.feed_id,
                "url": r.url,
                "name": r.name,
                "interval_s": r.interval_s,
                "last_polled_at": _iso(r.last_polled_at),
                "last_status": r.last_status,
                "last_error": r.last_error,
                "error_count": r.error_count,
                "articles": r.articles,
                "enabled": r.enabled,
                "next_check_at": _iso(r.next_check_at) if r.enabled else None,
                "kind": r.kind,
            }
            for r in rows
        ]
    }


async def remove_feed(app: App, feed_id: int, *, workspace: str = "console") -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    if not await app.store.unsubscribe(ws, feed_id):
        raise UserError(f"no feed {feed_id} in this workspace (see `wirewatch feeds list`)")
    return {"removed": feed_id}


def report_doc(report: IngestReport) -> dict[str, Any]:
    return {
        "feeds_polled": report.feeds_polled,
        "new_articles": report.new_articles,
        "duplicates": report.duplicates,
        "failed_feeds": report.failed_feeds,
        "alerts": 0,
        "updated_articles": report.updated_articles,
        "passages": report.passages,
        "embedded": report.embedded,
        "errors": list(report.errors),
        "seconds": {k: round(v, 3) for k, v in report.times.seconds.items()},
    }


async def poll_once(app: App, *, workspace: str = "console") -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    feeds = await app.store.workspace_feeds(ws)
    report = await ingest_stage.run_cycle(app.require_pipeline(), feeds, app.now)
    return report_doc(report)


async def poll_due(app: App) -> IngestReport:
    """One scheduler tick: every due feed of every workspace."""
    feeds = await app.store.due_feeds(app.now())
    return await ingest_stage.run_cycle(app.require_pipeline(), feeds, app.now)


async def ingest_files(
    app: App, paths: list[Path], *, workspace: str = "console"
) -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    report = await ingest_stage.ingest_files(app.require_pipeline(), paths, ws, app.now)
    return report_doc(report)


async def reindex(app: App, *, re_embed: bool = False) -> dict[str, Any]:
    return {"passages": await ingest_stage.reindex(app.require_pipeline(), re_embed=re_embed)}


async def stats(app: App, *, workspace: str = "console") -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    counts = await app.store.counts(ws)
    return {
        "feeds": counts.feeds,
        "articles": counts.articles,
        "stories": counts.stories,
        "passages": counts.passages,
        "embedded_passages": counts.embedded,
        "watches": 0,
        "alerts": 0,
        "database_bytes": _size(app.settings.db_path),
        "index_bytes": _size(app.settings.index_path),
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def hit_doc(hit: Hit) -> dict[str, Any]:
    return {
        "passage_id": hit.passage_id,
        "article_id": hit.article_id,
        "story_id": hit.story_id,
        "title": hit.title,
        "url": hit.url,
        "source": hit.source,
        "published_at": to_iso(hit.published_at),
        "text": hit.text,
        "score": round(hit.score, 4),
    }


async def search(
    app: App, query: str, *, k: int = 5, per_story: int = 0, workspace: str = "console"
) -> dict[str, Any]:
    p = app.require_pipeline()
    ws = await app.workspace_id(workspace)
    hits = await search_stage.search(
        app.store, p.vectors, p.embedder, ws, query, k, per_story=per_story
    )
    return {"query": query, "results": [hit_doc(h) for h in hits]}
