"""Stage: watch definitions <-> the `watches` table. Side effects: reads and writes that table.

`WatchRows` is all the watch list (bot/core/watches.py) asks of a database: rows in, rows out, as
typed values; what a watch means (its kind's spec, matching) stays with the bot.
`SqliteWatchRows` implements it on the `Store`'s connection; `bot/store/pg/watchrows.py` on
PostgreSQL. Both read rows into values with `watch_of`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from index.store.sqlite.store import Store, where
from index.timeutil import TimeReader, from_iso, required, to_iso

log = logging.getLogger(__name__)

# How an engine's driver hands back a vector column (SQLite's float32 BLOB, a pgvector value)
# as a float32 array, or None for NULL.
VectorReader = Callable[[Any], np.ndarray | None]


@dataclass(frozen=True, slots=True, eq=False)
class WatchDef:
    """A watch as it was set. `spec`: the JSON document of what its kind matches; `vector`: a
    topic's embedding, made by the model `vector_model`."""

    workspace_id: int
    channel: str
    kind: str
    term: str
    canonical: str | None
    spec: dict[str, Any]
    since: datetime
    created_at: datetime
    event_types: tuple[str, ...] = ()
    min_killed: int | None = None
    radius_km: float | None = None
    vector: np.ndarray | None = None
    vector_model: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class WatchRow:
    """One stored watch: its definition, and whether it is muted or paused."""

    watch_id: int
    definition: WatchDef
    muted_until: datetime | None = None
    paused_reason: str | None = None
    paused_at: datetime | None = None


class WatchRows(Protocol):
    """The `watches` table. Every method is its own transaction."""

    async def add(self, watch: WatchDef) -> WatchRow: ...

    async def get(self, workspace_id: int, watch_id: int) -> WatchRow | None: ...

    async def find(
        self, *, workspace_id: int | None = None, channel: str | None = None
    ) -> list[WatchRow]:
        """The watches of a workspace and/or a channel (all when both are None), oldest first;
        a row that cannot be read is logged and skipped."""
        ...

    async def remove(self, workspace_id: int, watch_id: int) -> bool: ...

    async def mute(self, workspace_id: int, watch_id: int, until: datetime) -> bool: ...

    async def unmute(self, workspace_id: int, watch_id: int) -> bool:
        """End a watch's mute and its pause."""
        ...

    async def pause_channel(self, channel: str, reason: str, now: datetime) -> int:
        """Pause the watches of `channel` not paused yet; returns how many."""
        ...

    async def count(self, workspace_id: int) -> int: ...

    async def active_channels(self, workspace_id: int) -> list[str]:
        """The channels of a workspace with a watch that is not paused, sorted."""
        ...

    async def topics_embedded_by_others(self, model_id: str) -> list[WatchRow]:
        """Topic watches whose vector another model (or none known) made."""
        ...

    async def set_vector(self, watch_id: int, vector: np.ndarray, model_id: str) -> None: ...


class SqliteWatchRows:
    """`WatchRows` on the SQLite store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, watch: WatchDef) -> WatchRow:
        vector = None if watch.vector is None else _vector_bytes(watch.vector)
        async with self.store.transaction():
            cursor = await self.store.db.execute(
                "INSERT INTO watches (workspace_id, channel, kind, term, canonical, spec, "
                "event_types, min_killed, radius_km, vector, vector_model, since, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    watch.workspace_id,
                    watch.channel,
                    watch.kind,
                    watch.term,
                    watch.canonical,
                    json.dumps(watch.spec, ensure_ascii=False),
                    json.dumps(list(watch.event_types)) if watch.event_types else None,
                    watch.min_killed,
                    watch.radius_km,
                    vector,
                    watch.vector_model,
                    to_iso(watch.since),
                    to_iso(watch.created_at),
                ),
            )
            watch_id = cursor.lastrowid
        assert watch_id is not None
        found = await self.get(watch.workspace_id, watch_id)
        assert found is not None
        return found

    async def get(self, workspace_id: int, watch_id: int) -> WatchRow | None:
        row = await self.store.fetch_one(
            "SELECT * FROM watches WHERE watch_id = ? AND workspace_id = ?",
            (watch_id, workspace_id),
        )
        return watch_of(row) if row else None

    async def find(
        self, *, workspace_id: int | None = None, channel: str | None = None
    ) -> list[WatchRow]:
        condition, params = where({"workspace_id": workspace_id, "channel": channel})
        sql = f"SELECT * FROM watches WHERE {condition} ORDER BY watch_id"
        return readable_watches(await self.store.fetch_all(sql, params))

    async def remove(self, workspace_id: int, watch_id: int) -> bool:
        return bool(
            await self._write(
                "DELETE FROM watches WHERE watch_id = ? AND workspace_id = ?",
                (watch_id, workspace_id),
            )
        )

    async def mute(self, workspace_id: int, watch_id: int, until: datetime) -> bool:
        return bool(
            await self._write(
                "UPDATE watches SET muted_until = ? WHERE watch_id = ? AND workspace_id = ?",
                (to_iso(until), watch_id, workspace_id),
            )
        )

    async def unmute(self, workspace_id: int, watch_id: int) -> bool:
        return bool(
            await self._write(
                "UPDATE watches SET muted_until = NULL, paused_reason = NULL, paused_at = NULL "
                "WHERE watch_id = ? AND workspace_id = ?",
                (watch_id, workspace_id),
            )
        )

    async def pause_channel(self, channel: str, reason: str, now: datetime) -> int:
        return await self._write(
            "UPDATE watches SET paused_reason = ?, paused_at = ? "
            "WHERE channel = ? AND paused_reason IS NULL",
            (reason, to_iso(now), channel),
        )

    async def count(self, workspace_id: int) -> int:
        row = await self.store.fetch_one(
            "SELECT count(*) FROM watches WHERE workspace_id = ?", (workspace_id,)
        )
        assert row is not None
        return int(row[0])

    async def active_channels(self, workspace_id: int) -> list[str]:
        rows = await self.store.fetch_all(
            "SELECT DISTINCT channel FROM watches WHERE workspace_id = ? "
            "AND paused_reason IS NULL ORDER BY channel",
            (workspace_id,),
        )
        return [str(r[0]) for r in rows]

    async def topics_embedded_by_others(self, model_id: str) -> list[WatchRow]:
        rows = await self.store.fetch_all(
            "SELECT * FROM watches WHERE kind = 'topic' AND vector IS NOT NULL "
            "AND (vector_model IS NULL OR vector_model != ?) ORDER BY watch_id",
            (model_id,),
        )
        return readable_watches(rows)

    async def set_vector(self, watch_id: int, vector: np.ndarray, model_id: str) -> None:
        await self._write(
            "UPDATE watches SET vector = ?, vector_model = ? WHERE watch_id = ?",
            (_vector_bytes(vector), model_id, watch_id),
        )

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement in its own transaction; returns the rows it changed."""
        async with self.store.transaction():
            cursor = await self.store.db.execute(sql, params)
        return cursor.rowcount


def _vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _vector_of_blob(value: bytes | None) -> np.ndarray | None:
    return np.frombuffer(value, dtype=np.float32) if value else None


def readable_watches(
    rows: list[Any], read_time: TimeReader = from_iso, read_vector: VectorReader = _vector_of_blob
) -> list[WatchRow]:
    """`watch_of` each row; a row that cannot be read is logged and skipped."""
    found = []
    for r in rows:
        try:
            found.append(watch_of(r, read_time, read_vector))
        except (ValueError, KeyError, TypeError):  # a damaged row must not silence the others
            log.warning("watch %s cannot be read and is skipped", r["watch_id"], exc_info=True)
    return found


def watch_of(
    r: Any, read_time: TimeReader = from_iso, read_vector: VectorReader = _vector_of_blob
) -> WatchRow:
    """A `watches` row (by column name; `spec` and `event_types` as JSON text) as a value."""
    definition = WatchDef(
        workspace_id=r["workspace_id"],
        channel=r["channel"],
        kind=r["kind"],
        term=r["term"],
        canonical=r["canonical"],
        spec=dict(json.loads(r["spec"])),
        since=required(read_time(r["since"])),
        created_at=required(read_time(r["created_at"])),
        event_types=tuple(json.loads(r["event_types"])) if r["event_types"] else (),
        min_killed=r["min_killed"],
        radius_km=r["radius_km"],
        vector=read_vector(r["vector"]),
        vector_model=r["vector_model"],
    )
    return WatchRow(
        watch_id=r["watch_id"],
        definition=definition,
        muted_until=read_time(r["muted_until"]),
        paused_reason=r["paused_reason"],
        paused_at=read_time(r["paused_at"]),
    )
