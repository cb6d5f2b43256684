"""The alert tables and their outbox behind their interface (index/alertrows.py), on a real
SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.alertrows import AlertMatch, AlertRows, SqliteAlertRows, StoryMatches
from index.models import RawEntry
from index.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CHANNEL = "test:ops"


@dataclass
class World:
    store: Store
    rows: AlertRows
    workspace_id: int
    feed_id: int

    async def article(self, n: int, title: str) -> tuple[int, int]:
        """(article_id, story_id) of a new article."""
        saved = await self.store.save_entry(
            self.feed_id,
            RawEntry(f"g{n}", f"https://outlet.example/{n}", title, f"{title}. Text {n}.", NOW),
            source="Outlet",
            now=NOW,
            story_window=timedelta(hours=72),
            story_threshold=0.5,
        )
        return saved.article_id, saved.story_id

    def matches(self, story_id: int, *found: tuple[int, int]) -> StoryMatches:
        """The matches of one story: (watch_id, article_id) each."""
        return StoryMatches(
            self.workspace_id,
            CHANNEL,
            story_id,
            tuple(AlertMatch(w, f"term{w}", a, f"why {w}") for w, a in found),
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with Store.open(tmp_path / "wirewatch.db") as store:
        ws = await store.workspace_id("console", NOW)
        feed_id = await store.subscribe(
            ws, "https://outlet.example/feed.xml", interval_s=300, name="Outlet", now=NOW
        )
        yield World(store, SqliteAlertRows(store), ws, feed_id)


async def test_recording_is_idempotent_and_a_new_article_grows_the_version(world: World) -> None:
    article, story = await world.article(1, "Car bomb in Mosul")
    found = [world.matches(story, (7, article))]
    created, updated = await world.rows.record(found, NOW)
    assert len(created) == 1 and updated == []
    [alert_id] = created
    assert await world.rows.record(found, NOW + timedelta(minutes=1)) == ([], [])
    row = (await world.rows.get([alert_id]))[alert_id]
    assert (row.version, row.delivered_version, row.channel, row.story_id) == (1, 0, CHANNEL, story)
    assert [s.article_id for s in (await world.rows.sources([alert_id]))[alert_id]] == [article]
    assert (await world.rows.matches([alert_id]))[alert_id] == [
        AlertMatch(7, "term7", article, "why 7")
    ]

    other, _ = await world.article(2, "Market reopens in Basra")  # another story
    assert await world.rows.record([world.matches(story, (8, other))], NOW) == ([], [alert_id])
    assert (await world.rows.get([alert_id]))[alert_id].version == 2
    [joined] = await world.rows.story_alerts([story])
    assert (joined.alert_id, joined.workspace_id) == (alert_id, world.workspace_id)
    assert await world.rows.add_articles({alert_id: [other]}, NOW) == []  # listed already
    assert await world.rows.add_articles({}, NOW) == []


async def test_the_outbox_claims_delivers_fails_and_gives_up(world: World) -> None:
    ids = []
    for n in range(3):
        article, story = await world.article(n, f"Story number {n} about {'abc'[n]}")
        created, _ = await world.rows.record([world.matches(story, (1, article))], NOW)
        ids += created
    assert await world.rows.backlog() == (3, NOW)
    assert await world.rows.due(NOW) == [(i, CHANNEL) for i in ids]
    assert await world.rows.find(workspace_id=world.workspace_id, pending_only=True) == ids[::-1]

    await world.rows.claim(ids[:2], "d1n2")
    await world.rows.failed(
        [ids[0]], attempts=1, retry_at=NOW + timedelta(minutes=5), error="boom", permanent=False
    )
    # the claimed message goes again whole: its other member rides with the one still due
    assert [i for i, _ in await world.rows.due(NOW)] == ids
    await world.rows.failed(
        [ids[1]], attempts=1, retry_at=NOW + timedelta(minutes=5), error="boom", permanent=False
    )
    assert [i for i, _ in await world.rows.due(NOW)] == [ids[2]]

    await world.rows.delivered(
        CHANNEL, {ids[0]: 1, ids[1]: 1}, message_ref="m1", digest=True, now=NOW
    )
    assert await world.rows.sent_since(CHANNEL, NOW - timedelta(hours=1)) == 1
    assert await world.rows.of_message("m1", channel=CHANNEL) == ids[:2]
    first = (await world.rows.get([ids[0]]))[ids[0]]
    assert (first.delivered_at, first.send_key, first.attempts, first.digest) == (
        NOW,
        None,
        0,
        True,
    )
    assert await world.rows.delivered_after(NOW - timedelta(seconds=1)) == [(NOW, NOW)] * 2
    assert await world.rows.count(world.workspace_id, pending_only=True) == 1

    assert await world.rows.give_up_channel(CHANNEL, "gone") == 1
    gone = (await world.rows.get([ids[2]]))[ids[2]]
    assert (gone.failed, gone.last_error) == (True, "gone")
    assert await world.rows.backlog() == (0, None) and await world.rows.due(NOW) == []
    assert await world.rows.count(world.workspace_id) == 3


async def test_matching_reads_the_workspace_articles(world: World) -> None:
    a, _ = await world.article(1, "Car bomb in Mosul")
    b, _ = await world.article(2, "Market reopens in Basra")
    assert sorted(await world.rows.workspace_articles(world.workspace_id, None)) == [a, b]
    assert await world.rows.workspace_articles(world.workspace_id, NOW + timedelta(days=1)) == []
    assert await world.rows.article_count() == 2
    assert sorted(await world.rows.sample_articles(5)) == [a, b]
