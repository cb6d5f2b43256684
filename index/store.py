"""Stage: the one SQLite database (aiosqlite, WAL): feeds, subscriptions, articles, stories,
passages and their embeddings. Side effects: reads and writes `<data_dir>/wirewatch.db`.

One `Store` holds one connection. Writes go through `transaction()`, which serialises them with
an asyncio lock (so concurrent feed tasks never interleave statements inside one transaction) and
takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so two processes sharing a data dir
queue instead of failing. Migrations are numbered `.sql` files applied in order, once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import aiosqlite
import numpy as np

from index import stories
from index.actors import actor_key
from index.errors import StoreError
from index.events import Event, describe, event_doc
from index.models import Article, FeedSource, Hit, Passage, RawEntry
from index.passages import content_hash, embed_text
from index.text import fold
from index.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from index.alertrows import AlertRows
    from index.casualties import Count
    from index.extract import EventRecord
    from index.noticerows import NoticeRows
    from index.watchrows import WatchRows

EntryStatus = Literal["new", "updated", "duplicate", "unchanged"]


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A subscribed feed with its health, as `feeds list` shows it."""

    feed_id: int
    url: str
    name: str | None
    kind: str
    interval_s: int
    last_polled_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_count: int
    next_check_at: datetime
    articles: int
    enabled: bool
    failing_since: datetime | None = None  # when the current run of failures began


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    status: EntryStatus
    article_id: int
    story_id: int


@dataclass(frozen=True, slots=True)
class PassageChange:
    """What `replace_passages` did: passage ids created and removed, and how many of the
    created ones still need a vector."""

    added: list[int]
    removed: list[int]
    pending: int


@dataclass(frozen=True, slots=True)
class Story:
    """A cluster of articles about the same event, oldest article first."""

    story_id: int
    title: str
    articles: list[Article]

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(a.source for a in self.articles))


@dataclass(frozen=True, slots=True)
class PlaceFilter:
    """Containment: a country (every place in it), an admin-1 region (every place in it), or
    one place."""

    country_code: str
    admin1_code: str | None = None
    geonameid: int | None = None

    def sql(self) -> tuple[str, list[Any]]:
        if self.geonameid is not None:
            return "p.geonameid = ?", [self.geonameid]
        if self.admin1_code is not None:
            return "p.country_code = ? AND p.admin1_code = ?", [self.country_code, self.admin1_code]
        return "p.country_code = ?", [self.country_code]


@dataclass(frozen=True, slots=True)
class PlaceRow:
    """A place an article names, as stored."""

    geonameid: int
    name: str
    country_code: str
    admin1_code: str | None
    precision: str
    main: bool
    mention: str


@dataclass(frozen=True, slots=True)
class EventMeta:
    """One stored event of an article (article_events), in the shape matching wants it."""

    type: str
    sub_type: str | None
    place: PlaceRow | None
    killed: int | None  # best estimate
    injured: int | None
    main: bool
    actors: frozenset[str] = frozenset()  # the keys of the actors in its own words
    acting: frozenset[str] = frozenset()  # those of them the sentence makes its subject
    date: date | None = None  # the date its sentence gives
    civilians_killed: bool = False  # the text says the dead were civilians
    civilians_injured: bool = False

    def describe(self) -> str:
        """ "air strike in Raqqa, 12 civilians killed" """
        place = self.place.mention if self.place is not None else None
        return describe(
            self.type,
            self.sub_type,
            place,
            self.killed,
            self.injured,
            civilians_killed=self.civilians_killed,
            civilians_injured=self.civilians_injured,
        )


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """An article's stored event metadata, in the shape matching wants it."""

    actors: dict[str, tuple[str, str]]  # actor_key -> (name, the words the article used)
    places: tuple[PlaceRow, ...]
    event_types: frozenset[str]
    killed: int | None  # best estimate
    injured: int | None
    event_date: date | None
    events: tuple[EventMeta, ...] = ()  # each event the article reports (none: not extracted)


@dataclass(frozen=True, slots=True)
class Counts:
    feeds: int
    articles: int
    stories: int
    passages: int
    embedded: int


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("index") / "migrations"
    found = []
    for item in folder.iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, item.read_text(encoding="utf-8")))
    return sorted(found)


class Store:
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
        async with self.transaction():
            await self.db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            rows = await self.db.execute_fetchall("SELECT version FROM schema_migrations")
            applied = {int(r[0]) for r in rows}
            for version, name, sql in _migrations():
                if version in applied:
                    continue
                for statement in _split_sql(sql):
                    await self.db.execute(statement)
                await self.db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))", (version, name)
                )

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

    # ---- the row interfaces of the layers above (each engine hands out its own) -------------
    def watch_rows(self) -> WatchRows:
        from index.watchrows import SqliteWatchRows

        return SqliteWatchRows(self)

    def notice_rows(self) -> NoticeRows:
        from index.noticerows import SqliteNoticeRows

        return SqliteNoticeRows(self)

    def alert_rows(self) -> AlertRows:
        from index.alertrows import SqliteAlertRows

        return SqliteAlertRows(self)

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
        return [_row_to_article(r) for r in rows]

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

    # ---- passages and embeddings ---------------------------------------------------------------
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
        (`passage_articles`). `expression` is an FTS5 query (`index.search.fts_query`)."""
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

    # ---- event metadata ------------------------------------------------------------------------
    async def save_events(
        self, rows: Sequence[tuple[int, EventRecord]], *, extractor: str, now: datetime
    ) -> None:
        """Store (replace) the event metadata of articles, in one transaction."""
        async with self.transaction():
            for article_id, record in rows:
                for table in (
                    "events",
                    "article_actors",
                    "article_places",
                    "article_event_types",
                    "article_events",
                ):
                    await self.db.execute(
                        f"DELETE FROM {table} WHERE article_id = ?", (article_id,)
                    )
                killed, injured = record.casualties.killed, record.casualties.injured
                main = record.main_place
                await self.db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article_id,
                        record.event_date.isoformat() if record.event_date else None,
                        *_count_values(killed),
                        *_count_values(injured),
                        main.place.geonameid if main else None,
                        extractor,
                        to_iso(now),
                    ),
                )
                await self.db.executemany(
                    "INSERT OR IGNORE INTO article_actors VALUES (?, ?, ?, ?, ?)",
                    [(article_id, a.key, a.canonical, a.kind, a.text) for a in record.actors],
                )
                await self.db.executemany(
                    "INSERT INTO article_places VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                    "(article_id, geonameid) DO UPDATE SET main = max(main, excluded.main)",
                    [
                        (
                            article_id,
                            m.place.geonameid,
                            m.place.name,
                            m.place.country_code,
                            m.place.admin1_code,
                            m.place.precision,
                            int(m.main),
                            m.text,
                        )
                        for m in record.places
                    ],
                )
                await self.db.executemany(
                    "INSERT OR IGNORE INTO article_event_types VALUES (?, ?)",
                    [(article_id, t) for t in record.event_types],
                )
                await self.db.executemany(
                    "INSERT INTO article_events VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_event_row(article_id, seq, e) for seq, e in enumerate(record.events)],
                )

    async def article_events(self, article_id: int) -> list[dict[str, Any]]:
        """The stored events of one article, each as in `extract --json`'s `events`."""
        rows = await self._all(
            "SELECT * FROM article_events WHERE article_id = ? ORDER BY seq", (article_id,)
        )
        return [_event_from_row(r) for r in rows]

    async def articles_to_extract(self, extractor: str, limit: int) -> list[Article]:
        """Articles with no event metadata from this extractor version."""
        rows = await self._all(
            "SELECT a.* FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            "WHERE e.article_id IS NULL OR e.extractor != ? ORDER BY a.article_id LIMIT ?",
            (extractor, limit),
        )
        return [_row_to_article(r) for r in rows]

    async def articles_by_ids(self, ids: Sequence[int]) -> list[Article]:
        out: list[Article] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(f"SELECT * FROM articles WHERE article_id IN ({marks})", chunk)
            out.extend(_row_to_article(r) for r in rows)
        return sorted(out, key=lambda a: a.article_id)

    async def find_articles(
        self,
        workspace_id: int,
        *,
        actor_keys: Sequence[str] = (),
        region: PlaceFilter | None = None,
        event_types: Sequence[str] = (),
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[Article]:
        """The workspace's articles matching every given filter, newest first: naming any of
        `actor_keys`; naming a place inside `region` (a country, an admin-1 region or one
        place); of any of `event_types`; with an event date (else the publication date) in
        [since, until]."""
        where, params = _article_filters(
            workspace_id, actor_keys, region, event_types, since, until
        )
        rows = await self._all(
            "SELECT a.* FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            f"WHERE {where} ORDER BY a.published_at DESC, a.article_id DESC LIMIT ?",
            (*params, limit),
        )
        return [_row_to_article(r) for r in rows]

    async def find_article_ids(
        self,
        workspace_id: int,
        *,
        actor_keys: Sequence[str] = (),
        region: PlaceFilter | None = None,
        event_types: Sequence[str] = (),
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[int]:
        """The ids of what `find_articles` finds, newest first (no article text is read)."""
        where, params = _article_filters(
            workspace_id, actor_keys, region, event_types, since, until
        )
        rows = await self._all(
            "SELECT a.article_id FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            f"WHERE {where} ORDER BY a.published_at DESC, a.article_id DESC LIMIT ?",
            (*params, limit),
        )
        return [int(r[0]) for r in rows]

    async def event_metadata(self, article_id: int) -> dict[str, Any] | None:
        """What was stored for one article (for display and tests)."""
        event = await self._one("SELECT * FROM events WHERE article_id = ?", (article_id,))
        if event is None:
            return None
        actors = await self._all(
            "SELECT actor_key, name, kind, mention FROM article_actors WHERE article_id = ? "
            "ORDER BY actor_key",
            (article_id,),
        )
        places = await self._all(
            "SELECT geonameid, name, country_code, admin1_code, precision, main, mention "
            "FROM article_places WHERE article_id = ? ORDER BY geonameid",
            (article_id,),
        )
        types = await self._all(
            "SELECT event_type FROM article_event_types WHERE article_id = ? ORDER BY event_type",
            (article_id,),
        )
        return {
            "event": dict(event),
            "actors": [dict(r) for r in actors],
            "places": [dict(r) for r in places],
            "event_types": [r[0] for r in types],
        }

    async def article_meta(self, article_ids: Sequence[int]) -> dict[int, ArticleMeta]:
        """Stored event metadata of these articles (those without any are left out)."""
        out: dict[int, ArticleMeta] = {}
        for start in range(0, len(article_ids), 500):
            chunk = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            events = await self._all(f"SELECT * FROM events WHERE article_id IN ({marks})", chunk)
            actors: dict[int, dict[str, tuple[str, str]]] = {}
            for r in await self._all(
                f"SELECT * FROM article_actors WHERE article_id IN ({marks}) "
                "ORDER BY article_id, actor_key",
                chunk,
            ):
                actors.setdefault(r["article_id"], {})[r["actor_key"]] = (r["name"], r["mention"])
            places: dict[int, list[PlaceRow]] = {}
            for r in await self._all(
                f"SELECT * FROM article_places WHERE article_id IN ({marks}) "
                "ORDER BY article_id, geonameid",
                chunk,
            ):
                places.setdefault(r["article_id"], []).append(
                    PlaceRow(
                        r["geonameid"],
                        r["name"],
                        r["country_code"],
                        r["admin1_code"],
                        r["precision"],
                        bool(r["main"]),
                        r["mention"],
                    )
                )
            types: dict[int, set[str]] = {}
            for r in await self._all(
                f"SELECT * FROM article_event_types WHERE article_id IN ({marks})", chunk
            ):
                types.setdefault(r["article_id"], set()).add(r["event_type"])
            each: dict[int, list[EventMeta]] = {}
            for r in await self._all(
                f"SELECT * FROM article_events WHERE article_id IN ({marks}) "
                "ORDER BY article_id, seq",
                chunk,
            ):
                each.setdefault(r["article_id"], []).append(_event_meta(r))
            for e in events:
                aid = e["article_id"]
                out[aid] = ArticleMeta(
                    actors=actors.get(aid, {}),
                    places=tuple(places.get(aid, ())),
                    event_types=frozenset(types.get(aid, ())),
                    killed=e["killed_best"],
                    injured=e["injured_best"],
                    event_date=date.fromisoformat(e["event_date"]) if e["event_date"] else None,
                    events=tuple(each.get(aid, ())),
                )
        return out

    async def article_workspaces(self, article_ids: Sequence[int]) -> dict[int, set[int]]:
        """The workspaces that can see each article (through a subscribed feed)."""
        out: dict[int, set[int]] = {}
        for start in range(0, len(article_ids), 500):
            chunk = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                "SELECT DISTINCT fe.article_id, s.workspace_id FROM feed_entries fe "
                "JOIN subscriptions s ON s.feed_id = fe.feed_id "
                f"WHERE fe.article_id IN ({marks})",
                chunk,
            )
            for r in rows:
                out.setdefault(r[0], set()).add(r[1])
        return out

    async def alert_horizons(
        self, article_ids: Sequence[int]
    ) -> dict[tuple[int, int], datetime | None]:
        """(article, workspace) -> the publication time before which the article does not
        alert that workspace (the most permissive of the subscriptions that carry it; None:
        no limit). First settles `alert_newest` of subscriptions whose first fetch is stored."""
        await self._settle_newest()
        out: dict[tuple[int, int], datetime | None] = {}
        for start in range(0, len(article_ids), 500):
            chunk = list(article_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                "SELECT fe.article_id, s.workspace_id, s.alert_from FROM feed_entries fe "
                "JOIN subscriptions s ON s.feed_id = fe.feed_id "
                f"WHERE fe.article_id IN ({marks})",
                chunk,
            )
            for article_id, workspace_id, alert_from in rows:
                key = (article_id, workspace_id)
                when = from_iso(alert_from) if alert_from else None
                known = out.get(key, when)
                out[key] = None if known is None or when is None else min(known, when)
        return out

    async def _settle_newest(self) -> None:
        """A subscription waiting for its first fetch's newest N items: once the feed has been
        fetched since it subscribed, alert_from becomes the Nth newest item's time."""
        waiting = await self._all(
            "SELECT s.workspace_id, s.feed_id, s.alert_newest FROM subscriptions s "
            "JOIN feeds f ON f.feed_id = s.feed_id WHERE s.alert_newest IS NOT NULL "
            "AND f.last_polled_at IS NOT NULL AND f.last_polled_at >= s.created_at"
        )
        for workspace_id, feed_id, newest in waiting:
            row = await self._one(
                "SELECT a.published_at FROM feed_entries fe JOIN articles a "
                "ON a.article_id = fe.article_id WHERE fe.feed_id = ? "
                "ORDER BY a.published_at DESC LIMIT 1 OFFSET ?",
                (feed_id, int(newest) - 1),
            )
            async with self.transaction():
                await self.db.execute(
                    "UPDATE subscriptions SET alert_from = ?, alert_newest = NULL "
                    "WHERE workspace_id = ? AND feed_id = ?",
                    (row[0] if row else None, workspace_id, feed_id),
                )

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


def entry_key(entry: RawEntry) -> str:
    """How a feed names its entry: guid, else canonical link, else a hash of title and text."""
    if entry.guid:
        return f"guid:{entry.guid}"
    if entry.url:
        return f"url:{entry.url}"
    return "hash:" + content_hash(f"{entry.title}\n{entry.text}")


def where(equal: Mapping[str, object], *also: str) -> tuple[str, list[object]]:
    """A WHERE condition: each column of `equal` whose value is not None equals it, and each
    condition of `also` holds (always true when there are none), with its parameters."""
    parts = [f"{column} = ?" for column, value in equal.items() if value is not None]
    params = [value for value in equal.values() if value is not None]
    return " AND ".join([*parts, *also]) or "1 = 1", params


def _count_values(count: Count | None) -> tuple[int | None, int | None, int | None]:
    return (None, None, None) if count is None else (count.low, count.best, count.high)


def _event_row(article_id: int, seq: int, event: Event) -> tuple[Any, ...]:
    doc = event_doc(event)
    place = event.place.place if event.place is not None else None
    return (
        article_id,
        seq,
        event.type,
        event.sub_type,
        place.geonameid if place else None,
        place.country_code if place else None,
        place.admin1_code if place else None,
        place.precision if place else None,
        json.dumps(doc["place"]) if place else None,
        doc["date"],
        *_count_values(event.killed),
        *_count_values(event.injured),
        json.dumps(doc["actors"]),
        json.dumps(doc["sentences"]),
        int(event.main),
        int(event.killed is not None and event.killed.civilians),
        int(event.injured is not None and event.injured.civilians),
    )


def _event_meta(r: aiosqlite.Row) -> EventMeta:
    place = json.loads(r["place"]) if r["place"] else None
    actors = json.loads(r["actors"])
    return EventMeta(
        type=r["type"],
        sub_type=r["sub_type"],
        place=None
        if place is None
        else PlaceRow(
            r["geonameid"],
            place["canonical"],
            r["country_code"],
            r["admin1_code"],
            r["precision"],
            bool(r["main"]),
            place["text"],
        ),
        killed=r["killed_best"],
        injured=r["injured_best"],
        main=bool(r["main"]),
        actors=frozenset(actor_key(a.get("actor_id"), a["canonical"]) for a in actors),
        acting=frozenset(
            actor_key(a.get("actor_id"), a["canonical"]) for a in actors if a.get("role") == "actor"
        ),
        date=date.fromisoformat(r["event_date"]) if r["event_date"] else None,
        civilians_killed=bool(r["killed_civilians"]),
        civilians_injured=bool(r["injured_civilians"]),
    )


def _event_from_row(r: aiosqlite.Row) -> dict[str, Any]:
    def count(kind: str) -> dict[str, int | bool] | None:
        if r[f"{kind}_best"] is None:
            return None
        values: dict[str, int | bool] = {k: r[f"{kind}_{k}"] for k in ("low", "best", "high")}
        return values | {"civilians": bool(r[f"{kind}_civilians"])}

    return {
        "type": r["type"],
        "sub_type": r["sub_type"],
        "actors": json.loads(r["actors"]),
        "place": json.loads(r["place"]) if r["place"] else None,
        "date": r["event_date"],
        "killed": count("killed"),
        "injured": count("injured"),
        "sentences": json.loads(r["sentences"]),
        "main": bool(r["main"]),
    }


def _row_to_article(r: aiosqlite.Row) -> Article:
    return Article(
        article_id=r["article_id"],
        story_id=r["story_id"],
        url=r["url"],
        title=r["title"],
        text=r["text"],
        source=r["source"],
        published_at=from_iso(r["published_at"]) or datetime.min,
        first_seen_at=from_iso(r["first_seen_at"]) or datetime.min,
        content_hash=r["content_hash"],
    )


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


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration file (ours: no "--" or ";" inside literals, no triggers)."""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def _article_filters(
    workspace_id: int,
    actor_keys: Sequence[str],
    region: PlaceFilter | None,
    event_types: Sequence[str],
    since: date | None,
    until: date | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (over `articles a LEFT JOIN events e`) and its parameters of
    `Store.find_articles`. Each metadata filter is an IN (subquery): SQLite builds its set once
    from the filter's own index, where a correlated EXISTS would probe it for every article.
    The workspace is the other way round: its set is every article of its feeds, costly to
    build each time, while one probe per article left by the other filters is cheap."""
    where = [
        "EXISTS (SELECT 1 FROM feed_entries fe JOIN subscriptions s ON s.feed_id = fe.feed_id "
        "WHERE fe.article_id = a.article_id AND s.workspace_id = ?)"
    ]
    params: list[Any] = [workspace_id]
    if actor_keys:
        marks = ",".join("?" * len(actor_keys))
        where.append(
            f"a.article_id IN (SELECT x.article_id FROM article_actors x "
            f"WHERE x.actor_key IN ({marks}))"
        )
        params.extend(actor_keys)
    if region is not None:
        clause, values = region.sql()
        where.append(f"a.article_id IN (SELECT p.article_id FROM article_places p WHERE {clause})")
        params.extend(values)
    if event_types:
        marks = ",".join("?" * len(event_types))
        where.append(
            "a.article_id IN (SELECT t.article_id FROM article_event_types t "
            f"WHERE t.event_type IN ({marks}))"
        )
        params.extend(event_types)
    day = "coalesce(e.event_date, substr(a.published_at, 1, 10))"
    if since is not None:
        where.append(f"{day} >= ?")
        params.append(since.isoformat())
    if until is not None:
        where.append(f"{day} <= ?")
        params.append(until.isoformat())
    return " AND ".join(where), params
