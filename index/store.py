"""Stage: the one SQLite database (aiosqlite, WAL): feeds, subscriptions, articles, stories,
passages and their embeddings. Side effects: reads and writes `<data_dir>/wirewatch.db`.

One `Store` holds one connection. Writes go through `transaction()`, which serialises them with
an asyncio lock (so concurrent feed tasks never interleave statements inside one transaction) and
takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so two processes sharing a data dir
queue instead of failing. Migrations are numbered `.sql` files applied in order, once each,
never edited once merged but for one split: the files that first made the chat layer's tables
(watches, alerts, notices) no longer do; the chat layer's own migrations (bot/store/) make them
where they are missing, so databases made before and after end with the same schema.

This module has the connection, feeds and subscriptions, entries and stories, and the change
feed; passages, text search and embeddings are in index/sqlite/passages.py, event metadata in
index/sqlite/events.py, and the values both engines return in index/rows.py (importable from
here too).
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

from index import stories
from index.errors import StoreError
from index.models import Article, FeedSource, RawEntry
from index.passages import content_hash
from index.rows import ArticleMeta as ArticleMeta
from index.rows import Counts as Counts
from index.rows import EntryOutcome as EntryOutcome
from index.rows import EntryStatus as EntryStatus
from index.rows import EventMeta as EventMeta
from index.rows import FeedRow as FeedRow
from index.rows import PassageChange as PassageChange
from index.rows import PlaceFilter as PlaceFilter
from index.rows import PlaceRow as PlaceRow
from index.rows import Story as Story
from index.rows import entry_key as entry_key
from index.sqlite.base import article_of
from index.sqlite.events import EventRows
from index.sqlite.passages import PassageRows
from index.timeutil import from_iso, to_iso

MIGRATIONS = resources.files("index") / "migrations"
_LEDGER = re.compile(r"^[a-z_]+$")


def _migrations(folder: Traversable) -> list[tuple[int, str, str]]:
    found = []
    for item in folder.iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, item.read_text(encoding="utf-8")))
    return sorted(found)


class Store(PassageRows, EventRows):
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

    @asynccontextmanager
    async def maintenance(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection outside any transaction, with this process's writers held off: for
        statements that cannot run inside one (VACUUM, incremental_vacuum, checkpoints)."""
        async with self._write:
            yield self.db

    async def _to_the_end(self, sql: str) -> None:
        """Run a transaction-control statement to completion even if the caller is cancelled
        meanwhile (it runs in aiosqlite's thread either way), then let the cancellation in."""
        step = asyncio.ensure_future(self.db.execute(sql))
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

    # ---- workspaces and feeds ------------------------------------------------------------------
    async def workspace_id(self, name: str, now: datetime) -> int:
        """The id of workspace `name`, created on first use."""
        row = await self._one("SELECT workspace_id FROM workspaces WHERE name = ?", (name,))
        if row is not None:
            return int(row[0])
        async with self.transaction():
            await self.db.execute(
                "INSERT OR IGNORE INTO workspaces (name, created_at) VALUES (?, ?)",
                (name, to_iso(now)),
            )
        row = await self._one("SELECT workspace_id FROM workspaces WHERE name = ?", (name,))
        assert row is not None
        return int(row[0])

    async def subscribe(
        self,
        workspace_id: int,
        url: str,
        *,
        interval_s: int,
        name: str | None,
        now: datetime,
        kind: str = "http",
        channel: str | None = None,
        alert_from: datetime | None = None,
        alert_newest: int | None = None,
    ) -> int:
        """Subscribe a workspace to a feed (created if new; re-enabled if it was disabled).
        `channel`: the chat channel it was added in (notices about the feed go there); given
        again, it replaces the one stored; None keeps it. `alert_from`, `alert_newest`: which
        of the feed's items may alert the workspace (see migration 0008); set on every
        subscribe, None for both: every item."""
        async with self.transaction():
            await self.db.execute(
                "INSERT INTO feeds (url, kind, interval_s, next_check_at, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO NOTHING",
                (url, kind, interval_s, to_iso(now), to_iso(now)),
            )
            row = await self._one("SELECT feed_id FROM feeds WHERE url = ?", (url,))
            assert row is not None
            feed_id = int(row[0])
            await self.db.execute(
                "INSERT INTO subscriptions (workspace_id, feed_id, name, interval_s, created_at, "
                "channel, alert_from, alert_newest) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(workspace_id, feed_id) DO UPDATE "
                "SET name = coalesce(excluded.name, name), interval_s = excluded.interval_s, "
                "channel = coalesce(excluded.channel, channel), "
                "alert_from = excluded.alert_from, alert_newest = excluded.alert_newest",
                (
                    workspace_id,
                    feed_id,
                    name,
                    interval_s,
                    to_iso(now),
                    channel,
                    to_iso(alert_from) if alert_from else None,
                    alert_newest,
                ),
            )
            await self.db.execute(
                "UPDATE feeds SET enabled = 1, error_count = 0, next_check_at = ?, interval_s = "
                "(SELECT min(interval_s) FROM subscriptions WHERE feed_id = ?) WHERE feed_id = ?",
                (to_iso(now), feed_id, feed_id),
            )
        return feed_id

    async def unsubscribe(self, workspace_id: int, feed_id: int) -> bool:
        async with self.transaction():
            cur = await self.db.execute(
                "DELETE FROM subscriptions WHERE workspace_id = ? AND feed_id = ?",
                (workspace_id, feed_id),
            )
            removed = cur.rowcount > 0
            if removed:
                await self.db.execute(
                    "UPDATE feeds SET interval_s = coalesce((SELECT min(interval_s) FROM "
                    "subscriptions WHERE feed_id = ?), interval_s) WHERE feed_id = ?",
                    (feed_id, feed_id),
                )
        return removed

    async def list_feeds(self, workspace_id: int) -> list[FeedRow]:
        rows = await self._all(
            "SELECT f.*, s.name AS sub_name, s.interval_s AS sub_interval, "
            "(SELECT count(*) FROM feed_entries fe WHERE fe.feed_id = f.feed_id) AS articles "
            "FROM feeds f JOIN subscriptions s ON s.feed_id = f.feed_id "
            "WHERE s.workspace_id = ? ORDER BY f.feed_id",
            (workspace_id,),
        )
        return [
            FeedRow(
                feed_id=r["feed_id"],
                url=r["url"],
                name=r["sub_name"] or r["title"],
                kind=r["kind"],
                interval_s=r["sub_interval"],
                last_polled_at=from_iso(r["last_polled_at"]),
                last_status=r["last_status"],
                last_error=r["last_error"],
                error_count=r["error_count"],
                next_check_at=from_iso(r["next_check_at"]) or datetime.min,
                articles=r["articles"],
                enabled=bool(r["enabled"]),
                failing_since=from_iso(r["failing_since"]),
            )
            for r in rows
        ]

    def _feed_source(self, r: aiosqlite.Row) -> FeedSource:
        return FeedSource(
            feed_id=r["feed_id"],
            url=r["url"],
            interval_s=r["interval_s"],
            title=r["title"],
            etag=r["etag"],
            last_modified=r["last_modified"],
            error_count=r["error_count"],
        )

    async def due_feeds(self, now: datetime) -> list[FeedSource]:
        """Enabled, subscribed http feeds whose next check is due."""
        rows = await self._all(
            "SELECT * FROM feeds f WHERE kind = 'http' AND enabled = 1 AND next_check_at <= ? "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id) "
            "ORDER BY next_check_at",
            (to_iso(now),),
        )
        return [self._feed_source(r) for r in rows]

    async def claim_due_feeds(
        self, worker: str, now: datetime, *, limit: int, lease_s: float
    ) -> list[FeedSource]:
        """Up to `limit` due feeds. One process polls the embedded engine (its data dir admits
        one), so there is nothing to claim; on PostgreSQL workers claim (index/pg/store.py)."""
        return (await self.due_feeds(now))[:limit]

    async def next_due_at(self) -> datetime | None:
        """When the next subscribed feed falls due; None: no feed."""
        row = await self._one(
            "SELECT min(next_check_at) FROM feeds f WHERE kind = 'http' AND enabled = 1 "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id)"
        )
        return from_iso(row[0]) if row is not None else None

    async def workspace_feeds(self, workspace_id: int) -> list[FeedSource]:
        """Every enabled http feed the workspace subscribes to, due or not (`poll --once`)."""
        rows = await self._all(
            "SELECT f.* FROM feeds f JOIN subscriptions s ON s.feed_id = f.feed_id "
            "WHERE s.workspace_id = ? AND f.kind = 'http' AND f.enabled = 1 ORDER BY f.feed_id",
            (workspace_id,),
        )
        return [self._feed_source(r) for r in rows]

    async def record_fetch_ok(
        self,
        feed_id: int,
        *,
        status: str,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
        now: datetime,
        next_check_at: datetime,
    ) -> None:
        async with self.transaction():
            await self.db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, title = coalesce(?, title), "
                "last_polled_at = ?, last_status = ?, last_error = NULL, error_count = 0, "
                "failing_since = NULL, next_check_at = ? WHERE feed_id = ?",
                (etag, last_modified, title, to_iso(now), status, to_iso(next_check_at), feed_id),
            )

    async def record_fetch_failure(
        self, feed_id: int, *, error: str, now: datetime, next_check_at: datetime, max_failures: int
    ) -> int:
        """Count a consecutive failure; disable the feed at `max_failures`. Returns the count.
        The first failure of a run sets `failing_since`; a good fetch clears it."""
        async with self.transaction():
            await self.db.execute(
                "UPDATE feeds SET last_polled_at = ?, last_status = 'error', last_error = ?, "
                "error_count = error_count + 1, next_check_at = ?, "
                "enabled = CASE WHEN error_count + 1 >= ? THEN 0 ELSE enabled END, "
                "failing_since = coalesce(failing_since, ?) WHERE feed_id = ?",
                (to_iso(now), error, to_iso(next_check_at), max_failures, to_iso(now), feed_id),
            )
            row = await self._one("SELECT error_count FROM feeds WHERE feed_id = ?", (feed_id,))
        return 0 if row is None else int(row[0])

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
