"""Stage: a cutoff time -> old articles deleted from PostgreSQL with everything derived from them
(the rules: index/store/retention.py). Side effects: deletes rows; VACUUMs the database.

A layer above gives its `Dependents` written for this engine (`PRUNED` here, `$1` the cutoff).
An article's passages go with it, and with them their text-search column and their vectors
(both are columns of `passages`). Workers and senders write beside the prune: each batch deletes
only the articles no alert holds when it runs, and a story is deleted only while no transaction
is adding to it (`FOR UPDATE SKIP LOCKED`); one that gains an article anyway just then stays for
the next prune. One prune runs at a time in the whole database (an advisory lock): a second one,
in another process, is refused (`PruneBusy`). Then a plain VACUUM (ANALYZE) of the
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

from index.store.pg.connect import require_asyncpg
from index.store.pg.lease import lease_key
from index.store.pg.store import PgStore
from index.store.retention import (
    BATCH,
    NO_DEPENDENTS,
    Dependents,
    PruneBusy,
    PruneReport,
    Vacuum,
    changes_passed,
    stories_left,
)

log = logging.getLogger(__name__)

PRUNED = "SELECT article_id FROM pg_temp.prune_articles"  # the articles that go
PRUNE_LOCK = lease_key("wirewatch:prune")
# The vector search indexes of `passages` (pgvector's access methods), for the report's sizes.
_VECTOR_INDEX_BYTES = (
    "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
    "WHERE i.indrelid = 'passages'::regclass AND am.amname IN ('hnsw', 'ivfflat')"
)


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
    left = stories_left(PRUNED, dependents.holds_story_before)
    stories = int(
        await conn.fetchval(
            f"SELECT count(*) FROM stories s WHERE {left}", *_cutoff_for(left, cutoff)
        )
    )
    changes_sql = changes_passed(PRUNED, "$1")
    changes = int(await conn.fetchval(f"SELECT count(*) {changes_sql}", cutoff))
    vacuum: Vacuum = "none"
    if not dry_run:
        await _delete_articles(conn, total, progress, dependents.holds_article)
        async with conn.transaction():  # the list is empty now: nothing is "pruned"
            for statement in dependents.delete:
                await conn.execute(statement, *_cutoff_for(statement, cutoff))
            await _delete_stories(conn, dependents.holds_story)
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
    report.log()
    return report


def _cutoff_for(sql: str, cutoff: datetime) -> tuple[datetime, ...]:
    """The cutoff as the statement's parameter, where it reads one ($1)."""
    return (cutoff,) if "$1" in sql else ()


async def _delete_articles(
    conn: Any, total: int, progress: Callable[[int, int], None] | None, holds: str
) -> None:
    """Delete the selected articles a batch per transaction (their rows below cascade), each
    batch but those a layer above holds by then (`holds`)."""
    done = 0
    while True:
        async with conn.transaction():
            chosen = await conn.fetch(
                "DELETE FROM pg_temp.prune_articles WHERE article_id IN (SELECT article_id "
                "FROM pg_temp.prune_articles ORDER BY article_id LIMIT $1) RETURNING article_id",
                BATCH,
            )
            if not chosen:
                return
            await conn.execute(
                "DELETE FROM articles AS a WHERE a.article_id = ANY($1::bigint[]) "
                f"AND NOT ({holds})",
                [r[0] for r in chosen],
            )
        done += len(chosen)
        if progress is not None:
            progress(done, total)


async def _delete_stories(conn: Any, holds: str) -> None:
    """The stories left with no article that no layer above holds, but those a transaction is
    adding an article or alert to right now (it holds a key-share lock on the story's row)."""
    asyncpg = require_asyncpg()
    try:
        async with conn.transaction():  # a savepoint: a failure here undoes only this
            await conn.execute(
                "DELETE FROM stories WHERE story_id IN (SELECT s.story_id FROM stories s "
                f"WHERE {stories_left(PRUNED, holds)} FOR UPDATE SKIP LOCKED)"
            )
    except asyncpg.ForeignKeyViolationError:  # one gained an article just then
        log.info("a story gained an article while the prune ran: its empty stories wait")
