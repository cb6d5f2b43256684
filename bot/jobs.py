"""APScheduler wiring only: a tick job hands due feeds to the ingest cycle.
Side effects: runs until interrupted (SIGINT/SIGTERM).

The job is dumb on purpose (max_instances=1, coalesce=True): each feed's own `next_check_at`
(its interval, or a backoff after failures) decides when it is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import commands
from bot.app import App, open_app
from bot.ports import ChatPort
from bot.settings import Settings

log = logging.getLogger(__name__)


async def poll_tick(app: App, busy: asyncio.Lock) -> None:
    """One scheduler tick. Never raises: a failed cycle is logged and the next tick retries."""
    try:
        async with busy:
            report = await commands.poll_due(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("poll cycle failed; the next tick retries")
        return
    if report.feeds_polled:
        log.info(
            "polled %d feeds: %d new, %d updated, %d duplicates, %d failed, %d passages embedded",
            report.feeds_polled,
            report.new_articles,
            report.updated_articles,
            report.duplicates,
            report.failed_feeds,
            report.embedded,
        )


async def deliver_tick(app: App, port: ChatPort) -> None:
    """Post what the outbox holds. Never raises: a failure is logged, the outbox keeps it."""
    try:
        report = await commands.deliver_alerts(app, port)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("alert delivery failed; the outbox keeps the alerts for the next try")
        return
    if report.sent or report.edited or report.failed:
        log.info(
            "alerts: %d delivered in %d messages (%d digests), %d edited, %d failed, %d held back",
            report.alerts,
            report.sent,
            report.digests,
            report.edited,
            report.failed,
            report.deferred,
        )


async def delivery_loop(app: App, port: ChatPort) -> None:
    """Deliver as soon as alerts are recorded, and retry the outbox every tick."""
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(app.settings.scheduler_tick_s):
                await app.alerted.wait()
        await deliver_tick(app, port)


def start_jobs(app: App, busy: asyncio.Lock) -> AsyncIOScheduler:
    """Start the scheduler on the running loop; `busy` is held while a cycle runs."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        poll_tick,
        "interval",
        seconds=app.settings.scheduler_tick_s,
        args=[app, busy],
        id="poll",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    return scheduler


async def serve(settings: Settings, *, chat: bool = False) -> None:
    """Poll on schedule until SIGINT or SIGTERM (or, with `chat`, until the console chat is
    left)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    from bot.adapters.console import ConsoleChat

    async with open_app(settings, repair_mode="full") as app:
        busy = asyncio.Lock()
        scheduler = start_jobs(app, busy)
        delivery = asyncio.create_task(delivery_loop(app, ConsoleChat()))
        log.info(
            "polling every due feed each %d s; data in %s",
            settings.scheduler_tick_s,
            settings.data_dir,
        )
        chat_task = None
        if chat:
            from bot.adapters.console import repl

            chat_task = asyncio.create_task(repl(app))
            chat_task.add_done_callback(lambda _: stop.set())
        try:
            await stop.wait()
        finally:
            if chat_task is not None and not chat_task.done():
                chat_task.cancel()
            delivery.cancel()
            scheduler.shutdown(wait=False)
            async with busy:  # let a running cycle finish before the app closes
                log.info("stopped")
