"""Stage: failing feeds and the notices about them <-> the `feed_notice_state` and
`feed_notices` tables, on PostgreSQL. Side effects: reads feeds, subscriptions and workspaces;
writes those two.

`PgNoticeRows` implements `bot.store.noticerows.NoticeRows` with the semantics of
`SqliteNoticeRows`: each method is one transaction (a statement, or a block where the SQLite
one has a transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.store.noticerows import (
    FailingFeed,
    Notice,
    NoticedFeed,
    NoticeKind,
    NoticeText,
    failing_feed_of,
    notice_of,
    noticed_feed_of,
)
from index.store.pg.values import json_text, read_timestamp, timestamp, where


class PgNoticeRows:
    """`NoticeRows` on a PostgreSQL pool (index/store/pg/connect.py)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def failing_unnoticed(self, failing_before: datetime) -> list[FailingFeed]:
        rows = await self.pool.fetch(
            "SELECT s.workspace_id, w.name AS workspace, s.feed_id, s.channel, "
            "coalesce(s.name, f.title) AS name, f.url, f.failing_since, f.last_error, "
            "f.error_count, f.enabled FROM subscriptions s "
            "JOIN feeds f ON f.feed_id = s.feed_id "
            "JOIN workspaces w ON w.workspace_id = s.workspace_id "
            "WHERE f.kind = 'http' AND f.failing_since IS NOT NULL AND f.failing_since <= $1 "
            "AND NOT EXISTS (SELECT 1 FROM feed_notice_state n "
            "  WHERE n.workspace_id = s.workspace_id AND n.feed_id = s.feed_id) "
            "ORDER BY s.workspace_id, s.feed_id",
            timestamp(failing_before),
        )
        return [failing_feed_of(r, read_timestamp) for r in rows]

    async def noticed_and_over(self) -> list[NoticedFeed]:
        rows = await self.pool.fetch(
            "SELECT n.workspace_id, n.feed_id, n.failing_since, n.reason, n.channels, f.url, "
            "coalesce(s.name, f.title) AS name, s.feed_id IS NOT NULL AS subscribed "
            "FROM feed_notice_state n JOIN feeds f ON f.feed_id = n.feed_id "
            "LEFT JOIN subscriptions s "
            "ON s.workspace_id = n.workspace_id AND s.feed_id = n.feed_id "
            "WHERE s.feed_id IS NULL OR f.failing_since IS DISTINCT FROM n.failing_since "
            "ORDER BY n.workspace_id, n.feed_id"
        )
        return [noticed_feed_of(r, read_timestamp) for r in rows]

    async def record_failing(
        self, feed: FailingFeed, text: NoticeText, channels: Sequence[str], now: datetime
    ) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            remembered = await conn.fetchval(
                "INSERT INTO feed_notice_state (workspace_id, feed_id, state, failing_since, "
                "reason, channels, noticed_at) VALUES ($1, $2, 'failing', $3, $4, $5, $6) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                feed.workspace_id,
                feed.feed_id,
                timestamp(feed.failing_since),
                text.reason,
                json_text(list(channels)),
                timestamp(now),
            )
            if remembered is None:
                return False
            await _insert(conn, feed, "feed_failing", text, channels, now)
        return True

    async def record_over(
        self, feed: NoticedFeed, text: NoticeText, channels: Sequence[str], now: datetime
    ) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            forgotten = await conn.fetchval(
                "DELETE FROM feed_notice_state WHERE workspace_id = $1 AND feed_id = $2 "
                "RETURNING 1",
                feed.workspace_id,
                feed.feed_id,
            )
            if forgotten is None:
                return False
            await _insert(conn, feed, "feed_recovered", text, channels, now)
        return True

    async def find(
        self,
        *,
        workspace_id: int | None = None,
        channel: str | None = None,
        pending_only: bool = False,
        limit: int = 50,
    ) -> list[Notice]:
        pending = ("delivered_at IS NULL AND NOT failed",) if pending_only else ()
        condition, params = where({"workspace_id": workspace_id, "channel": channel}, *pending)
        rows = await self.pool.fetch(
            f"SELECT * FROM feed_notices WHERE {condition} "
            f"ORDER BY notice_id DESC LIMIT ${len(params) + 1}",
            *params,
            limit,
        )
        return [notice_of(r, read_timestamp) for r in rows]

    async def due(self, now: datetime) -> list[Notice]:
        rows = await self.pool.fetch(
            "SELECT * FROM feed_notices WHERE delivered_at IS NULL AND NOT failed "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= $1) ORDER BY notice_id",
            timestamp(now),
        )
        return [notice_of(r, read_timestamp) for r in rows]

    async def claim(self, notice_ids: Sequence[int], send_key: str) -> None:
        await self._update(notice_ids, "send_key = $2", send_key)

    async def delivered(self, notice_ids: Sequence[int], at: datetime) -> None:
        await self._update(
            notice_ids,
            "delivered_at = $2, send_key = NULL, next_attempt_at = NULL, last_error = NULL",
            timestamp(at),
        )

    async def failed(
        self,
        notice_ids: Sequence[int],
        *,
        attempts: int,
        retry_at: datetime,
        error: str,
        permanent: bool,
    ) -> None:
        await self._update(
            notice_ids,
            "attempts = $2, next_attempt_at = $3, last_error = $4, failed = $5",
            attempts,
            timestamp(retry_at),
            error,
            permanent,
        )

    async def give_up_channel(self, channel: str, error: str) -> None:
        await self.pool.execute(
            "UPDATE feed_notices SET failed = TRUE, attempts = attempts + 1, last_error = $1, "
            "next_attempt_at = NULL "
            "WHERE channel = $2 AND delivered_at IS NULL AND NOT failed",
            error,
            channel,
        )

    async def _update(self, notice_ids: Sequence[int], assignments: str, *values: Any) -> None:
        """SET `assignments` (a constant of this class; its parameters from $2) on these
        notices, in one statement."""
        await self.pool.execute(
            f"UPDATE feed_notices SET {assignments} WHERE notice_id = ANY($1::bigint[])",
            list(notice_ids),
            *values,
        )


async def _insert(
    conn: Any,
    feed: FailingFeed | NoticedFeed,
    kind: NoticeKind,
    text: NoticeText,
    channels: Sequence[str],
    now: datetime,
) -> None:
    """One notice of `feed` per channel (inside the caller's transaction)."""
    await conn.executemany(
        "INSERT INTO feed_notices (workspace_id, channel, feed_id, kind, feed_url, "
        "feed_name, reason, failing_since, title, body, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [
            (
                feed.workspace_id,
                channel,
                feed.feed_id,
                kind,
                feed.url,
                feed.name,
                text.reason,
                timestamp(feed.failing_since),
                text.title,
                text.body,
                timestamp(now),
            )
            for channel in channels
        ],
    )
