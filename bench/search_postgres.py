"""The PostgreSQL run of bench/search.py: a size's rows and vectors, as the SQLite run stored
them, copied into a fresh database by bench/pgload.py, the HNSW index built, the same timed
queries as on SQLite, the server's memory and sizes, and the recall of pgvector's search
against exact search of the same vectors. Writes only to the database at the URL it is given.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import pgload
from bench.search_news import synthetic_queries
from bench.search_scale import recall_at
from bench.search_store import EPOCH, IDS_FILE, VECTORS_FILE, Config, measure_queries
from index.retrieve.embed import Embedder
from index.store.interfaces import Vectors

PG_TABLES = ("passages", "articles", "stories", "feed_entries", "subscriptions", "feeds")


async def run_postgres(
    size: int,
    cfg: Config,
    embedder: Embedder,
    data_dir: Path,
    url: str,
    progress: Callable[[str], None],
    *,
    scale: bool,
) -> dict[str, Any]:
    """The size's rows and vectors, as the SQLite run stored them, loaded into the empty
    database at `url`; the HNSW index built by `PgVectorIndex.open` (timed); then the same
    queries through the same functions, the server's memory and sizes, and the recall of the
    vector search against exact search of the same vectors."""
    ids = np.load(data_dir / IDS_FILE)

    def vectors_of(part: np.ndarray) -> np.ndarray:  # scale run: row i is passage i + 1
        # mapped for one batch only, so that the file's pages leave this process's RSS
        return np.asarray(np.load(data_dir / VECTORS_FILE, mmap_mode="r")[part - 1])

    loading = pgload.prepared(
        url,
        data_dir / "wirewatch.db",
        embedder,
        progress,
        work_mem=cfg.pg_maintenance_work_mem,
        vectors_of=vectors_of if scale else None,
    )
    async with loading as (store, vectors, figures):
        ws = {
            name: await store.workspace_id(name, EPOCH) for name in ("console", "other", "sparse")
        }
        counts = {name: (await store.counts(w)).passages for name, w in ws.items()}
        sparse_ids = await store.workspace_passage_ids(ws["sparse"])
        measured = await measure_queries(
            store, vectors, embedder, ws, size, cfg, progress, scoped=sparse_ids if scale else None
        )
        memory = {
            "process_rss_bytes": pgload.own_rss(),
            "server": await pgload.server_memory(store),
            "sizes": await pgload.sizes(store.pool, PG_TABLES, figures["hnsw_index"]),
        }
        progress(f"postgres {size:,}: recall of the vector search against exact search ...")
        matrix = np.load(data_dir / VECTORS_FILE, mmap_mode="r")  # after the memory figures
        recall = await vector_recall(
            vectors, embedder, matrix, ids, cfg, size, measured["first_round_k"], sparse_ids
        )
    return figures | {
        "k": cfg.k,
        "memory": memory,
        "visible_passages": counts,
        "recall": recall,
        **measured,
    }


async def vector_recall(
    vectors: Vectors,
    embedder: Embedder,
    matrix: np.ndarray,
    ids: np.ndarray,
    cfg: Config,
    size: int,
    first_k: int,
    sparse_ids: np.ndarray,
    queries: int = 100,
) -> dict[str, float]:
    """Recall of `vectors.nearest` against exact inner-product search of the same vectors
    (`matrix`, row i holding passage `ids[i]`), over the first `queries` timed queries: a
    search for k, the first round's search and a search restricted to the sparse ids."""
    texts = synthetic_queries(random.Random(cfg.seed + size), cfg.warmup + cfg.queries)
    texts = texts[cfg.warmup : cfg.warmup + queries]
    rows = np.searchsorted(ids, sparse_ids)
    found: dict[str, list[float]] = {"at_k": [], "first_round": [], "scoped": []}
    for text in texts:
        vector = embedder.embed_query(text)
        scores = np.concatenate(
            [matrix[i : i + 100_000] @ vector for i in range(0, len(matrix), 100_000)]
        )
        order = np.argpartition(-scores, first_k)[:first_k]
        exact = [(int(ids[i]), 0.0) for i in order[np.argsort(-scores[order])]]
        sparse_order = rows[np.argsort(-scores[rows])]
        exact_scoped = [(int(ids[i]), 0.0) for i in sparse_order[: cfg.k]]
        found["at_k"].append(recall_at(await vectors.nearest(vector, cfg.k), exact, cfg.k))
        found["first_round"].append(
            recall_at(await vectors.nearest(vector, first_k), exact, first_k)
        )
        scoped = await vectors.nearest(vector, cfg.k, sparse_ids)
        found["scoped"].append(recall_at(scoped, exact_scoped, cfg.k))
    return {key: float(np.mean(v)) if v else float("nan") for key, v in found.items()}
