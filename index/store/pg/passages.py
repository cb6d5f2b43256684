"""Stage: passages, their text-search vectors and embeddings, on PostgreSQL (part of `PgStore`).
Side effects: reads and writes `passages`.

The methods of `index.store.sqlite.store.Store` for passages, with the same meaning. Text search
reads the `fts` column (index/store/pg/textsearch.py); vectors live in the `embedding` column,
searched by index/store/pg/vectors.py. Id lists travel as one array parameter (`= ANY($n)`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from index.models import Hit, Passage
from index.retrieve.passages import embed_text
from index.store.pg.textsearch import FTS_VECTOR, TermStats, fts_values, rank_sql, terms, tsquery
from index.store.pg.values import read_timestamp
from index.store.rows import Counts, PassageChange

# The workspace can see the article `a_id` (an SQL expression): a feed it subscribes to carries it.
_VISIBLE = (
    "EXISTS (SELECT 1 FROM feed_entries fe JOIN subscriptions s ON s.feed_id = fe.feed_id "
    "WHERE fe.article_id = {article} AND s.workspace_id = {workspace})"
)


def _array(value: Any) -> np.ndarray:
    """A `vector` column as read -> float32 array (pgvector's codec hands back a `Vector`;
    older releases of it, a numpy array)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, np.float32)


def visible(article: str, workspace: str) -> str:
    """The SQL condition: workspace `workspace` (a parameter) can see article `article`."""
    return _VISIBLE.format(article=article, workspace=workspace)


class PassageRows:
    pool: Any
    term_stats: TermStats

    async def replace_passages(
        self, article_id: int, passages: Sequence[Passage], model_id: str
    ) -> PassageChange:
        """As `Store.replace_passages`; `fts` holds the folded title and text."""
        async with self.pool.acquire() as conn, conn.transaction():
            old = {
                r["seq"]: r
                for r in await conn.fetch(
                    "SELECT passage_id, seq, content_hash FROM passages WHERE article_id = $1",
                    article_id,
                )
            }
            title = await conn.fetchval(
                "SELECT title FROM articles WHERE article_id = $1", article_id
            )
            added: list[int] = []
            removed: list[int] = []
            pending = 0
            insert = (
                "INSERT INTO passages (article_id, seq, text, content_hash, embedding, "
                "embed_model, fts) VALUES ($1, $2, $3, $4, $5, $6, "
                f"{FTS_VECTOR.format(title='$7', text='$8')}) RETURNING passage_id"
            )
            for p in passages:
                prior = old.pop(p.seq, None)
                if prior is not None and prior["content_hash"] == p.content_hash:
                    continue
                reuse = await conn.fetchval(
                    "SELECT embedding FROM passages WHERE content_hash = $1 AND embed_model = $2 "
                    "AND embedding IS NOT NULL LIMIT 1",
                    p.content_hash,
                    model_id,
                )
                if prior is not None:
                    await conn.execute(
                        "DELETE FROM passages WHERE passage_id = $1", prior["passage_id"]
                    )
                    removed.append(int(prior["passage_id"]))
                folded_title, folded_text = fts_values(title or "", p.text)
                passage_id = await conn.fetchval(
                    insert,
                    article_id,
                    p.seq,
                    p.text,
                    p.content_hash,
                    reuse,
                    None if reuse is None else model_id,
                    folded_title,
                    folded_text,
                )
                added.append(int(passage_id))
                pending += reuse is None
            for prior in old.values():
                await conn.execute(
                    "DELETE FROM passages WHERE passage_id = $1", prior["passage_id"]
                )
                removed.append(int(prior["passage_id"]))
        return PassageChange(added=added, removed=removed, pending=pending)

    async def text_rank(self, expression: str, limit: int) -> list[tuple[int, float]]:
        """As `Store.text_rank`: the `limit` best (passage_id, score) of every workspace, by
        BM25 (index/store/pg/textsearch.py)."""
        return await self._bm25(expression, limit, "TRUE", [])

    async def text_search(
        self,
        expression: str,
        limit: int,
        *,
        workspace_id: int,
        article_ids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """As `Store.text_search`: among the workspace's articles (and `article_ids`)."""
        if article_ids is not None and not article_ids:
            return []
        where = visible("p.article_id", "$3")
        params: list[Any] = [workspace_id]
        if article_ids is not None:
            where += " AND p.article_id = ANY($4)"
            params.append(list(article_ids))
        return await self._bm25(expression, limit, where, params)

    async def _bm25(
        self, expression: str, limit: int, where: str, params: list[Any]
    ) -> list[tuple[int, float]]:
        """The `limit` passages matching `expression` and `where` (its parameters numbered
        from $3), best first by BM25."""
        wanted = terms(expression)
        if not wanted:
            return []
        idfs = await self.term_stats.idfs(self.pool, wanted)
        first = 3 + len(params)
        rows = await self.pool.fetch(
            f"SELECT p.passage_id, {rank_sql('p.fts', first, len(wanted))} AS score "
            "FROM passages p WHERE p.fts @@ to_tsquery('simple', $1) "
            f"AND {where} ORDER BY score DESC, p.passage_id LIMIT $2",
            " | ".join(wanted),
            limit,
            *params,
            *[value for pair in zip(wanted, idfs, strict=True) for value in pair],
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    async def mentions(self, expression: str, *, workspace_id: int) -> bool:
        query = tsquery(expression)
        if not query:
            return False
        found = await self.pool.fetchval(
            "SELECT 1 FROM passages p WHERE p.fts @@ to_tsquery('simple', $1) "
            f"AND {visible('p.article_id', '$2')} LIMIT 1",
            query,
            workspace_id,
        )
        return found is not None

    async def passage_articles(
        self, passage_ids: Sequence[int], workspace_id: int
    ) -> dict[int, int]:
        rows = await self.pool.fetch(
            "SELECT p.passage_id, p.article_id FROM passages p WHERE p.passage_id = ANY($1) "
            f"AND {visible('p.article_id', '$2')}",
            [int(i) for i in passage_ids],
            workspace_id,
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def forget_other_models(self, model_id: str) -> int:
        status: str = await self.pool.execute(
            "UPDATE passages SET embedding = NULL, embed_model = NULL "
            "WHERE embed_model IS NOT NULL AND embed_model != $1",
            model_id,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def pending_passages(self, limit: int) -> list[tuple[int, str]]:
        rows = await self.pool.fetch(
            "SELECT p.passage_id, p.text, a.title FROM passages p "
            "JOIN articles a ON a.article_id = p.article_id "
            "WHERE p.embedding IS NULL ORDER BY p.passage_id LIMIT $1",
            limit,
        )
        return [(int(r["passage_id"]), embed_text(r["title"], r["text"])) for r in rows]

    async def count_pending(self) -> int:
        return int(
            await self.pool.fetchval("SELECT count(*) FROM passages WHERE embedding IS NULL")
        )

    async def count_embedded(self, model_id: str) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM passages WHERE embed_model = $1", model_id
            )
        )

    async def set_embeddings(self, ids: Sequence[int], vectors: np.ndarray, model_id: str) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "UPDATE passages SET embedding = $1, embed_model = $2 WHERE passage_id = $3",
                [(vectors[i], model_id, int(pid)) for i, pid in enumerate(ids)],
            )

    async def clear_embeddings(self) -> None:
        await self.pool.execute("UPDATE passages SET embedding = NULL, embed_model = NULL")

    async def embedded_ids(self, model_id: str) -> np.ndarray:
        rows = await self.pool.fetch(
            "SELECT passage_id FROM passages WHERE embed_model = $1 ORDER BY passage_id", model_id
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    async def embeddings(
        self, ids: np.ndarray, model_id: str, dim: int, batch: int = 4096
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(ids), batch):
            chunk = [int(i) for i in ids[start : start + batch]]
            rows = await self.pool.fetch(
                "SELECT passage_id, embedding FROM passages WHERE passage_id = ANY($1) "
                "AND embed_model = $2 AND embedding IS NOT NULL ORDER BY passage_id",
                chunk,
                model_id,
            )
            if not rows:
                continue
            out_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield out_ids, np.vstack([_array(r[1]) for r in rows]).reshape(-1, dim)

    async def hits(self, scored: Iterable[tuple[int, float]], workspace_id: int) -> list[Hit]:
        scored = list(scored)
        if not scored:
            return []
        rows = await self.pool.fetch(
            "SELECT p.passage_id, p.text, a.article_id, a.story_id, a.title, a.url, a.source, "
            "a.published_at FROM passages p JOIN articles a ON a.article_id = p.article_id "
            f"WHERE p.passage_id = ANY($1) AND {visible('a.article_id', '$2')}",
            [int(pid) for pid, _ in scored],
            workspace_id,
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
                published_at=read_timestamp(r["published_at"]) or datetime.min,
                text=r["text"],
                score=score,
            )
            for pid, score in scored
            if (r := by_id.get(pid)) is not None
        ]

    async def article_vectors(
        self, article_ids: Sequence[int], model_id: str, dim: int
    ) -> dict[int, np.ndarray]:
        rows = await self.pool.fetch(
            "SELECT article_id, embedding FROM passages WHERE embedding IS NOT NULL "
            "AND embed_model = $1 AND article_id = ANY($2) ORDER BY article_id, seq",
            model_id,
            list(article_ids),
        )
        found: dict[int, list[np.ndarray]] = {}
        for r in rows:
            found.setdefault(int(r[0]), []).append(_array(r[1]))
        return {aid: np.vstack(vs).reshape(-1, dim) for aid, vs in found.items()}

    async def article_passage_ids(self, article_ids: Sequence[int]) -> np.ndarray:
        rows = await self.pool.fetch(
            "SELECT passage_id FROM passages WHERE article_id = ANY($1)", list(article_ids)
        )
        return np.asarray([int(r[0]) for r in rows], dtype=np.int64)

    async def workspace_passage_ids(self, workspace_id: int) -> np.ndarray:
        rows = await self.pool.fetch(
            "SELECT DISTINCT p.passage_id FROM subscriptions s "
            "JOIN feed_entries fe ON fe.feed_id = s.feed_id "
            "JOIN passages p ON p.article_id = fe.article_id WHERE s.workspace_id = $1",
            workspace_id,
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    async def counts(self, workspace_id: int) -> Counts:
        row = await self.pool.fetchrow(
            "WITH visible AS (SELECT DISTINCT fe.article_id FROM feed_entries fe "
            "  JOIN subscriptions s ON s.feed_id = fe.feed_id WHERE s.workspace_id = $1) "
            "SELECT (SELECT count(*) FROM subscriptions WHERE workspace_id = $1), "
            "(SELECT count(*) FROM visible), "
            "(SELECT count(DISTINCT a.story_id) FROM articles a JOIN visible USING (article_id)), "
            "(SELECT count(*) FROM passages p JOIN visible USING (article_id)), "
            "(SELECT count(*) FROM passages p JOIN visible USING (article_id) "
            "  WHERE p.embedding IS NOT NULL)",
            workspace_id,
        )
        return Counts(*(int(v) for v in row))
