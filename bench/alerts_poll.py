"""One poll of bench/alerts.py: a fresh data dir, the app opened with the shared model and
extractor on a fixed clock, the watches added, the feeds subscribed, and `poll_once` timed to
the alerts recorded (the pipeline's watch hooks wrapped) and to its end."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.alerts_inputs import add_watches
from bench.load import OtherLoad
from bot.app import App, open_app
from bot.core import commands
from bot.core.watches import Kind
from bot.demo import serve_feeds
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.ingest import Hook
from index.models import IngestReport
from index.retrieve.embed import Embedder

POLL_AFTER = timedelta(seconds=60)  # the clock at the poll


@dataclass
class Clock:
    """The app's clock: fixed, moved by hand."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Marks:
    """perf_counter marks of one poll."""

    started: float = 0.0
    feeds_done: float | None = None
    match_started: float | None = None
    alerts_recorded: float | None = None
    topic_started: float | None = None
    topic_done: float | None = None
    metadata_alerts: int = 0
    topic_alerts: int = 0

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.started and stage == "fetch" and done >= total:
            self.feeds_done = time.perf_counter()


def wrap_hooks(app: App, marks: Marks, to_alerts: OtherLoad) -> None:
    """Time the hooks `open_app` hung on the pipeline, keeping what they do."""
    pipeline = app.require_pipeline()
    metadata, topic = pipeline.after_extract, pipeline.after_embed
    assert metadata is not None and topic is not None, "open_app set no watch hooks"

    async def after_extract(ids: Sequence[int], report: IngestReport) -> None:
        marks.match_started, before = time.perf_counter(), report.alerts
        await metadata(ids, report)
        marks.alerts_recorded = time.perf_counter()
        to_alerts.stop()
        marks.metadata_alerts = report.alerts - before

    async def after_embed(ids: Sequence[int], report: IngestReport) -> None:
        marks.topic_started, before = time.perf_counter(), report.alerts
        await topic(ids, report)
        marks.topic_done = time.perf_counter()
        marks.topic_alerts = report.alerts - before

    hooks: tuple[Hook, Hook] = (after_extract, after_embed)
    pipeline.after_extract, pipeline.after_embed = hooks


@dataclass
class Env:
    """What every poll shares: loaded once."""

    bodies: dict[str, bytes]
    embedder: Embedder
    extractor: Extractor
    terms: dict[Kind, list[str]]
    cache_dir: Path
    created_at: datetime


async def _poll(
    env: Env, settings: Settings, plan: Sequence[tuple[Kind, int]]
) -> tuple[dict[str, float], list[str]]:
    """One poll in a fresh data dir: its figures, and the watch terms refused."""
    clock = Clock(env.created_at)
    marks = Marks()
    with serve_feeds(env.bodies) as base:
        async with open_app(
            settings,
            embedder=env.embedder,
            extractor=env.extractor,
            now=clock,
            progress=marks.progress,
        ) as app:
            started = time.perf_counter()
            watches = await add_watches(app, plan, env.terms)
            add_s = time.perf_counter() - started
            for name in env.bodies:
                await commands.add_feed(app, base + name, interval_s=300, workspace="console")
            to_alerts, whole = OtherLoad(), OtherLoad()
            wrap_hooks(app, marks, to_alerts)
            clock.at = env.created_at + POLL_AFTER

            cpu_started = time.process_time()
            to_alerts.start()
            whole.start()
            marks.started = time.perf_counter()
            doc = await commands.poll_once(app, workspace="console")
            ended = time.perf_counter()
            whole.stop()
            cpu_s = time.process_time() - cpu_started

            listed = await commands.list_alerts(
                app, channel="console", limit=1000, workspace="console"
            )
            rows = await app.store.fetch_all(
                "SELECT w.kind, count(*), count(DISTINCT m.watch_id) FROM alert_matches m "
                "JOIN watches w ON w.watch_id = m.watch_id GROUP BY w.kind"
            )
    if marks.alerts_recorded is None or marks.match_started is None:
        raise RuntimeError("the after_extract hook never ran: no new article in this poll?")
    feeds_done = marks.feeds_done if marks.feeds_done is not None else marks.started
    alerts_at = marks.alerts_recorded
    embed_end = marks.topic_started if marks.topic_started is not None else ended
    topic_end = marks.topic_done if marks.topic_done is not None else embed_end
    seconds: dict[str, float] = doc["seconds"]
    fig: dict[str, float] = {
        "watches": float(sum(watches.added.values())),
        **{f"watches_{k}": float(v) for k, v in watches.added.items()},
        "watches_skipped": float(len(watches.skipped)),
        "add_watches_s": add_s,
        "feeds": float(doc["feeds_polled"]),
        "new_articles": float(doc["new_articles"]),
        "duplicates": float(doc["duplicates"]),
        "passages": float(doc["passages"]),
        "to_alerts_s": alerts_at - marks.started,
        "feed_phase_s": feeds_done - marks.started,
        "extract_phase_s": marks.match_started - feeds_done,
        "match_record_s": alerts_at - marks.match_started,
        "embed_phase_s": embed_end - alerts_at,
        "topic_s": topic_end - embed_end,
        "index_phase_s": ended - topic_end,
        "poll_s": ended - marks.started,
        "alerts_metadata": float(marks.metadata_alerts),
        "alerts_topic": float(marks.topic_alerts),
        "alerts_reported": float(doc["alerts"]),
        "alerts_listed": float(len(listed["alerts"])),
        "to_alerts_other_cores": to_alerts.cores,
        "poll_cpu_cores": cpu_s / (ended - marks.started),
        "poll_other_cores": whole.cores,
    }
    for kind in ("group", "place", "keyword", "topic"):
        row = next((r for r in rows if r[0] == kind), None)
        fig[f"matches_{kind}"] = float(row[1]) if row else 0.0
        fig[f"fired_{kind}"] = float(row[2]) if row else 0.0
    for stage in ("fetch", "parse", "dedupe", "chunk", "extract", "alerts", "embed", "index"):
        fig[f"stage_{stage}_s"] = float(seconds.get(stage, 0.0))
    return fig, watches.skipped


def run_poll(
    env: Env, workdir: Path, name: str, plan: Sequence[tuple[Kind, int]]
) -> tuple[dict[str, float], list[str]]:
    data_dir = workdir / name
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        allowed_networks=["127.0.0.1/32"],
        cache_dir=env.cache_dir,
    )
    try:
        return asyncio.run(_poll(env, settings, plan))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
