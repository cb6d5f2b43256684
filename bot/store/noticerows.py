"""Stage: failing feeds and the notices about them <-> the `feed_notice_state` and
`feed_notices` tables. Side effects: reads feeds, subscriptions and workspaces; writes those two.

`NoticeRows` is all the feed notices (bot/core/feedhealth.py) ask of a database, as typed values;
when a notice is due and what it says stay with the bot. `SqliteNoticeRows` implements it on
the `Store`'s connection; `bot/store/pg/noticerows.py` on PostgreSQL. Both read rows into values
with `failing_feed_of`, `noticed_feed_of` and `notice_of`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from index.store.sqlite.store import Store, where
from index.timeutil import TimeReader, from_iso, required, to_iso

NoticeKind = Literal["feed_failing", "feed_recovered"]


@dataclass(frozen=True, slots=True)
class FailingFeed:
    """A followed feed failing since `failing_since`, that its workspace was not told of."""

    workspace_id: int
    workspace: str
    feed_id: int
    channel: str | None  # the subscription's channel
    name: str | None  # the subscription's name, else the feed's title
    url: str
    failing_since: datetime
    last_error: str | None
    error_count: int
    enabled: bool


@dataclass(frozen=True, slots=True)
class NoticedFeed:
    """A feed a workspace was told of that works again, or that it no longer follows."""

    workspace_id: int
    feed_id: int
    failing_since: datetime
    reason: str
    channels: tuple[str, ...]  # where the failing notice went
    name: str | None
    url: str
    subscribed: bool


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What a notice says: the short reason, a title and a body."""

    reason: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Notice:
    """One feed notice, as stored."""

    notice_id: int
    workspace_id: int
    channel: str
    feed_id: int
    kind: NoticeKind
    feed_url: str
    feed_name: str | None
    reason: str
    failing_since: datetime
    title: str
    body: str
    created_at: datetime
    delivered_at: datetime | None
    send_key: str | None
    attempts: int
    next_attempt_at: datetime | None
    failed: bool
    last_error: str | None


class NoticeRows(Protocol):
    """The notice state of each workspace and feed, and the notices' outbox. Every method is
    its own transaction."""

    async def failing_unnoticed(self, failing_before: datetime) -> list[FailingFeed]:
        """HTTP feeds failing since `failing_before` or earlier, once per workspace following
        them that was not told yet."""
        ...

    async def noticed_and_over(self) -> list[NoticedFeed]:
        """Feeds a workspace was told of that work again (or fail since another time), or
        that the workspace no longer follows."""
        ...

    async def record_failing(
        self, feed: FailingFeed, text: NoticeText, channels: Sequence[str], now: datetime
    ) -> bool:
        """Remember that the workspace is told of `feed` in `channels`, and store a
        'feed_failing' notice for each; False (and nothing stored) when that was remembered
        already."""
        ...

    async def record_over(
        self, feed: NoticedFeed, text: NoticeText, channels: Sequence[str], now: datetime
    ) -> bool:
        """Forget that the workspace was told of `feed`, and store a 'feed_recovered' notice for
        each of `channels`; False (and nothing stored) when it was forgotten already."""
        ...

    async def find(
        self,
        *,
        workspace_id: int | None = None,
        channel: str | None = None,
        pending_only: bool = False,
        limit: int = 50,
    ) -> list[Notice]:
        """Notices, newest first."""
        ...

    async def due(self, now: datetime) -> list[Notice]:
        """Notices to post now (not delivered, not failed for good, no retry later), oldest
        first."""
        ...

    async def claim(self, notice_ids: Sequence[int], send_key: str) -> None:
        """Record the key of the send that posts these notices."""
        ...

    async def delivered(self, notice_ids: Sequence[int], at: datetime) -> None: ...

    async def failed(
        self,
        notice_ids: Sequence[int],
        *,
        attempts: int,
        retry_at: datetime,
        error: str,
        permanent: bool,
    ) -> None: ...

    async def give_up_channel(self, channel: str, error: str) -> None:
        """Fail for good every pending notice of `channel`."""
        ...


class SqliteNoticeRows:
    """`NoticeRows` on the SQLite store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def failing_unnoticed(self, failing_before: datetime) -> list[FailingFeed]:
        rows = await self.store.fetch_all(
            "SELECT s.workspace_id, w.name AS workspace, s.feed_id, s.channel, "
            "coalesce(s.name, f.title) AS name, f.url, f.failing_since, f.last_error, "
            "f.error_count, f.enabled FROM subscriptions s "
            "JOIN feeds f ON f.feed_id = s.feed_id "
            "JOIN workspaces w ON w.workspace_id = s.workspace_id "
            "WHERE f.kind = 'http' AND f.failing_since IS NOT NULL AND f.failing_since <= ? "
            "AND NOT EXISTS (SELECT 1 FROM feed_notice_state n "
            "  WHERE n.workspace_id = s.workspace_id AND n.feed_id = s.feed_id) "
            "ORDER BY s.workspace_id, s.feed_id",
            (to_iso(failing_before),),
        )
        return [failing_feed_of(r) for r in rows]

    async def noticed_and_over(self) -> list[NoticedFeed]:
        rows = await self.store.fetch_all(
            "SELECT n.workspace_id, n.feed_id, n.failing_since, n.reason, n.channels, f.url, "
            "coalesce(s.name, f.title) AS name, s.feed_id IS NOT NULL AS subscribed "
            "FROM feed_notice_state n JOIN feeds f ON f.feed_id = n.feed_id "
            "LEFT JOIN subscriptions s "
            "ON s.workspace_id = n.workspace_id AND s.feed_id = n.feed_id "
            "WHERE s.feed_id IS NULL OR f.failing_since IS NULL "
            "OR f.failing_since != n.failing_since "
            "ORDER BY n.workspace_id, n.feed_id"
        )
        return [noticed_feed_of(r) for r in rows]

    async def record_failing(
        self, feed: FailingFeed, text: NoticeText, channels: Sequence[str], now: datetime
    ) -> bool:
        async with self.store.transaction():
            cursor = await self.store.db.execute(
                "INSERT OR IGNORE INTO feed_notice_state VALUES (?, ?, 'failing', ?, ?, ?, ?)",
                (
                    feed.workspace_id,
                    feed.feed_id,
                    to_iso(feed.failing_since),
                    text.reason,
                    json.dumps(list(channels)),
                    to_iso(now),
                ),
            )
            if cursor.rowcount == 0:
                return False
            await self._insert(feed, "feed_failing", text, channels, now)
        return True

    async def record_over(
        self, feed: NoticedFeed, text: NoticeText, channels: Sequence[str], now: datetime
    ) -> bool:
        async with self.store.transaction():
            cursor = await self.store.db.execute(
                "DELETE FROM feed_notice_state WHERE workspace_id = ? AND feed_id = ?",
                (feed.workspace_id, feed.feed_id),
            )
            if cursor.rowcount == 0:
                return False
            await self._insert(feed, "feed_recovered", text, channels, now)
        return True

    async def _insert(
        self,
        feed: FailingFeed | NoticedFeed,
        kind: NoticeKind,
        text: NoticeText,
        channels: Sequence[str],
        now: datetime,
    ) -> None:
        """One notice of `feed` per channel (inside the caller's transaction)."""
        await self.store.db.executemany(
            "INSERT INTO feed_notices (workspace_id, channel, feed_id, kind, feed_url, "
            "feed_name, reason, failing_since, title, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    feed.workspace_id,
                    channel,
                    feed.feed_id,
                    kind,
                    feed.url,
                    feed.name,
                    text.reason,
                    to_iso(feed.failing_since),
                    text.title,
                    text.body,
                    to_iso(now),
                )
                for channel in channels
            ],
        )

    async def find(
        self,
        *,
        workspace_id: int | None = None,
        channel: str | None = None,
        pending_only: bool = False,
        limit: int = 50,
    ) -> list[Notice]:
        pending = ("delivered_at IS NULL AND failed = 0",) if pending_only else ()
        condition, params = where({"workspace_id": workspace_id, "channel": channel}, *pending)
        rows = await self.store.fetch_all(
            f"SELECT * FROM feed_notices WHERE {condition} ORDER BY notice_id DESC LIMIT ?",
            [*params, limit],
        )
        return [notice_of(r) for r in rows]

    async def due(self, now: datetime) -> list[Notice]:
        rows = await self.store.fetch_all(
            "SELECT * FROM feed_notices WHERE delivered_at IS NULL AND failed = 0 "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY notice_id",
            (to_iso(now),),
        )
        return [notice_of(r) for r in rows]

    async def claim(self, notice_ids: Sequence[int], send_key: str) -> None:
        await self._update(notice_ids, "send_key = ?", (send_key,))

    async def delivered(self, notice_ids: Sequence[int], at: datetime) -> None:
        await self._update(
            notice_ids,
            "delivered_at = ?, send_key = NULL, next_attempt_at = NULL, last_error = NULL",
            (to_iso(at),),
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
            "attempts = ?, next_attempt_at = ?, last_error = ?, failed = ?",
            (attempts, to_iso(retry_at), error, int(permanent)),
        )

    async def give_up_channel(self, channel: str, error: str) -> None:
        async with self.store.transaction():
            await self.store.db.execute(
                "UPDATE feed_notices SET failed = 1, attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = NULL "
                "WHERE channel = ? AND delivered_at IS NULL AND failed = 0",
                (error, channel),
            )

    async def _update(
        self, notice_ids: Sequence[int], assignments: str, values: tuple[Any, ...]
    ) -> None:
        """SET `assignments` (a constant of this class) on these notices."""
        async with self.store.transaction():
            await self.store.db.executemany(
                f"UPDATE feed_notices SET {assignments} WHERE notice_id = ?",
                [(*values, notice_id) for notice_id in notice_ids],
            )


def failing_feed_of(r: Any, read_time: TimeReader = from_iso) -> FailingFeed:
    """A row of `failing_unnoticed`'s query as a value."""
    return FailingFeed(
        workspace_id=r["workspace_id"],
        workspace=r["workspace"],
        feed_id=r["feed_id"],
        channel=r["channel"],
        name=r["name"],
        url=r["url"],
        failing_since=required(read_time(r["failing_since"])),
        last_error=r["last_error"],
        error_count=r["error_count"],
        enabled=bool(r["enabled"]),
    )


def noticed_feed_of(r: Any, read_time: TimeReader = from_iso) -> NoticedFeed:
    """A row of `noticed_and_over`'s query (`channels` as JSON text) as a value."""
    return NoticedFeed(
        workspace_id=r["workspace_id"],
        feed_id=r["feed_id"],
        failing_since=required(read_time(r["failing_since"])),
        reason=r["reason"],
        channels=tuple(json.loads(r["channels"])),
        name=r["name"],
        url=r["url"],
        subscribed=bool(r["subscribed"]),
    )


def notice_of(r: Any, read_time: TimeReader = from_iso) -> Notice:
    """A `feed_notices` row as a value."""
    return Notice(
        notice_id=r["notice_id"],
        workspace_id=r["workspace_id"],
        channel=r["channel"],
        feed_id=r["feed_id"],
        kind=r["kind"],
        feed_url=r["feed_url"],
        feed_name=r["feed_name"],
        reason=r["reason"],
        failing_since=read_time(r["failing_since"]) or datetime.min,
        title=r["title"],
        body=r["body"],
        created_at=read_time(r["created_at"]) or datetime.min,
        delivered_at=read_time(r["delivered_at"]),
        send_key=r["send_key"],
        attempts=r["attempts"],
        next_attempt_at=read_time(r["next_attempt_at"]),
        failed=bool(r["failed"]),
        last_error=r["last_error"],
    )
