"""The rounds of bench/poll.py: one poller's Round (what the server answered, the cores kept
busy), the timing of a block (`measured`), the embedded engine's tick (`pipeline_round`), the
plain httpx poller and its round, the bench's settings and the medians over rounds."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.load import OtherLoad
from bench.poll_feeds import FeedServer, RoundCounts
from bot.app import App
from bot.core import commands, feedhealth
from bot.settings import Settings

if TYPE_CHECKING:
    from bench.poll_workers import Workers

LOOPBACK = "127.0.0.0/8"
WORKSPACE = "console"


@dataclass
class Round:
    """One poller's round: wall-clock seconds, what the server answered, and the load."""

    seconds: float
    feeds: int  # feeds the poller was handed
    ok: int  # 200s
    not_modified: int  # 304s
    other_status: int
    polled_once: int
    missed: int
    doubled: int
    new_articles: int = 0
    failed: int = 0
    connections: int = 0  # TCP connections the server saw the poller open
    feed_phase_s: float = float("nan")
    own_cores: float = float("nan")  # CPU cores the poller's process kept busy
    server_cores: float = float("nan")
    database_cores: float = float("nan")  # PostgreSQL's, when the bench started it
    other_cores: float = float("nan")  # every other process
    stage_s: dict[str, float] = field(default_factory=dict)  # IngestReport.times, summed
    errors: list[str] = field(default_factory=list)

    @property
    def feeds_per_min(self) -> float:
        return 60.0 * self.feeds / self.seconds if self.seconds > 0 else float("nan")

    @property
    def feed_phase_per_min(self) -> float:
        s = self.feed_phase_s
        return 60.0 * self.feeds / s if s == s and s > 0 else float("nan")

    def doc(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "feeds_per_min": self.feeds_per_min,
            "feed_phase_per_min": self.feed_phase_per_min,
        }


def tree_cpu_s(roots: Sequence[int]) -> float:
    """CPU seconds used so far by these processes, their live descendants and the children
    they have reaped (Linux /proc; NaN elsewhere)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    try:
        entries = [e for e in Path("/proc").iterdir() if e.name.isdigit()]
    except OSError:
        return float("nan")
    for entry in entries:
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    total, todo = 0, [pid for pid in roots if pid in ticks]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def measured(
    server: FeedServer, workers: Workers | None = None, database_pid: int | None = None
) -> AsyncIterator[dict[str, float]]:
    """Time a block: wall seconds, and the CPU cores kept busy by the poller (this process,
    or the `workers`), by the feed server, by PostgreSQL (the server at `database_pid`) and
    by every other process."""
    out: dict[str, float] = {}
    poller_cpu = time.process_time if workers is None else workers.cpu_s

    def database_cpu() -> float:
        return float("nan") if database_pid is None else tree_cpu_s([database_pid])

    server_cpu, own, database = server.cpu_s(), poller_cpu(), database_cpu()
    started = time.perf_counter()
    with OtherLoad() as other:  # all but this process
        yield out
    seconds = time.perf_counter() - started
    out["seconds"] = seconds
    out["own_cores"] = (poller_cpu() - own) / seconds
    out["server_cores"] = (server.cpu_s() - server_cpu) / seconds
    out["database_cores"] = (database_cpu() - database) / seconds
    others = other.cores - out["server_cores"]
    if workers is not None:
        others -= out["own_cores"]
    if database_pid is not None:
        others -= out["database_cores"]
    out["other_cores"] = max(others, 0.0)


def make_round(timing: dict[str, float], feeds: int, counts: RoundCounts, **more: Any) -> Round:
    statuses = counts.statuses
    return Round(
        seconds=timing["seconds"],
        feeds=feeds,
        ok=statuses.get(200, 0),
        not_modified=statuses.get(304, 0),
        other_status=sum(v for k, v in statuses.items() if k not in (200, 304)),
        polled_once=counts.once,
        missed=counts.missed,
        doubled=counts.doubled,
        connections=counts.connections,
        own_cores=timing["own_cores"],
        server_cores=timing["server_cores"],
        database_cores=timing["database_cores"],
        other_cores=timing["other_cores"],
        **more,
    )


class BenchClock:
    """The app's clock: real time, moved on between rounds so that every feed is due."""

    def __init__(self) -> None:
        self.shift = timedelta(0)
        self.due_at: datetime | None = None

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def catch_up(self) -> None:
        """Move on to when the last round's feeds are due again."""
        if self.due_at is not None and self() < self.due_at:
            self.shift += self.due_at - self() + timedelta(seconds=1)


@dataclass
class FeedPhase:
    """When the last feed of a cycle was fetched and stored (the progress callback)."""

    done_at: float = float("nan")

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "fetch" and total and done >= total:
            self.done_at = time.perf_counter()


async def pipeline_round(
    app: App, server: FeedServer, clock: BenchClock, phase: FeedPhase, interval_s: int
) -> Round:
    """One tick of `wirewatch run` over every due feed: poll_due, then the feed-health check."""
    clock.catch_up()
    server.reset()
    phase.done_at = float("nan")
    async with measured(server) as timing:
        started = time.perf_counter()
        report = await commands.poll_due(app)
        await feedhealth.check_feed_health(
            app.store, now=app.now(), grace=timedelta(seconds=app.settings.feed_notice_after_s)
        )
    # a feed polled well is next due within 1.5 intervals (index.ingest.next_poll_at)
    clock.due_at = clock() + timedelta(seconds=1.5 * interval_s)
    return make_round(
        timing,
        report.feeds_polled,
        server.counts(),
        new_articles=report.new_articles,
        failed=report.failed_feeds,
        feed_phase_s=phase.done_at - started,
        stage_s=dict(report.times.seconds),
        errors=report.errors[:5],
    )


class PlainPoller:
    """The obvious poller: conditional GETs with a semaphore, nothing parsed or stored."""

    def __init__(self, urls: list[str], parallel: int) -> None:
        self.urls, self.parallel = urls, parallel
        self.validators: dict[str, dict[str, str]] = {}
        self.client = httpx.AsyncClient(timeout=30.0, trust_env=False)

    async def poll(self) -> None:
        gate = asyncio.Semaphore(self.parallel)

        async def one(url: str) -> None:
            async with gate:
                response = await self.client.get(url, headers=self.validators.get(url, {}))
            if response.status_code == 200:
                etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
                self.validators[url] = {
                    **({"If-None-Match": etag} if etag else {}),
                    **({"If-Modified-Since": modified} if modified else {}),
                }

        await asyncio.gather(*(one(url) for url in self.urls))


async def plain_round(poller: PlainPoller, server: FeedServer) -> Round:
    server.reset()
    async with measured(server) as timing:
        await poller.poll()
    counts = server.counts()
    return make_round(timing, len(poller.urls), counts, new_articles=counts.statuses.get(200, 0))


def bench_settings(data_dir: Path, **more: Any) -> Settings:
    """Defaults (no .env), a fresh data dir, feeds on loopback allowed; the embedded engine
    unless `database_url` is given."""
    more.setdefault("database_url", None)
    return Settings(_env_file=None, data_dir=data_dir, allowed_networks=[LOOPBACK], **more)


def changed_feeds(rng: random.Random, feeds: int, rate: float) -> list[int]:
    return sorted(rng.sample(range(feeds), round(feeds * rate)))


def median_of(rounds: Sequence[Round]) -> dict[str, float]:
    keys = (
        "seconds",
        "feeds_per_min",
        "feed_phase_per_min",
        "ok",
        "not_modified",
        "new_articles",
        "connections",
        "own_cores",
        "server_cores",
        "database_cores",
        "other_cores",
    )
    docs = [r.doc() for r in rounds]
    out = {k: float(statistics.median(d[k] for d in docs)) for k in keys}
    out["missed"] = float(sum(r.missed for r in rounds))  # totals: any is a finding
    out["doubled"] = float(sum(r.doubled for r in rounds))
    out["failed"] = float(sum(r.failed for r in rounds))
    out["other_status"] = float(sum(r.other_status for r in rounds))
    return out
