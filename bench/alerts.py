"""Benchmark: from the start of a poll that brings new articles to all alerts recorded, with
200 watches of mixed kinds. Target (issue): at most 2 s on 2 cores for 50 new articles and the
group, place and keyword watches.

What is measured, and how:

* Articles: `--articles` (default 50) entries of the real feed captures in
  `news_feeds/` of the shared data folder (`../shared/data` beside the project root, or
  `WIREWATCH_SHARED_DATA`), taken round-robin from world and conflict news feeds (entries with
  a link, a title and at least 10 words). They are written back as RSS 2.0 items, one feed per
  outlet, dated 30 s after the watches were created (older articles never alert), and served
  on 127.0.0.1 by the demo's `serve_feeds`.
* Watches, built from our own resources, never from the articles: 70 group watches on actors
  of the catalogue (the actor id as the term), 70 place watches on countries, regions and
  towns of the gazetteer (`geonames:<id>` as the term), 60 keyword queries written here. A
  term the resolver refuses (ambiguous, unknown) is skipped for the next candidate, so every
  run holds the same watches. A third configuration adds 20 topic watches (descriptions
  written here); those match after embedding and do not count against the target.
* Each poll: a fresh data dir, `open_app` with the model and extractor loaded once for the
  whole benchmark and a fixed clock; the watches are added (timed apart) with the clock at T,
  the feeds subscribed, the clock moved to T + 60 s, then `commands.poll_once` is timed:
  - to alerts recorded: from just before `poll_once` to the return of the pipeline's
    `after_extract` hook (the one `open_app` sets, wrapped), which has matched and recorded the
    group, place and keyword alerts. Parts: the feed phase (fetch, parse, dedupe, chunk,
    store; ends when the last feed task reports), extraction (with its SQLite reads and
    writes), and watch matching and recording (the hook itself);
  - the whole poll, with embedding, the topic hook (`after_embed`, wrapped) and FAISS.
* Baseline in the same run: the same poll with no watch. Configurations alternate their order
  from run to run so a drift of machine speed favours none; one warm-up poll (200 watches)
  runs first and is not counted. Medians of `--runs` are printed, with how many CPU cores
  other processes kept busy (`bench/load.py`): if that is not near 0, the timings are not
  reliable. Figures are printed, never asserted.

Progress and logs go to stderr; `--json` prints one JSON document on stdout.

The parts: bench/alerts_inputs.py (the articles and the watches), bench/alerts_poll.py (one
poll, timed) and bench/alerts_report.py (medians, comparison, the printed table).

  .venv/bin/python bench/alerts.py [--runs 3] [--articles 50] [--no-topic] [--json]
  .venv/bin/python bench/alerts.py --discord [ARGS...]   # bench/discord_alerts.py with ARGS
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench.load

from bench.alerts_inputs import (  # noqa: E402
    PUBLISHED_AFTER,
    QUOTAS,
    TOPIC_WATCHES,
    feed_bodies,
    pick_articles,
    watch_candidates,
)
from bench.alerts_poll import Env, run_poll  # noqa: E402
from bench.alerts_report import comparison, medians, print_text  # noqa: E402
from bench.ingest import find_shared_data  # noqa: E402
from bench.load import add_backend_option, finite  # noqa: E402
from bot.core.watches import Kind  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, load_embedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("bench.alerts")


# ---- the configurations ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Config:
    name: str
    label: str
    plan: tuple[tuple[Kind, int], ...]


def configs(topic: bool) -> list[Config]:
    out = [Config("none", "no watches", ()), Config("mixed", "200 watches", QUOTAS)]
    if topic:
        out.append(Config("topic", "+20 topic", (*QUOTAS, ("topic", TOPIC_WATCHES))))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/alerts.py",
        description="Seconds from the start of a poll that brings new articles to all group, "
        "place and keyword alerts recorded, with 200 watches, against the same poll with none.",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="repetitions; medians are shown (default 3)"
    )
    parser.add_argument(
        "--articles", type=int, default=50, help="new articles in the poll (default 50)"
    )
    parser.add_argument(
        "--no-topic", action="store_true", help="skip the configuration with 20 topic watches"
    )
    add_backend_option(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    parser.add_argument(
        "--discord",
        action="store_true",
        help="run bench/discord_alerts.py instead (alerts and /ask through the fake Discord), "
        "with the other arguments",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.articles < 1:
        parser.error("--articles must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--discord" in argv:  # only a dispatch: the measurement is bench/discord_alerts.py's
        from bench import discord_alerts

        return discord_alerts.main([a for a in argv if a != "--discord"])
    args = parse_args(argv)
    data = find_shared_data("bench/alerts.py")
    if data is None:
        return 2
    feeds_dir = data / "news_feeds"
    created_at = datetime.now(UTC).replace(microsecond=0)
    picked = pick_articles(feeds_dir, args.articles, created_at)
    if len(picked) < args.articles:
        print(
            f"bench/alerts.py: only {len(picked)} usable entries in {feeds_dir}, "
            f"{args.articles} wanted",
            file=sys.stderr,
        )
        return 2
    bodies = feed_bodies(picked, created_at + PUBLISHED_AFTER)

    import torch

    print(f"loading {DEFAULT_MODEL} and the extractor ...", file=sys.stderr)
    cache_dir = Settings(_env_file=None).cache_path
    started = time.perf_counter()
    embedder = load_embedder(DEFAULT_MODEL, args.backend, cache_dir=cache_dir / "models")
    extractor = Extractor.load(embedder, cache_dir / "gazetteer")
    load_s = time.perf_counter() - started
    env = Env(bodies, embedder, extractor, watch_candidates(extractor), cache_dir, created_at)

    chosen = configs(topic=not args.no_topic)
    results: dict[str, list[dict[str, float]]] = {c.name: [] for c in chosen}
    orders: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-alerts-") as tmp:
        print("warm-up poll (not counted) ...", file=sys.stderr)
        _, skipped = run_poll(env, Path(tmp), "warmup", QUOTAS)
        for i in range(args.runs):
            order = chosen if i % 2 == 0 else chosen[::-1]
            orders.append(" then ".join(c.name for c in order))
            for c in order:
                fig, refused = run_poll(env, Path(tmp), f"run{i}-{c.name}", c.plan)
                results[c.name].append(fig)
                skipped += [t for t in refused if t not in skipped]
                print(
                    f"run {i + 1}/{args.runs} {c.label}: {fig['new_articles']:.0f} articles, "
                    f"{fig['alerts_metadata']:.0f}+{fig['alerts_topic']:.0f} alerts; "
                    f"{fig['to_alerts_s']:.3f} s to alerts recorded, poll {fig['poll_s']:.2f} s "
                    f"(others kept {fig['poll_other_cores']:.2f} cores busy)",
                    file=sys.stderr,
                )
                if fig["new_articles"] != args.articles:
                    log.warning(
                        "%s: %d new articles, not %d", c.name, fig["new_articles"], args.articles
                    )

    meta: dict[str, Any] = {
        "corpus": str(feeds_dir),
        "articles": args.articles,
        "feeds": len(bodies),
        "quotas": ", ".join(f"{n} {k}" for k, n in QUOTAS),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "model": embedder.model_id,
        "load_s": load_s,
    }
    cfgs: dict[str, dict[str, Any]] = {
        c.name: {"label": c.label, "median": medians(results[c.name]), "runs": results[c.name]}
        for c in chosen
    }
    doc = {
        "meta": meta,
        "configs": cfgs,
        "comparison": comparison(cfgs),
        "orders": orders,
        "skipped_terms": skipped,
    }
    if args.json:
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_text(doc, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
