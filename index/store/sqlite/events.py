"""Stage: event metadata and the article queries over it, on SQLite (part of `Store`).
Side effects: reads and writes `events`, `article_actors`, `article_places`,
`article_event_types`, `article_events`; settles `subscriptions.alert_newest`.

The methods of `index.store.sqlite.store.Store` for event metadata: storing what extraction found,
reading it back for matching and display, finding a workspace's articles by actor, place, event type
and date, and which workspaces an article may alert. index/store/pg/events.py has the same methods
on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from index.models import Article
from index.store.rows import (
    ArticleMeta,
    EventMeta,
    PlaceFilter,
    PlaceRow,
    count_values,
    event_from_row,
    event_meta,
    event_row,
)
from index.store.sqlite.base import StoreBase, article_of
from index.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from index.extract.extractor import EventRecord


class EventRows(StoreBase):
    """The event-metadata methods of `Store`."""

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
                        *count_values(killed),
                        *count_values(injured),
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
                    [event_row(article_id, seq, e) for seq, e in enumerate(record.events)],
                )

    async def article_events(self, article_id: int) -> list[dict[str, Any]]:
        """The stored events of one article, each as in `extract --json`'s `events`."""
        rows = await self._all(
            "SELECT * FROM article_events WHERE article_id = ? ORDER BY seq", (article_id,)
        )
        return [event_from_row(r) for r in rows]

    async def articles_to_extract(self, extractor: str, limit: int) -> list[Article]:
        """Articles with no event metadata from this extractor version."""
        rows = await self._all(
            "SELECT a.* FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            "WHERE e.article_id IS NULL OR e.extractor != ? ORDER BY a.article_id LIMIT ?",
            (extractor, limit),
        )
        return [article_of(r) for r in rows]

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
        return [article_of(r) for r in rows]

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
                each.setdefault(r["article_id"], []).append(event_meta(r))
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
