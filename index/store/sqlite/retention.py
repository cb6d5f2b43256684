"""Stage: a cutoff time -> old articles deleted from the embedded engine with everything derived
from them (the rules: index/store/retention.py), and the database file and the vector index
shrunk. Side effects: deletes rows of `<data_dir>/wirewatch.db` and vectors of
`<data_dir>/passages.faiss`.

The full-text rows go explicitly (FTS5 has no foreign keys), the vectors from the FAISS file.
The file then shrinks by incremental vacuum in small steps (databases created since retention
exist are in incremental mode); an older database is converted by one full VACUUM, only when
`allow_full_vacuum` (the `prune` command; the bot's scheduled prune never blocks writers for
that long).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from index.retrieve.vectors import VectorIndex
from index.store.retention import (
    BATCH,
    NO_DEPENDENTS,
    Dependents,
    PruneReport,
    Vacuum,
    changes_passed,
    stories_left,
)
from index.store.sqlite.store import Store
from index.timeutil import to_iso

log = logging.getLogger(__name__)

VACUUM_STEP_PAGES = 2048  # pages freed per incremental_vacuum statement (8 MiB at 4 KiB)

PRUNED = "SELECT article_id FROM temp.prune_articles"  # the articles that go


def _size(*paths: Path) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


async def _count(store: Store, sql: str, params: dict[str, object]) -> int:
    row = await store.fetch_one(sql, params)
    return int(row[0]) if row is not None else 0


async def _select_articles(store: Store, cutoff: str, holds: str) -> int:
    """Fill temp.prune_articles (this connection only) with the articles to prune. In a
    transaction of its own: the connection is shared with the bot's other writers."""
    async with store.transaction():
        await store.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS prune_articles (article_id INTEGER PRIMARY KEY)"
        )
        await store.db.execute("DELETE FROM temp.prune_articles")
        await store.db.execute(
            "INSERT INTO temp.prune_articles SELECT a.article_id FROM articles a "
            f"WHERE a.published_at < :cutoff AND a.first_seen_at < :cutoff AND NOT ({holds})",
            {"cutoff": cutoff},
        )
    return await _count(store, "SELECT count(*) FROM temp.prune_articles", {})


async def prune(
    store: Store,
    db_path: Path,
    vectors: VectorIndex | None,
    cutoff: datetime,
    *,
    dry_run: bool = False,
    allow_full_vacuum: bool = False,
    progress: Callable[[int, int], None] | None = None,
    dependents: Dependents = NO_DEPENDENTS,
) -> PruneReport:
    """Delete what is older than `cutoff` (see the module doc); `progress(done, total)` is
    called after each batch of articles."""
    at = to_iso(cutoff)
    files = (db_path, db_path.with_name(db_path.name + "-wal"))
    index_path = vectors.path if vectors is not None else None
    db_before = _size(*files)
    index_before = _size(index_path) if index_path is not None else 0
    total = await _select_articles(store, at, dependents.holds_article)
    params: dict[str, object] = {"cutoff": at}
    in_pruned = f"article_id IN ({PRUNED})"
    passages = await _count(store, f"SELECT count(*) FROM passages WHERE {in_pruned}", params)
    fts_rows = await _count(
        store,
        f"SELECT count(*) FROM passages_fts WHERE rowid IN "
        f"(SELECT passage_id FROM passages WHERE {in_pruned})",
        params,
    )
    events = await _count(store, f"SELECT count(*) FROM events WHERE {in_pruned}", params)
    dependent = {name: await _count(store, sql, params) for name, sql in dependents.counts.items()}
    left = stories_left(PRUNED, dependents.holds_story_before)
    stories = await _count(store, f"SELECT count(*) FROM stories s WHERE {left}", params)
    changes_sql = changes_passed(PRUNED, ":cutoff")
    changes = await _count(store, f"SELECT count(*) {changes_sql}", params)
    vector_count = 0
    if vectors is not None:
        vector_count = await _count(
            store,
            f"SELECT count(*) FROM passages WHERE {in_pruned} AND embed_model = :model "
            "AND embedding IS NOT NULL",
            {"model": vectors.model_id},
        )
    vacuum: Vacuum = "none"
    if not dry_run:
        removed = await _delete_articles(store, total, progress, dependents.holds_article)
        async with store.transaction():  # the temp table is empty now: nothing is "pruned"
            for statement in dependents.delete:
                await store.db.execute(statement, params)
            await store.db.execute(
                f"DELETE FROM stories AS s WHERE {stories_left(PRUNED, dependents.holds_story)}"
            )
            await store.db.execute(f"DELETE {changes_sql}", params)
        if vectors is not None:
            vector_count = await _drop_vectors(store, vectors, removed)
        vacuum = await shrink(store, allow_full=allow_full_vacuum)
    async with store.transaction():
        await store.db.execute("DELETE FROM temp.prune_articles")
    report = PruneReport(
        cutoff=cutoff,
        dry_run=dry_run,
        articles=total,
        passages=passages,
        fts_rows=fts_rows,
        vectors=vector_count,
        events=events,
        stories=stories,
        changes=changes,
        database_bytes_before=db_before,
        database_bytes_after=_size(*files),
        index_bytes_before=index_before,
        index_bytes_after=_size(index_path) if index_path is not None else 0,
        vacuum=vacuum,
        dependents=dependent,
    )
    report.log()
    return report


async def _delete_articles(
    store: Store, total: int, progress: Callable[[int, int], None] | None, holds: str
) -> np.ndarray:
    """Delete the selected articles a batch per transaction, each batch but those a layer above
    holds by then (`holds`); returns the deleted passages' ids."""
    removed: list[np.ndarray] = []
    done = 0
    while True:
        async with store.transaction():
            rows = await store.fetch_all(
                "SELECT article_id FROM temp.prune_articles ORDER BY article_id LIMIT ?", (BATCH,)
            )
            if not rows:
                break
            chosen = [int(r[0]) for r in rows]
            removed.append(await _delete_batch(store, chosen, holds))
        done += len(chosen)
        if progress is not None:
            progress(done, total)
    return np.concatenate([np.zeros(0, dtype=np.int64), *removed])


async def _delete_batch(store: Store, chosen: list[int], holds: str) -> np.ndarray:
    """In the caller's transaction: `chosen` off the list, and those of them no layer above
    holds deleted with their full-text rows; their passages' ids."""
    marks = ",".join("?" * len(chosen))
    await store.db.execute(f"DELETE FROM temp.prune_articles WHERE article_id IN ({marks})", chosen)
    free = await store.fetch_all(
        f"SELECT a.article_id FROM articles a WHERE a.article_id IN ({marks}) AND NOT ({holds})",
        chosen,
    )
    ids = [int(r[0]) for r in free]
    if not ids:
        return np.zeros(0, dtype=np.int64)
    marks = ",".join("?" * len(ids))
    rows = await store.fetch_all(
        f"SELECT passage_id FROM passages WHERE article_id IN ({marks})", ids
    )
    passage_ids = [int(r[0]) for r in rows]
    if passage_ids:
        await store.db.execute(
            f"DELETE FROM passages_fts WHERE rowid IN ({','.join('?' * len(passage_ids))})",
            passage_ids,
        )
    await store.db.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", ids)
    return np.asarray(passage_ids, dtype=np.int64)


async def _drop_vectors(store: Store, vectors: VectorIndex, removed: np.ndarray) -> int:
    """Remove the pruned passages' vectors and save the (smaller) index."""
    dim, model = vectors.dim, vectors.model_id

    def batches(ids: np.ndarray):  # type: ignore[no-untyped-def]
        return store.embeddings(ids, model, dim)

    report = await vectors.sync(
        lambda: store.embedded_ids(model),
        batches,
        changed=(np.zeros(0, dtype=np.int64), removed),
    )
    return report.removed


async def shrink(store: Store, *, allow_full: bool) -> Vacuum:
    """Give the free pages back to the file system. Incremental mode: a few MiB a statement,
    so writers wait only for one step. Otherwise, with `allow_full`, one VACUUM that also turns
    incremental mode on for the next time."""
    mode = await _count(store, "PRAGMA auto_vacuum", {})
    free = await _count(store, "PRAGMA freelist_count", {})
    done: Vacuum = "none"
    if free and mode == 2:
        while free:
            async with store.maintenance() as db:  # a script: sqlite3's execute() would
                # step the pragma once, which frees one page
                await db.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES});")
            left = await _count(store, "PRAGMA freelist_count", {})
            if left >= free:
                break
            free = left
        done = "incremental"
    elif free and allow_full:
        async with store.maintenance() as db:
            await db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            await db.execute("VACUUM")
        done = "full"
    elif free:
        log.info(
            "%d free pages stay in the database file: run `wirewatch prune` once to convert it "
            "to incremental vacuum (one full VACUUM)",
            free,
        )
    if done != "none":
        async with store.maintenance() as db:
            await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    return done
