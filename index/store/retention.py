"""Stage: a cutoff time -> old articles deleted with everything derived from them, and the
database file and the vector index shrunk. Side effects: deletes rows of `<data_dir>/wirewatch.db`
and vectors of `<data_dir>/passages.faiss`.

An article goes when both its publication and the moment it was first stored are older than
the cutoff, unless a layer above holds it (`Dependents`: the chat layer holds the articles of
alerts still waiting to be delivered). With it go its passages (and their full-text rows and
vectors), its event metadata, its LSH bands, its feed entries and its change-feed rows (ON
DELETE CASCADE; the full-text rows explicitly), then what the layers above drop with it (the
chat layer: delivered or given-up alerts left with no article, old delivery and notice
records), the stories left with no article that no layer above holds, and change-feed rows
every consumer has passed.

Each batch of articles is its own short transaction, so a bot sharing the database waits
milliseconds, not the whole prune. The file then shrinks by incremental vacuum in small steps
(databases created since retention exist are in incremental mode); an older database is
converted by one full VACUUM, only when `allow_full_vacuum` (the `prune` command; the bot's
scheduled prune never blocks writers for that long).
An item a feed still carries after the cutoff was pruned is stored again as a new article.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from index.retrieve.vectors import VectorIndex
from index.store.sqlite.store import Store
from index.timeutil import to_iso

log = logging.getLogger(__name__)

Vacuum = Literal["none", "incremental", "full", "plain"]  # "plain": PostgreSQL's VACUUM
BATCH = 100  # articles per transaction: about 0.1 s of write lock on 2 busy cores
VACUUM_STEP_PAGES = 2048  # pages freed per incremental_vacuum statement (8 MiB at 4 KiB)

PRUNED = "SELECT article_id FROM temp.prune_articles"  # the articles that go


@dataclass(frozen=True, slots=True)
class Dependents:
    """The rows of a layer above, kept in the same database, that refer to articles and stories
    (the chat layer's alerts: bot/store/retention.py), as SQL for one engine. Each statement
    may read the articles that go (`PRUNED` of the engine's retention module) and the cutoff
    (`:cutoff` on SQLite, `$1` on PostgreSQL).

    - `holds_article`: a condition on `a.article_id`: that article stays;
    - `holds_story`: a condition on `s.story_id`: that story stays, even with no article left
      (read after `delete` ran; for the dry run's count, `holds_story_before` is read instead);
    - `counts`: the report's name -> a `SELECT count(*)` of the rows that go;
    - `delete`: run once the articles are gone, before the stories, in one transaction."""

    holds_article: str = "0"
    holds_story: str = "0"
    holds_story_before: str = "0"
    counts: Mapping[str, str] = field(default_factory=dict)
    delete: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (or, with `dry_run`, would remove)."""

    cutoff: datetime
    dry_run: bool
    articles: int
    passages: int
    fts_rows: int
    vectors: int
    events: int
    stories: int
    changes: int
    database_bytes_before: int
    database_bytes_after: int
    index_bytes_before: int
    index_bytes_after: int
    vacuum: Vacuum
    dependents: Mapping[str, int] = field(default_factory=dict)  # `Dependents.counts`

    def doc(self) -> dict[str, object]:
        return {
            "cutoff": to_iso(self.cutoff),
            "dry_run": self.dry_run,
            "articles": self.articles,
            "passages": self.passages,
            "fts_rows": self.fts_rows,
            "vectors": self.vectors,
            "events": self.events,
            **self.dependents,
            "stories": self.stories,
            "changes": self.changes,
            "database_bytes_before": self.database_bytes_before,
            "database_bytes_after": self.database_bytes_after,
            "index_bytes_before": self.index_bytes_before,
            "index_bytes_after": self.index_bytes_after,
            "vacuum": self.vacuum,
        }


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
    dependents: Dependents = Dependents(),
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
    stories = await _count(
        store,
        "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE "
        f"a.story_id = s.story_id AND a.article_id NOT IN ({PRUNED})) "
        f"AND NOT ({dependents.holds_story_before})",
        params,
    )
    changes_sql = (
        "FROM article_changes WHERE at < :cutoff AND article_id NOT IN "
        f"({PRUNED}) AND seq <= (SELECT coalesce(min(seq), 0) FROM change_cursors)"
    )
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
        removed = await _delete_articles(store, total, progress)
        async with store.transaction():
            for statement in dependents.delete:
                await store.db.execute(statement, params)
            await store.db.execute(
                "DELETE FROM stories AS s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE "
                f"a.story_id = s.story_id) AND NOT ({dependents.holds_story})"
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
    if not dry_run and total:
        log.info(
            "pruned %d articles before %s: %d passages, %d vectors, %d events, %d stories%s; "
            "database %d -> %d bytes (%s vacuum)",
            total,
            at,
            passages,
            vector_count,
            events,
            stories,
            "".join(f", {n} {name}" for name, n in dependent.items()),
            db_before,
            report.database_bytes_after,
            vacuum,
        )
    return report


async def _delete_articles(
    store: Store, total: int, progress: Callable[[int, int], None] | None
) -> np.ndarray:
    """Delete the selected articles a batch per transaction; returns their passage ids."""
    removed: list[np.ndarray] = []
    done = 0
    while True:
        async with store.transaction():
            rows = await store.fetch_all(
                "SELECT article_id FROM temp.prune_articles ORDER BY article_id LIMIT ?", (BATCH,)
            )
            if not rows:
                break
            ids = [int(r[0]) for r in rows]
            marks = ",".join("?" * len(ids))
            passage_rows = await store.fetch_all(
                f"SELECT passage_id FROM passages WHERE article_id IN ({marks})", ids
            )
            passage_ids = [int(r[0]) for r in passage_rows]
            if passage_ids:
                await store.db.execute(
                    f"DELETE FROM passages_fts WHERE rowid IN ({','.join('?' * len(passage_ids))})",
                    passage_ids,
                )
            await store.db.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", ids)
            await store.db.execute(
                f"DELETE FROM temp.prune_articles WHERE article_id IN ({marks})", ids
            )
        removed.append(np.asarray(passage_ids, dtype=np.int64))
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return np.concatenate([np.zeros(0, dtype=np.int64), *removed])


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
