"""One test body, both engines: the `engine` fixture runs a test on SQLite and on PostgreSQL.

An `Engine` hands out the row interfaces of one fresh database, and seeds what those
interfaces only read (workspaces, feeds, subscriptions, stories, articles, feed entries) with
plain SQL of its engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from bot import store as chat_store
from bot.store.alertrows import AlertRows, SqliteAlertRows
from bot.store.noticerows import NoticeRows, SqliteNoticeRows
from bot.store.watchrows import SqliteWatchRows, WatchRows
from index.store.sqlite.store import Store
from index.timeutil import to_iso
from tests.pg import fresh_database

ENGINES = ["sqlite", "postgres"]


class Engine(Protocol):
    name: str
    watches: WatchRows
    notices: NoticeRows
    alerts: AlertRows

    async def workspace(self, name: str, now: datetime) -> int: ...

    async def follow(
        self, workspace_id: int, url: str, now: datetime, *, channel: str | None, name: str | None
    ) -> int:
        """Subscribe the workspace to the feed at `url` (created if new); its feed_id."""
        ...

    async def unfollow(self, workspace_id: int, feed_id: int) -> None: ...

    async def set_failing(self, feed_id: int, since: datetime | None, error: str = "") -> None:
        """The feed fails since `since` (None: it works again)."""
        ...

    async def damage_watch(self, watch_id: int) -> None:
        """Store a `spec` the engine's reader cannot take."""
        ...

    async def article(
        self, feed_id: int, n: int, published_at: datetime, *, story_id: int | None = None
    ) -> tuple[int, int]:
        """A new article "Title n" the feed carried, in the story `story_id` (a new story when
        None): (article_id, story_id)."""
        ...


class SqliteEngine:
    name = "sqlite"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.watches: WatchRows = SqliteWatchRows(store)
        self.notices: NoticeRows = SqliteNoticeRows(store)
        self.alerts: AlertRows = SqliteAlertRows(store)

    async def workspace(self, name: str, now: datetime) -> int:
        return await self.store.workspace_id(name, now)

    async def follow(
        self, workspace_id: int, url: str, now: datetime, *, channel: str | None, name: str | None
    ) -> int:
        return await self.store.subscribe(
            workspace_id, url, interval_s=300, name=name, now=now, channel=channel
        )

    async def unfollow(self, workspace_id: int, feed_id: int) -> None:
        await self._run(
            "DELETE FROM subscriptions WHERE workspace_id = ? AND feed_id = ?",
            workspace_id,
            feed_id,
        )

    async def set_failing(self, feed_id: int, since: datetime | None, error: str = "") -> None:
        await self._run(
            "UPDATE feeds SET failing_since = ?, error_count = ?, last_error = ? WHERE feed_id = ?",
            None if since is None else to_iso(since),
            0 if since is None else 3,
            error or None,
            feed_id,
        )

    async def damage_watch(self, watch_id: int) -> None:
        await self._run("UPDATE watches SET spec = '{not json' WHERE watch_id = ?", watch_id)

    async def article(
        self, feed_id: int, n: int, published_at: datetime, *, story_id: int | None = None
    ) -> tuple[int, int]:
        at = to_iso(published_at)
        db = self.store.db
        async with self.store.transaction():
            if story_id is None:
                cursor = await db.execute(
                    "INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES (?, ?, ?)",
                    (f"Title {n}", at, at),
                )
                story_id = cursor.lastrowid
            cursor = await db.execute(
                "INSERT INTO articles (story_id, url, title, text, source, published_at, "
                "first_seen_at, content_hash, minhash) VALUES (?, ?, ?, ?, 'Outlet', ?, ?, ?, ?)",
                (
                    story_id,
                    f"https://outlet.example/{n}",
                    f"Title {n}",
                    f"Text {n}.",
                    at,
                    at,
                    f"hash{n}",
                    b"",
                ),
            )
            article_id = cursor.lastrowid
            await db.execute(
                "INSERT INTO feed_entries (feed_id, entry_key, article_id, content_hash, "
                "first_seen_at) VALUES (?, ?, ?, ?, ?)",
                (feed_id, f"g{n}", article_id, f"hash{n}", at),
            )
        assert article_id is not None and story_id is not None
        return article_id, story_id

    async def _run(self, sql: str, *params: Any) -> None:
        async with self.store.transaction():
            await self.store.db.execute(sql, params)


class PgEngine:
    name = "postgres"

    def __init__(self, pool: Any) -> None:
        from bot.store.pg.alertrows import PgAlertRows
        from bot.store.pg.noticerows import PgNoticeRows
        from bot.store.pg.watchrows import PgWatchRows

        self.pool = pool
        self.watches: WatchRows = PgWatchRows(pool)
        self.notices: NoticeRows = PgNoticeRows(pool)
        self.alerts: AlertRows = PgAlertRows(pool)

    async def workspace(self, name: str, now: datetime) -> int:
        return int(
            await self.pool.fetchval(
                "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING workspace_id",
                name,
                now,
            )
        )

    async def follow(
        self, workspace_id: int, url: str, now: datetime, *, channel: str | None, name: str | None
    ) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            feed_id = await conn.fetchval(
                "INSERT INTO feeds (url, next_check_at, created_at) VALUES ($1, $2, $2) "
                "ON CONFLICT (url) DO UPDATE SET url = excluded.url RETURNING feed_id",
                url,
                now,
            )
            await conn.execute(
                "INSERT INTO subscriptions (workspace_id, feed_id, name, interval_s, created_at, "
                "channel) VALUES ($1, $2, $3, 300, $4, $5)",
                workspace_id,
                feed_id,
                name,
                now,
                channel,
            )
        return int(feed_id)

    async def unfollow(self, workspace_id: int, feed_id: int) -> None:
        await self.pool.execute(
            "DELETE FROM subscriptions WHERE workspace_id = $1 AND feed_id = $2",
            workspace_id,
            feed_id,
        )

    async def set_failing(self, feed_id: int, since: datetime | None, error: str = "") -> None:
        await self.pool.execute(
            "UPDATE feeds SET failing_since = $1, error_count = $2, last_error = $3 "
            "WHERE feed_id = $4",
            since,
            0 if since is None else 3,
            error or None,
            feed_id,
        )

    async def damage_watch(self, watch_id: int) -> None:
        # JSONB holds only valid JSON: the damage is a document that is not an object.
        await self.pool.execute(
            "UPDATE watches SET spec = '\"not an object\"' WHERE watch_id = $1", watch_id
        )

    async def article(
        self, feed_id: int, n: int, published_at: datetime, *, story_id: int | None = None
    ) -> tuple[int, int]:
        async with self.pool.acquire() as conn, conn.transaction():
            if story_id is None:
                story_id = await conn.fetchval(
                    "INSERT INTO stories (title, first_seen_at, last_seen_at) "
                    "VALUES ($1, $2, $2) RETURNING story_id",
                    f"Title {n}",
                    published_at,
                )
            article_id = await conn.fetchval(
                "INSERT INTO articles (story_id, url, title, text, source, published_at, "
                "first_seen_at, content_hash, minhash) VALUES ($1, $2, $3, $4, 'Outlet', $5, $5, "
                "$6, $7) RETURNING article_id",
                story_id,
                f"https://outlet.example/{n}",
                f"Title {n}",
                f"Text {n}.",
                published_at,
                f"hash{n}",
                b"",
            )
            await conn.execute(
                "INSERT INTO feed_entries (feed_id, entry_key, article_id, content_hash, "
                "first_seen_at) VALUES ($1, $2, $3, $4, $5)",
                feed_id,
                f"g{n}",
                article_id,
                f"hash{n}",
                published_at,
            )
        return int(article_id), int(story_id)


@pytest.fixture(params=ENGINES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    """The row interfaces of a fresh database, on each engine in turn."""
    if request.param == "sqlite":
        async with Store.open(tmp_path / "wirewatch.db") as store:
            await chat_store.migrate(store)
            yield SqliteEngine(store)
        return
    from index.store.pg.store import PgStore

    server_url = request.getfixturevalue("pg_server_url")
    async with fresh_database(server_url) as url, PgStore.open(url, max_size=4) as pg:
        await chat_store.migrate(pg)
        yield PgEngine(pg.pool)
