"""Stage: event metadata and the article queries over it, on PostgreSQL (part of `PgStore`).
Side effects: reads and writes `events`, `article_actors`, `article_places`,
`article_event_types`, `article_events`; settles `subscriptions.alert_newest`.

The methods of `index.store.sqlite.store.Store` for event metadata, with the same meaning. Rows are
read back through the SQLite engine's own readers (dates as ISO text, flags as 0/1), in the order
SQLite's keys give them (places by geonameid, actors by key), so both engines hand the layers above
the same values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from index.models import Article
from index.store.pg.values import read_timestamp, timestamp
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
from index.timeutil import to_iso

if TYPE_CHECKING:
    from index.extract.extractor import EventRecord

_TABLES = ("events", "article_actors", "article_places", "article_event_types", "article_events")


class EventRows:
    pool: Any

    async def save_events(
        self, rows: Sequence[tuple[int, EventRecord]], *, extractor: str, now: datetime
    ) -> None:
        """Store (replace) the event metadata of articles, in one transaction. The articles'
        rows are locked first, in id order: two processes extracting the same articles at once
        (each catching up at start-up) take turns instead of failing on each other's rows."""
        at = timestamp(now)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT 1 FROM articles WHERE article_id = ANY($1) ORDER BY article_id "
                "FOR NO KEY UPDATE",
                sorted({article_id for article_id, _ in rows}),
            )
            for article_id, record in rows:
                for table in _TABLES:
                    await conn.execute(f"DELETE FROM {table} WHERE article_id = $1", article_id)
                main = record.main_place
                await conn.execute(
                    "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    article_id,
                    record.event_date,
                    *count_values(record.casualties.killed),
                    *count_values(record.casualties.injured),
                    main.place.geonameid if main else None,
                    extractor,
                    at,
                )
                await conn.executemany(
                    "INSERT INTO article_actors VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    [(article_id, a.key, a.canonical, a.kind, a.text) for a in record.actors],
                )
                await conn.executemany(
                    "INSERT INTO article_places VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (article_id, geonameid) DO UPDATE "
                    "SET main = article_places.main OR excluded.main",
                    [
                        (
                            article_id,
                            m.place.geonameid,
                            m.place.name,
                            m.place.country_code,
                            m.place.admin1_code,
                            m.place.precision,
                            m.main,
                            m.text,
                        )
                        for m in record.places
                    ],
                )
                await conn.executemany(
                    "INSERT INTO article_event_types VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    [(article_id, t) for t in record.event_types],
                )
                await conn.executemany(
                    "INSERT INTO article_events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                    "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                    [_pg_event_row(article_id, seq, e) for seq, e in enumerate(record.events)],
                )

    async def article_events(self, article_id: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM article_events WHERE article_id = $1 ORDER BY seq", article_id
        )
        return [event_from_row(_as_sqlite(r)) for r in rows]

    async def articles_to_extract(self, extractor: str, limit: int) -> list[Article]:
        from index.store.pg.store import article_of

        rows = await self.pool.fetch(
            "SELECT a.* FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            "WHERE e.article_id IS NULL OR e.extractor != $1 ORDER BY a.article_id LIMIT $2",
            extractor,
            limit,
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
        """As `Store.find_articles`, newest first; of articles published at the same time, the
        one stored last first."""
        from index.store.pg.store import article_of

        where, params = _article_filters(
            workspace_id, actor_keys, region, event_types, since, until
        )
        rows = await self.pool.fetch(
            "SELECT a.* FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            f"WHERE {where} ORDER BY a.published_at DESC, a.article_id DESC "
            f"LIMIT ${len(params) + 1}",
            *params,
            limit,
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
        where, params = _article_filters(
            workspace_id, actor_keys, region, event_types, since, until
        )
        rows = await self.pool.fetch(
            "SELECT a.article_id FROM articles a LEFT JOIN events e ON e.article_id = a.article_id "
            f"WHERE {where} ORDER BY a.published_at DESC, a.article_id DESC "
            f"LIMIT ${len(params) + 1}",
            *params,
            limit,
        )
        return [int(r[0]) for r in rows]

    async def event_metadata(self, article_id: int) -> dict[str, Any] | None:
        event = await self.pool.fetchrow("SELECT * FROM events WHERE article_id = $1", article_id)
        if event is None:
            return None
        actors = await self.pool.fetch(
            "SELECT actor_key, name, kind, mention FROM article_actors WHERE article_id = $1 "
            "ORDER BY actor_key",
            article_id,
        )
        places = await self.pool.fetch(
            "SELECT geonameid, name, country_code, admin1_code, precision, main::int AS main, "
            "mention FROM article_places WHERE article_id = $1 ORDER BY geonameid",
            article_id,
        )
        types = await self.pool.fetch(
            "SELECT event_type FROM article_event_types WHERE article_id = $1 ORDER BY event_type",
            article_id,
        )
        shown = dict(event)
        shown["event_date"] = _iso_date(shown["event_date"])
        shown["extracted_at"] = to_iso(read_timestamp(shown["extracted_at"]) or datetime.min)
        return {
            "event": shown,
            "actors": [dict(r) for r in actors],
            "places": [dict(r) for r in places],
            "event_types": [r[0] for r in types],
        }

    async def article_meta(self, article_ids: Sequence[int]) -> dict[int, ArticleMeta]:
        ids = list(article_ids)
        events = await self.pool.fetch("SELECT * FROM events WHERE article_id = ANY($1)", ids)
        actors: dict[int, dict[str, tuple[str, str]]] = {}
        for r in await self.pool.fetch(
            "SELECT * FROM article_actors WHERE article_id = ANY($1) "
            "ORDER BY article_id, actor_key",
            ids,
        ):
            actors.setdefault(r["article_id"], {})[r["actor_key"]] = (r["name"], r["mention"])
        places: dict[int, list[PlaceRow]] = {}
        for r in await self.pool.fetch(
            "SELECT * FROM article_places WHERE article_id = ANY($1) "
            "ORDER BY article_id, geonameid",
            ids,
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
        for r in await self.pool.fetch(
            "SELECT * FROM article_event_types WHERE article_id = ANY($1)", ids
        ):
            types.setdefault(r["article_id"], set()).add(r["event_type"])
        each: dict[int, list[EventMeta]] = {}
        for r in await self.pool.fetch(
            "SELECT * FROM article_events WHERE article_id = ANY($1) ORDER BY article_id, seq",
            ids,
        ):
            each.setdefault(r["article_id"], []).append(event_meta(_as_sqlite(r)))
        out: dict[int, ArticleMeta] = {}
        for e in events:
            aid = e["article_id"]
            out[aid] = ArticleMeta(
                actors=actors.get(aid, {}),
                places=tuple(places.get(aid, ())),
                event_types=frozenset(types.get(aid, ())),
                killed=e["killed_best"],
                injured=e["injured_best"],
                event_date=e["event_date"],
                events=tuple(each.get(aid, ())),
            )
        return out

    async def article_workspaces(self, article_ids: Sequence[int]) -> dict[int, set[int]]:
        rows = await self.pool.fetch(
            "SELECT DISTINCT fe.article_id, s.workspace_id FROM feed_entries fe "
            "JOIN subscriptions s ON s.feed_id = fe.feed_id WHERE fe.article_id = ANY($1)",
            list(article_ids),
        )
        out: dict[int, set[int]] = {}
        for r in rows:
            out.setdefault(int(r[0]), set()).add(int(r[1]))
        return out

    async def alert_horizons(
        self, article_ids: Sequence[int]
    ) -> dict[tuple[int, int], datetime | None]:
        """As `Store.alert_horizons`."""
        await self._settle_newest()
        rows = await self.pool.fetch(
            "SELECT fe.article_id, s.workspace_id, s.alert_from FROM feed_entries fe "
            "JOIN subscriptions s ON s.feed_id = fe.feed_id WHERE fe.article_id = ANY($1)",
            list(article_ids),
        )
        out: dict[tuple[int, int], datetime | None] = {}
        for article_id, workspace_id, alert_from in rows:
            key = (int(article_id), int(workspace_id))
            when = read_timestamp(alert_from)
            known = out.get(key, when)
            out[key] = None if known is None or when is None else min(known, when)
        return out

    async def _settle_newest(self) -> None:
        waiting = await self.pool.fetch(
            "SELECT s.workspace_id, s.feed_id, s.alert_newest FROM subscriptions s "
            "JOIN feeds f ON f.feed_id = s.feed_id WHERE s.alert_newest IS NOT NULL "
            "AND f.last_polled_at IS NOT NULL AND f.last_polled_at >= s.created_at"
        )
        for workspace_id, feed_id, newest in waiting:
            at = await self.pool.fetchval(
                "SELECT a.published_at FROM feed_entries fe JOIN articles a "
                "ON a.article_id = fe.article_id WHERE fe.feed_id = $1 "
                "ORDER BY a.published_at DESC LIMIT 1 OFFSET $2",
                feed_id,
                int(newest) - 1,
            )
            await self.pool.execute(
                "UPDATE subscriptions SET alert_from = $1, alert_newest = NULL "
                "WHERE workspace_id = $2 AND feed_id = $3",
                at,
                workspace_id,
                feed_id,
            )


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pg_event_row(article_id: int, seq: int, event: Any) -> tuple[Any, ...]:
    """`index.store.rows.event_row` in this engine's types: DATE, JSONB as text, BOOLEAN."""
    row = list(event_row(article_id, seq, event))
    row[9] = date.fromisoformat(row[9]) if row[9] else None
    row[18], row[19], row[20] = bool(row[18]), bool(row[19]), bool(row[20])
    return tuple(row)


def _as_sqlite(r: Any) -> Any:
    """An `article_events` row as the SQLite engine reads it (the shared readers take that: a
    dict read as they read an aiosqlite.Row)."""
    row = dict(r)
    row["event_date"] = _iso_date(row["event_date"])
    for flag in ("main", "killed_civilians", "injured_civilians"):
        row[flag] = int(row[flag])
    for column in ("place", "actors", "sentences"):
        if row[column] is not None and not isinstance(row[column], str):
            row[column] = json.dumps(row[column])
    return row


def _article_filters(
    workspace_id: int,
    actor_keys: Sequence[str],
    region: PlaceFilter | None,
    event_types: Sequence[str],
    since: date | None,
    until: date | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (over `articles a LEFT JOIN events e`) and parameters of
    `find_articles`, as `index.store.sqlite.events._article_filters` on SQLite."""
    from index.store.pg.passages import visible

    params: list[Any] = [workspace_id]
    where = [visible("a.article_id", "$1")]

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if actor_keys:
        where.append(
            "a.article_id IN (SELECT x.article_id FROM article_actors x "
            f"WHERE x.actor_key = ANY({param(list(actor_keys))}))"
        )
    if region is not None:
        if region.geonameid is not None:
            clause = f"p.geonameid = {param(region.geonameid)}"
        elif region.admin1_code is not None:
            clause = (
                f"p.country_code = {param(region.country_code)} "
                f"AND p.admin1_code = {param(region.admin1_code)}"
            )
        else:
            clause = f"p.country_code = {param(region.country_code)}"
        where.append(f"a.article_id IN (SELECT p.article_id FROM article_places p WHERE {clause})")
    if event_types:
        where.append(
            "a.article_id IN (SELECT t.article_id FROM article_event_types t "
            f"WHERE t.event_type = ANY({param(list(event_types))}))"
        )
    day = "coalesce(e.event_date, (a.published_at AT TIME ZONE 'UTC')::date)"
    if since is not None:
        where.append(f"{day} >= {param(since)}")
    if until is not None:
        where.append(f"{day} <= {param(until)}")
    return " AND ".join(where), params
