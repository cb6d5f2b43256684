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
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from bot.app import App, open_app
from bot.core import commands, feedhealth
from bot.core.ports import ChatPort
from bot.settings import Settings
from bot.worker import extract_abandoned

log = logging.getLogger(__name__)


_ticks: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()  # poll cycles running


async def poll_tick(app: App, busy: asyncio.Lock) -> None:
    """One scheduler tick. Never raises: a failed cycle is logged and the next tick retries."""
    if (task := asyncio.current_task()) is not None:
        _ticks.add(task)
    try:
        async with busy:
            report = await commands.poll_due(app)
            notices = 0
            if app.settings.database_url is None:  # on PostgreSQL the sender checks
                notices = await check_feeds(app)
            else:  # pollers beside this one may have died mid-cycle
                await extract_abandoned(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("poll cycle failed; the next tick retries")
        if app.monitor is not None:
            app.monitor.poll_done(None)
        return
    if app.monitor is not None:
        app.monitor.poll_done(report)
    if notices:
        app.alerted.set()
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
        notices = await feedhealth.deliver_notices(
            app.store, port, now=app.now(), policy=app.alert_policy
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("alert delivery failed; the outbox keeps the alerts for the next try")
        return
    if app.monitor is not None:
        await app.monitor.delivered(report.alerts, report.failed)
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
    if notices:
        log.info("%d feed notices delivered", notices)


async def delivery_loop(
    app: App, port: ChatPort, ready: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Deliver as soon as alerts are recorded, and retry the outbox every tick. Each port has
    its own loop and its own wake-up event. `ready`: awaited first (a chat still connecting)."""
    wake = app.alerted.listen()
    if ready is not None:
        await ready()
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(app.settings.scheduler_tick_s):
                await wake.wait()
        wake.clear()
        await deliver_tick(app, port)


async def check_feeds(app: App) -> int:
    """Record a notice for each feed failing longer than WIREWATCH_FEED_NOTICE_AFTER_S (and
    for each that recovered); how many were recorded."""
    grace = timedelta(seconds=app.settings.feed_notice_after_s)
    return await feedhealth.check_feed_health(app.store, now=app.now(), grace=grace)


async def _check_feeds_loop(app: App) -> None:
    """The sender's share of the polling on PostgreSQL: workers poll, the sender alone records
    the feed notices, each tick, so no two processes record one notice."""
    while True:
        try:
            if await check_feeds(app):
                app.alerted.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed health check failed; the next tick retries")
        await asyncio.sleep(app.settings.scheduler_tick_s)


async def deliver_as_sender(
    app: App, chats: Sequence[tuple[ChatPort, Callable[[], Awaitable[None]] | None]]
) -> None:
    """Run the delivery loop of each chat. On PostgreSQL only while this process holds the sender
    lease (index/store/pg/lease.py): of every `wirewatch run` sharing the database exactly one
    delivers the outbox, and another takes over within SENDER_RETRY_S when it dies."""

    url = app.settings.database_url

    async def deliver() -> None:
        async with asyncio.TaskGroup() as group:
            for port, ready in chats:
                group.create_task(delivery_loop(app, port, ready=ready))
            if url is not None:
                group.create_task(_check_feeds_loop(app))

    if url is None:
        await deliver()
        return
    from index.store.lease import run_while_leader
    from index.store.pg.lease import SENDER, PgLease

    await run_while_leader(PgLease(url.get_secret_value(), SENDER), deliver, retry_s=SENDER_RETRY_S)


SENDER_RETRY_S = 5.0  # how often a `run` tries for the sender lease, and checks it still holds it


def start_jobs(app: App, busy: asyncio.Lock, *, poll: bool = True) -> AsyncIOScheduler:
    """Start the scheduler on the running loop; `busy` is held while a cycle runs (or, with
    WIREWATCH_RETENTION_DAYS, a prune). `poll` False: no poll job (workers poll)."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    if poll:
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
    if app.settings.retention_days is not None:
        from bot.core.maintenance import PRUNE_EVERY_S, PRUNE_FIRST_AFTER_S, prune_tick

        scheduler.add_job(
            prune_tick,
            "interval",
            seconds=PRUNE_EVERY_S,
            args=[app, busy],
            id="prune",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=PRUNE_FIRST_AFTER_S),
        )
    scheduler.start()
    return scheduler


async def serve(settings: Settings, *, chat: bool = False, poll: bool = True) -> None:
    """Poll on schedule and deliver alerts until SIGINT or SIGTERM (or, with `chat`, until the
    console chat is left). With WIREWATCH_DISCORD_TOKEN set, the Discord bot runs on the same
    event loop and delivers to Discord channels; the console's alerts print beside it.

    Stopping: commands are refused from then on, the running poll cycle may finish its write
    (STOP_WAIT_S at most, else it is cancelled: every article is its own transaction, and the
    next start repairs what was cut), the vector index is saved, the gateway closed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    from bot.adapters.console import ConsoleChat

    async with open_app(settings, repair_mode="full") as app:
        server = None  # first: a port in use fails before anything else starts
        if settings.metrics_port is not None:
            server = await serve_monitor(app)
        service = None
        if settings.discord_token is not None:
            from bot.adapters.discord.service import DiscordService

            service = DiscordService(app, settings)
            await service.start()  # a refused token ends here, before anything else starts
            assert service.task is not None
            service.task.add_done_callback(lambda _: stop.set())  # the gateway gave up
            if app.monitor is not None:
                app.monitor.discord_connected = service.connected
                app.monitor.discord_requests = service.chat.guard
        busy = asyncio.Lock()
        scheduler = start_jobs(app, busy, poll=poll)
        if app.monitor is not None:
            app.monitor.scheduler_running = lambda: scheduler.state == STATE_RUNNING
            app.monitor.polls = poll
        chats: list[tuple[ChatPort, Callable[[], Awaitable[None]] | None]] = [(ConsoleChat(), None)]
        if service is not None:
            chats.append((service.chat, service.wait_ready))
        loops = [asyncio.create_task(deliver_as_sender(app, chats))]
        log.info(
            "%s; data in %s%s",
            f"polling every due feed each {settings.scheduler_tick_s} s" if poll else "not polling",
            "PostgreSQL" if settings.database_url else settings.data_dir,
            "; serving Discord" if service else "",
        )
        chat_task = None
        if chat:
            from bot.adapters.console import repl

            chat_task = asyncio.create_task(repl(app))
            chat_task.add_done_callback(lambda _: stop.set())
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            if service is not None:
                service.stop_taking_commands()
            if chat_task is not None and not chat_task.done():
                chat_task.cancel()
            for task in loops:
                task.cancel()
            scheduler.pause()  # no new cycle; shutdown() would cancel the running one at once
            await _finish_cycle(busy)
            scheduler.shutdown(wait=False)
            if server is not None:
                server.close()
            if app.pipeline is not None:
                await asyncio.to_thread(app.pipeline.vectors.save)
            if service is not None:
                await service.close()
            log.info("stopped")


async def serve_monitor(app: App, scheduler: AsyncIOScheduler | None = None) -> asyncio.Server:
    """Serve /healthz and /metrics (bot/health.py) on WIREWATCH_METRICS_HOST:PORT. The monitor
    watches `scheduler` (set `app.monitor.scheduler_running` when it starts later) and, once
    set, `app.monitor.discord_connected`."""
    from bot.health import Monitor, bound_port, start_server

    s, pipeline = app.settings, app.require_pipeline()
    app.monitor = Monitor(
        app.store,
        app.now,
        s.health_max_poll_age_s,
        s.db_path,
        s.index_path,
        vectors=lambda: len(pipeline.vectors),
    )
    if scheduler is not None:
        app.monitor.scheduler_running = lambda: scheduler.state == STATE_RUNNING
    app.monitor.describe_embedding(pipeline.embedder.model_id)
    server = await start_server(app.monitor, s.metrics_host, s.metrics_port or 0)
    log.info("serving /healthz and /metrics on http://%s:%d", s.metrics_host, bound_port(server))
    return server


STOP_WAIT_S = 20.0


async def _finish_cycle(busy: asyncio.Lock) -> None:
    """Wait for a running poll cycle to finish, at most STOP_WAIT_S; then cancel it."""
    try:
        async with asyncio.timeout(STOP_WAIT_S):
            async with busy:
                return
    except TimeoutError:
        pass
    running = [t for t in _ticks if not t.done()]
    log.warning("the poll cycle did not finish in %.0f s; cancelling it", STOP_WAIT_S)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
