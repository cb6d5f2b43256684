"""Chat-neutral command surface: each function takes an open App and returns the JSON document
of ../shared/CONTRACT.md. The CLI prints these; the chat adapters render them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.app import App
from bot.core import alerts as alerts_stage
from bot.core import delivery as delivery_stage
from bot.core import watches as watch_table
from bot.core.errors import UserError
from bot.core.ports import ChatPort
from bot.core.watches import Kind, Resolver, Watch
from bot.settings import Settings
from index import ingest as ingest_stage
from index.errors import FeedRefused
from index.fetch import feeds as feeds_stage
from index.models import Hit, IngestReport
from index.retrieve import search as search_stage
from index.retrieve import vectors as vectors_stage
from index.timeutil import to_iso


def _iso(value: Any) -> str | None:
    return None if value is None else to_iso(value)


async def add_feed(
    app: App,
    url: str,
    *,
    interval_s: int | None = None,
    name: str | None = None,
    workspace: str,
    channel: str | None = None,
    backfill: str | None = "none",
) -> dict[str, Any]:
    """Subscribe a workspace to a feed. `channel`: where it was added (feed notices go there).
    `backfill`: which items already in the feed may alert the workspace's watches: none, the
    newest N, or those published since a date (YYYY-MM-DD); None: all of them."""
    settings = app.settings
    interval = settings.poll_interval_s if interval_s is None else interval_s
    if interval < 60:
        raise UserError(
            f"interval {interval} is too short: feeds are polled at most once a "
            "minute (use 60 or more)"
        )
    try:
        url = feeds_stage.validate_feed_url(url)
        await feeds_stage.check_url_allowed(url, settings.fetch_policy())
    except FeedRefused as exc:
        raise UserError(exc.reason) from exc
    now = app.now()
    alert_from, newest = None, None
    if backfill is not None:
        alert_from, newest, _ = parse_backfill(backfill, now)
    ws = await app.workspace_id(workspace)
    feed_id = await app.store.subscribe(
        ws,
        url,
        interval_s=interval,
        name=name,
        now=now,
        channel=channel,
        alert_from=alert_from,
        alert_newest=newest,
    )
    return {"feed_id": feed_id, "url": url, "interval_s": interval, "backfill": backfill}


async def list_feeds(app: App, *, workspace: str) -> dict[str, Any]:
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


async def remove_feed(app: App, feed_id: int, *, workspace: str) -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    if not await app.store.unsubscribe(ws, feed_id):
        raise UserError(f"no feed {feed_id} in this workspace (see the feed list)")
    return {"removed": feed_id}


def report_doc(report: IngestReport) -> dict[str, Any]:
    return {
        "feeds_polled": report.feeds_polled,
        "new_articles": report.new_articles,
        "duplicates": report.duplicates,
        "failed_feeds": report.failed_feeds,
        "alerts": report.alerts,
        "updated_articles": report.updated_articles,
        "passages": report.passages,
        "embedded": report.embedded,
        "errors": list(report.errors),
        "seconds": {k: round(v, 3) for k, v in report.times.seconds.items()},
    }


async def poll_once(app: App, *, workspace: str) -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    feeds = await app.store.workspace_feeds(ws)
    report = await ingest_stage.run_cycle(app.require_pipeline(), feeds, app.now)
    return report_doc(report)


def claim_lease_s(settings: Settings, batch: int) -> float:
    """How long a claim on a batch of feeds holds: every fetch of the batch in the worst case
    (all on one host, WIREWATCH_MAX_PER_HOST at a time, each taking the whole
    WIREWATCH_FETCH_TIMEOUT_S), and one more. A killed worker's feeds wait that long."""
    at_once = max(1, min(settings.max_parallel_feeds, settings.max_per_host))
    waves = -(-min(batch, 10_000) // at_once)
    return settings.fetch_timeout_s * (waves + 1)


async def poll_due(app: App, *, batch: int | None = None) -> IngestReport:
    """One scheduler tick: the due feeds of every workspace. On PostgreSQL they are claimed
    `batch` at a time (default 4 x max_parallel_feeds), each batch a cycle, until none is due:
    no other process sharing the database polls a claimed feed, and a claim never has to
    outlast more than one batch's fetches (a process killed mid-batch frees them soon)."""
    settings = app.settings
    if batch is None:
        batch = 1_000_000 if settings.database_url is None else 4 * settings.max_parallel_feeds
    lease_s = claim_lease_s(settings, batch)
    pipeline = app.require_pipeline()
    report = IngestReport()
    while True:
        feeds = await app.store.claim_due_feeds(
            app.worker_id, app.now(), limit=batch, lease_s=lease_s
        )
        report.absorb(await ingest_stage.run_cycle(pipeline, feeds, app.now))
        if len(feeds) < batch:
            return report


async def ingest_files(app: App, paths: list[Path], *, workspace: str) -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    report = await ingest_stage.ingest_files(app.require_pipeline(), paths, ws, app.now)
    return report_doc(report)


async def reindex(app: App, *, re_embed: bool = False) -> dict[str, Any]:
    return {"passages": await ingest_stage.reindex(app.require_pipeline(), re_embed=re_embed)}


async def stats(app: App, *, workspace: str) -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    counts = await app.store.counts(ws)
    return {
        "feeds": counts.feeds,
        "articles": counts.articles,
        "stories": counts.stories,
        "passages": counts.passages,
        "embedded_passages": counts.embedded,
        "watches": await watch_table.count(app.store, ws),
        "alerts": await alerts_stage.count_alerts(app.store, ws),
        **_engine_doc(app),
    }


def _engine_doc(app: App) -> dict[str, Any]:
    """The engine, and the sizes of its files on the embedded one."""
    if app.settings.database_url is not None:
        return {"engine": "postgresql", "index_kind": "hnsw"}
    return {
        "engine": "sqlite",
        "database_bytes": _size(app.settings.db_path),
        "index_bytes": _size(app.settings.index_path),
        "index_kind": vectors_stage.file_kind(app.settings.index_path),  # flat, ivf-sq8, None
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
    app: App, query: str, *, workspace: str, k: int = 5, per_story: int = 0
) -> dict[str, Any]:
    p = app.require_pipeline()
    ws = await app.workspace_id(workspace)
    hits = await search_stage.search(
        app.store, p.vectors, p.embedder, ws, query, k, per_story=per_story
    )
    return {"query": query, "results": [hit_doc(h) for h in hits]}


# ---- watches and alerts ------------------------------------------------------------------------
def watch_doc(w: Watch, now: datetime) -> dict[str, Any]:
    return {
        "watch_id": w.watch_id,
        "kind": w.kind,
        "term": w.term,
        "canonical": w.canonical,
        "channel": w.channel,
        "muted_until": _iso(w.muted_until) if w.muted(now) else None,
        "paused": w.paused_reason,  # the channel refused a message: unmute to resume
        "event_types": list(w.event_types),
        "min_killed": w.min_killed,
        "radius_km": w.radius_km,
        "threshold": w.threshold,
        "since": _iso(w.since),
        "created_at": _iso(w.created_at),
    }


def parse_backfill(value: str | None, now: datetime) -> tuple[datetime, int | None, bool]:
    """--backfill none | N (the newest N stories) | YYYY-MM-DD (stories since that day) ->
    (the watch's `since`, last N, whether to look back at all)."""
    value = (value or "none").strip().lower()
    if value == "none":
        return now, None, False
    if value.isdigit():
        n = int(value)
        if not 1 <= n <= 100:
            raise UserError("backfill N takes 1 to 100 (or none, or a date)")
        return now, n, True
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"backfill {value!r}: use none, a number (e.g. 5) or a date (YYYY-MM-DD)"
        ) from None
    since = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if since > now:
        raise UserError(f"backfill {value}: the date is in the future")
    return since, None, True


async def watch_add(
    app: App,
    term: str,
    *,
    channel: str,
    kind: Kind | None = None,
    radius_km: float | None = None,
    event_types: list[str] | None = None,
    min_killed: int | None = None,
    backfill: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Add a watch to a channel; ambiguous terms raise watches.Ambiguous with the choices."""
    workspace = watch_table.channel_workspace(channel)
    types = watch_table.check_event_types(event_types or [])
    if min_killed is not None and min_killed < 1:
        raise UserError("min killed takes 1 or more")
    if threshold is not None and not 0 < threshold < 1:
        raise UserError("threshold takes a similarity between 0 and 1, e.g. 0.5")
    now = app.now()
    since, last, look_back = parse_backfill(backfill, now)
    resolver = Resolver(
        await app.catalogue(),
        await app.gazetteer(),
        topic_threshold=threshold,
    )
    if kind is None:
        kind = await asyncio.to_thread(resolver.infer_kind, " ".join(term.split()))
    model_id = None
    if kind == "topic":
        embedder = await app.embedder()
        resolver.embed_query, model_id = embedder.embed_query, embedder.model_id
    resolved = await asyncio.to_thread(resolver.resolve, term, kind)
    if radius_km is not None:
        place = resolved.spec.get("place", {})
        if resolved.kind != "place":
            raise UserError("radius is for place watches")
        if place.get("precision") != "town":
            raise UserError(
                f"radius needs a town: {place.get('label')} is a region or country, and "
                "already covers every place inside it"
            )
        if not 0 < radius_km <= 500:
            raise UserError("radius takes 1 to 500 km")
    ws = await app.workspace_id(workspace)
    for phase in ("metadata", "topic"):  # alerts follow the article changes from now on
        await app.store.register_consumer(f"alerts:{phase}")
    watch = await watch_table.add(
        app.store,
        workspace_id=ws,
        channel=channel,
        term=" ".join(term.split()),
        resolved=resolved,
        since=since,
        now=now,
        radius_km=radius_km,
        event_types=types,
        min_killed=min_killed,
        vector_model=model_id,
    )
    backfilled = 0
    if look_back:
        engine = await app.alert_engine()
        change = await engine.backfill(watch, since=None if last else since, last=last, now=now)
        backfilled = len(change.created)
        if change.created:
            app.alerted.set()
    return {**watch_doc(watch, now), "backfilled": backfilled}


async def watch_list(
    app: App, *, workspace: str | None, channel: str | None = None
) -> dict[str, Any]:
    """A workspace's watches, or one channel's of it. `workspace` None: every workspace's (the
    operator's view from the command line)."""
    now = app.now()
    if workspace is None:
        found = await watch_table.list_watches(app.store)
    else:
        ws = await app.workspace_id(_own_channel(workspace, channel))
        found = await watch_table.list_watches(app.store, workspace_id=ws, channel=channel)
    return {"watches": [watch_doc(w, now) for w in found]}


def _own_channel(workspace: str, channel: str | None) -> str:
    """`workspace`, after checking that `channel` (if any) belongs to it."""
    if channel is not None and watch_table.channel_workspace(channel) != workspace:
        raise UserError(f"{channel} is not a channel of {workspace}")
    return workspace


async def watch_remove(app: App, watch_id: int, *, workspace: str) -> dict[str, Any]:
    ws = await app.workspace_id(workspace)
    if not await watch_table.remove(app.store, ws, watch_id):
        raise UserError(f"no watch {watch_id} here (see the watch list)")
    return {"removed": watch_id}


async def watch_mute(
    app: App, watch_id: int, duration: str | None, *, workspace: str
) -> dict[str, Any]:
    """Mute a watch for a duration ("2h"), or unmute it (duration None; this also resumes a
    watch paused because its channel refused a message)."""
    ws = await app.workspace_id(workspace)
    until = app.now() + watch_table.parse_duration(duration) if duration else None
    if not await watch_table.set_muted(app.store, ws, watch_id, until):
        raise UserError(f"no watch {watch_id} here (see the watch list)")
    return {"watch_id": watch_id, "muted_until": _iso(until)}


async def list_alerts(
    app: App,
    *,
    workspace: str | None,
    channel: str | None = None,
    pending: bool = False,
    limit: int = 50,
) -> dict[str, Any]:
    """Alerts newest first: a workspace's, or one channel's of it; `workspace` None: every
    workspace's (the operator's view from the command line)."""
    if workspace is None:
        views = await alerts_stage.list_alerts(app.store, pending_only=pending, limit=limit)
    else:
        ws = await app.workspace_id(_own_channel(workspace, channel))
        views = await alerts_stage.list_alerts(
            app.store, workspace_id=ws, channel=channel, pending_only=pending, limit=limit
        )
    return {"alerts": [v.doc() for v in views]}


async def deliver_alerts(app: App, port: ChatPort) -> delivery_stage.DeliveryReport:
    """Post what the outbox holds for the channels `port` serves."""
    return await delivery_stage.deliver(
        app.store, port, policy=app.alert_policy, now=app.now(), gazetteer=await app.gazetteer()
    )


# ---- questions ---------------------------------------------------------------------------------
MAX_QUESTION_CHARS = 1000


async def ask(
    app: App,
    question: str,
    *,
    workspace: str,
    k: int = 5,
    mode: str = "hybrid",
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Answer a question from the workspace's articles, citing them. `as_of`: the moment
    "this week" and "yesterday" are counted from (default now)."""
    question = " ".join(question.split())
    if not question:
        raise UserError("the question is empty: ask something, e.g. 'what happened in Raqqa?'")
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(f"the question is too long ({MAX_QUESTION_CHARS} characters at most)")
    if not 1 <= k <= 20:
        raise UserError("k takes 1 to 20")
    if mode not in ("hybrid", "bm25", "dense"):
        raise UserError("mode is one of hybrid, bm25, dense")
    started = time.perf_counter()
    answerer = await app.answerer()
    ws = await app.workspace_id(workspace)
    now = as_of or app.now()
    answer = await answerer.ask(question, ws, now=now, k=k, mode=mode)  # type: ignore[arg-type]
    if app.monitor is not None:
        app.monitor.observe_ask(time.perf_counter() - started)
    return answer.doc()


# ---- chat helpers: status, why, suggestions ----------------------------------------------------
async def status(app: App, *, workspace: str) -> dict[str, Any]:
    """How the workspace is doing: counts, feeds in trouble, paused or muted watches, alerts
    waiting, and when feeds were last polled."""
    counts = await stats(app, workspace=workspace)
    feeds = (await list_feeds(app, workspace=workspace))["feeds"]
    watches = (await watch_list(app, workspace=workspace))["watches"]
    pending = await alerts_stage.count_alerts(
        app.store, await app.workspace_id(workspace), pending_only=True
    )
    polled = [f["last_polled_at"] for f in feeds if f["last_polled_at"]]
    return {
        "workspace": workspace,
        **{key: counts[key] for key in ("feeds", "articles", "stories", "watches", "alerts")},
        "pending_alerts": pending,
        "last_polled_at": max(polled) if polled else None,
        "failing_feeds": [
            {
                "feed_id": f["feed_id"],
                "name": f["name"] or f["url"],
                "error_count": f["error_count"],
                "last_error": f["last_error"],
                "enabled": f["enabled"],
            }
            for f in feeds
            if f["error_count"] or not f["enabled"]
        ],
        "paused_watches": [
            {
                "watch_id": w["watch_id"],
                "term": w["term"],
                "channel": w["channel"],
                "reason": w["paused"],
            }
            for w in watches
            if w["paused"]
        ],
        "muted_watches": [
            {"watch_id": w["watch_id"], "term": w["term"], "until": w["muted_until"]}
            for w in watches
            if w["muted_until"]
        ],
    }


async def why_alert(
    app: App, *, workspace: str, alert_id: int | None = None, message_ref: str | None = None
) -> dict[str, Any]:
    """Why an alert was sent (each matching watch, with the alias, place or similarity that
    matched): by its id, or by the chat's id of the message that carried it."""
    ws = await app.workspace_id(workspace)
    rows = alerts_stage.alert_rows(app.store)
    if alert_id is not None:
        found = (await rows.get([alert_id])).get(alert_id)
        ids = [alert_id] if found is not None and found.workspace_id == ws else []
    elif message_ref is not None:
        ids = await rows.of_message(message_ref, workspace_id=ws)
    else:
        raise UserError("give an alert id (see the alert list)")
    if not ids:
        what = f"alert {alert_id}" if alert_id is not None else "this message"
        raise UserError(f"{what} is not an alert here (see the alert list)")
    views = await alerts_stage.load_views(app.store, ids, await app.gazetteer())
    return {"alerts": [v.doc() for v in views]}


async def term_choices(app: App, typed: str, *, limit: int = 25) -> list[tuple[str, str]]:
    """(label, term) suggestions for a watch term being typed: actors, then places."""
    suggester = await app.suggester()
    return [(s.label, s.value) for s in suggester.suggest(typed, limit)]


async def feed_choices(
    app: App, typed: str, *, workspace: str, limit: int = 25
) -> list[tuple[str, int]]:
    """(label, feed_id) of the workspace's feeds whose name or URL contains `typed`."""
    feeds = (await list_feeds(app, workspace=workspace))["feeds"]
    return _matching(
        [(f"#{f['feed_id']} {f['name'] or f['url']}", f["url"], f["feed_id"]) for f in feeds],
        typed,
        limit,
    )


async def watch_choices(
    app: App, typed: str, *, workspace: str, limit: int = 25
) -> list[tuple[str, int]]:
    """(label, watch_id) of the workspace's watches whose label contains `typed`."""
    watches = (await watch_list(app, workspace=workspace))["watches"]
    return _matching(
        [(f"#{w['watch_id']} {w['kind']} {w['term']}", "", w["watch_id"]) for w in watches],
        typed,
        limit,
    )


def _matching(items: list[tuple[str, str, int]], typed: str, limit: int) -> list[tuple[str, int]]:
    """(label, id) of the (label, more text, id) items whose label or text contains `typed`,
    ignoring case."""
    needle = typed.strip().casefold()
    found = [
        (label, int(ident))
        for label, more, ident in items
        if needle in f"{label} {more}".casefold()
    ]
    return found[:limit]
