"""The `watches` table behind its interface (bot/store/watchrows.py), on each engine: a real SQLite
file and a real PostgreSQL database run the same test bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.store.watchrows import WatchDef
from tests.engines import Engine

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


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


async def test_a_watch_reads_back_as_it_was_set(engine: Engine) -> None:
    rows = engine.watches
    ws = await engine.workspace("console", NOW)
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
        radius_km=25.5,
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
    assert (back.created_at, back.radius_km, back.since.tzinfo) == (NOW, 25.5, UTC)
    assert back.vector is not None and back.vector.dtype == np.float32
    assert back.vector.tolist() == pytest.approx([0.6, 0.8])
    assert await rows.get(ws, row.watch_id) is not None
    assert await rows.get(ws + 1, row.watch_id) is None  # another workspace's id finds nothing

    assert [r.watch_id for r in await rows.topics_embedded_by_others("model-b")] == [row.watch_id]
    await rows.set_vector(row.watch_id, np.array([1.0, 0.0, 0.0], dtype=np.float32), "model-b")
    assert await rows.topics_embedded_by_others("model-b") == []
    again = await rows.get(ws, row.watch_id)
    assert again is not None and again.definition.vector is not None
    assert again.definition.vector.tolist() == [1.0, 0.0, 0.0]  # any dimension


async def test_find_by_workspace_and_channel(engine: Engine) -> None:
    rows = engine.watches
    ws = await engine.workspace("console", NOW)
    other = await engine.workspace("discord:1", NOW)
    first = await rows.add(keyword(ws, "console", "mosul"))
    second = await rows.add(keyword(ws, "side", "aleppo"))
    third = await rows.add(keyword(other, "discord:1:2", "goma"))
    assert first.definition.event_types == () and first.definition.vector is None
    ids = [first.watch_id, second.watch_id, third.watch_id]
    assert [r.watch_id for r in await rows.find()] == ids
    assert [r.watch_id for r in await rows.find(workspace_id=ws)] == ids[:2]
    assert [r.watch_id for r in await rows.find(channel="side")] == ids[1:2]
    assert await rows.find(workspace_id=other, channel="console") == []


async def test_mute_pause_unmute_and_remove(engine: Engine) -> None:
    rows = engine.watches
    ws = await engine.workspace("console", NOW)
    first = await rows.add(keyword(ws, "console", "mosul"))
    await rows.add(keyword(ws, "console", "aleppo"))
    assert await rows.count(ws) == 2
    assert await rows.mute(ws, first.watch_id, NOW + timedelta(hours=2))
    muted = await rows.get(ws, first.watch_id)
    assert muted is not None and muted.muted_until == NOW + timedelta(hours=2)
    assert await rows.pause_channel("console", "channel gone", NOW) == 2
    assert await rows.pause_channel("console", "channel gone", NOW) == 0  # paused already
    paused = await rows.get(ws, first.watch_id)
    assert paused is not None and (paused.paused_reason, paused.paused_at) == ("channel gone", NOW)
    assert await rows.active_channels(ws) == []
    assert await rows.unmute(ws, first.watch_id)
    resumed = await rows.get(ws, first.watch_id)
    assert resumed is not None
    assert (resumed.muted_until, resumed.paused_reason, resumed.paused_at) == (None, None, None)
    assert await rows.active_channels(ws) == ["console"]
    assert not await rows.mute(ws + 1, first.watch_id, NOW)  # not that workspace's watch
    assert await rows.remove(ws, first.watch_id)
    assert not await rows.remove(ws, first.watch_id)
    assert await rows.count(ws) == 1


async def test_a_damaged_row_is_skipped_not_fatal(engine: Engine) -> None:
    rows = engine.watches
    ws = await engine.workspace("console", NOW)
    damaged = await rows.add(keyword(ws, "console", "mosul"))
    kept = await rows.add(keyword(ws, "console", "aleppo"))
    await engine.damage_watch(damaged.watch_id)
    assert [r.watch_id for r in await rows.find(workspace_id=ws)] == [kept.watch_id]
