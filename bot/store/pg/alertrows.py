"""Stage: alerts and their outbox <-> the `alerts`, `alert_matches`, `alert_articles` and
`deliveries` tables, on PostgreSQL. Side effects: reads articles, feed entries and
subscriptions; writes those four.

`PgAlertRows` implements `bot.store.alertrows.AlertRows` with the semantics of `SqliteAlertRows`:
recording and delivery run in one transaction each, recording twice changes nothing
(ON CONFLICT DO NOTHING), and a message interrupted earlier goes again whole. Id lists travel
as one array parameter (`= ANY($n)`), so no list is cut into chunks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.store.alertrows import (
    AlertMatch,
    AlertRow,
    AlertSource,
    StoryAlert,
    StoryMatches,
    alert_of,
    delivery_times,
    matches_of,
    sources_of,
)
from index.store.pg.values import read_timestamp, timestamp, where

PENDING = "delivered_version < version AND NOT failed"  # not delivered yet nor given up


class PgAlertRows:
    """`AlertRows` on a PostgreSQL pool (index/store/pg/connect.py)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    # ---- recording
    async def record(
        self, found: Sequence[StoryMatches], now: datetime
    ) -> tuple[list[int], list[int]]:
        created: list[int] = []
        updated: list[int] = []
        if not found:
            return created, updated
        at = timestamp(now)
        async with self.pool.acquire() as conn, conn.transaction():
            for story in found:
                alert_id = await conn.fetchval(
                    "INSERT INTO alerts (workspace_id, channel, story_id, created_at, "
                    "updated_at) VALUES ($1, $2, $3, $4, $4) "
                    "ON CONFLICT (channel, story_id) DO NOTHING RETURNING alert_id",
                    story.workspace_id,
                    story.channel,
                    story.story_id,
                    at,
                )
                if alert_id is not None:
                    created.append(alert_id)
                    await conn.execute(
                        "INSERT INTO alert_articles SELECT $1, a.article_id, $2 "
                        "FROM articles a WHERE a.story_id = $3 AND EXISTS (SELECT 1 FROM "
                        "feed_entries fe JOIN subscriptions s ON s.feed_id = fe.feed_id "
                        "WHERE fe.article_id = a.article_id AND s.workspace_id = $4) "
                        "ON CONFLICT DO NOTHING",
                        alert_id,
                        at,
                        story.story_id,
                        story.workspace_id,
                    )
                else:
                    alert_id = await conn.fetchval(
                        "SELECT alert_id FROM alerts WHERE channel = $1 AND story_id = $2",
                        story.channel,
                        story.story_id,
                    )
                    articles = [m.article_id for m in story.matches]
                    if await _add(conn, alert_id, articles, at):
                        updated.append(alert_id)
                await conn.executemany(
                    "INSERT INTO alert_matches VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    [(alert_id, m.watch_id, m.term, m.article_id, m.why) for m in story.matches],
                )
        return created, updated

    async def story_alerts(self, story_ids: Sequence[int]) -> list[StoryAlert]:
        rows = await self.pool.fetch(
            "SELECT alert_id, workspace_id, story_id FROM alerts WHERE story_id = ANY($1)",
            list(story_ids),
        )
        return [StoryAlert(r["alert_id"], r["workspace_id"], r["story_id"]) for r in rows]

    async def add_articles(self, articles: Mapping[int, Sequence[int]], now: datetime) -> list[int]:
        if not articles:
            return []
        grown: list[int] = []
        at = timestamp(now)
        async with self.pool.acquire() as conn, conn.transaction():
            for alert_id, article_ids in articles.items():
                if await _add(conn, alert_id, article_ids, at):
                    grown.append(alert_id)
        return grown

    # ---- what matching reads of the articles
    async def workspace_articles(self, workspace_id: int, since: datetime | None) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT a.article_id FROM articles a WHERE "
            "($2::timestamptz IS NULL OR a.published_at >= $2) AND EXISTS (SELECT 1 FROM "
            "feed_entries fe JOIN subscriptions s ON s.feed_id = fe.feed_id "
            "WHERE fe.article_id = a.article_id AND s.workspace_id = $1) "
            "ORDER BY a.published_at DESC LIMIT 2000",
            workspace_id,
            None if since is None else timestamp(since),
        )
        return [int(r["article_id"]) for r in rows]

    async def article_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM articles"))

    async def sample_articles(self, limit: int) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT article_id FROM articles ORDER BY random() LIMIT $1", limit
        )
        return [int(r["article_id"]) for r in rows]

    # ---- reading
    async def find(
        self,
        *,
        workspace_id: int | None = None,
        channel: str | None = None,
        pending_only: bool = False,
        limit: int = 50,
    ) -> list[int]:
        pending = (PENDING,) if pending_only else ()
        condition, params = where({"workspace_id": workspace_id, "channel": channel}, *pending)
        rows = await self.pool.fetch(
            f"SELECT alert_id FROM alerts WHERE {condition} "
            f"ORDER BY created_at DESC, alert_id DESC LIMIT ${len(params) + 1}",
            *params,
            limit,
        )
        return [int(r["alert_id"]) for r in rows]

    async def count(self, workspace_id: int, *, pending_only: bool = False) -> int:
        pending = f" AND {PENDING}" if pending_only else ""
        found = await self.pool.fetchval(
            f"SELECT count(*) FROM alerts WHERE workspace_id = $1{pending}", workspace_id
        )
        return int(found)

    async def get(self, alert_ids: Sequence[int]) -> dict[int, AlertRow]:
        rows = await self.pool.fetch(
            "SELECT * FROM alerts WHERE alert_id = ANY($1)", list(alert_ids)
        )
        return {r["alert_id"]: alert_of(r, read_timestamp) for r in rows}

    async def sources(self, alert_ids: Sequence[int]) -> dict[int, list[AlertSource]]:
        rows = await self.pool.fetch(
            "SELECT x.alert_id, a.article_id, a.source, a.title, a.url, a.published_at "
            "FROM alert_articles x JOIN articles a USING (article_id) "
            "WHERE x.alert_id = ANY($1) ORDER BY a.published_at, a.article_id",
            list(alert_ids),
        )
        return sources_of(rows, read_timestamp)

    async def matches(self, alert_ids: Sequence[int]) -> dict[int, list[AlertMatch]]:
        rows = await self.pool.fetch(
            "SELECT * FROM alert_matches WHERE alert_id = ANY($1) ORDER BY watch_id",
            list(alert_ids),
        )
        return matches_of(rows)

    async def of_message(
        self, message_ref: str, *, channel: str | None = None, workspace_id: int | None = None
    ) -> list[int]:
        condition, params = where(
            {"channel": channel, "message_ref": message_ref, "workspace_id": workspace_id}
        )
        rows = await self.pool.fetch(
            f"SELECT alert_id FROM alerts WHERE {condition} ORDER BY alert_id", *params
        )
        return [int(r["alert_id"]) for r in rows]

    async def backlog(self) -> tuple[int, datetime | None]:
        row = await self.pool.fetchrow(
            f"SELECT count(*), min(created_at) FROM alerts WHERE {PENDING}"
        )
        return int(row[0]), read_timestamp(row[1])

    async def delivered_after(self, after: datetime) -> list[tuple[datetime | None, datetime]]:
        rows = await self.pool.fetch(
            "SELECT created_at, delivered_at FROM alerts WHERE delivered_at > $1 "
            "ORDER BY delivered_at",
            timestamp(after),
        )
        return delivery_times(rows, read_timestamp)

    # ---- the outbox
    async def due(self, now: datetime) -> list[tuple[int, str]]:
        due = f"{PENDING} AND (next_attempt_at IS NULL OR next_attempt_at <= $1)"
        rows = await self.pool.fetch(
            f"SELECT alert_id, channel FROM alerts WHERE ({due}) OR (NOT failed AND "
            f"delivered_version < version AND send_key IN (SELECT send_key FROM alerts WHERE {due} "
            "AND send_key IS NOT NULL)) ORDER BY alert_id",
            timestamp(now),
        )
        return [(int(r["alert_id"]), str(r["channel"])) for r in rows]

    async def sent_since(self, channel: str, since: datetime) -> int:
        found = await self.pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE channel = $1 AND sent_at > $2",
            channel,
            timestamp(since),
        )
        return int(found)

    async def claim(self, alert_ids: Sequence[int], send_key: str) -> bool:
        ids = sorted(set(alert_ids))
        async with self.pool.acquire() as conn, conn.transaction():
            # Row locks: a second sender claiming the same alerts waits for this commit, then
            # finds them under this key (PostgreSQL re-reads the rows it waited for).
            free = await conn.fetch(
                f"SELECT alert_id FROM alerts WHERE alert_id = ANY($1) AND {PENDING} "
                "AND (send_key IS NULL OR send_key = $2) ORDER BY alert_id FOR UPDATE",
                ids,
                send_key,
            )
            if len(free) != len(ids):
                return False
            await conn.execute(
                "UPDATE alerts SET send_key = $1 WHERE alert_id = ANY($2)", send_key, ids
            )
        return True

    async def delivered(
        self,
        channel: str,
        versions: Mapping[int, int],
        *,
        message_ref: str | None,
        digest: bool,
        now: datetime,
        count: bool = True,
    ) -> None:
        at = timestamp(now)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "UPDATE alerts SET delivered_version = $1, "
                "delivered_at = coalesce(delivered_at, $2), message_ref = $3, digest = $4, "
                "send_key = NULL, attempts = 0, next_attempt_at = NULL, last_error = NULL "
                "WHERE alert_id = $5",
                [
                    (version, at, message_ref, digest, alert_id)
                    for alert_id, version in versions.items()
                ],
            )
            if count:
                await conn.execute(
                    "INSERT INTO deliveries (channel, sent_at) VALUES ($1, $2)", channel, at
                )
                await conn.execute(
                    "DELETE FROM deliveries WHERE channel = $1 AND sent_at < $2",
                    channel,
                    timestamp(now - timedelta(days=1)),
                )

    async def failed(
        self,
        alert_ids: Sequence[int],
        *,
        attempts: int,
        retry_at: datetime,
        error: str,
        permanent: bool,
    ) -> None:
        await self.pool.execute(  # one retry time for the whole message
            "UPDATE alerts SET attempts = $1, next_attempt_at = $2, last_error = $3, failed = $4 "
            "WHERE alert_id = ANY($5)",
            attempts,
            timestamp(retry_at),
            error,
            permanent,
            list(alert_ids),
        )

    async def give_up_channel(self, channel: str, error: str) -> int:
        status: str = await self.pool.execute(
            "UPDATE alerts SET failed = TRUE, last_error = $1, next_attempt_at = NULL "
            f"WHERE channel = $2 AND {PENDING}",
            error,
            channel,
        )
        return int(status.rsplit(" ", 1)[-1])


async def _add(conn: Any, alert_id: int, article_ids: Sequence[int], at: datetime) -> bool:
    """List these articles in the alert, its version grown if one was new (inside the caller's
    transaction on `conn`). True when one was."""
    status: str = await conn.execute(
        "INSERT INTO alert_articles SELECT $1, article_id, $3 FROM unnest($2::bigint[]) "
        "AS article_id ON CONFLICT DO NOTHING",
        alert_id,
        list(article_ids),
        at,
    )
    if int(status.rsplit(" ", 1)[-1]) == 0:
        return False
    await conn.execute(
        "UPDATE alerts SET version = version + 1, updated_at = $1 WHERE alert_id = $2",
        at,
        alert_id,
    )
    return True
