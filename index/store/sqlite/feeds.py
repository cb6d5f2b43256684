"""Stage: workspaces, feeds and subscriptions, and each feed's polling state, on SQLite (part of
`Store`). Side effects: reads and writes `workspaces`, `feeds` and `subscriptions`.

The methods of `index.store.sqlite.store.Store` for the `Feeds` and `FeedQueue` interfaces
(index/store/interfaces.py): subscribing, the due feeds, and what a fetch records. A feed URL is
fetched once however many workspaces subscribe to it; its interval is the shortest any of them
asked for. index/store/pg/store.py has the same methods on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from index.models import FeedSource
from index.store.rows import FeedRow, feed_row_of, feed_source_of
from index.store.sqlite.base import StoreBase
from index.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    pass


class FeedRows(StoreBase):
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
        return [feed_row_of(r, from_iso) for r in rows]

    async def due_feeds(self, now: datetime) -> list[FeedSource]:
        """Enabled, subscribed http feeds whose next check is due."""
        rows = await self._all(
            "SELECT * FROM feeds f WHERE kind = 'http' AND enabled = 1 AND next_check_at <= ? "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id) "
            "ORDER BY next_check_at",
            (to_iso(now),),
        )
        return [feed_source_of(r) for r in rows]

    async def claim_due_feeds(
        self, worker: str, now: datetime, *, limit: int, lease_s: float
    ) -> list[FeedSource]:
        """Up to `limit` due feeds. One process polls the embedded engine (its data dir admits
        one), so there is nothing to claim; on PostgreSQL workers claim
        (index/store/pg/store.py)."""
        return (await self.due_feeds(now))[:limit]

    async def next_due_at(self) -> datetime | None:
        """When the next subscribed feed falls due; None: no feed."""
        row = await self._one(
            "SELECT min(next_check_at) FROM feeds f WHERE kind = 'http' AND enabled = 1 "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.feed_id)"
        )
        return from_iso(row[0]) if row is not None else None

    async def last_fetch_ok_at(self) -> datetime | None:
        """When a feed was last fetched successfully (its last fetch, then, was good)."""
        row = await self._one("SELECT max(last_polled_at) FROM feeds WHERE error_count = 0")
        return from_iso(row[0]) if row is not None and row[0] is not None else None

    async def workspace_feeds(self, workspace_id: int) -> list[FeedSource]:
        """Every enabled http feed the workspace subscribes to, due or not (`poll --once`)."""
        rows = await self._all(
            "SELECT f.* FROM feeds f JOIN subscriptions s ON s.feed_id = f.feed_id "
            "WHERE s.workspace_id = ? AND f.kind = 'http' AND f.enabled = 1 ORDER BY f.feed_id",
            (workspace_id,),
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
        await self.write_one(
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
