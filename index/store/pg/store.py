"""Stage: the engine's rows on PostgreSQL: feeds and subscriptions, articles and stories, the
change feed, and the feed claims workers share. Side effects: reads and writes the database at
`WIREWATCH_DATABASE_URL` through an asyncpg pool (index/store/pg/connect.py).

`PgStore` has the methods of `index.store.sqlite.store.Store` with the same meaning, so every layer
above runs on either engine; passages, text search and vectors are in passages.py, event metadata in
events.py. Each write is one transaction on a connection of the pool. Where SQLite's single writer
made an order safe, a lock held until commit keeps it here:
- storing an entry takes advisory locks on the feed's entry key, then on its canonical link (or
  content hash), so two workers storing the same article from two feeds store it once, and one
  feed's entry stored twice at once is stored once (the second finds the first);
- subscribing and unsubscribing lock the feed's row, so its interval (the shortest of its
  subscriptions) is computed from every committed subscription;
- appending to the change feed takes an advisory lock on its tail, so changes commit in `seq`
  order and a reader that moves its cursor past a change has seen every change before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from index.models import Article, FeedSource, RawEntry
from index.retrieve.passages import content_hash
from index.store import stories
from index.store.pg.connect import open_pool
from index.store.pg.events import EventRows
from index.store.pg.migrate import migrate
from index.store.pg.passages import PassageRows
from index.store.pg.textsearch import TermStats
from index.store.pg.values import read_timestamp, timestamp
from index.store.rows import (
    EntryOutcome,
    FeedRow,
    Story,
    entry_key,
    feed_row_of,
    feed_source_of,
    read_article,
)

# Transaction-scoped advisory locks: the change feed's tail (a constant bigint), and the locks
# of `save_entry` (two 32-bit namespaces: the hash of a feed's entry key, of a link). Every
# transaction takes the key's lock before the link's, so no two deadlock on them.
CHANGES_LOCK = 0x77776368616E6765
_ENTRY_LOCKS = 0x77776500
_KEY_LOCKS = 0x77776501


class PgStore(PassageRows, EventRows):
    """The database. Open with `async with PgStore.open(url) as store:`."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.term_stats = TermStats()

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, *, max_size: int = 10) -> AsyncIterator[PgStore]:
        async with open_pool(url, max_size=max_size) as pool:
            yield cls(pool)

    async def apply_migrations(self, folder: Path, ledger: str) -> list[str]:
        """Apply the `NNNN_name.sql` files of `folder` not yet recorded in table `ledger`
        (the migrations of a layer above, which keeps its own tables in this database)."""
        async with self.pool.acquire() as conn:
            return await migrate(conn, folder, ledger=ledger)

    # ---- workspaces and feeds ------------------------------------------------------------------
    async def workspace_id(self, name: str, now: datetime) -> int:
        """The id of workspace `name`, created on first use."""
        found = await self.pool.fetchval(
            "SELECT workspace_id FROM workspaces WHERE name = $1", name
        )
        if found is not None:
            return int(found)
        await self.pool.execute(
            "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) "
            "ON CONFLICT (name) DO NOTHING",
            name,
            timestamp(now),
        )
        return int(
            await self.pool.fetchval("SELECT workspace_id FROM workspaces WHERE name = $1", name)
        )

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
        """As `Store.subscribe`."""
        at = timestamp(now)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO feeds (url, kind, interval_s, next_check_at, created_at) "
                "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (url) DO NOTHING",
                url,
                kind,
                interval_s,
                at,
            )
            # the feed's row lock: another subscriber's interval is committed before `min` reads
            feed_id = int(
                await conn.fetchval(
                    "SELECT feed_id FROM feeds WHERE url = $1 FOR NO KEY UPDATE", url
                )
            )
            await conn.execute(
                "INSERT INTO subscriptions (workspace_id, feed_id, name, interval_s, created_at, "
                "channel, alert_from, alert_newest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (workspace_id, feed_id) DO UPDATE "
                "SET name = coalesce(excluded.name, subscriptions.name), "
                "interval_s = excluded.interval_s, "
                "channel = coalesce(excluded.channel, subscriptions.channel), "
                "alert_from = excluded.alert_from, alert_newest = excluded.alert_newest",
                workspace_id,
                feed_id,
                name,
                interval_s,
                at,
                channel,
                timestamp(alert_from) if alert_from else None,
                alert_newest,
            )
            await conn.execute(
                "UPDATE feeds SET enabled = TRUE, error_count = 0, next_check_at = $1, "
                "interval_s = (SELECT min(interval_s) FROM subscriptions WHERE feed_id = $2) "
                "WHERE feed_id = $2",
                at,
                feed_id,
            )
        return feed_id

    async def unsubscribe(self, workspace_id: int, feed_id: int) -> bool:
        """As `Store.unsubscribe`: the feed's interval becomes the shortest one left."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM feeds WHERE feed_id = $1 FOR NO KEY UPDATE", feed_id)
            status = await conn.execute(
                "DELETE FROM subscriptions WHERE workspace_id = $1 AND feed_id = $2",
                workspace_id,
                feed_id,
            )
            removed = _changed_rows(status) > 0
            if removed:
                await conn.execute(
                    "UPDATE feeds SET interval_s = coalesce((SELECT min(interval_s) FROM "
                    "subscriptions WHERE feed_id = $1), interval_s) WHERE feed_id = $1",
                    feed_id,
                )
        return removed

    async def list_feeds(self, workspace_id: int) -> list[FeedRow]:
        rows = await self.pool.fetch(
            "SELECT f.*, s.name AS sub_name, s.interval_s AS sub_interval, "
            "(SELECT count(*) FROM feed_entries fe WHERE fe.feed_id = f.feed_id) AS articles "
            "FROM feeds f JOIN subscriptions s ON s.feed_id = f.feed_id "
            "WHERE s.workspace_id = $1 ORDER BY f.feed_id",
            workspace_id,
        )
        return [feed_row_of(r, read_timestamp) for r in rows]

    async def due_feeds(self, now: datetime) -> list[FeedSource]:
        """Enabled, subscribed http feeds whose next check is due (and no worker holds)."""
        rows = await self.pool.fetch(
            "SELECT * FROM feeds f WHERE kind = 'http' AND enabled AND next_check_at <= $1 "
            "AND (claimed_until IS NULL OR claimed_until < $1) "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id) "
            "ORDER BY next_check_at",
            timestamp(now),
        )
        return [feed_source_of(r) for r in rows]

    async def claim_due_feeds(
        self, worker: str, now: datetime, *, limit: int, lease_s: float
    ) -> list[FeedSource]:
        """Up to `limit` due feeds no other worker holds, claimed for `worker` until `lease_s`
        from now (a fetch's outcome releases the claim; a worker that dies leaves it to
        expire). Rows another worker is claiming at this moment are skipped, not waited for."""
        at = timestamp(now)
        rows = await self.pool.fetch(
            "UPDATE feeds SET claimed_by = $2, claimed_until = $3 WHERE feed_id IN ("
            "SELECT f.feed_id FROM feeds f WHERE f.kind = 'http' AND f.enabled "
            "AND f.next_check_at <= $1 AND (f.claimed_until IS NULL OR f.claimed_until < $1) "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id) "
            "ORDER BY f.next_check_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING *",
            at,
            worker,
            at + timedelta(seconds=lease_s),
            limit,
        )
        return sorted((feed_source_of(r) for r in rows), key=lambda f: f.feed_id)

    async def next_due_at(self) -> datetime | None:
        """When the next subscribed feed falls due (or its claim expires); None: no feed."""
        found = await self.pool.fetchval(
            "SELECT min(greatest(next_check_at, coalesce(claimed_until, next_check_at))) "
            "FROM feeds f WHERE kind = 'http' AND enabled "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id)"
        )
        return read_timestamp(found)

    async def last_fetch_ok_at(self) -> datetime | None:
        """When a feed was last fetched successfully by any worker (its last fetch was good)."""
        found = await self.pool.fetchval(
            "SELECT max(last_polled_at) FROM feeds WHERE error_count = 0"
        )
        return read_timestamp(found)

    async def workspace_feeds(self, workspace_id: int) -> list[FeedSource]:
        """Every enabled http feed the workspace subscribes to, due or not (`poll --once`)."""
        rows = await self.pool.fetch(
            "SELECT f.* FROM feeds f JOIN subscriptions s ON s.feed_id = f.feed_id "
            "WHERE s.workspace_id = $1 AND f.kind = 'http' AND f.enabled ORDER BY f.feed_id",
            workspace_id,
        )
        return [feed_source_of(r) for r in rows]

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
        await self.pool.execute(
            "UPDATE feeds SET etag = $1, last_modified = $2, title = coalesce($3, title), "
            "last_polled_at = $4, last_status = $5, last_error = NULL, error_count = 0, "
            "failing_since = NULL, next_check_at = $6, claimed_by = NULL, claimed_until = NULL "
            "WHERE feed_id = $7",
            etag,
            last_modified,
            title,
            timestamp(now),
            status,
            timestamp(next_check_at),
            feed_id,
        )

    async def record_fetch_failure(
        self, feed_id: int, *, error: str, now: datetime, next_check_at: datetime, max_failures: int
    ) -> int:
        """As `Store.record_fetch_failure`; also releases the feed's claim."""
        found = await self.pool.fetchval(
            "UPDATE feeds SET last_polled_at = $1, last_status = 'error', last_error = $2, "
            "error_count = error_count + 1, next_check_at = $3, "
            "enabled = CASE WHEN error_count + 1 >= $4 THEN FALSE ELSE enabled END, "
            "failing_since = coalesce(failing_since, $1), claimed_by = NULL, "
            "claimed_until = NULL WHERE feed_id = $5 RETURNING error_count",
            timestamp(now),
            error,
            timestamp(next_check_at),
            max_failures,
            feed_id,
        )
        return 0 if found is None else int(found)

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
        """As `Store.save_entry`."""
        published = timestamp(entry.published_at or now)
        at = timestamp(now)
        chash = content_hash(f"{entry.title}\n{entry.text}")
        key = entry_key(entry)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2)), "
                "pg_advisory_xact_lock($3, hashtext($4))",
                _KEY_LOCKS,
                f"{feed_id} {key}",
                _ENTRY_LOCKS,
                entry.url or chash,
            )
            row = await conn.fetchrow(
                "SELECT fe.content_hash AS sent, fe.origin, a.article_id, a.story_id, "
                "a.published_at FROM feed_entries fe "
                "JOIN articles a ON a.article_id = fe.article_id "
                "WHERE fe.feed_id = $1 AND fe.entry_key = $2",
                feed_id,
                key,
            )
            if row is not None:
                article_id, story_id = int(row["article_id"]), int(row["story_id"])
                if row["sent"] == chash:
                    return EntryOutcome("unchanged", article_id, story_id)
                await conn.execute(
                    "UPDATE feed_entries SET content_hash = $1 "
                    "WHERE feed_id = $2 AND entry_key = $3",
                    chash,
                    feed_id,
                    key,
                )
                if not row["origin"]:  # another outlet's copy changed: the article is theirs
                    return EntryOutcome("unchanged", article_id, story_id)
                sig = stories.signature(entry.title, entry.text)
                await conn.execute(
                    "UPDATE articles SET title = $1, text = $2, author = coalesce($3, author), "
                    "content_hash = $4, minhash = $5, updated_at = $6 WHERE article_id = $7",
                    entry.title,
                    entry.text,
                    entry.author,
                    chash,
                    stories.to_blob(sig),
                    at,
                    article_id,
                )
                await _save_bands(conn, article_id, sig, row["published_at"])
                await conn.execute("DELETE FROM events WHERE article_id = $1", article_id)
                await _changed(conn, article_id, "updated", at)
                return EntryOutcome("updated", article_id, story_id)

            if entry.url:
                existing = await conn.fetchrow(
                    "SELECT article_id, story_id FROM articles WHERE url = $1", entry.url
                )
            else:
                existing = await conn.fetchrow(
                    "SELECT article_id, story_id FROM articles WHERE content_hash = $1 "
                    "AND url IS NULL LIMIT 1",
                    chash,
                )
            if existing is not None:
                article_id, story_id = int(existing["article_id"]), int(existing["story_id"])
                await _link(conn, feed_id, key, article_id, chash, False, at)
                await _changed(conn, article_id, "linked", at)
                return EntryOutcome("duplicate", article_id, story_id)

            sig = stories.signature(entry.title, entry.text)
            matched = await _matching_story(conn, sig, published, story_window, story_threshold)
            if matched is None:
                story_id = int(
                    await conn.fetchval(
                        "INSERT INTO stories (title, first_seen_at, last_seen_at) "
                        "VALUES ($1, $2, $2) RETURNING story_id",
                        entry.title,
                        at,
                    )
                )
            else:
                story_id = matched
                await conn.execute(
                    "UPDATE stories SET last_seen_at = $1 WHERE story_id = $2", at, story_id
                )
            article_id = int(
                await conn.fetchval(
                    "INSERT INTO articles (story_id, url, guid, title, text, author, source, "
                    "published_at, first_seen_at, content_hash, minhash) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING article_id",
                    story_id,
                    entry.url,
                    entry.guid,
                    entry.title,
                    entry.text,
                    entry.author,
                    source,
                    published,
                    at,
                    chash,
                    stories.to_blob(sig),
                )
            )
            await _save_bands(conn, article_id, sig, published)
            await _link(conn, feed_id, key, article_id, chash, True, at)
            await _changed(conn, article_id, "new", at)
            return EntryOutcome("new", article_id, story_id)

    # ---- the change feed -----------------------------------------------------------------------
    async def changes_after(
        self, consumer: str, limit: int = 5000
    ) -> list[tuple[int, int, str, datetime]]:
        rows = await self.pool.fetch(
            "SELECT seq, article_id, change, at FROM article_changes WHERE seq > coalesce("
            "(SELECT seq FROM change_cursors WHERE consumer = $1), 0) ORDER BY seq LIMIT $2",
            consumer,
            limit,
        )
        return [
            (int(r[0]), int(r[1]), str(r[2]), read_timestamp(r[3]) or datetime.min) for r in rows
        ]

    async def register_consumer(self, consumer: str) -> None:
        await self.pool.execute(
            "INSERT INTO change_cursors SELECT $1, coalesce(max(seq), 0) FROM article_changes "
            "ON CONFLICT (consumer) DO NOTHING",
            consumer,
        )

    async def advance_cursor(self, consumer: str, seq: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO change_cursors VALUES ($1, $2) ON CONFLICT (consumer) "
                "DO UPDATE SET seq = greatest(change_cursors.seq, excluded.seq)",
                consumer,
                seq,
            )
            await conn.execute(
                "DELETE FROM article_changes WHERE seq <= (SELECT min(seq) FROM change_cursors)"
            )

    async def extracted(self, article_ids: Sequence[int]) -> set[int]:
        rows = await self.pool.fetch(
            "SELECT article_id FROM events WHERE article_id = ANY($1)", list(article_ids)
        )
        return {int(r[0]) for r in rows}

    async def unembedded(self, article_ids: Sequence[int]) -> set[int]:
        rows = await self.pool.fetch(
            "SELECT DISTINCT article_id FROM passages WHERE embedding IS NULL "
            "AND article_id = ANY($1)",
            list(article_ids),
        )
        return {int(r[0]) for r in rows}

    async def story_articles(self, story_id: int) -> list[Article]:
        rows = await self.pool.fetch(
            "SELECT * FROM articles WHERE story_id = $1 ORDER BY published_at, article_id",
            story_id,
        )
        return [article_of(r) for r in rows]

    async def story(self, story_id: int) -> Story | None:
        title = await self.pool.fetchval("SELECT title FROM stories WHERE story_id = $1", story_id)
        if title is None:
            return None
        return Story(story_id, title, await self.story_articles(story_id))

    async def multi_source_stories(self, limit: int = 10) -> list[Story]:
        rows = await self.pool.fetch(
            "SELECT story_id FROM articles GROUP BY story_id HAVING count(DISTINCT source) > 1 "
            "ORDER BY max(published_at) DESC LIMIT $1",
            limit,
        )
        found = [await self.story(r["story_id"]) for r in rows]
        return [s for s in found if s is not None]

    async def articles_by_ids(self, ids: Sequence[int]) -> list[Article]:
        rows = await self.pool.fetch(
            "SELECT * FROM articles WHERE article_id = ANY($1) ORDER BY article_id", list(ids)
        )
        return [article_of(r) for r in rows]


def article_of(r: Any) -> Article:
    return read_article(r, read_timestamp)


def _changed_rows(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def _changed(conn: Any, article_id: int, change: str, at: datetime) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CHANGES_LOCK)
    await conn.execute(
        "INSERT INTO article_changes (article_id, change, at) VALUES ($1, $2, $3)",
        article_id,
        change,
        at,
    )


async def _link(
    conn: Any, feed_id: int, key: str, article_id: int, chash: str, origin: bool, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO feed_entries "
        "(feed_id, entry_key, article_id, content_hash, origin, first_seen_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        feed_id,
        key,
        article_id,
        chash,
        origin,
        at,
    )


async def _matching_story(
    conn: Any, sig: np.ndarray, published: datetime, window: timedelta, threshold: float
) -> int | None:
    bands = stories.band_hashes(sig)
    rows = await conn.fetch(
        "SELECT DISTINCT a.article_id, a.story_id, a.minhash FROM minhash_bands b "
        "JOIN articles a ON a.article_id = b.article_id "
        "JOIN unnest($1::int[], $2::bigint[]) AS q(band, hash) "
        "ON b.band = q.band AND b.hash = q.hash "
        "WHERE b.published_at BETWEEN $3 AND $4",
        [band for band, _ in bands],
        [h for _, h in bands],
        published - window,
        published + window,
    )
    if not rows:
        return None
    matrix = np.stack([stories.from_blob(r["minhash"]) for r in rows])
    best, similarity = stories.best_match(sig, matrix)
    return int(rows[best]["story_id"]) if similarity >= threshold else None


async def _save_bands(conn: Any, article_id: int, sig: np.ndarray, published: datetime) -> None:
    await conn.execute("DELETE FROM minhash_bands WHERE article_id = $1", article_id)
    await conn.executemany(
        "INSERT INTO minhash_bands (band, hash, published_at, article_id) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(band, h, published, article_id) for band, h in stories.band_hashes(sig)],
    )
