"""Stage: the embedded instance's SQLite file -> what `wirewatch migrate-to` copies of it
(index/store/pg/copy.py). Side effects: reads the file, read-only, in one read transaction.

`Source` reads on a thread of its own, so the copy's event loop never waits on SQLite, and
keeps one read transaction open for the whole run: the copy sees the database as it was when
the run began, even while a bot writes to it. `Snapshot` is what the copy needs of it at the
start: columns and keys per table, counts, the largest ids SQLite ever gave. The source must be
at the schema version of this code (the engine's and each `Layer`'s), and every table it holds
must have a copy rule (COPY_ORDER, a layer's tables, or NOT_COPIED).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from index.store.pg.copyrows import CopyError

T = TypeVar("T")

# Parents before children: every foreign key points to a table earlier in the list.
COPY_ORDER = (
    "workspaces",
    "feeds",
    "subscriptions",
    "stories",
    "articles",
    "minhash_bands",
    "feed_entries",
    "passages",
    "events",
    "article_actors",
    "article_places",
    "article_event_types",
    "article_events",
    "article_changes",
    "change_cursors",
)
NOT_COPIED = {
    "schema_migrations": "each engine records its own migrations",
    "passages_fts": "PostgreSQL keeps the same folded words in passages.fts, computed in the copy",
    "sqlite_sequence": "read for the identity sequences, which take its place",
}
# FTS5's shadow tables of passages_fts, and the planner statistics of `PRAGMA optimize`.
_NOT_COPIED_PREFIXES = ("passages_fts_", "sqlite_stat")


@dataclass(frozen=True, slots=True)
class Layer:
    """A layer above that keeps tables of its own in the database, under its own migrations
    (the chat layer: bot/store/): copied after the engine's tables, its PostgreSQL migrations
    applied to the target first, and the source required to be at its latest SQLite one."""

    tables: tuple[str, ...]  # parents first
    ledger: str  # its migrations' table, on both engines
    sqlite_migrations: Path
    postgres_migrations: Path

    def sqlite_version(self) -> int:
        return latest_version(self.sqlite_migrations)


def latest_version(folder: Traversable) -> int:
    """The version of the latest migration file in `folder`."""
    names = [p.name for p in folder.iterdir()]
    return max(int(n[:4]) for n in names if n.endswith(".sql") and n[:4].isdigit())


def sqlite_version() -> int:
    """The schema version this code's SQLite engine migrates to."""
    return latest_version(resources.files("index.store.sqlite") / "migrations")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the copy needs of the source, read at the start of its read transaction."""

    created: str  # when the database was created (its first migration)
    columns: dict[str, list[str]]  # table -> columns
    keys: dict[str, list[str]]  # table -> primary key columns, in key order
    counts: dict[str, int]
    embedded: int
    sequences: dict[str, int]  # sqlite_sequence: table -> the largest id it ever gave


class Source:
    """The SQLite file, read-only, in one read transaction, on a thread of its own."""

    def __init__(self, path: Path, layers: Sequence[Layer]) -> None:
        self.path = path.resolve()
        self.layers = layers
        self.order = COPY_ORDER + tuple(t for layer in layers for t in layer.tables)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-to")
        self._db: sqlite3.Connection | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
        except sqlite3.Error as exc:
            raise CopyError(f"cannot read {self.path}: {exc}") from exc

    async def open(self) -> Snapshot:
        return await self._call(self._open)

    async def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._call(self._rows, sql, params)

    async def close(self) -> None:
        if self._db is not None:
            await self._call(self._db.close)
        self._thread.shutdown(wait=False)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        assert self._db is not None
        return list(self._db.execute(sql, params).fetchall())

    def _open(self) -> Snapshot:
        if not self.path.is_file():
            raise CopyError(f"no database at {self.path}: nothing to copy")
        self._db = sqlite3.connect(
            self.path.as_uri() + "?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=30.0,
            check_same_thread=False,
        )
        self._db.execute("BEGIN")  # the snapshot is taken by the first read, and kept
        try:
            migrations = self._rows("SELECT version, applied_at FROM schema_migrations")
        except sqlite3.DatabaseError as exc:
            raise CopyError(f"{self.path} is not a Wirewatch database ({exc})") from exc
        if not migrations:
            raise CopyError(f"{self.path} is not a Wirewatch database (no schema version)")
        self._check_version("schema_migrations", migrations, sqlite_version())
        tables = {r[0] for r in self._rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for layer in self.layers:
            found = (
                self._rows(f"SELECT version, applied_at FROM {layer.ledger}")
                if (layer.ledger in tables)
                else []
            )
            self._check_version(layer.ledger, found, layer.sqlite_version())
        ledgers = {layer.ledger for layer in self.layers}
        strays = sorted(
            t
            for t in tables - set(self.order) - set(NOT_COPIED) - ledgers
            if not t.startswith(_NOT_COPIED_PREFIXES)
        )
        if strays:
            raise CopyError(f"no copy rule for the SQLite tables {', '.join(strays)}")
        columns: dict[str, list[str]] = {}
        keys: dict[str, list[str]] = {}
        for table in self.order:
            info = self._rows(f"PRAGMA table_info({table})")  # cid, name, type, notnull, dflt, pk
            columns[table] = [r[1] for r in info]
            keys[table] = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        given = "sqlite_sequence" in tables
        sequences = self._rows("SELECT name, seq FROM sqlite_sequence") if given else []
        return Snapshot(
            created=str(min(migrations)[1]),
            columns=columns,
            keys=keys,
            counts={t: int(self._rows(f"SELECT count(*) FROM {t}")[0][0]) for t in self.order},
            embedded=int(
                self._rows("SELECT count(*) FROM passages WHERE embedding IS NOT NULL")[0][0]
            ),
            sequences={name: int(seq) for name, seq in sequences},
        )

    def _check_version(self, ledger: str, applied: list[tuple[Any, ...]], expected: int) -> None:
        """CopyError unless the source's `ledger` is at `expected`: an older database is brought
        up to date by any command of this wirewatch, a newer one only by its own."""
        version = max((int(v) for v, _ in applied), default=0)
        if version != expected:
            what = "schema" if ledger == "schema_migrations" else ledger
            raise CopyError(
                f"{self.path} is at {what} version {version}, this wirewatch's is {expected}: "
                "copy it with the wirewatch that last opened it"
            )
