"""`wirewatch worker`: polls and ingests on the PostgreSQL engine, one of any number of workers.
Side effects: fetches feeds, writes articles, events, passages and alerts; runs until SIGINT or
SIGTERM (or, with `once`, until nothing is due).

Each round claims up to `batch` due feeds (`FOR UPDATE SKIP LOCKED`: no two workers get the
same feed), polls them with the fetch slots of their hosts shared through the database, then
extracts, embeds and matches the watches as `wirewatch run` does; alerts go to the outbox,
which one sender delivers (`wirewatch run`, holding the sender lease). A worker killed mid-poll
leaves its claims to expire; another worker retakes them then. Between rounds a worker sleeps
until the next feed falls due, a tick at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from bot import commands
from bot.app import App, open_app
from bot.errors import UserError
from bot.settings import Settings
from index.models import IngestReport

log = logging.getLogger(__name__)


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
        log.info("worker %s started", app.worker_id, extra={"worker": app.worker_id})
        while not stop.is_set():
            report = await _round(app, batch)
            rounds += 1
            total.absorb(report)
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
            if once:
                break
            await _sleep_until_due(app, stop)
        log.info("worker %s stopped", app.worker_id, extra={"worker": app.worker_id})
        return WorkerReport(app.worker_id, rounds, total)


async def _round(app: App, batch: int | None) -> IngestReport:
    """One round; a failed round is logged and the next one retries (the claims expire)."""
    try:
        return await commands.poll_due(app, batch=batch)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("poll round failed; the next round retries")
        return IngestReport()


async def _sleep_until_due(app: App, stop: asyncio.Event) -> None:
    """Until the next feed falls due (a tick at most), or until stopped."""
    next_due = await app.store.next_due_at()
    wait = float(app.settings.scheduler_tick_s)
    if next_due is not None:
        wait = min(wait, max(0.2, (next_due - app.now()).total_seconds()))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            await stop.wait()
