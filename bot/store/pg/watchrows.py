"""Stage: watch definitions <-> the `watches` table, on PostgreSQL. Side effects: reads and
writes that table.

`PgWatchRows` implements `bot.store.watchrows.WatchRows` with the semantics of `SqliteWatchRows`:
each method is one statement, so its own transaction; `spec` and `event_types` are JSONB and
a topic's embedding a pgvector `vector` (any dimension).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from bot.store.watchrows import WatchDef, WatchRow, readable_watches, watch_of
from index.store.pg.values import json_text, read_timestamp, timestamp, where


class PgWatchRows:
    """`WatchRows` on a PostgreSQL pool (index/store/pg/connect.py)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def add(self, watch: WatchDef) -> WatchRow:
        row = await self.pool.fetchrow(
            "INSERT INTO watches (workspace_id, channel, kind, term, canonical, spec, "
            "event_types, min_killed, radius_km, vector, vector_model, since, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *",
            watch.workspace_id,
            watch.channel,
            watch.kind,
            watch.term,
            watch.canonical,
            json_text(watch.spec),
            json_text(list(watch.event_types)) if watch.event_types else None,
            watch.min_killed,
            watch.radius_km,
            None if watch.vector is None else _vector(watch.vector),
            watch.vector_model,
            timestamp(watch.since),
            timestamp(watch.created_at),
        )
        return _watch(row)

    async def get(self, workspace_id: int, watch_id: int) -> WatchRow | None:
        row = await self.pool.fetchrow(
            "SELECT * FROM watches WHERE watch_id = $1 AND workspace_id = $2",
            watch_id,
            workspace_id,
        )
        return _watch(row) if row else None

    async def find(
        self, *, workspace_id: int | None = None, channel: str | None = None
    ) -> list[WatchRow]:
        condition, params = where({"workspace_id": workspace_id, "channel": channel})
        sql = f"SELECT * FROM watches WHERE {condition} ORDER BY watch_id"
        return _readable(await self.pool.fetch(sql, *params))

    async def remove(self, workspace_id: int, watch_id: int) -> bool:
        return bool(
            await self._write(
                "DELETE FROM watches WHERE watch_id = $1 AND workspace_id = $2",
                watch_id,
                workspace_id,
            )
        )

    async def mute(self, workspace_id: int, watch_id: int, until: datetime) -> bool:
        return bool(
            await self._write(
                "UPDATE watches SET muted_until = $1 WHERE watch_id = $2 AND workspace_id = $3",
                timestamp(until),
                watch_id,
                workspace_id,
            )
        )

    async def unmute(self, workspace_id: int, watch_id: int) -> bool:
        return bool(
            await self._write(
                "UPDATE watches SET muted_until = NULL, paused_reason = NULL, paused_at = NULL "
                "WHERE watch_id = $1 AND workspace_id = $2",
                watch_id,
                workspace_id,
            )
        )

    async def pause_channel(self, channel: str, reason: str, now: datetime) -> int:
        return await self._write(
            "UPDATE watches SET paused_reason = $1, paused_at = $2 "
            "WHERE channel = $3 AND paused_reason IS NULL",
            reason,
            timestamp(now),
            channel,
        )

    async def count(self, workspace_id: int) -> int:
        found = await self.pool.fetchval(
            "SELECT count(*) FROM watches WHERE workspace_id = $1", workspace_id
        )
        return int(found)

    async def active_channels(self, workspace_id: int) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT DISTINCT channel FROM watches WHERE workspace_id = $1 "
            "AND paused_reason IS NULL ORDER BY channel",
            workspace_id,
        )
        return [str(r["channel"]) for r in rows]

    async def topics_embedded_by_others(self, model_id: str) -> list[WatchRow]:
        rows = await self.pool.fetch(
            "SELECT * FROM watches WHERE kind = 'topic' AND vector IS NOT NULL "
            "AND (vector_model IS NULL OR vector_model != $1) ORDER BY watch_id",
            model_id,
        )
        return _readable(rows)

    async def set_vector(self, watch_id: int, vector: np.ndarray, model_id: str) -> None:
        await self._write(
            "UPDATE watches SET vector = $1, vector_model = $2 WHERE watch_id = $3",
            _vector(vector),
            model_id,
            watch_id,
        )

    async def _write(self, sql: str, *params: Any) -> int:
        """Run one statement (its own transaction); returns the rows it changed."""
        status: str = await self.pool.execute(sql, *params)
        return int(status.rsplit(" ", 1)[-1])


def _vector(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float32).reshape(-1)


def _vector_of(value: Any) -> np.ndarray | None:
    """A pgvector `vector` as read (pgvector.Vector) as a float32 array."""
    return None if value is None else value.to_numpy()


def _watch(r: Any) -> WatchRow:
    return watch_of(r, read_timestamp, _vector_of)


def _readable(rows: list[Any]) -> list[WatchRow]:
    return readable_watches(rows, read_timestamp, _vector_of)
