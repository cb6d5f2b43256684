"""Stage: passages, their full-text index and embeddings, on SQLite (part of `Store`).
Side effects: reads and writes `passages` and the FTS5 table `passages_fts`.

The methods of `index.store.sqlite.store.Store` for passages: replacing an article's passages, BM25
text search over FTS5, the stored vectors (float32 blobs, keyed by model), search hits and counts.
index/store/pg/passages.py has the same methods on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from index.models import Hit, Passage
from index.retrieve.passages import embed_text
from index.store.rows import Counts, PassageChange
from index.store.sqlite.base import StoreBase
from index.text import fold
from index.timeutil import from_iso

# What FTS5 says of a query it cannot parse (fts5_expr.c): a string left open, a bare "*", a
# column filter naming no column, a NEAR distance that is not a number, a syntax error.
_UNREADABLE_QUERY = (
    "fts5",
    "syntax",
    "unterminated string",
    "unknown special query",
    "no such column",
    "expected integer",
)


def _unreadable_query(exc: sqlite3.OperationalError) -> bool:
    """Whether FTS5 refused the MATCH expression itself (the query finds nothing), not the
    database."""
    return any(words in str(exc) for words in _UNREADABLE_QUERY)


class PassageRows(StoreBase):
    """The passage, text-search and embedding methods of `Store`."""

    async def replace_passages(
        self, article_id: int, passages: Sequence[Passage], model_id: str
    ) -> PassageChange:
        """Make the article's passages these ones. A passage whose text is unchanged keeps its
        id and vector; a new passage reuses a stored vector of identical text. The full-text
        index holds the folded title and text (`index.text.fold`), the words queries look for."""
        async with self.transaction():
            old = {
                r["seq"]: r
                for r in await self._all(
                    "SELECT passage_id, seq, content_hash FROM passages WHERE article_id = ?",
                    (article_id,),
                )
            }
            added: list[int] = []
            removed: list[int] = []
            pending = 0
            for p in passages:
                prior = old.pop(p.seq, None)
                if prior is not None and prior["content_hash"] == p.content_hash:
                    continue
                reuse = await self._one(  # before any delete: the text may only have moved
                    "SELECT embedding FROM passages WHERE content_hash = ? AND embed_model = ? "
                    "AND embedding IS NOT NULL LIMIT 1",
                    (p.content_hash, model_id),
                )
                if prior is not None:
                    await self.db.execute(
                        "DELETE FROM passages WHERE passage_id = ?", (prior["passage_id"],)
                    )
                    removed.append(prior["passage_id"])
                cur = await self.db.execute(
                    "INSERT INTO passages (article_id, seq, text, content_hash, embedding, "
                    "embed_model) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        article_id,
                        p.seq,
                        p.text,
                        p.content_hash,
                        None if reuse is None else reuse[0],
                        None if reuse is None else model_id,
                    ),
                )
                added.append(int(cur.lastrowid or 0))
                pending += reuse is None
            for prior in old.values():
                await self.db.execute(
                    "DELETE FROM passages WHERE passage_id = ?", (prior["passage_id"],)
                )
                removed.append(prior["passage_id"])
            await self.db.executemany(
                "DELETE FROM passages_fts WHERE rowid = ?", [(pid,) for pid in removed]
            )
            if added:
                title = await self._one(
                    "SELECT title FROM articles WHERE article_id = ?", (article_id,)
                )
                texts = {p.seq: p.text for p in passages}
                rows = await self._all(
                    f"SELECT passage_id, seq FROM passages WHERE passage_id IN "
                    f"({','.join('?' * len(added))})",
                    added,
                )
                await self.db.executemany(
                    "INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)",
                    [(r[0], fold(title[0] if title else ""), fold(texts[r[1]])) for r in rows],
                )
        return PassageChange(added=added, removed=removed, pending=pending)

    async def text_rank(self, expression: str, limit: int) -> list[tuple[int, float]]:
        """BM25 over every workspace's passages (title weighted twice): the `limit` best
        (passage_id, score), higher is better. Ranking the full-text index alone is several
        times cheaper than joining each match to its article; filter the few best after
        (`passage_articles`). `expression` is an FTS5 query (`index.retrieve.search.fts_query`)."""
        rank = "bm25(passages_fts, 2.0, 1.0)"
        try:
            rows = await self._all(
                f"SELECT rowid, -{rank} FROM passages_fts WHERE passages_fts MATCH ? "
                f"ORDER BY {rank} LIMIT ?",
                (expression, limit),
            )
        except sqlite3.OperationalError as exc:  # a query FTS5 cannot read: no text hits
            if _unreadable_query(exc):
                return []
            raise
        return [(int(r[0]), float(r[1])) for r in rows]

    async def text_search(
        self,
        expression: str,
        limit: int,
        *,
        workspace_id: int,
        article_ids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 as `text_rank`, among the workspace's articles (and `article_ids`, when given)
        only: every match is joined to its article, so use it when `text_rank`'s best are
        not the workspace's."""
        if article_ids is not None and not article_ids:
            return []
        rank = "bm25(passages_fts, 2.0, 1.0)"
        where = (  # a set built once: every match is checked against it
            "p.article_id IN (SELECT fe.article_id FROM feed_entries fe JOIN subscriptions s "
            "ON s.feed_id = fe.feed_id WHERE s.workspace_id = ?)"
        )
        params: list[Any] = [expression, workspace_id]
        if article_ids is not None:
            where += f" AND p.article_id IN ({','.join('?' * len(article_ids))})"
            params.extend(article_ids)
        try:
            rows = await self._all(
                f"SELECT f.rowid, -{rank} AS score FROM passages_fts f "
                "JOIN passages p ON p.passage_id = f.rowid "
                f"WHERE passages_fts MATCH ? AND {where} ORDER BY {rank} LIMIT ?",
                [*params, limit],
            )
        except sqlite3.OperationalError as exc:  # a query FTS5 cannot read: no text hits
            if _unreadable_query(exc):
                return []
            raise
        return [(int(r[0]), float(r[1])) for r in rows]

    async def mentions(self, expression: str, *, workspace_id: int) -> bool:
        """Whether any of the workspace's passages matches the FTS5 `expression`. Each match
        is probed for the workspace in turn (an `IN` over the workspace's articles would build
        that whole set first: p50 35 ms a question at 100k passages, against 0.6 ms)."""
        try:
            row = await self._one(
                "SELECT 1 FROM passages_fts f JOIN passages p ON p.passage_id = f.rowid "
                "WHERE passages_fts MATCH ? AND EXISTS (SELECT 1 FROM feed_entries fe "
                "JOIN subscriptions s ON s.feed_id = fe.feed_id "
                "WHERE fe.article_id = p.article_id AND s.workspace_id = ?) LIMIT 1",
                (expression, workspace_id),
            )
        except sqlite3.OperationalError as exc:  # a query FTS5 cannot read: no match
            if _unreadable_query(exc):
                return False
            raise
        return row is not None

    async def passage_articles(
        self, passage_ids: Sequence[int], workspace_id: int
    ) -> dict[int, int]:
        """passage_id -> article_id, for those of these passages the workspace can see."""
        found: dict[int, int] = {}
        for start in range(0, len(passage_ids), 5000):
            chunk = list(passage_ids[start : start + 5000])
            rows = await self._all(
                "SELECT p.passage_id, p.article_id FROM passages p "
                f"WHERE p.passage_id IN ({','.join('?' * len(chunk))}) AND EXISTS (SELECT 1 "
                "FROM feed_entries fe JOIN subscriptions s ON s.feed_id = fe.feed_id "
                "WHERE fe.article_id = p.article_id AND s.workspace_id = ?)",
                (*chunk, workspace_id),
            )
            found.update((int(r[0]), int(r[1])) for r in rows)
        return found

    async def forget_other_models(self, model_id: str) -> int:
        """Drop vectors made by another model (the configured model changed); they are
        re-embedded as pending passages. Returns how many were dropped."""
        async with self.transaction():
            cur = await self.db.execute(
                "UPDATE passages SET embedding = NULL, embed_model = NULL "
                "WHERE embed_model IS NOT NULL AND embed_model != ?",
                (model_id,),
            )
        return int(cur.rowcount or 0)

    async def pending_passages(self, limit: int) -> list[tuple[int, str]]:
        """(passage_id, text to embed) of passages with no vector yet."""
        rows = await self._all(
            "SELECT p.passage_id, p.text, a.title FROM passages p "
            "JOIN articles a ON a.article_id = p.article_id "
            "WHERE p.embedding IS NULL ORDER BY p.passage_id LIMIT ?",
            (limit,),
        )
        return [(r["passage_id"], embed_text(r["title"], r["text"])) for r in rows]

    async def count_pending(self) -> int:
        row = await self._one("SELECT count(*) FROM passages WHERE embedding IS NULL")
        return 0 if row is None else int(row[0])

    async def count_embedded(self, model_id: str) -> int:
        row = await self._one("SELECT count(*) FROM passages WHERE embed_model = ?", (model_id,))
        return 0 if row is None else int(row[0])

    async def set_embeddings(self, ids: Sequence[int], vectors: np.ndarray, model_id: str) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        async with self.transaction():
            await self.db.executemany(
                "UPDATE passages SET embedding = ?, embed_model = ? WHERE passage_id = ?",
                [(vectors[i].tobytes(), model_id, pid) for i, pid in enumerate(ids)],
            )

    async def clear_embeddings(self) -> None:
        """Forget every stored vector (`reindex --re-embed`)."""
        async with self.transaction():
            await self.db.execute("UPDATE passages SET embedding = NULL, embed_model = NULL")

    async def embedded_ids(self, model_id: str) -> np.ndarray:
        rows = await self._all(
            "SELECT passage_id FROM passages WHERE embed_model = ? ORDER BY passage_id",
            (model_id,),
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    async def embeddings(
        self, ids: np.ndarray, model_id: str, dim: int, batch: int = 4096
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        """Stored vectors of `ids` in batches of (ids, matrix)."""
        for start in range(0, len(ids), batch):
            chunk = [int(i) for i in ids[start : start + batch]]
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                f"SELECT passage_id, embedding FROM passages WHERE passage_id IN ({marks}) "
                "AND embed_model = ? AND embedding IS NOT NULL",
                (*chunk, model_id),
            )
            if not rows:
                continue
            out_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield out_ids, matrix.reshape(len(rows), dim)

    # ---- reading -------------------------------------------------------------------------------
    async def hits(self, scored: Iterable[tuple[int, float]], workspace_id: int) -> list[Hit]:
        """Search results for scored passage ids, keeping only the workspace's own articles,
        in the given order."""
        scored = list(scored)
        if not scored:
            return []
        marks = ",".join("?" * len(scored))
        rows = await self._all(
            "SELECT p.passage_id, p.text, a.article_id, a.story_id, a.title, a.url, a.source, "
            "a.published_at FROM passages p JOIN articles a ON a.article_id = p.article_id "
            f"WHERE p.passage_id IN ({marks}) AND EXISTS (SELECT 1 FROM feed_entries fe "
            "JOIN subscriptions s ON s.feed_id = fe.feed_id "
            "WHERE fe.article_id = a.article_id AND s.workspace_id = ?)",
            (*[pid for pid, _ in scored], workspace_id),
        )
        by_id = {r["passage_id"]: r for r in rows}
        return [
            Hit(
                passage_id=pid,
                article_id=r["article_id"],
                story_id=r["story_id"],
                title=r["title"],
                url=r["url"],
                source=r["source"],
                published_at=from_iso(r["published_at"]) or datetime.min,
                text=r["text"],
                score=score,
            )
            for pid, score in scored
            if (r := by_id.get(pid)) is not None
        ]

    async def article_vectors(
        self, article_ids: Sequence[int], model_id: str, dim: int
    ) -> dict[int, np.ndarray]:
        """The stored passage vectors of each article, (passages, dim) float32."""
        found: dict[int, list[np.ndarray]] = {}
        for start in range(0, len(article_ids), 500):
            chunk = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                "SELECT article_id, embedding FROM passages WHERE embedding IS NOT NULL "
                f"AND embed_model = ? AND article_id IN ({marks}) ORDER BY article_id, seq",
                [model_id, *chunk],
            )
            for r in rows:
                found.setdefault(r[0], []).append(np.frombuffer(r[1], dtype=np.float32))
        return {aid: np.vstack(vs).reshape(-1, dim) for aid, vs in found.items()}

    async def article_passage_ids(self, article_ids: Sequence[int]) -> np.ndarray:
        """Ids of these articles' passages."""
        found: list[int] = []
        for start in range(0, len(article_ids), 500):
            chunk = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                f"SELECT passage_id FROM passages WHERE article_id IN ({marks})", chunk
            )
            found.extend(int(r[0]) for r in rows)
        return np.asarray(found, dtype=np.int64)

    async def workspace_passage_ids(self, workspace_id: int) -> np.ndarray:
        """Ids of the passages of every article the workspace can see."""
        rows = await self._all(
            "SELECT DISTINCT p.passage_id FROM subscriptions s "
            "JOIN feed_entries fe ON fe.feed_id = s.feed_id "
            "JOIN passages p ON p.article_id = fe.article_id WHERE s.workspace_id = ?",
            (workspace_id,),
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    async def counts(self, workspace_id: int) -> Counts:
        """What the workspace can see."""
        row = await self._one(
            "WITH visible AS (SELECT DISTINCT fe.article_id FROM feed_entries fe "
            "  JOIN subscriptions s ON s.feed_id = fe.feed_id WHERE s.workspace_id = :ws) "
            "SELECT (SELECT count(*) FROM subscriptions WHERE workspace_id = :ws), "
            "(SELECT count(*) FROM visible), "
            "(SELECT count(DISTINCT a.story_id) FROM articles a JOIN visible USING (article_id)), "
            "(SELECT count(*) FROM passages p JOIN visible USING (article_id)), "
            "(SELECT count(*) FROM passages p JOIN visible USING (article_id) "
            "  WHERE p.embedding IS NOT NULL)",
            {"ws": workspace_id},
        )
        assert row is not None
        return Counts(*(int(v) for v in row))
