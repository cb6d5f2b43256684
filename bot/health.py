"""Health and metrics of a running bot: what the jobs report -> `/healthz` and `/metrics` over
HTTP. Side effects: with WIREWATCH_METRICS_PORT set, `wirewatch run` listens on
WIREWATCH_METRICS_HOST (127.0.0.1 by default) on that port.

`/healthz` answers 200 with a JSON document when the scheduler is running, polling keeps up
and, with a Discord token, the gateway is connected; otherwise 503 with the reasons.

Polling keeps up while some feed was fetched successfully (a 200 or 304, read without error)
within WIREWATCH_HEALTH_MAX_POLL_AGE_S. The age is counted from the last such fetch (or the
start), but a feed not yet due is not late: while no fetch has failed since the last good
one, the count starts no earlier than the next feed's due time, and with no feed subscribed
and enabled there is nothing to judge (`"polling": "no feeds"`). Once a fetch or a cycle
fails, the count runs from the last good fetch whatever later due times the backoff sets, so
an outage where every fetch fails turns 503 when the limit has passed (and so may one failing
feed beside feeds fetched less often than the limit, between their fetches). A good fetch
recorded since the start by another process sharing the database (the other workers on
PostgreSQL) counts as this one's, and a failure is forgotten once no feed is left to poll.

The outbox backlog (alerts waiting, the oldest one's age) is reported, not judged: a chat
outage shows as Discord disconnected, and a rate limit holding alerts back is normal. So is a
pause of Discord delivery for too many invalid requests (401/403/429 in the last 10 minutes):
reported under `discord_delivery`, and as two gauges.
`/metrics` is the Prometheus text format from prometheus-client, every name `wirewatch_...`.

The server is a few lines over asyncio streams on the bot's own loop (one request per
connection), so a health check reads the same state the jobs write, with no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from bot.core.alerts import alert_rows
from bot.core.feedhealth import classify_error
from index.models import IngestReport
from index.store.interfaces import Storage
from index.timeutil import to_iso

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
DELAY_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400)
ASK_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class _Metrics:
    """The Prometheus metrics of one running bot, in their own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.feeds_polled = Counter("wirewatch_feeds_polled", "Feed fetches.", registry=r)
        self.feeds_failed = Counter(
            "wirewatch_feeds_failed", "Feed fetches that failed, by reason.", ["reason"], registry=r
        )
        self.poll_cycles = Counter(
            "wirewatch_poll_cycles", "Poll cycles, by result (ok, failed).", ["result"], registry=r
        )
        self.articles = Counter("wirewatch_articles_ingested", "New articles stored.", registry=r)
        self.updated = Counter("wirewatch_articles_updated", "Articles updated.", registry=r)
        self.events = Counter(
            "wirewatch_events_extracted", "Articles given event metadata.", registry=r
        )
        self.queued = Counter(
            "wirewatch_alerts_queued", "Alerts recorded in the outbox.", registry=r
        )
        self.sent = Counter(
            "wirewatch_alerts_sent", "Alerts delivered (each one of a digest too).", registry=r
        )
        self.failed = Counter(
            "wirewatch_alerts_failed", "Delivery attempts the chat did not take.", registry=r
        )
        self.delay = Histogram(
            "wirewatch_alert_delay_seconds",
            "From an alert's recording to its first delivery.",
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.ask = Histogram(
            "wirewatch_ask_seconds", "Time to answer a question.", buckets=ASK_BUCKETS, registry=r
        )
        self.outbox = Gauge("wirewatch_outbox_alerts", "Alerts waiting for delivery.", registry=r)
        self.poll_age = Gauge(
            "wirewatch_last_poll_age_seconds", "Since the last poll cycle finished.", registry=r
        )
        self.fetch_ok_age = Gauge(
            "wirewatch_last_fetch_ok_age_seconds",
            "Since a feed was last fetched successfully (or the start).",
            registry=r,
        )
        self.discord = Gauge(
            "wirewatch_discord_connected", "1 when the Discord gateway is connected.", registry=r
        )
        self.discord_invalid = Gauge(
            "wirewatch_discord_invalid_requests",
            "401, 403 and 429 answers from Discord to deliveries in the last 10 minutes.",
            registry=r,
        )
        self.discord_paused = Gauge(
            "wirewatch_discord_delivery_paused",
            "1 while delivery to Discord is paused for too many invalid requests.",
            registry=r,
        )
        self.healthy = Gauge("wirewatch_healthy", "1 when /healthz answers 200.", registry=r)
        self.vectors = Gauge("wirewatch_index_vectors", "Vectors in the index.", registry=r)
        self.index_bytes = Gauge(
            "wirewatch_index_bytes", "Size of the vector index file.", registry=r
        )
        self.db_bytes = Gauge(
            "wirewatch_database_bytes", "Size of the database and its WAL.", registry=r
        )
        self.embedding = Info("wirewatch_embedding", "The embedding model and backend.", registry=r)


class InvalidRequests(Protocol):
    """What the Discord chat tells of the invalid requests it counts (its guard)."""

    @property
    def invalid_requests(self) -> int: ...

    @property
    def paused(self) -> bool: ...


@dataclass
class Monitor:
    """What the jobs tell about a running bot, and the checks /healthz makes of it."""

    store: Storage
    now: Callable[[], datetime]
    max_poll_age_s: float
    db_path: Path
    index_path: Path
    scheduler_running: Callable[[], bool] = lambda: False
    discord_connected: Callable[[], bool] | None = None  # None: no Discord configured
    discord_requests: InvalidRequests | None = None  # None: no Discord configured
    vectors: Callable[[], int] = lambda: 0
    polls: bool = True  # False: `run --no-poll` (workers poll): no poll age to check
    started_at: datetime = field(init=False)
    last_poll_at: datetime | None = None
    last_fetch_ok_at: datetime | None = None  # the end of the last cycle that fetched a feed
    fetch_failing_since: datetime | None = None  # a fetch or cycle failed after the last good one
    metrics: _Metrics = field(default_factory=_Metrics)
    _delivered_since: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.now()
        self._delivered_since = self.started_at

    def describe_embedding(self, model_id: str) -> None:
        model, _, backend = model_id.partition("+")
        self.metrics.embedding.info({"model": model, "backend": backend or "fp32"})

    # ---- what the jobs report ------------------------------------------------------------------
    def poll_done(self, report: IngestReport | None) -> None:
        """A poll cycle finished (`report`), or failed (None)."""
        m = self.metrics
        now = self.now()
        if report is None:
            m.poll_cycles.labels("failed").inc()
            self.fetch_failing_since = self.fetch_failing_since or now
            return
        m.poll_cycles.labels("ok").inc()
        self.last_poll_at = now
        if report.feeds_polled > report.failed_feeds:
            self.last_fetch_ok_at, self.fetch_failing_since = now, None
        elif report.failed_feeds:
            self.fetch_failing_since = self.fetch_failing_since or now
        m.feeds_polled.inc(report.feeds_polled)
        m.articles.inc(report.new_articles)
        m.updated.inc(report.updated_articles)
        m.events.inc(report.extracted)
        m.queued.inc(report.alerts)
        for error in report.errors:
            url, sep, reason = error.partition(": ")
            if sep and "://" in url:  # "<feed url>: <reason>"; not a hook's failure
                m.feeds_failed.labels(classify_error(reason)).inc()

    async def delivered(self, alerts: int, failed: int) -> None:
        """A delivery round: alerts sent, attempts failed; the delays of those first
        delivered since the last round."""
        m = self.metrics
        m.sent.inc(alerts)
        m.failed.inc(failed)
        if not alerts:
            return
        rows = await alert_rows(self.store).delivered_after(self._delivered_since)
        for start, end in rows:
            if start is not None:
                m.delay.observe(max((end - start).total_seconds(), 0.0))
        if rows:
            self._delivered_since = rows[-1][1]

    def observe_ask(self, seconds: float) -> None:
        self.metrics.ask.observe(seconds)

    # ---- what /healthz and /metrics say --------------------------------------------------------
    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the document /healthz shows)."""
        now = self.now()
        reasons = []
        running = self.scheduler_running()
        if not running:
            reasons.append("the scheduler is not running")
        polling, next_due, late = await self._polling(now)
        last_poll = self.last_poll_at
        # what _polling judged, before the awaits below let the jobs change it
        ok_at, failing_since = self.last_fetch_ok_at, self.fetch_failing_since
        age = _seconds(now, last_poll or self.started_at)
        ok_age = _seconds(now, ok_at or self.started_at)
        if late:
            what = "for" if ok_at else "since the start,"
            reasons.append(
                f"no feed fetched successfully {what} {ok_age:.0f} s "
                f"(limit {self.max_poll_age_s:.0f} s)"
            )
        discord = None
        if self.discord_connected is not None:
            discord = self.discord_connected()
            if not discord:
                reasons.append("not connected to Discord")
        backlog, oldest = await alert_rows(self.store).backlog()
        requests = self.discord_requests
        invalid = requests.invalid_requests if requests is not None else 0
        paused = requests.paused if requests is not None else False
        m = self.metrics
        m.poll_age.set(age)
        m.fetch_ok_age.set(ok_age)
        m.outbox.set(backlog)
        m.discord.set(1 if discord else 0)
        m.discord_invalid.set(invalid)
        m.discord_paused.set(1 if paused else 0)
        m.healthy.set(0 if reasons else 1)
        doc = {
            "status": "unhealthy" if reasons else "ok",
            "reasons": reasons,
            "scheduler": "running" if running else "stopped",
            "last_poll_at": _iso(last_poll),
            "last_poll_age_s": round(age, 1),
            "polling": polling,
            "last_fetch_ok_at": _iso(ok_at),
            "last_fetch_ok_age_s": round(ok_age, 1),
            "fetch_failing_since": _iso(failing_since),
            "next_feed_due_at": _iso(next_due),
            "discord": None if discord is None else ("connected" if discord else "disconnected"),
            "discord_delivery": None
            if requests is None
            else {"paused": paused, "invalid_requests": invalid},
            "outbox": {
                "alerts": backlog,
                "oldest_age_s": round((now - oldest).total_seconds(), 1) if oldest else None,
            },
        }
        return not reasons, doc

    async def _polling(self, now: datetime) -> tuple[str, datetime | None, bool]:
        """(how polling goes, when the next feed falls due, whether it is late: a 503).
        "off": this process does not poll (workers do); "no feeds": none subscribed and enabled;
        "failing": a fetch or a cycle failed since the last good fetch; "due": a feed is due;
        "waiting": none is due yet. The database is read first: from there on nothing awaits,
        so the jobs cannot change what this judges (and what the caller shows) halfway."""
        if not self.polls:
            return "off", None, False
        next_due = await self.store.next_due_at()
        shared = await self.store.last_fetch_ok_at()
        if next_due is None:  # none left to poll (a failing one removed or disabled too)
            self.fetch_failing_since = None
            return "no feeds", None, False
        self._adopt_shared_fetch(shared)
        limit = self.max_poll_age_s
        since = self.last_fetch_ok_at or self.started_at
        if self.fetch_failing_since is not None:  # the backoff's later due times do not count
            return "failing", next_due, _seconds(now, since) > limit
        state = "due" if next_due <= now else "waiting"
        return state, next_due, _seconds(now, max(since, next_due)) > limit

    def _adopt_shared_fetch(self, shared: datetime | None) -> None:
        """A good fetch since the start by another process sharing the database (the other
        workers on PostgreSQL) counts as this one's: the feeds are polled, whoever polls them."""
        if shared is None or shared <= max(
            self.last_fetch_ok_at or self.started_at, self.started_at
        ):
            return
        self.last_fetch_ok_at = shared
        if self.fetch_failing_since is not None and shared > self.fetch_failing_since:
            self.fetch_failing_since = None

    async def exposition(self) -> bytes:
        """The metrics in Prometheus's text format, the gauges read now."""
        await self.check()
        m = self.metrics
        m.vectors.set(self.vectors())
        m.index_bytes.set(_size(self.index_path))
        m.db_bytes.set(
            _size(self.db_path) + _size(self.db_path.with_name(self.db_path.name + "-wal"))
        )
        return bytes(generate_latest(m.registry))


def _seconds(now: datetime, since: datetime) -> float:
    return max((now - since).total_seconds(), 0.0)


def _iso(when: datetime | None) -> str | None:
    return to_iso(when) if when is not None else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# ---- the HTTP server -----------------------------------------------------------------------------
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


async def _answer(monitor: Monitor, method: str, path: str) -> tuple[int, str, bytes]:
    if method not in ("GET", "HEAD"):
        return 405, "text/plain; charset=utf-8", b"GET only\n"
    route = path.split("?", 1)[0]
    if route == "/healthz":
        ok, doc = await monitor.check()
        body = (json.dumps(doc) + "\n").encode()
        return (200 if ok else 503), "application/json", body
    if route == "/metrics":
        return 200, CONTENT_TYPE_LATEST, await monitor.exposition()
    return 404, "text/plain; charset=utf-8", b"/healthz or /metrics\n"


async def _serve_one(
    monitor: Monitor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            request = (await reader.readline()).decode("latin-1").split()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
        if len(request) != 3:
            return
        method, path, _ = request
        status, ctype, body = await _answer(monitor, method, path)
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
        await writer.drain()
        log.debug("%s %s %d in %.3f s", method, path, status, time.perf_counter() - started)
    except (TimeoutError, ConnectionError):
        pass
    except Exception:
        log.exception("the health server failed to answer a request")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(monitor: Monitor, host: str, port: int) -> asyncio.Server:
    """Listen on host:port (port 0: any free one; see `bound_port`)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(monitor, reader, writer)

    return await asyncio.start_server(handle, host, port)


def bound_port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])
