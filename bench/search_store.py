"""The store run of bench/search.py (sizes below the scale run): the workspaces and their
feeds, synthetic articles stored through the store's own APIs, vectors (real anchors and noisy
copies), the FAISS index built from SQLite, and the timed queries, which the PostgreSQL run
reuses. Writes only under the data dir it is given (and starts a short Python process to
measure the memory of loading an index file).
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench import pgload
from bench.latency import percentiles, sqlite_file_bytes
from bench.load import OtherLoad
from bench.search_news import synthetic_article, synthetic_queries
from bot.app import App, open_app
from bot.settings import Settings
from index import ingest as ingest_stage
from index.models import RawEntry
from index.retrieve.embed import Embedder
from index.retrieve.passages import chunk_article
from index.retrieve.search import search
from index.retrieve.vectors import VectorIndex
from index.store.interfaces import Storage, Vectors

FEEDS = 16
MEASURED_FEEDS = range(0, 8)  # subscribed by "console"
OTHER_FEEDS = range(4, 16)  # subscribed by "other" (overlapping, as real workspaces do)
SPARSE_ARTICLES = 3
SET_BATCH = 5000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
VECTORS_FILE, IDS_FILE = "bench-vectors.npy", "bench-ids.npy"  # for the PostgreSQL run

log = logging.getLogger("bench.search")

_LOAD_PROBE = """
import sys
from pathlib import Path
from index.retrieve.vectors import VectorIndex

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

rss, peak = status("VmRSS"), status("VmHWM")
index = VectorIndex.load(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
assert len(index) > 0
print(status("VmRSS") - rss, status("VmHWM") - peak)
"""


def load_rss_growth(path: Path, dim: int, model_id: str) -> tuple[int, int]:
    """Growth of resident memory, after and at its peak, when a fresh process (so no freed
    memory is reused) loads the index file with `VectorIndex.load` (Linux /proc; -1 where it
    cannot be measured)."""
    if not Path("/proc/self/status").is_file():
        return -1, -1
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, str(path), str(dim), model_id],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        after, peak = (int(v) for v in done.stdout.strip().splitlines()[-1].split())
        return after, peak
    except (ValueError, IndexError):
        log.warning("could not measure the index's memory: %s", done.stderr.strip()[-300:])
        return -1, -1


@dataclass
class Config:
    queries: int
    warmup: int
    k: int
    anchors: int
    noise: float
    seed: int
    sparse_queries: int
    scale_anchors: int = 4096
    scale_base: str = "synthetic"
    compress_above: int = 500_000
    min_recall: float = 0.95
    flat: bool = True
    engines: tuple[str, ...] = ("sqlite",)
    pg_maintenance_work_mem: str | None = None  # None: the server's


async def subscribe_feeds(
    store: Storage, ws: dict[str, int], now: datetime
) -> tuple[list[int], int]:
    """The FEEDS wires, subscribed by "console" and "other" as MEASURED_FEEDS and OTHER_FEEDS
    say, and the sparse workspace's own feed: (the wires' feed ids, the sparse feed's id)."""
    feed_ids: list[int] = []
    for i in range(FEEDS):
        url = f"https://feeds.bench.invalid/{i}.xml"
        owners = [w for w, r in (("console", MEASURED_FEEDS), ("other", OTHER_FEEDS)) if i in r]
        subscribed = [
            await store.subscribe(ws[owner], url, interval_s=300, name=f"Wire {i}", now=now)
            for owner in owners
        ]
        feed_ids.append(subscribed[0])
    sparse_feed = await store.subscribe(
        ws["sparse"],
        "https://feeds.bench.invalid/sparse.xml",
        interval_s=300,
        name="Sparse",
        now=now,
    )
    return feed_ids, sparse_feed


async def _fill(
    app: App, size: int, cfg: Config, rng: random.Random, progress: Callable[[str], None]
) -> tuple[dict[str, float], dict[str, int], list[tuple[int, str]]]:
    """Subscribe workspaces and store synthetic articles until `size` passages exist.
    Returns timings, workspace ids and (passage_id, embedded text) of every passage."""
    store = app.store
    now = app.now()
    ws = {name: await app.workspace_id(name) for name in ("console", "other", "sparse")}
    feed_ids, sparse_feed = await subscribe_feeds(store, ws, now)
    window = timedelta(hours=72)
    model_id = app.require_pipeline().embedder.model_id
    texts: list[tuple[int, str]] = []
    started = time.perf_counter()
    article = 0

    async def put(feed_id: int, n: int, cap: int | None) -> int:
        title, text = synthetic_article(rng, n)
        entry = RawEntry(
            guid=f"bench-{n}",
            url=f"https://news.bench.invalid/a/{n}",
            title=title,
            text=text,
            published_at=EPOCH - timedelta(minutes=30 * n),
        )
        outcome = await store.save_entry(
            feed_id,
            entry,
            source=f"Wire {feed_id}",
            now=now,
            story_window=window,
            story_threshold=0.5,
        )
        passages = chunk_article(title, text)
        if cap is not None:
            passages = passages[:cap]
        change = await store.replace_passages(outcome.article_id, passages, model_id)
        texts.extend(zip(change.added, (p.embed_text for p in passages), strict=True))
        return len(change.added)

    for _ in range(SPARSE_ARTICLES):
        await put(sparse_feed, article, None)
        article += 1
    timings_sparse = float(len(texts))
    while len(texts) < size:
        await put(feed_ids[article % FEEDS], article, size - len(texts))
        article += 1
        if article % 2000 == 0:
            progress(f"  {len(texts):,}/{size:,} passages stored")
    timings = {
        "insert_s": time.perf_counter() - started,
        "articles": float(article),
        "sparse_passages": timings_sparse,
    }
    return timings, ws, texts


async def run_size(
    size: int,
    cfg: Config,
    embedder: Embedder,
    workdir: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    nrng = np.random.default_rng(cfg.seed)
    settings = Settings(_env_file=None, data_dir=workdir / f"size{size}")
    out: dict[str, Any] = {"size": size}
    async with open_app(settings, embedder=embedder, repair_mode="none") as app:
        pipeline = app.require_pipeline()
        store, vectors = app.store, pipeline.vectors
        assert isinstance(vectors, VectorIndex)
        progress(f"size {size:,}: storing synthetic articles and passages ...")
        timings, ws, texts = await _fill(app, size, cfg, rng, progress)

        progress(
            f"size {size:,}: embedding {min(cfg.anchors, len(texts))} anchor passages "
            "with the real model, synthesising the rest ..."
        )
        # Anchors come after the sparse workspace's passages, which get noisy copies like the
        # bulk, so that workspace's passages do not outrank everything else.
        first = int(timings["sparse_passages"])
        started = time.perf_counter()
        anchors = embedder.embed_passages([t for _, t in texts[first : first + cfg.anchors]])
        timings["anchor_embed_s"] = time.perf_counter() - started
        ids = np.array([pid for pid, _ in texts], dtype=np.int64)
        picks = nrng.integers(0, len(anchors), size=len(ids))
        matrix = anchors[picks] + nrng.normal(0.0, cfg.noise, (len(ids), embedder.dim))
        matrix[first : first + len(anchors)] = anchors
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix.astype(np.float32)

        started = time.perf_counter()
        for start in range(0, len(ids), SET_BATCH):
            await store.set_embeddings(
                [int(i) for i in ids[start : start + SET_BATCH]],
                matrix[start : start + SET_BATCH],
                embedder.model_id,
            )
        timings["set_embeddings_s"] = time.perf_counter() - started

        progress(f"size {size:,}: building the FAISS index from SQLite (reindex) ...")
        started = time.perf_counter()
        indexed = await ingest_stage.reindex(pipeline)
        timings["reindex_s"] = time.perf_counter() - started

        scratch = VectorIndex(settings.data_dir / "scratch.faiss", embedder.dim, embedder.model_id)
        started = time.perf_counter()
        scratch.add(ids, matrix)
        timings["faiss_add_s"] = time.perf_counter() - started
        started = time.perf_counter()
        scratch.save()
        timings["faiss_save_s"] = time.perf_counter() - started
        del scratch

        if "postgres" in cfg.engines:  # the PostgreSQL run reads them for its exact recall
            np.save(settings.data_dir / VECTORS_FILE, matrix)
            np.save(settings.data_dir / IDS_FILE, ids)
        if "sqlite" not in cfg.engines:
            return out | {"build": timings}

        rss_after, rss_peak = load_rss_growth(settings.index_path, embedder.dim, embedder.model_id)
        memory = {
            "indexed": indexed,
            "memory_bytes": vectors.memory_bytes(),
            "file_bytes": settings.index_path.stat().st_size,
            "rss_growth_on_load_bytes": rss_after,
            "rss_peak_growth_on_load_bytes": rss_peak,
        }
        counts = {name: (await store.counts(w)).passages for name, w in ws.items()}
        measured = await measure_queries(store, vectors, embedder, ws, size, cfg, progress)
        memory["process_rss_bytes"] = pgload.own_rss()
        memory["db_file_bytes"] = sqlite_file_bytes(settings.db_path)

    out.update({"build": timings, "memory": memory, "visible_passages": counts, **measured})
    return out


async def _lookup(
    vectors: Vectors, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The vector index's own search: FAISS called directly (without the thread hop of
    `nearest`), pgvector's `nearest` (a query on the server)."""
    if isinstance(vectors, VectorIndex):
        return vectors.search(vector, k, allowed)
    return await vectors.nearest(vector, k, allowed)


async def measure_queries(
    store: Storage,
    vectors: Vectors,
    embedder: Embedder,
    ws: dict[str, int],
    size: int,
    cfg: Config,
    progress: Callable[[str], None],
    scoped: np.ndarray | None = None,
) -> dict[str, Any]:
    """The timed queries of one size on either engine: end to end `index.retrieve.search.search` in
    the measured workspace, then its parts one by one (the query embedding, the vector search of the
    first round, the join); a search restricted to the `scoped` ids when given; then the sparse
    workspace's searches, end to end, with the vector lookups counted."""
    progress(f"size {size:,}: {cfg.warmup} warm-up + {cfg.queries} queries ...")
    qrng = random.Random(cfg.seed + size)
    queries = synthetic_queries(qrng, cfg.warmup + cfg.queries)
    first_k = max(cfg.k * 4, 32)
    times: dict[str, list[float]] = {k: [] for k in ("embed", "faiss", "join", "end_to_end")}
    if scoped is not None:
        times["scoped"] = []
    short_first_round = 0
    top_scores: list[float] = []
    other = OtherLoad()
    server = pgload.ServerCPU(await pgload.server_pid(store))
    for n, query in enumerate(queries):
        if n == cfg.warmup:
            other.start()
            server.start()
        t0 = time.perf_counter()
        hits = await search(store, vectors, embedder, ws["console"], query, cfg.k)
        t1 = time.perf_counter()
        vector = embedder.embed_query(query)
        t2 = time.perf_counter()
        scored = await _lookup(vectors, vector, first_k)
        t3 = time.perf_counter()
        first_hits = await store.hits(scored, ws["console"])
        t4 = time.perf_counter()
        if scoped is not None:
            await _lookup(vectors, vector, first_k, scoped)
            times["scoped"].append(time.perf_counter() - t4)
        if n < cfg.warmup:
            if scoped is not None:
                times["scoped"].pop()
            continue
        for key, seconds in zip(
            ("end_to_end", "embed", "faiss", "join"),
            (t1 - t0, t2 - t1, t3 - t2, t4 - t3),
            strict=True,
        ):
            times[key].append(seconds)
        short_first_round += len(first_hits) < cfg.k
        if hits:
            top_scores.append(hits[0].score)
    server.stop()
    other.stop()

    progress(f"size {size:,}: {cfg.sparse_queries} queries in the sparse workspace ...")
    sparse_t: list[float] = []
    sparse_hits: list[int] = []
    rounds: list[int] = []
    lookup = vectors.nearest

    async def counted(
        vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        rounds[-1] += 1
        return await lookup(vector, k, allowed)

    vectors.nearest = counted  # type: ignore[method-assign]  # count the vector lookups
    try:
        for query in synthetic_queries(random.Random(cfg.seed - size), cfg.sparse_queries):
            rounds.append(0)
            t0 = time.perf_counter()
            found = await search(store, vectors, embedder, ws["sparse"], query, cfg.k)
            sparse_t.append(time.perf_counter() - t0)
            sparse_hits.append(len(found))
    finally:
        del vectors.nearest
    return {
        "latency": {key: percentiles(samples) for key, samples in times.items()},
        "first_round_k": first_k,
        # the server's work is the engine's, not another process's load
        "other_processes_cpu_cores": other.cores - server.cores,
        "server_cpu_cores": server.cores,
        "queries_needing_wider_search": short_first_round,
        "top_score_mean": float(np.mean(top_scores)) if top_scores else float("nan"),
        "sparse": {
            "latency": percentiles(sparse_t),
            "hits_mean": float(np.mean(sparse_hits)) if sparse_hits else float("nan"),
            "faiss_rounds_max": max(rounds, default=0),
            "faiss_rounds_mean": float(np.mean(rounds)) if rounds else float("nan"),
        },
    }
