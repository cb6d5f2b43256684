"""Stage: alerts and their outbox <-> the `alerts`, `alert_matches`, `alert_articles` and
`deliveries` tables. Side effects: reads articles, feed entries and subscriptions; writes those
four.

`AlertRows` is all the alerts (bot/core/alerts.py) and their delivery (bot/core/delivery.py) ask of
a database, as typed values; what matches, and what is posted when, stay with the bot.
`SqliteAlertRows` implements it on the `Store`'s connection; `bot/store/pg/alertrows.py` on
PostgreSQL. Both read rows into values with `alert_of`, `sources_of`, `matches_of` and
`delivery_times`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from index.store.sqlite.store import Store, where
from index.timeutil import TimeReader, from_iso, to_iso

PENDING = "delivered_version < version AND failed = 0"  # not delivered yet nor given up
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class AlertMatch:
    """One watch that fired for a story: by the article `article_id`, for the reason `why`."""

    watch_id: int
    term: str
    article_id: int
    why: str


@dataclass(frozen=True, slots=True)
class StoryMatches:
    """The watches of one channel that fired for one story."""

    workspace_id: int
    channel: str
    story_id: int
    matches: tuple[AlertMatch, ...]


@dataclass(frozen=True, slots=True)
class StoryAlert:
    alert_id: int
    workspace_id: int
    story_id: int


@dataclass(frozen=True, slots=True)
class AlertSource:
    """An article an alert lists."""

    article_id: int
    source: str
    title: str
    url: str | None
    published_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One stored alert and its outbox state."""

    alert_id: int
    workspace_id: int
    channel: str
    story_id: int
    created_at: datetime
    updated_at: datetime
    version: int
    delivered_version: int
    delivered_at: datetime | None
    message_ref: str | None
    send_key: str | None
    digest: bool
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    failed: bool


class AlertRows(Protocol):
    """The alerts, what they list and why, and their outbox. Every method is its own
    transaction."""

    # ---- recording
    async def record(
        self, found: Sequence[StoryMatches], now: datetime
    ) -> tuple[list[int], list[int]]:
        """Record the matches of each story in one transaction: a new alert per channel and
        story (listing the story's articles its workspace follows), or, for an alert already
        there, the matching articles it does not list yet (its version grows). Idempotent:
        recording the same matches again changes nothing. Returns (created, updated) ids."""
        ...

    async def story_alerts(self, story_ids: Sequence[int]) -> list[StoryAlert]:
        """The alerts these stories already have."""
        ...

    async def add_articles(self, articles: Mapping[int, Sequence[int]], now: datetime) -> list[int]:
        """List more articles in alerts (alert_id -> article ids), in one transaction; an alert
        that lists a new one grows a version. Returns those, in the order given."""
        ...

    # ---- what matching reads of the articles
    async def workspace_articles(self, workspace_id: int, since: datetime | None) -> list[int]:
        """The newest 2000 articles of the workspace's feeds published since `since` (all
        when None), newest first."""
        ...

    async def article_count(self) -> int: ...

    async def sample_articles(self, limit: int) -> list[int]:
        """`limit` stored articles drawn at random."""
        ...

    # ---- reading
    async def find(
        self,
        *,
        workspace_id: int | None = None,
        channel: str | None = None,
        pending_only: bool = False,
        limit: int = 50,
    ) -> list[int]:
        """Alert ids, newest first (`pending_only`: not delivered yet nor given up)."""
        ...

    async def count(self, workspace_id: int, *, pending_only: bool = False) -> int: ...

    async def get(self, alert_ids: Sequence[int]) -> dict[int, AlertRow]: ...

    async def sources(self, alert_ids: Sequence[int]) -> dict[int, list[AlertSource]]:
        """The articles each alert lists, oldest first."""
        ...

    async def matches(self, alert_ids: Sequence[int]) -> dict[int, list[AlertMatch]]:
        """The watches that fired for each alert, by watch id."""
        ...

    async def of_message(
        self, message_ref: str, *, channel: str | None = None, workspace_id: int | None = None
    ) -> list[int]:
        """The alerts the chat's message `message_ref` carries, by id."""
        ...

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many alerts wait in the outbox, and when the oldest was created."""
        ...

    async def delivered_after(self, after: datetime) -> list[tuple[datetime | None, datetime]]:
        """(created_at, delivered_at) of the alerts first delivered after `after`, in the order
        they were."""
        ...

    # ---- the outbox
    async def due(self, now: datetime) -> list[tuple[int, str]]:
        """(alert_id, channel) of the alerts to post now, by id; a message interrupted earlier
        goes again whole: its members ride with any one due."""
        ...

    async def sent_since(self, channel: str, since: datetime) -> int:
        """Messages posted to `channel` after `since` (the rate limit)."""
        ...

    async def claim(self, alert_ids: Sequence[int], send_key: str) -> bool:
        """Record the key of the send that posts these alerts, before posting: a crash after
        the post retries with the same key. All or nothing: False, and nothing recorded, when
        any of them is no longer waiting or is claimed under another key (by another sender,
        while two overlap for a moment when the sender lease changes hands): that message
        is not posted, and the next round reads the outbox again."""
        ...

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
        """Mark alerts (alert_id -> the version the chat took) delivered in `message_ref`;
        `count`: one message posted to `channel` now, for the rate limit."""
        ...

    async def failed(
        self,
        alert_ids: Sequence[int],
        *,
        attempts: int,
        retry_at: datetime,
        error: str,
        permanent: bool,
    ) -> None: ...

    async def give_up_channel(self, channel: str, error: str) -> int:
        """Fail for good every pending alert of `channel`; returns how many."""
        ...


class SqliteAlertRows:
    """`AlertRows` on the SQLite store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- recording
    async def record(
        self, found: Sequence[StoryMatches], now: datetime
    ) -> tuple[list[int], list[int]]:
        created: list[int] = []
        updated: list[int] = []
        if not found:
            return created, updated
        at = to_iso(now)
        db = self.store.db
        async with self.store.transaction():
            for story in found:
                async with db.execute(
                    "SELECT alert_id FROM alerts WHERE channel = ? AND story_id = ?",
                    (story.channel, story.story_id),
                ) as cur:
                    row = await cur.fetchone()
                if row is None:
                    cur2 = await db.execute(
                        "INSERT INTO alerts (workspace_id, channel, story_id, created_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?)",
                        (story.workspace_id, story.channel, story.story_id, at, at),
                    )
                    alert_id = cur2.lastrowid
                    assert alert_id is not None
                    created.append(alert_id)
                    await db.execute(
                        "INSERT OR IGNORE INTO alert_articles SELECT ?, a.article_id, ? "
                        "FROM articles a WHERE a.story_id = ? AND EXISTS (SELECT 1 FROM "
                        "feed_entries fe JOIN subscriptions s ON s.feed_id = fe.feed_id "
                        "WHERE fe.article_id = a.article_id AND s.workspace_id = ?)",
                        (alert_id, at, story.story_id, story.workspace_id),
                    )
                else:
                    alert_id = int(row[0])
                    articles = [m.article_id for m in story.matches]
                    if await self._add(alert_id, articles, at):
                        updated.append(alert_id)
                await db.executemany(
                    "INSERT OR IGNORE INTO alert_matches VALUES (?, ?, ?, ?, ?)",
                    [(alert_id, m.watch_id, m.term, m.article_id, m.why) for m in story.matches],
                )
        return created, updated

    async def story_alerts(self, story_ids: Sequence[int]) -> list[StoryAlert]:
        rows = []
        for start in range(0, len(story_ids), CHUNK):
            chunk = list(story_ids[start : start + CHUNK])
            marks = ",".join("?" * len(chunk))
            rows.extend(
                await self.store.fetch_all(
                    "SELECT alert_id, workspace_id, story_id FROM alerts "
                    f"WHERE story_id IN ({marks})",
                    chunk,
                )
            )
        return [StoryAlert(r["alert_id"], r["workspace_id"], r["story_id"]) for r in rows]

    async def add_articles(self, articles: Mapping[int, Sequence[int]], now: datetime) -> list[int]:
        if not articles:
            return []
        grown: list[int] = []
        at = to_iso(now)
        async with self.store.transaction():
            for alert_id, article_ids in articles.items():
                if await self._add(alert_id, article_ids, at):
                    grown.append(alert_id)
        return grown

    async def _add(self, alert_id: int, article_ids: Sequence[int], at: str) -> bool:
        """List these articles in the alert, its version grown if one was new (inside the
        caller's transaction). True when one was."""
        added = 0
        for article_id in article_ids:
            cur = await self.store.db.execute(
                "INSERT OR IGNORE INTO alert_articles VALUES (?, ?, ?)", (alert_id, article_id, at)
            )
            added += cur.rowcount
        if added:
            await self.store.db.execute(
                "UPDATE alerts SET version = version + 1, updated_at = ? WHERE alert_id = ?",
                (at, alert_id),
            )
        return added > 0

    # ---- what matching reads of the articles
    async def workspace_articles(self, workspace_id: int, since: datetime | None) -> list[int]:
        rows = await self.store.fetch_all(
            "SELECT DISTINCT a.article_id FROM articles a JOIN feed_entries fe "
            "ON fe.article_id = a.article_id JOIN subscriptions s ON s.feed_id = fe.feed_id "
            "WHERE s.workspace_id = ? AND a.published_at >= ? "
            "ORDER BY a.published_at DESC LIMIT 2000",
            (workspace_id, to_iso(since) if since else ""),
        )
        return [int(r[0]) for r in rows]

    async def article_count(self) -> int:
        rows = await self.store.fetch_all("SELECT count(*) FROM articles")
        return int(rows[0][0])

    async def sample_articles(self, limit: int) -> list[int]:
        rows = await self.store.fetch_all(
            "SELECT article_id FROM articles ORDER BY random() LIMIT ?", (limit,)
        )
        return [int(r[0]) for r in rows]

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
        rows = await self.store.fetch_all(
            f"SELECT alert_id FROM alerts WHERE {condition} "
            "ORDER BY created_at DESC, alert_id DESC LIMIT ?",
            [*params, limit],
        )
        return [int(r[0]) for r in rows]

    async def count(self, workspace_id: int, *, pending_only: bool = False) -> int:
        pending = f" AND {PENDING}" if pending_only else ""
        rows = await self.store.fetch_all(
            f"SELECT count(*) FROM alerts WHERE workspace_id = ?{pending}", (workspace_id,)
        )
        return int(rows[0][0])

    async def get(self, alert_ids: Sequence[int]) -> dict[int, AlertRow]:
        rows = await self._in("SELECT * FROM alerts WHERE alert_id IN ({})", alert_ids)
        return {r["alert_id"]: alert_of(r) for r in rows}

    async def sources(self, alert_ids: Sequence[int]) -> dict[int, list[AlertSource]]:
        return sources_of(
            await self._in(
                "SELECT x.alert_id, a.article_id, a.source, a.title, a.url, a.published_at "
                "FROM alert_articles x JOIN articles a USING (article_id) "
                "WHERE x.alert_id IN ({}) ORDER BY a.published_at, a.article_id",
                alert_ids,
            )
        )

    async def matches(self, alert_ids: Sequence[int]) -> dict[int, list[AlertMatch]]:
        return matches_of(
            await self._in(
                "SELECT * FROM alert_matches WHERE alert_id IN ({}) ORDER BY watch_id", alert_ids
            )
        )

    async def _in(self, sql: str, ids: Sequence[int]) -> list[Any]:
        """Run `sql` (a constant of this class) with its `IN ({})` filled with these ids."""
        if not ids:
            return []
        return await self.store.fetch_all(sql.format(",".join("?" * len(ids))), list(ids))

    async def of_message(
        self, message_ref: str, *, channel: str | None = None, workspace_id: int | None = None
    ) -> list[int]:
        condition, params = where(
            {"channel": channel, "message_ref": message_ref, "workspace_id": workspace_id}
        )
        rows = await self.store.fetch_all(
            f"SELECT alert_id FROM alerts WHERE {condition} ORDER BY alert_id", params
        )
        return [int(r[0]) for r in rows]

    async def backlog(self) -> tuple[int, datetime | None]:
        row = await self.store.fetch_one(
            f"SELECT count(*), min(created_at) FROM alerts WHERE {PENDING}"
        )
        return (int(row[0]), from_iso(row[1])) if row is not None else (0, None)

    async def delivered_after(self, after: datetime) -> list[tuple[datetime | None, datetime]]:
        rows = await self.store.fetch_all(
            "SELECT created_at, delivered_at FROM alerts WHERE delivered_at > ? "
            "ORDER BY delivered_at",
            (to_iso(after),),
        )
        return delivery_times(rows)

    # ---- the outbox
    async def due(self, now: datetime) -> list[tuple[int, str]]:
        due = f"{PENDING} AND (next_attempt_at IS NULL OR next_attempt_at <= :now)"
        rows = await self.store.fetch_all(
            f"SELECT alert_id, channel FROM alerts WHERE ({due}) OR (failed = 0 AND "
            f"delivered_version < version AND send_key IN (SELECT send_key FROM alerts WHERE {due} "
            "AND send_key IS NOT NULL)) ORDER BY alert_id",
            {"now": to_iso(now)},
        )
        return [(int(r["alert_id"]), str(r["channel"])) for r in rows]

    async def sent_since(self, channel: str, since: datetime) -> int:
        rows = await self.store.fetch_all(
            "SELECT count(*) FROM deliveries WHERE channel = ? AND sent_at > ?",
            (channel, to_iso(since)),
        )
        return int(rows[0][0])

    async def claim(self, alert_ids: Sequence[int], send_key: str) -> bool:
        ids = sorted(set(alert_ids))
        async with self.store.transaction():
            free = await self.store.fetch_all(
                f"SELECT alert_id FROM alerts WHERE alert_id IN ({','.join('?' * len(ids))}) "
                f"AND {PENDING} AND (send_key IS NULL OR send_key = ?)",
                [*ids, send_key],
            )
            if len(free) != len(ids):
                return False
            await self.store.db.executemany(
                "UPDATE alerts SET send_key = ? WHERE alert_id = ?",
                [(send_key, alert_id) for alert_id in ids],
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
        at = to_iso(now)
        async with self.store.transaction():
            await self.store.db.executemany(
                "UPDATE alerts SET delivered_version = ?, "
                "delivered_at = coalesce(delivered_at, ?), message_ref = ?, digest = ?, "
                "send_key = NULL, attempts = 0, next_attempt_at = NULL, last_error = NULL "
                "WHERE alert_id = ?",
                [
                    (version, at, message_ref, int(digest), alert_id)
                    for alert_id, version in versions.items()
                ],
            )
            if count:
                await self.store.db.execute("INSERT INTO deliveries VALUES (?, ?)", (channel, at))
                await self.store.db.execute(
                    "DELETE FROM deliveries WHERE channel = ? AND sent_at < ?",
                    (channel, to_iso(now - timedelta(days=1))),
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
        retry = to_iso(retry_at)  # one time for the whole message
        async with self.store.transaction():
            await self.store.db.executemany(
                "UPDATE alerts SET attempts = ?, next_attempt_at = ?, last_error = ?, failed = ? "
                "WHERE alert_id = ?",
                [(attempts, retry, error, int(permanent), alert_id) for alert_id in alert_ids],
            )

    async def give_up_channel(self, channel: str, error: str) -> int:
        async with self.store.transaction():
            cursor = await self.store.db.execute(
                "UPDATE alerts SET failed = 1, last_error = ?, next_attempt_at = NULL "
                f"WHERE channel = ? AND {PENDING}",
                (error, channel),
            )
        return cursor.rowcount


def alert_of(r: Any, read_time: TimeReader = from_iso) -> AlertRow:
    """An `alerts` row (by column name) as a value."""
    return AlertRow(
        alert_id=r["alert_id"],
        workspace_id=r["workspace_id"],
        channel=r["channel"],
        story_id=r["story_id"],
        created_at=read_time(r["created_at"]) or datetime.min,
        updated_at=read_time(r["updated_at"]) or datetime.min,
        version=r["version"],
        delivered_version=r["delivered_version"],
        delivered_at=read_time(r["delivered_at"]),
        message_ref=r["message_ref"],
        send_key=r["send_key"],
        digest=bool(r["digest"]),
        attempts=r["attempts"],
        next_attempt_at=read_time(r["next_attempt_at"]),
        last_error=r["last_error"],
        failed=bool(r["failed"]),
    )


def sources_of(
    rows: Iterable[Any], read_time: TimeReader = from_iso
) -> dict[int, list[AlertSource]]:
    """Rows of (alert_id, article_id, source, title, url, published_at), in the order read, as
    each alert's sources."""
    found: dict[int, list[AlertSource]] = defaultdict(list)
    for r in rows:
        published = read_time(r["published_at"]) or datetime.min
        found[r["alert_id"]].append(
            AlertSource(r["article_id"], r["source"], r["title"], r["url"], published)
        )
    return dict(found)


def matches_of(rows: Iterable[Any]) -> dict[int, list[AlertMatch]]:
    """`alert_matches` rows, in the order read, as each alert's matches."""
    found: dict[int, list[AlertMatch]] = defaultdict(list)
    for r in rows:
        found[r["alert_id"]].append(AlertMatch(r["watch_id"], r["term"], r["article_id"], r["why"]))
    return dict(found)


def delivery_times(
    rows: Iterable[Any], read_time: TimeReader = from_iso
) -> list[tuple[datetime | None, datetime]]:
    """Rows of (created_at, delivered_at), delivered_at not NULL, as times."""
    out = []
    for created, delivered in rows:
        at = read_time(delivered)
        assert at is not None  # compared greater than a time: not NULL
        out.append((read_time(created), at))
    return out
