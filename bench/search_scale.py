"""The scale run of bench/search.py (sizes at or above --bulk-above): anchor passages embedded
with the real model (synthetic, or the real feed captures), a million noisy copies of their
vectors, SQLite filled in bulk for the join, the compressed index built by `VectorIndex.sync` as
the product builds it beside an exact flat index, and the timed queries with their recall.
Writes only under the data dir it makes in the work dir it is given.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.latency import percentiles, sqlite_file_bytes
from bench.load import OtherLoad
from bench.search_news import synthetic_base, synthetic_queries
from bench.search_store import (
    EPOCH,
    FEEDS,
    IDS_FILE,
    SET_BATCH,
    SPARSE_ARTICLES,
    VECTORS_FILE,
    Config,
    load_rss_growth,
    subscribe_feeds,
)
from index.retrieve.embed import Embedder
from index.retrieve.passages import chunk_article
from index.retrieve.search import search
from index.retrieve.vectors import VectorIndex
from index.store.sqlite.store import Store
from index.timeutil import to_iso

ROOT = Path(__file__).resolve().parent.parent  # the project root, beside the shared data


def feed_base(count: int) -> list[str] | None:
    """Up to `count` distinct passages of the real feed captures in the shared data folder
    (`WIREWATCH_SHARED_DATA`, else ../shared/data); None when it is missing."""
    from index.errors import FeedMalformed
    from index.fetch.parse import parse_feed

    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = (Path(env) if env else ROOT.parent / "shared" / "data") / "news_feeds"
    if not (folder / "manifest.jsonl").is_file():
        return None
    texts: dict[str, None] = {}
    for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        path = folder / json.loads(line)["file"]
        try:
            parsed = parse_feed(path.read_bytes(), path.resolve().as_uri(), now=EPOCH)
        except (FeedMalformed, OSError):
            continue
        for entry in parsed.entries:
            if entry.title and len(entry.text.split()) >= 10:
                texts.update(
                    dict.fromkeys(p.embed_text for p in chunk_article(entry.title, entry.text))
                )
    return list(texts)[:count]


def scale_vectors(
    anchors: np.ndarray, size: int, noise: float, nrng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(size, dim) unit float32 vectors, the anchors themselves first and then, as in the
    store run, a random anchor's vector plus N(0, noise) per component, renormalised; and the
    anchor each row came from."""
    picks = nrng.integers(0, len(anchors), size=size)
    first = min(len(anchors), size)
    picks[:first] = np.arange(first)
    out = np.empty((size, anchors.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        part = slice(start, min(start + 100_000, size))
        block = anchors[picks[part]] + nrng.normal(
            0.0, noise, (part.stop - start, anchors.shape[1])
        ).astype(np.float32)
        out[part] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out[:first] = anchors[:first]
    return out, picks


PASSAGES_PER_ARTICLE = 10


async def bulk_fill(
    store: Store, size: int, texts: Sequence[str], picks: np.ndarray, now: datetime
) -> tuple[dict[str, int], np.ndarray]:
    """Workspaces and feeds through the store's API as in the store run; then, for the
    benchmark only, `size` passages (passage_id = row + 1, the text of the anchor its vector
    came from) in articles of 10, stories and feed entries written with plain executemany
    (no dedupe, story matching, FTS or embeddings: only what `Store.hits` joins). Returns the
    workspace ids and the sparse workspace's passage ids."""
    ws = {name: await store.workspace_id(name, now) for name in ("console", "other", "sparse")}
    feed_ids, sparse_feed = await subscribe_feeds(store, ws, now)
    seen = to_iso(now)
    articles = -(-size // PASSAGES_PER_ARTICLE)
    batch = 20_000
    async with store.transaction():
        for first in range(0, articles, batch):
            numbers = range(first, min(first + batch, articles))
            published = [to_iso(EPOCH - timedelta(minutes=3 * a)) for a in numbers]
            await store.db.executemany(
                "INSERT INTO stories (story_id, title, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, ?)",
                [(a + 1, f"Wire story {a}", p, p) for a, p in zip(numbers, published, strict=True)],
            )
            await store.db.executemany(
                "INSERT INTO articles (article_id, story_id, url, guid, title, text, source, "
                "published_at, first_seen_at, content_hash, minhash) "
                "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, x'')",
                [
                    (
                        a + 1,
                        a + 1,
                        f"https://news.bench.invalid/a/{a}",
                        f"bench-{a}",
                        f"Wire story {a}",
                        f"Wire {a % FEEDS}",
                        p,
                        seen,
                        f"h{a}",
                    )
                    for a, p in zip(numbers, published, strict=True)
                ],
            )
            await store.db.executemany(
                "INSERT INTO feed_entries (feed_id, entry_key, article_id, content_hash, origin, "
                "first_seen_at) VALUES (?, ?, ?, ?, 1, ?)",
                [
                    (
                        sparse_feed if a < SPARSE_ARTICLES else feed_ids[a % FEEDS],
                        f"bench-{a}",
                        a + 1,
                        f"h{a}",
                        seen,
                    )
                    for a in numbers
                ],
            )
        for first in range(0, size, batch * PASSAGES_PER_ARTICLE):
            rows = range(first, min(first + batch * PASSAGES_PER_ARTICLE, size))
            await store.db.executemany(
                "INSERT INTO passages (passage_id, article_id, seq, text, content_hash) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        r + 1,
                        r // PASSAGES_PER_ARTICLE + 1,
                        r % PASSAGES_PER_ARTICLE,
                        texts[picks[r]],
                        f"p{r}",
                    )
                    for r in rows
                ],
            )
    sparse = np.arange(1, min(size, SPARSE_ARTICLES * PASSAGES_PER_ARTICLE) + 1, dtype=np.int64)
    return ws, sparse


def recall_at(
    approx: Sequence[tuple[int, float]], exact: Sequence[tuple[int, float]], k: int
) -> float:
    """Share of the exact top k found in the approximate top k."""
    want = {pid for pid, _ in exact[:k]}
    return len(want.intersection(pid for pid, _ in approx[:k])) / max(len(want), 1)


async def run_scale(
    size: int,
    cfg: Config,
    embedder: Embedder,
    workdir: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The FAISS part at `size` passages, the compressed index built by `VectorIndex.sync` as
    the product builds it, beside an exact flat index of the same vectors."""
    rng = random.Random(cfg.seed)
    nrng = np.random.default_rng(cfg.seed)
    data_dir = workdir / f"scale{size}"
    data_dir.mkdir(parents=True)
    build: dict[str, Any] = {}
    base = feed_base(cfg.scale_anchors) if cfg.scale_base == "feeds" else None
    if cfg.scale_base == "feeds" and base is None:
        progress("shared data not found: using synthetic passages as the vector base")
    base_kind = "feeds" if base is not None else "synthetic"
    texts = base if base is not None else synthetic_base(rng, cfg.scale_anchors)
    progress(
        f"scale {size:,}: embedding {len(texts):,} {base_kind} passages with the real model ..."
    )
    started = time.perf_counter()
    anchors = embedder.embed_passages(texts).astype(np.float32)
    build["anchor_embed_s"] = time.perf_counter() - started
    progress(f"scale {size:,}: {size:,} synthetic vectors (an anchor + noise {cfg.noise}) ...")
    started = time.perf_counter()
    matrix, picks = scale_vectors(anchors, size, cfg.noise, nrng)
    build["vectors_s"] = time.perf_counter() - started
    ids = np.arange(1, size + 1, dtype=np.int64)

    async with Store.open(data_dir / "wirewatch.db") as store:
        progress(f"scale {size:,}: bulk-filling SQLite (benchmark-only path) ...")
        started = time.perf_counter()
        ws, sparse_ids = await bulk_fill(store, size, texts, picks, EPOCH)
        build["bulk_insert_s"] = time.perf_counter() - started
        if "postgres" in cfg.engines:  # read by the PostgreSQL run: SQLite holds no vectors here
            np.save(data_dir / VECTORS_FILE, matrix)
            np.save(data_dir / IDS_FILE, ids)
        if "sqlite" not in cfg.engines:
            return {"mode": "scale", "size": size, "base": base_kind, "build": build}

        async def embedded_ids() -> np.ndarray:
            return ids

        async def batches(wanted: np.ndarray) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
            for start in range(0, len(wanted), SET_BATCH):
                part = wanted[start : start + SET_BATCH]
                yield part, matrix[part - 1]

        progress(
            f"scale {size:,}: VectorIndex.sync with compress_above={cfg.compress_above:,}, "
            f"min_recall={cfg.min_recall} (adds, trains, chooses nprobe, saves) ..."
        )
        vectors = VectorIndex(
            data_dir / "passages.faiss",
            embedder.dim,
            embedder.model_id,
            compress_above=cfg.compress_above,
            min_recall=cfg.min_recall,
        )
        started = time.perf_counter()
        await vectors.sync(embedded_ids, batches)
        build["sync_s"] = time.perf_counter() - started
        made = vectors.last_build
        if made is not None:
            build.update(
                train_s=made.train_s,
                add_s=made.add_s,
                tune_s=made.tune_s,
                nlist=made.nlist,
                nprobe=made.nprobe,
                build_recall=made.recall,
                trained_on=made.trained_on,
                ladder=[list(step) for step in made.ladder],
            )
        progress(f"scale {size:,}: memory of a fresh process loading the {vectors.kind} file ...")
        rss_after, rss_peak = load_rss_growth(vectors.path, embedder.dim, embedder.model_id)
        memory: dict[str, Any] = {
            "kind": vectors.kind,
            "memory_bytes": vectors.memory_bytes(),
            "file_bytes": vectors.path.stat().st_size,
            "rss_growth_on_load_bytes": rss_after,
            "rss_peak_growth_on_load_bytes": rss_peak,
            "db_file_bytes": sqlite_file_bytes(data_dir / "wirewatch.db"),
        }
        flat: VectorIndex | None = None
        if cfg.flat:
            progress(f"scale {size:,}: the exact flat index of the same vectors ...")
            flat = VectorIndex(data_dir / "flat.faiss", embedder.dim, embedder.model_id)
            started = time.perf_counter()
            flat.add(ids, matrix)
            build["flat_add_s"] = time.perf_counter() - started
            flat.save()
            flat_after, flat_peak = load_rss_growth(flat.path, embedder.dim, embedder.model_id)
            memory.update(
                flat_memory_bytes=flat.memory_bytes(),
                flat_file_bytes=flat.path.stat().st_size,
                flat_rss_growth_on_load_bytes=flat_after,
                flat_rss_peak_growth_on_load_bytes=flat_peak,
            )
        matrix = np.empty((0, embedder.dim), dtype=np.float32)  # free the 1.5 GB copy

        progress(f"scale {size:,}: {cfg.warmup} warm-up + {cfg.queries} queries ...")
        queries = synthetic_queries(random.Random(cfg.seed + size), cfg.warmup + cfg.queries)
        first_k = max(cfg.k * 4, 32)
        times: dict[str, list[float]] = {
            key: []
            for key in ("embed", "faiss", "join", "end_to_end", "scoped", "flat", "flat_scoped")
        }
        recall: dict[str, list[float]] = {key: [] for key in ("at_k", "first_round", "scoped")}
        short_first_round = 0
        other = OtherLoad()
        for n, query in enumerate(queries):
            if n == cfg.warmup:
                other.start()
            t0 = time.perf_counter()
            await search(store, vectors, embedder, ws["console"], query, cfg.k)
            t1 = time.perf_counter()
            vector = embedder.embed_query(query)
            t2 = time.perf_counter()
            scored = vectors.search(vector, first_k)
            t3 = time.perf_counter()
            first_hits = await store.hits(scored, ws["console"])
            t4 = time.perf_counter()
            scoped = vectors.search(vector, first_k, sparse_ids)
            t5 = time.perf_counter()
            if n < cfg.warmup:
                continue
            short_first_round += len(first_hits) < cfg.k
            for key, seconds in zip(
                ("end_to_end", "embed", "faiss", "join", "scoped"),
                (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4),
                strict=True,
            ):
                times[key].append(seconds)
            if flat is not None:
                t6 = time.perf_counter()
                exact = flat.search(vector, first_k)
                t7 = time.perf_counter()
                exact_scoped = flat.search(vector, first_k, sparse_ids)
                t8 = time.perf_counter()
                times["flat"].append(t7 - t6)
                times["flat_scoped"].append(t8 - t7)
                # a search for k scans fewer cells than the first round's: asked for itself
                recall["at_k"].append(recall_at(vectors.search(vector, cfg.k), exact, cfg.k))
                recall["first_round"].append(recall_at(scored, exact, first_k))
                recall["scoped"].append(recall_at(scoped, exact_scoped, cfg.k))
        other.stop()

    return {
        "mode": "scale",
        "size": size,
        "base": base_kind,
        "base_passages": len(texts),
        "compress_above": cfg.compress_above,
        "min_recall": cfg.min_recall,
        "build": build,
        "memory": memory,
        "k": cfg.k,
        "first_round_k": first_k,
        "sparse_passages": len(sparse_ids),
        "latency": {key: percentiles(samples) for key, samples in times.items()},
        "recall": {key: float(np.mean(v)) if v else float("nan") for key, v in recall.items()},
        "queries_needing_wider_search": short_first_round,
        "other_processes_cpu_cores": other.cores,
    }
