"""Stage: the one SQLite database (aiosqlite, WAL): feeds, subscriptions, articles, stories,
passages and their embeddings. Side effects: reads and writes `<data_dir>/wirewatch.db`.

One `Store` holds one connection. Writes go through `transaction()`, which serialises them with
an asyncio lock (so concurrent feed tasks never interleave statements inside one transaction) and
takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so two processes sharing a data dir
queue instead of failing. Migrations are numbered `.sql` files applied in order, once each,
never edited once merged but for one split: the files that first made the chat layer's tables
(watches, alerts, notices) no longer do; the chat layer's own migrations (bot/store/) make them
where they are missing, so databases made before and after end with the same schema.

This module has the connection, the migrations, entries and stories, and the change feed;
workspaces, feeds and subscriptions are in feeds.py beside it, passages, text search and
embeddings in passages.py, event metadata in events.py, and the values both engines return in
index/store/rows.py (importable from here too).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np

from index.errors import StoreError
from index.models import Article, RawEntry
from index.retrieve.passages import content_hash
from index.store import stories
from index.store.rows import ArticleMeta as ArticleMeta
from index.store.rows import Counts as Counts
from index.store.rows import EntryOutcome as EntryOutcome
from index.store.rows import EntryStatus as EntryStatus
from index.store.rows import EventMeta as EventMeta
from index.store.rows import FeedRow as FeedRow
from index.store.rows import PassageChange as PassageChange
from index.store.rows import PlaceFilter as PlaceFilter
from index.store.rows import PlaceRow as PlaceRow
from index.store.rows import Story as Story
from index.store.rows import entry_key as entry_key
from index.store.sqlite.base import article_of
from index.store.sqlite.events import EventRows
from index.store.sqlite.feeds import FeedRows
from index.store.sqlite.passages import PassageRows
from index.timeutil import from_iso, to_iso

MIGRATIONS = resources.files("index.store.sqlite") / "migrations"
_LEDGER = re.compile(r"^[a-z_]+$")


def _migrations(folder: Traversable) -> list[tuple[int, str, str]]:
    found = []
    for item in folder.iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, item.read_text(encoding="utf-8")))
    return sorted(found)


class Store(FeedRows, PassageRows, EventRows):
    """The database. Open with `async with Store.open(path) as store:`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._write = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Store]:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(str(path), isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        try:
            db.row_factory = aiosqlite.Row
            store = cls(db)
            try:
                for pragma in (
                    "auto_vacuum=INCREMENTAL",  # takes effect on a new, empty file only
                    "journal_mode=WAL",
                    "foreign_keys=ON",
                    "synchronous=NORMAL",
                    "busy_timeout=30000",
                ):
                    await db.execute(f"PRAGMA {pragma}")
                await store._migrate()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open database {path}: {exc}") from exc
            yield store
            with contextlib.suppress(sqlite3.Error, ValueError):  # ValueError: closed already
                await db.execute("PRAGMA optimize")  # keeps the planner's statistics fresh
        finally:
            await db.close()

    async def _migrate(self) -> None:
        await self.apply_migrations(MIGRATIONS, "schema_migrations")

    async def apply_migrations(self, folder: Traversable, ledger: str) -> list[str]:
        """Apply the `NNNN_name.sql` files of `folder` not yet recorded in table `ledger`, in
        order, in one transaction; returns the names applied. The engine's own files are
        recorded in `schema_migrations`; a layer above that keeps tables in this database
        (the chat layer, bot/store/) has its files and its ledger."""
        if not _LEDGER.match(ledger):
            raise ValueError(f"not a ledger table name: {ledger!r}")
        done = []
        async with self.transaction():
            await self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {ledger} "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            rows = await self.db.execute_fetchall(f"SELECT version FROM {ledger}")
            applied = {int(r[0]) for r in rows}
            for version, name, sql in _migrations(folder):
                if version in applied:
                    continue
                for statement in _split_sql(sql):
                    await self.db.execute(statement)
                await self.db.execute(
                    f"INSERT INTO {ledger} VALUES (?, ?, datetime('now'))", (version, name)
                )
                done.append(name)
        return done

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One write transaction; rolled back if the block raises or the task is cancelled."""
        async with self._write:
            try:
                await self._to_the_end("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                with contextlib.suppress(sqlite3.Error):  # the BEGIN ran in the database thread
                    await self._to_the_end("ROLLBACK")
                raise
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a write transaction: {exc}") from exc
            try:
                yield
            except BaseException:
                await self._to_the_end("ROLLBACK")
                raise
            try:
                await self._to_the_end("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"commit failed: {exc}") from exc

    async def write_one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> None:
        """One statement as a transaction of its own (SQLite commits a lone statement by
        itself): one trip to the database thread where `transaction()` takes three. Taken in
        turn with the transactions, so it never lands inside another task's."""
        async with self._write:
            try:
                await self._to_the_end(sql, params)
            except sqlite3.Error as exc:
                raise StoreError(f"write failed: {exc}") from exc

    @asynccontextmanager
    async def maintenance(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection outside any transaction, with this process's writers held off: for
        statements that cannot run inside one (VACUUM, incremental_vacuum, checkpoints)."""
        async with self._write:
            yield self.db

    async def _to_the_end(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> None:
        """Run a statement (transaction control, or a lone write) to completion even if the
        caller is cancelled meanwhile (it runs in aiosqlite's thread either way), then let the
        cancellation in."""
        step = asyncio.ensure_future(self.db.execute(sql, params))
        try:
            await asyncio.shield(step)
        except asyncio.CancelledError:
            await asyncio.wait([step])
            raise

    async def _one(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> aiosqlite.Row | None:
        async with self.db.execute(sql, params) as cur:
            row: aiosqlite.Row | None = await cur.fetchone()
            return row

    async def _all(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        return list(await self.db.execute_fetchall(sql, params))

    # Reads for the layers above (watches and alerts keep their own tables in this database).
    fetch_one = _one
    fetch_all = _all

    # ---- articles and stories ------------------------------------------------------------------
    async def save_entry(
        self,
        feed_id: int,
        entry: RawEntry,
        *,
        source: str,
        now: datetime,
        story_window: timedelta,
        story_threshold: float,
    ) -> EntryOutcome:
        """Store one entry once: new, an update of the same entry, or a duplicate of an article
        already stored from another feed. A new article joins the story of a near-identical
        article published within `story_window`, or starts its own."""
        published = entry.published_at or now
        chash = content_hash(f"{entry.title}\n{entry.text}")
        key = entry_key(entry)
        # Most entries of a polled feed were stored as they are: one read, no write
        # transaction. An entry whose stored text is this one needs nothing, whoever stored
        # it; anything else is read again inside the transaction, where writers take turns
        # (other processes sharing the data dir included).
        seen = await self._one(
            "SELECT fe.content_hash AS sent, a.article_id, a.story_id FROM feed_entries fe "
            "JOIN articles a ON a.article_id = fe.article_id "
            "WHERE fe.feed_id = ? AND fe.entry_key = ?",
            (feed_id, key),
        )
        if seen is not None and seen["sent"] == chash:
            return EntryOutcome("unchanged", seen["article_id"], seen["story_id"])
        async with self.transaction():
            row = await self._one(
                "SELECT fe.content_hash AS sent, fe.origin, a.article_id, a.story_id, "
                "a.published_at FROM feed_entries fe "
                "JOIN articles a ON a.article_id = fe.article_id "
                "WHERE fe.feed_id = ? AND fe.entry_key = ?",
                (feed_id, key),
            )
            if row is not None:
                if row["sent"] == chash:
                    return EntryOutcome("unchanged", row["article_id"], row["story_id"])
                await self.db.execute(
                    "UPDATE feed_entries SET content_hash = ? WHERE feed_id = ? AND entry_key = ?",
                    (chash, feed_id, key),
                )
                if not row["origin"]:  # another outlet's copy changed: the article is theirs
                    return EntryOutcome("unchanged", row["article_id"], row["story_id"])
                sig = stories.signature(entry.title, entry.text)
                await self.db.execute(
                    "UPDATE articles SET title = ?, text = ?, author = coalesce(?, author), "
                    "content_hash = ?, minhash = ?, updated_at = ? WHERE article_id = ?",
                    (
                        entry.title,
                        entry.text,
                        entry.author,
                        chash,
                        stories.to_blob(sig),
                        to_iso(now),
                        row["article_id"],
                    ),
                )
                await self._save_bands(row["article_id"], sig, row["published_at"])
                # its metadata is stale now: the next extraction (or start-up) redoes it
                await self.db.execute(
                    "DELETE FROM events WHERE article_id = ?", (row["article_id"],)
                )
                await self._changed(row["article_id"], "updated", now)
                return EntryOutcome("updated", row["article_id"], row["story_id"])

            # The same article from another feed: same canonical link, or, for entries with
            # no link at all, the same title and text.
            if entry.url:
                existing = await self._one(
                    "SELECT article_id, story_id FROM articles WHERE url = ?", (entry.url,)
                )
            else:
                existing = await self._one(
                    "SELECT article_id, story_id FROM articles WHERE content_hash = ? "
                    "AND url IS NULL LIMIT 1",
                    (chash,),
                )
            if existing is not None:
                await self._link(feed_id, key, existing["article_id"], chash, False, now)
                await self._changed(existing["article_id"], "linked", now)
                return EntryOutcome("duplicate", existing["article_id"], existing["story_id"])

            sig = stories.signature(entry.title, entry.text)
            story_id = await self._matching_story(sig, published, story_window, story_threshold)
            if story_id is None:
                cur = await self.db.execute(
                    "INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES (?, ?, ?)",
                    (entry.title, to_iso(now), to_iso(now)),
                )
                story_id = int(cur.lastrowid or 0)
            else:
                await self.db.execute(
                    "UPDATE stories SET last_seen_at = ? WHERE story_id = ?",
                    (to_iso(now), story_id),
                )
            cur = await self.db.execute(
                "INSERT INTO articles (story_id, url, guid, title, text, author, source, "
                "published_at, first_seen_at, content_hash, minhash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    story_id,
                    entry.url,
                    entry.guid,
                    entry.title,
                    entry.text,
                    entry.author,
                    source,
                    to_iso(published),
                    to_iso(now),
                    chash,
                    stories.to_blob(sig),
                ),
            )
            article_id = int(cur.lastrowid or 0)
            await self._save_bands(article_id, sig, to_iso(published))
            await self._link(feed_id, key, article_id, chash, True, now)
            await self._changed(article_id, "new", now)
            return EntryOutcome("new", article_id, story_id)

    async def _changed(self, article_id: int, change: str, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO article_changes (article_id, change, at) VALUES (?, ?, ?)",
            (article_id, change, to_iso(now)),
        )

    # ---- the change feed -----------------------------------------------------------------------
    async def changes_after(
        self, consumer: str, limit: int = 5000
    ) -> list[tuple[int, int, str, datetime]]:
        """Changes the consumer has not handled yet, oldest first: (seq, article_id, change,
        at)."""
        rows = await self._all(
            "SELECT seq, article_id, change, at FROM article_changes WHERE seq > coalesce("
            "(SELECT seq FROM change_cursors WHERE consumer = ?), 0) ORDER BY seq LIMIT ?",
            (consumer, limit),
        )
        return [(r[0], r[1], r[2], from_iso(r[3]) or datetime.min) for r in rows]

    async def register_consumer(self, consumer: str) -> None:
        """A new consumer starts from the changes made after it first registered."""
        async with self.transaction():
            await self.db.execute(
                "INSERT OR IGNORE INTO change_cursors SELECT ?, coalesce(max(seq), 0) "
                "FROM article_changes",
                (consumer,),
            )

    async def advance_cursor(self, consumer: str, seq: int) -> None:
        """The consumer handled every change up to `seq`; changes every consumer has handled
        are dropped."""
        async with self.transaction():
            await self.db.execute(
                "INSERT INTO change_cursors VALUES (?, ?) ON CONFLICT (consumer) "
                "DO UPDATE SET seq = max(seq, excluded.seq)",
                (consumer, seq),
            )
            await self.db.execute(
                "DELETE FROM article_changes WHERE seq <= (SELECT min(seq) FROM change_cursors)"
            )

    async def extracted(self, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles have event metadata stored."""
        return await self._ids_where("SELECT article_id FROM events", article_ids)

    async def unembedded(self, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles still have passages waiting for a vector."""
        return await self._ids_where(
            "SELECT DISTINCT article_id FROM passages WHERE embedding IS NULL", article_ids
        )

    async def _ids_where(self, select: str, article_ids: Sequence[int]) -> set[int]:
        joiner = " AND " if " WHERE " in select else " WHERE "
        out: set[int] = set()
        for start in range(0, len(article_ids), 500):
            chunk = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(f"{select}{joiner}article_id IN ({marks})", chunk)
            out.update(int(r[0]) for r in rows)
        return out

    async def _link(
        self, feed_id: int, key: str, article_id: int, chash: str, origin: bool, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO feed_entries "
            "(feed_id, entry_key, article_id, content_hash, origin, first_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (feed_id, key, article_id, chash, int(origin), to_iso(now)),
        )

    async def _matching_story(
        self, sig: np.ndarray, published: datetime, window: timedelta, threshold: float
    ) -> int | None:
        start, end = to_iso(published - window), to_iso(published + window)
        bands = stories.band_hashes(sig)
        where = " OR ".join(
            "(b.band = ? AND b.hash = ? AND b.published_at BETWEEN ? AND ?)" for _ in bands
        )
        rows = await self._all(
            "SELECT DISTINCT a.article_id, a.story_id, a.minhash FROM minhash_bands b "
            f"JOIN articles a ON a.article_id = b.article_id WHERE {where}",
            [v for band, h in bands for v in (band, h, start, end)],
        )
        if not rows:
            return None
        matrix = np.stack([stories.from_blob(r["minhash"]) for r in rows])
        best, similarity = stories.best_match(sig, matrix)
        return int(rows[best]["story_id"]) if similarity >= threshold else None

    async def _save_bands(self, article_id: int, sig: np.ndarray, published: str) -> None:
        await self.db.execute("DELETE FROM minhash_bands WHERE article_id = ?", (article_id,))
        await self.db.executemany(
            "INSERT OR IGNORE INTO minhash_bands (band, hash, published_at, article_id) "
            "VALUES (?, ?, ?, ?)",
            [(band, h, published, article_id) for band, h in stories.band_hashes(sig)],
        )

    async def story_articles(self, story_id: int) -> list[Article]:
        rows = await self._all(
            "SELECT * FROM articles WHERE story_id = ? ORDER BY published_at, article_id",
            (story_id,),
        )
        return [article_of(r) for r in rows]

    async def story(self, story_id: int) -> Story | None:
        row = await self._one("SELECT title FROM stories WHERE story_id = ?", (story_id,))
        if row is None:
            return None
        return Story(story_id, row["title"], await self.story_articles(story_id))

    async def multi_source_stories(self, limit: int = 10) -> list[Story]:
        """The latest stories reported by more than one source."""
        rows = await self._all(
            "SELECT story_id FROM articles GROUP BY story_id HAVING count(DISTINCT source) > 1 "
            "ORDER BY max(published_at) DESC LIMIT ?",
            (limit,),
        )
        found = [await self.story(r["story_id"]) for r in rows]
        return [s for s in found if s is not None]

    async def articles_by_ids(self, ids: Sequence[int]) -> list[Article]:
        out: list[Article] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(f"SELECT * FROM articles WHERE article_id IN ({marks})", chunk)
            out.extend(article_of(r) for r in rows)
        return sorted(out, key=lambda a: a.article_id)


def where(equal: Mapping[str, object], *also: str) -> tuple[str, list[object]]:
    """A WHERE condition: each column of `equal` whose value is not None equals it, and each
    condition of `also` holds (always true when there are none), with its parameters."""
    parts = [f"{column} = ?" for column, value in equal.items() if value is not None]
    params = [value for value in equal.values() if value is not None]
    return " AND ".join([*parts, *also]) or "1 = 1", params


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration file (ours: no "--" or ";" inside literals, no triggers)."""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]
