"""The `watches` table behind its interface (index/watchrows.py), on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from index.store import Store
from index.watchrows import SqliteWatchRows, WatchDef, WatchRows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store.open(tmp_path / "wirewatch.db") as opened:
        yield opened


def keyword(workspace_id: int, channel: str, term: str) -> WatchDef:
    return WatchDef(
        workspace_id=workspace_id,
        channel=channel,
        kind="keyword",
        term=term,
        canonical=term,
        spec={"query": term},
        since=NOW,
        created_at=NOW,
    )


async def test_a_watch_reads_back_as_it_was_set(store: Store) -> None:
    rows: WatchRows = SqliteWatchRows(store)
    ws = await store.workspace_id("console", NOW)
    topic = WatchDef(
        workspace_id=ws,
        channel="console",
        kind="topic",
        term="drone strikes on power plants",
        canonical="drone strikes on power plants",
        spec={"description": "drone strikes on power plants", "threshold": None},
        since=NOW - timedelta(days=1),
        created_at=NOW,
        event_types=("Explosions/Remote violence",),
        min_killed=2,
        vector=np.array([0.6, 0.8], dtype=np.float32),
        vector_model="model-a",
    )
    row = await rows.add(topic)
    back = row.definition
    assert (back.spec, back.since, back.event_types, back.min_killed, back.vector_model) == (
        topic.spec,
        topic.since,
        topic.event_types,
        2,
        "model-a",
    )
    assert back.vector is not None and back.vector.tolist() == pytest.approx([0.6, 0.8])
    assert await rows.get(ws, row.watch_id) is not None
    assert await rows.get(ws + 1, row.watch_id) is None  # another workspace's id finds nothing

    assert [r.watch_id for r in await rows.topics_embedded_by_others("model-b")] == [row.watch_id]
    await rows.set_vector(row.watch_id, np.array([1.0, 0.0], dtype=np.float32), "model-b")
    assert await rows.topics_embedded_by_others("model-b") == []


async def test_mute_pause_unmute_and_remove(store: Store) -> None:
    rows = SqliteWatchRows(store)
    ws = await store.workspace_id("console", NOW)
    first = await rows.add(keyword(ws, "console", "mosul"))
    await rows.add(keyword(ws, "console", "aleppo"))
    assert await rows.count(ws) == 2
    assert await rows.mute(ws, first.watch_id, NOW + timedelta(hours=2))
    assert await rows.pause_channel("console", "channel gone", NOW) == 2
    assert await rows.pause_channel("console", "channel gone", NOW) == 0  # paused already
    assert await rows.active_channels(ws) == []
    assert await rows.unmute(ws, first.watch_id)
    resumed = await rows.get(ws, first.watch_id)
    assert resumed is not None
    assert (resumed.muted_until, resumed.paused_reason, resumed.paused_at) == (None, None, None)
    assert await rows.active_channels(ws) == ["console"]
    assert await rows.remove(ws, first.watch_id)
    assert not await rows.remove(ws, first.watch_id)
    assert await rows.count(ws) == 1


async def test_a_damaged_row_is_skipped_not_fatal(store: Store) -> None:
    rows = SqliteWatchRows(store)
    ws = await store.workspace_id("console", NOW)
    damaged = await rows.add(keyword(ws, "console", "mosul"))
    kept = await rows.add(keyword(ws, "console", "aleppo"))
    async with store.transaction():
        await store.db.execute(
            "UPDATE watches SET spec = '{not json' WHERE watch_id = ?", (damaged.watch_id,)
        )
    assert [r.watch_id for r in await rows.find(workspace_id=ws)] == [kept.watch_id]
