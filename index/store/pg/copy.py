"""Stage: an embedded instance (its SQLite database) -> the same rows in PostgreSQL
(`wirewatch migrate-to URL`). Side effects: reads the SQLite file, read-only; migrates the
PostgreSQL database and writes the rows, the identity sequences and the copy's bookkeeping
(`copy_source`, `copy_progress`: migrations/0004_copy.sql).

Copied: every table the two schemas share, parents first (COPY_ORDER, then the tables of the layers
above that keep theirs in the database: `Layer`, the chat layer's), with their ids, each value as
its PostgreSQL column's type wants it (copyrows.py): ISO-8601 text -> TIMESTAMPTZ, 'YYYY-MM-DD' ->
DATE, 0/1 -> BOOLEAN, JSON text -> JSONB (text that is not JSON, as a damaged watch may hold, goes
in as a JSON string of itself, as unreadable to the engine as before), float32 BLOB -> `vector`,
BLOB -> BYTEA. `passages.fts`, which SQLite has no column for, is computed from the article's folded
title and the passage's folded text (index/store/pg/textsearch.py), the words FTS5 holds.
`feeds.claimed_by`/`claimed_until` stay NULL. Each identity sequence is set past the largest id
copied, and past the largest SQLite ever gave where it keeps one (`sqlite_sequence`:
article_changes, whose seqs are never reused, so no consumer's cursor sees a seq twice). Not copied
(NOT_COPIED says why): schema_migrations (and each layer's own ledger), the FTS5 table passages_fts
and its shadow tables, sqlite_sequence, the planner's statistics. A source table with no rule in
either list stops the copy: a new table cannot be left behind unnoticed.

Consistency: a run reads the source (copysource.py) in one read transaction, so it copies the
database as it was when the run began, even while a bot writes to it (WAL: the writer is not
held up; the WAL file grows until the run ends).

Resumable: each table is copied in its primary key's order (SQLite's order) in batches, each
batch one PostgreSQL transaction that also records the key of its last row (`copy_progress`).
A rerun after an interruption (kill, Ctrl-C, a lost connection) goes on after that key: no row
is copied twice or skipped, exactly so when the source has not changed in between (stop the
bot first). A resumed run reads a new snapshot: rows added since are copied when their keys
sort after the last one copied; rows changed or deleted since, in the part already copied, are
not revisited (the count check catches added and deleted ones, not changed values).
`deliveries` has no key (it is the rate limit's recent sends): every run copies it whole, in
one transaction.

One source per database: the first run records it (`copy_source`: the SQLite file's path and
creation time). A database with rows in any copied table and no such record, or the record of
another source, is refused (CopyRefused), as is a second copy into it while one runs (an
advisory lock). A finished copy is final: a rerun writes nothing and only checks the counts,
since the database may be in service by then.

Verification: the row count of every copied table on both sides, and the number of embedded
passages; CopyMismatch (with the report) names the tables that differ.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.store.pg.connect import PASSWORD_PARAM, open_pool, require_asyncpg, url_secrets
from index.store.pg.copyrows import CopyError as CopyError
from index.store.pg.copyrows import Plan, plan_table
from index.store.pg.copysource import COPY_ORDER as COPY_ORDER
from index.store.pg.copysource import NOT_COPIED as NOT_COPIED
from index.store.pg.copysource import Layer as Layer
from index.store.pg.copysource import Snapshot, Source
from index.store.pg.migrate import migrate
from index.store.pg.textsearch import FTS_VECTOR
from index.store.pg.values import json_text
from index.timeutil import utcnow

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the source)

BATCH = 5000
LOCK_KEY = 0x77772D636F7079  # the advisory lock of a copy in progress ("ww-copy")
_SCHEMES = ("postgresql", "postgres")


class CopyRefused(CopyError):
    """The target holds rows of another source, or another copy into it is running."""


class CopyMismatch(CopyError):
    """The copy ended with counts that differ from the source's; `report` has them all."""

    def __init__(self, message: str, report: CopyReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int
    copied: int  # rows this run wrote


@dataclass(frozen=True, slots=True)
class CopyReport:
    source: Path
    target: str  # the URL, its password masked
    tables: tuple[TableCount, ...]
    embedded_passages: tuple[int, int]  # (source, target)
    resumed: bool  # an earlier run had begun this copy
    already_finished: bool  # an earlier run had finished it: this one only checked
    seconds: float

    def mismatched(self) -> list[str]:
        """The tables whose counts differ ("embedded passages" too)."""
        found = [t.table for t in self.tables if t.source != t.target]
        source, target = self.embedded_passages
        return found + (["embedded passages"] if source != target else [])

    def doc(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "target": self.target,
            "resumed": self.resumed,
            "already_finished": self.already_finished,
            "verified": not self.mismatched(),
            "copied": sum(t.copied for t in self.tables),
            "tables": {
                t.table: {"source": t.source, "target": t.target, "copied": t.copied}
                for t in self.tables
            },
            "embedded_passages": {
                "source": self.embedded_passages[0],
                "target": self.embedded_passages[1],
            },
            "seconds": round(self.seconds, 3),
        }


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme in _SCHEMES


def masked_url(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) shown as ***."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if password:
        start = url.index("//") + 2
        url = f"{url[:start]}{user}:***@{hosts}{url[start + len(parts.netloc) :]}"
    if parts.query:
        url = url.replace(f"?{parts.query}", "?" + PASSWORD_PARAM.sub(r"\1***", parts.query), 1)
    return url


def _hide_password(text: str, url: str) -> str:
    """`text` (an error message) with the password of `url` masked, wherever it appears."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


async def copy_instance(
    db_path: Path,
    url: str,
    *,
    batch_size: int = BATCH,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utcnow,
    layers: Sequence[Layer] = (),
) -> CopyReport:
    """Copy the embedded instance whose database is `db_path` into the PostgreSQL database at
    `url` (see the module's docs), or go on with a copy an earlier run began; check the counts.
    CopyRefused: the database holds rows of another source; CopyMismatch: the counts differ."""
    asyncpg = require_asyncpg()
    # What a lost or refused connection raises (InternalClientError: one dropped mid-talk).
    failures = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
        ValueError,
    )
    started, shown = time.monotonic(), masked_url(url)
    source = Source(db_path, layers)
    try:
        snapshot = await source.open()
        try:
            async with open_pool(url, min_size=1, max_size=1) as pool, pool.acquire() as conn:
                for layer in layers:
                    await migrate(conn, layer.postgres_migrations, ledger=layer.ledger)
                return await _copy(
                    conn, source, snapshot, shown, batch_size, progress, now, started
                )
        except failures as exc:
            message = _hide_password(f"{type(exc).__name__}: {exc}", url)
            raise CopyError(
                f"PostgreSQL at {shown}: {message}; run migrate-to again to go on where it stopped"
            ) from None
    finally:
        await source.close()


async def _copy(
    conn: Any,
    source: Source,
    snapshot: Snapshot,
    shown: str,
    batch_size: int,
    progress: Progress | None,
    now: Callable[[], datetime],
    started: float,
) -> CopyReport:
    # Held until the connection closes (the pool's reset frees it too).
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        raise CopyRefused(f"another migrate-to is copying into {shown}: let it finish")
    order = source.order
    resumed, finished = await _claim(conn, source.path, snapshot, shown, now, order)
    plans = [
        await plan_table(conn, table, snapshot.columns[table], snapshot.keys[table])
        for table in order
    ]
    copied = dict.fromkeys(order, 0)
    if not finished:
        for plan in plans:
            copied[plan.table] = await _copy_table(
                conn, source, plan, snapshot.counts[plan.table], batch_size, progress
            )
            if plan.identity is not None:
                await _set_identity(conn, plan, snapshot.sequences.get(plan.table, 0))
    target = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in order}
    embedded = await conn.fetchval("SELECT count(*) FROM passages WHERE embedding IS NOT NULL")
    report = CopyReport(
        source=source.path,
        target=shown,
        tables=tuple(TableCount(t, snapshot.counts[t], target[t], copied[t]) for t in order),
        embedded_passages=(snapshot.embedded, int(embedded)),
        resumed=resumed,
        already_finished=finished,
        seconds=time.monotonic() - started,
    )
    if mismatched := report.mismatched():
        raise CopyMismatch(_mismatch_message(report, mismatched, finished), report)
    if not finished:
        await conn.execute("UPDATE copy_source SET finished_at = $1", now())
    return report


async def _claim(
    conn: Any,
    path: Path,
    snapshot: Snapshot,
    shown: str,
    now: Callable[[], datetime],
    order: Sequence[str],
) -> tuple[bool, bool]:
    """Make the database this source's copy, or find it is: (resumed, finished already).
    CopyRefused when it holds rows of another source."""
    async with conn.transaction():
        mark = await conn.fetchrow(
            "SELECT source_path, source_created, finished_at FROM copy_source"
        )
        if mark is not None:
            if (mark["source_path"], mark["source_created"]) != (str(path), snapshot.created):
                raise CopyRefused(
                    f"{shown} holds a copy of another instance ({mark['source_path']}, created "
                    f"{mark['source_created']}): copy {path} into an empty database"
                )
            return True, mark["finished_at"] is not None
        held = [t for t in order if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t})")]
        if held:
            raise CopyRefused(
                f"{shown} already holds Wirewatch rows ({', '.join(held)}) that were not copied "
                f"from {path}: copy into an empty database"
            )
        await conn.execute(
            "INSERT INTO copy_source (source_path, source_created, started_at) VALUES ($1, $2, $3)",
            str(path),
            snapshot.created,
            now(),
        )
    return False, False


async def _copy_table(
    conn: Any,
    source: Source,
    plan: Plan,
    total: int,
    batch_size: int,
    progress: Progress | None,
) -> int:
    """Copy the rows of `plan.table` not copied yet; returns how many this call wrote. A table
    without a key is replaced whole, in one transaction."""
    whole = not plan.key
    mark = None
    if not whole:
        mark = await conn.fetchrow(
            "SELECT last_key, copied FROM copy_progress WHERE table_name = $1", plan.table
        )
    after = None if mark is None else json.loads(mark["last_key"])
    done = 0 if mark is None else int(mark["copied"])
    if plan.with_fts:
        await _passage_staging(conn, plan)
    wrote = 0
    async with conn.transaction() if whole else contextlib.nullcontext():
        if whole:
            await conn.execute(f"DELETE FROM {plan.table}")
        if progress:
            progress(plan.table, done, total)
        while rows := await source.rows(*plan.select(after, batch_size)):
            after = plan.last_key(rows)
            async with conn.transaction():
                await _write(conn, plan, plan.records(rows))
                if not whole:
                    await conn.execute(
                        "INSERT INTO copy_progress (table_name, last_key, copied) "
                        "VALUES ($1, $2, $3) ON CONFLICT (table_name) DO UPDATE "
                        "SET last_key = excluded.last_key, copied = excluded.copied",
                        plan.table,
                        json_text(after),
                        done + len(rows),
                    )
            done, wrote = done + len(rows), wrote + len(rows)
            if progress:
                progress(plan.table, done, total)
            if len(rows) < batch_size:
                break
    return wrote


async def _passage_staging(conn: Any, plan: Plan) -> None:
    """A temporary table for this session that takes a batch of passages with the folded
    title and text beside them; emptied by each commit."""
    columns = ", ".join(f"{c} {t}" for c, t in zip(plan.columns, plan.types, strict=True))
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS copy_passages ({columns}, fts_title TEXT, "
        "fts_text TEXT) ON COMMIT DELETE ROWS"
    )


async def _write(conn: Any, plan: Plan, records: list[tuple[Any, ...]]) -> None:
    """Insert the records with their ids (COPY takes values for identity columns)."""
    if not plan.with_fts:
        await conn.copy_records_to_table(plan.table, records=records, columns=list(plan.columns))
        return
    await conn.copy_records_to_table("copy_passages", records=records)
    columns = ", ".join(plan.columns)
    fts = FTS_VECTOR.format(title="fts_title", text="fts_text")
    await conn.execute(
        f"INSERT INTO passages ({columns}, fts) OVERRIDING SYSTEM VALUE "
        f"SELECT {columns}, {fts} FROM copy_passages"
    )


async def _set_identity(conn: Any, plan: Plan, floor: int) -> None:
    """The next id of the table's identity column: past the largest copied, and past `floor`
    (the largest SQLite ever gave, where it keeps one)."""
    assert plan.identity is not None
    top = max(
        floor, await conn.fetchval(f"SELECT coalesce(max({plan.identity}), 0) FROM {plan.table}")
    )
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
        plan.table,
        plan.identity,
        max(top, 1),
        top >= 1,
    )


def _mismatch_message(report: CopyReport, tables: list[str], finished: bool) -> str:
    counts = {t.table: (t.source, t.target) for t in report.tables}
    counts["embedded passages"] = report.embedded_passages
    detail = "; ".join(
        f"{t}: {counts[t][0]} in SQLite, {counts[t][1]} in PostgreSQL" for t in tables
    )
    why = (
        "the copy had finished: the source or the database has changed since"
        if finished
        else "did the source change between runs? Copy it into an empty database, bot stopped"
    )
    return f"counts differ after the copy ({detail}); {why}"
