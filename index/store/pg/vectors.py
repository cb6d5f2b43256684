"""Stage: query vector -> nearest passages, with pgvector. Side effects: creates the HNSW index
of the configured model on first open (CREATE INDEX, under an advisory lock).

The vectors are the `passages.embedding` column itself, so there is no second copy to keep in step:
`sync`, `save` and `reset` of the FAISS index (index/retrieve/vectors.py) have nothing to do here.
The column has no fixed dimension (the model is configurable), so the index is on the expression
`embedding::vector(d)` of the rows of one model, and queries order by that same expression. A
filtered search (a workspace's passages, a set of articles) uses pgvector 0.8's iterative index
scans (`hnsw.iterative_scan = relaxed_order`), which keep scanning until k rows pass the filter; the
few rows it returns out of order are sorted again here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.retrieve.vectors import SyncReport

log = logging.getLogger(__name__)

EF_SEARCH = 100  # candidates HNSW keeps per query (pgvector's default is 40): connect.py sets it
BUILD_MEMORY = "1GB"  # maintenance_work_mem for the index build (the server's, if larger)
_INDEX_LOCK = 0x7777686E7377  # advisory lock key: one process creates the index at a time


class PgVectorIndex:
    """The vector search of the PostgreSQL engine; the `VectorIndex` methods the pipeline and
    the searches call. Open with `await PgVectorIndex.open(pool, dim, model_id)`."""

    path: Path | None = None  # no file: the vectors are rows
    stale_on_disk = False

    def __init__(self, pool: Any, dim: int, model_id: str) -> None:
        self.pool = pool
        self.dim = dim
        self.model_id = model_id
        self._count = 0
        self._column = f"embedding::vector({int(dim)})"

    @classmethod
    async def open(cls, pool: Any, dim: int, model_id: str) -> PgVectorIndex:
        index = cls(pool, dim, model_id)
        await index._ensure_index()
        await index._recount()
        return index

    async def _ensure_index(self) -> None:
        name = (
            "passages_hnsw_" + hashlib.sha1(f"{self.model_id}:{self.dim}".encode()).hexdigest()[:12]
        )
        model = self.model_id.replace("'", "''")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _INDEX_LOCK)
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
            if exists:
                return
            log.info("creating the vector index of %s (%d dimensions)", self.model_id, self.dim)
            # the build is several times faster with room for the graph (only what it needs
            # is taken); the server's maintenance_work_mem if that is larger
            await conn.execute(
                "SELECT set_config('maintenance_work_mem', greatest("
                "pg_size_bytes(current_setting('maintenance_work_mem')), "
                f"pg_size_bytes('{BUILD_MEMORY}')) / 1024 || 'kB', true)"
            )
            await conn.execute(
                f"CREATE INDEX {name} ON passages USING hnsw (({self._column}) "
                f"vector_cosine_ops) WHERE embed_model = '{model}'"
            )

    async def _recount(self) -> None:
        self._count = int(
            await self.pool.fetchval(
                "SELECT count(*) FROM passages WHERE embed_model = $1", self.model_id
            )
        )

    def __len__(self) -> int:
        """Vectors of this model, as of the last open or sync."""
        return self._count

    async def refresh(self) -> bool:
        return False  # every query reads the table itself

    async def nearest(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest passage ids with their cosine scores, best first; only among the
        `allowed` ids when given."""
        if k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        where = "embed_model = $2"
        params: list[Any] = [query, self.model_id, k]
        if allowed is not None:
            where += " AND passage_id = ANY($4)"
            params.append([int(i) for i in allowed])
        sql = (
            f"SELECT passage_id, 1 - ({self._column} <=> $1) AS score FROM passages "
            f"WHERE {where} ORDER BY {self._column} <=> $1 LIMIT $3"
        )
        # the connection's own settings serve (index/store/pg/connect.py): one trip
        if k <= EF_SEARCH:
            rows = await self.pool.fetch(sql, *params)
        else:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL hnsw.ef_search = {min(k, 1000)}")
                rows = await conn.fetch(sql, *params)
        scored = [(int(r[0]), float(r[1])) for r in rows]
        return sorted(scored, key=lambda s: (-s[1], s[0]))

    async def sync(
        self,
        embedded_ids: Callable[[], Awaitable[np.ndarray]],
        batches: Any,
        *,
        changed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> SyncReport:
        """Nothing to copy (the rows are the index); counts the vectors again."""
        before = self._count
        await self._recount()
        return SyncReport(added=max(0, self._count - before), removed=0, rebuilt=False)

    def save(self) -> None:
        """Nothing to save: every vector is written with its passage."""

    def reset(self) -> None:
        """Nothing to drop: `reindex --re-embed` clears the column itself."""
