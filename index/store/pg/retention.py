"""Stage: a cutoff time -> old articles deleted from PostgreSQL with everything derived from them.
Side effects: deletes rows; VACUUMs the tables it deleted from.

The same rule as the embedded engine (index/store/retention.py): an article goes when both its
publication and the moment it was first stored are older than the cutoff, unless a layer above
holds it (`Dependents`, written for this engine: `PRUNED` here, `$1` the cutoff). Its passages go
with it, and with them their text-search column and their vectors (both are columns of
`passages`), its event metadata, LSH bands, feed entries and change-feed rows (ON DELETE CASCADE);
then what the layers above drop, the stories left with no article, and change-feed rows every
consumer has passed.

Each batch of articles is its own short transaction, so workers and senders writing beside the
prune wait for one batch at most. One prune runs at a time in the whole database (an advisory
lock): a second one, in another process, is refused. Then a plain VACUUM (ANALYZE) of the
database: it holds no lock that stops readers or writers, makes the space reusable at
once and gives empty pages at a table's end back to the file system; the rest of the space is
reused by new rows rather than returned (only VACUUM FULL would, and it locks each table
exclusively for its whole run, so the prune never runs it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from index.store.pg.lease import lease_key
from index.store.pg.store import PgStore
from index.store.retention import BATCH, Dependents, PruneReport, Vacuum
from index.timeutil import to_iso

log = logging.getLogger(__name__)

PRUNED = "SELECT article_id FROM pg_temp.prune_articles"  # the articles that go
PRUNE_LOCK = lease_key("prune")
NO_DEPENDENTS = Dependents()
# The vector search indexes of `passages` (pgvector's access methods), for the report's sizes.
_VECTOR_INDEX_BYTES = (
    "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
    "WHERE i.indrelid = 'passages'::regclass AND am.amname IN ('hnsw', 'ivfflat')"
)


class PruneBusy(RuntimeError):
    """Another prune holds the database's prune lock."""


async def prune(
    store: PgStore,
    cutoff: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    dependents: Dependents = NO_DEPENDENTS,
) -> PruneReport:
    """Delete what is older than `cutoff` (see the module doc); `progress(done, total)` is
    called after each batch. Raises PruneBusy while another prune runs."""
    async with store.pool.acquire() as conn:  # the temp table and the lock live on it
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", PRUNE_LOCK):
            raise PruneBusy("another prune is running on this database")
        try:
            return await _prune(conn, cutoff, dry_run, progress, dependents)
        finally:
            await conn.execute("DROP TABLE IF EXISTS pg_temp.prune_articles")
            await conn.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK)


async def _prune(
    conn: Any,
    cutoff: datetime,
    dry_run: bool,
    progress: Callable[[int, int], None] | None,
    dependents: Dependents,
) -> PruneReport:
    db_before = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    index_before = int(await conn.fetchval(_VECTOR_INDEX_BYTES))
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS prune_articles (article_id BIGINT PRIMARY KEY)"
    )
    await conn.execute("TRUNCATE pg_temp.prune_articles")
    await conn.execute(
        "INSERT INTO pg_temp.prune_articles SELECT a.article_id FROM articles a "
        f"WHERE a.published_at < $1 AND a.first_seen_at < $1 AND NOT ({dependents.holds_article})",
        cutoff,
    )
    await conn.execute("ANALYZE pg_temp.prune_articles")
    total = int(await conn.fetchval("SELECT count(*) FROM pg_temp.prune_articles"))
    in_pruned = f"article_id IN ({PRUNED})"
    passages, vectors = await conn.fetchrow(
        f"SELECT count(*), count(embedding) FROM passages WHERE {in_pruned}"
    )
    events = int(await conn.fetchval(f"SELECT count(*) FROM events WHERE {in_pruned}"))
    dependent = {
        name: int(await conn.fetchval(sql, *_cutoff_for(sql, cutoff)))
        for name, sql in dependents.counts.items()
    }
    stories = int(
        await conn.fetchval(
            "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE "
            f"a.story_id = s.story_id AND a.article_id NOT IN ({PRUNED})) "
            f"AND NOT ({dependents.holds_story_before})",
            *_cutoff_for(dependents.holds_story_before, cutoff),
        )
    )
    changes_sql = (
        f"FROM article_changes WHERE at < $1 AND article_id NOT IN ({PRUNED}) "
        "AND seq <= (SELECT coalesce(min(seq), 0) FROM change_cursors)"
    )
    changes = int(await conn.fetchval(f"SELECT count(*) {changes_sql}", cutoff))
    vacuum: Vacuum = "none"
    if not dry_run:
        await _delete_articles(conn, total, progress)
        async with conn.transaction():
            for statement in dependents.delete:
                await conn.execute(statement, *_cutoff_for(statement, cutoff))
            await conn.execute(
                "DELETE FROM stories AS s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE "
                f"a.story_id = s.story_id) AND NOT ({dependents.holds_story})"
            )
            await conn.execute(f"DELETE {changes_sql}", cutoff)
        if total or stories or changes or any(dependent.values()):
            # the whole database: the layers' tables too; pages untouched since the last
            # vacuum are skipped (the visibility map). Outside a transaction, as it must be.
            await conn.execute("VACUUM (ANALYZE)")
            vacuum = "plain"
    report = PruneReport(
        cutoff=cutoff,
        dry_run=dry_run,
        articles=total,
        passages=int(passages),
        fts_rows=int(passages),  # each passage's text-search column goes with its row
        vectors=int(vectors),
        events=events,
        stories=stories,
        changes=changes,
        database_bytes_before=db_before,
        database_bytes_after=int(
            await conn.fetchval("SELECT pg_database_size(current_database())")
        ),
        index_bytes_before=index_before,
        index_bytes_after=int(await conn.fetchval(_VECTOR_INDEX_BYTES)),
        vacuum=vacuum,
        dependents=dependent,
    )
    if not dry_run and total:
        log.info(
            "pruned %d articles before %s: %d passages, %d vectors, %d events, %d stories%s; "
            "database %d -> %d bytes (plain VACUUM)",
            total,
            to_iso(cutoff),
            report.passages,
            report.vectors,
            events,
            stories,
            "".join(f", {n} {name}" for name, n in dependent.items()),
            db_before,
            report.database_bytes_after,
        )
    return report


def _cutoff_for(sql: str, cutoff: datetime) -> tuple[datetime, ...]:
    """The cutoff as the statement's parameter, where it reads one ($1)."""
    return (cutoff,) if "$1" in sql else ()


async def _delete_articles(
    conn: Any, total: int, progress: Callable[[int, int], None] | None
) -> None:
    """Delete the selected articles a batch per transaction (their rows below cascade)."""
    done = 0
    while True:
        async with conn.transaction():
            ids = [
                r[0]
                for r in await conn.fetch(
                    "DELETE FROM pg_temp.prune_articles WHERE article_id IN (SELECT article_id "
                    "FROM pg_temp.prune_articles ORDER BY article_id LIMIT $1) "
                    "RETURNING article_id",
                    BATCH,
                )
            ]
            if not ids:
                return
            await conn.execute("DELETE FROM articles WHERE article_id = ANY($1::bigint[])", ids)
        done += len(ids)
        if progress is not None:
            progress(done, total)
