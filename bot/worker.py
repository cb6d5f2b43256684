"""`wirewatch worker`: polls and ingests on the PostgreSQL engine, one of any number of workers.
Side effects: fetches feeds, writes articles, events, passages and alerts; runs until SIGINT or
SIGTERM (or, with `once`, until nothing is due).

Each round claims up to `batch` due feeds (`FOR UPDATE SKIP LOCKED`: no two workers get the
same feed), polls them with the fetch slots of their hosts shared through the database, then
extracts, embeds and matches the watches as `wirewatch run` does; alerts go to the outbox,
which one sender delivers (`wirewatch run`, holding the sender lease). A worker killed mid-poll
leaves its claims to expire; another worker retakes them then, and extracts what the dead one
stored but never extracted (`extract_abandoned`). Between rounds a worker sleeps until the next
feed falls due, a tick at most.

With WIREWATCH_METRICS_PORT set, a worker serves /healthz and /metrics as `wirewatch run` does
(bot/health.py): its rounds stand for the scheduler, and polling is judged by the feeds it
fetched; there is no Discord to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import timedelta

from bot.app import App, open_app
from bot.core import commands
from bot.core.alerts import cursor_of
from bot.core.errors import UserError
from bot.settings import Settings
from index import ingest as ingest_stage
from index.models import IngestReport

log = logging.getLogger(__name__)

ABANDONED_SCAN = 256  # changes looked at, from the head of that consumer's change feed


@dataclass(frozen=True, slots=True)
class WorkerReport:
    worker_id: str
    rounds: int
    report: IngestReport


async def work(
    settings: Settings, *, once: bool = False, batch: int | None = None, name: str | None = None
) -> WorkerReport:
    """Claim and ingest due feeds until stopped (`once`: until none is due)."""
    if settings.database_url is None:
        raise UserError(
            "`wirewatch worker` needs WIREWATCH_DATABASE_URL=postgresql://...: on the embedded "
            "engine `wirewatch run` polls (one process per data dir)"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    total = IngestReport()
    rounds = 0
    async with open_app(settings, repair_mode="full") as app:
        if name:
            app.worker_id = name
        server = None
        if settings.metrics_port is not None:
            from bot.jobs import serve_monitor

            server = await serve_monitor(app)
            assert app.monitor is not None
            app.monitor.scheduler_running = lambda: not stop.is_set()
        log.info("worker %s started", app.worker_id, extra={"worker": app.worker_id})
        try:
            while not stop.is_set():
                total.absorb(await _round(app, batch))
                rounds += 1
                if once:
                    break
                await _sleep_until_due(app, stop)
        finally:
            if server is not None:
                server.close()
                await server.wait_closed()
        log.info("worker %s stopped", app.worker_id, extra={"worker": app.worker_id})
        return WorkerReport(app.worker_id, rounds, total)


async def _round(app: App, batch: int | None) -> IngestReport:
    """One round, logged and told to the monitor; a failed round is logged and the next one
    retries (the claims expire)."""
    try:
        report: IngestReport | None = await commands.poll_due(app, batch=batch)
        await extract_abandoned(app, batch=batch)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("poll round failed; the next round retries")
        report = None
    if app.monitor is not None:
        app.monitor.poll_done(report)
    if report is None:
        return IngestReport()
    if report.feeds_polled:
        log.info(
            "worker %s polled %d feeds: %d new, %d updated, %d failed",
            app.worker_id,
            report.feeds_polled,
            report.new_articles,
            report.updated_articles,
            report.failed_feeds,
            extra={"worker": app.worker_id},
        )
    return report


async def extract_abandoned(app: App, *, batch: int | None = None) -> int:
    """Extract the articles a killed poller stored but never extracted, and match the watches
    on them; how many. The watches on metadata follow the change feed in order and wait at the
    first article not extracted yet, so until one is extracted no process records such alerts
    (a restart's repair would). A poller extracts its batch once the batch's fetches are done,
    within the lease of its claim on `batch` feeds: one waiting longer has no poller left.
    Extracting one twice (a very slow poller) only repeats work: the metadata is replaced."""
    pipeline = app.require_pipeline()
    if pipeline.extractor is None:
        return 0
    changes = await app.store.changes_after(cursor_of("metadata"), ABANDONED_SCAN)
    ids = list(dict.fromkeys(article_id for _, article_id, _, _ in changes))
    if not ids:
        return 0
    waiting = set(ids) - await app.store.extracted(ids)
    settings = app.settings  # 4 x max_parallel_feeds: poll_due's batch on PostgreSQL
    lease_s = commands.claim_lease_s(settings, batch or 4 * settings.max_parallel_feeds)
    cutoff = app.now() - timedelta(seconds=lease_s)
    stale = list(dict.fromkeys(a for _, a, _, at in changes if a in waiting and at < cutoff))
    if not stale:
        return 0
    log.warning(
        "extracting %d articles a stopped process stored and never extracted",
        len(stale),
        extra={"worker": app.worker_id},
    )
    report = IngestReport()
    await ingest_stage.extract_events(pipeline, stale, report)
    if pipeline.after_extract is not None:  # the watches catch up now, not at the next cycle
        await pipeline.after_extract(stale, report)
    return len(stale)


async def _sleep_until_due(app: App, stop: asyncio.Event) -> None:
    """Until the next feed falls due (a tick at most), or until stopped."""
    next_due = await app.store.next_due_at()
    wait = float(app.settings.scheduler_tick_s)
    if next_due is not None:
        wait = min(wait, max(0.2, (next_due - app.now()).total_seconds()))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            await stop.wait()
