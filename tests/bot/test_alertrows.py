"""The alert tables and their outbox behind their interface (bot/store/alertrows.py), on each
engine: a real SQLite file and a real PostgreSQL database run the same test bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.store.alertrows import AlertMatch, AlertRows, StoryMatches
from tests.engines import Engine

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CHANNEL = "test:ops"
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@dataclass
class World:
    """A workspace following one feed, and another workspace following another."""

    engine: Engine
    rows: AlertRows
    workspace_id: int
    feed_id: int
    other_workspace_id: int
    other_feed_id: int

    async def article(self, n: int, *, story_id: int | None = None) -> tuple[int, int]:
        """(article_id, story_id) of a new article of the followed feed, published n minutes
        after NOW."""
        return await self.engine.article(self.feed_id, n, NOW + n * MINUTE, story_id=story_id)

    def matches(
        self, story_id: int, *found: tuple[int, int], channel: str = CHANNEL
    ) -> StoryMatches:
        """The matches of one story: (watch_id, article_id) each."""
        return StoryMatches(
            self.workspace_id,
            channel,
            story_id,
            tuple(AlertMatch(w, f"term{w}", a, f"why {w}") for w, a in found),
        )

    async def alerts(self, count: int) -> list[int]:
        """`count` new alerts of CHANNEL, one story each, created a minute apart."""
        ids = []
        for n in range(count):
            article, story = await self.article(100 + n)
            created, _ = await self.rows.record(
                [self.matches(story, (1, article))], NOW + n * MINUTE
            )
            ids += created
        return ids


@pytest.fixture
async def world(engine: Engine) -> World:
    ws = await engine.workspace("console", NOW)
    feed = await engine.follow(ws, "https://outlet.example/feed.xml", NOW, channel=None, name="O")
    other = await engine.workspace("discord:1", NOW)
    other_feed = await engine.follow(
        other, "https://elsewhere.example/feed.xml", NOW, channel=None, name="E"
    )
    return World(engine, engine.alerts, ws, feed, other, other_feed)


async def test_recording_is_idempotent_and_a_new_article_grows_the_version(world: World) -> None:
    rows = world.rows
    article, story = await world.article(1)
    sibling, _ = await world.article(2, story_id=story)
    unfollowed, _ = await world.engine.article(
        world.other_feed_id, 3, NOW + 3 * MINUTE, story_id=story
    )
    found = [world.matches(story, (7, article))]
    created, updated = await rows.record(found, NOW)
    assert len(created) == 1 and updated == []
    [alert_id] = created
    assert await rows.record(found, NOW + MINUTE) == ([], [])  # recorded already
    assert await rows.record([], NOW) == ([], [])
    row = (await rows.get([alert_id]))[alert_id]
    assert (row.workspace_id, row.channel, row.story_id) == (world.workspace_id, CHANNEL, story)
    assert (row.version, row.delivered_version, row.created_at, row.updated_at) == (1, 0, NOW, NOW)
    assert (row.delivered_at, row.message_ref, row.send_key, row.digest) == (
        None,
        None,
        None,
        False,
    )
    assert (row.attempts, row.next_attempt_at, row.last_error, row.failed) == (0, None, None, False)
    # the new alert lists the story's articles its workspace follows, oldest first
    [first, second] = (await rows.sources([alert_id]))[alert_id]
    assert (first.article_id, second.article_id) == (article, sibling)
    assert (first.source, first.title, first.url, first.published_at) == (
        "Outlet",
        "Title 1",
        "https://outlet.example/1",
        NOW + MINUTE,
    )
    assert unfollowed not in {s.article_id for s in (await rows.sources([alert_id]))[alert_id]}
    assert (await rows.matches([alert_id]))[alert_id] == [AlertMatch(7, "term7", article, "why 7")]

    other, other_story = await world.article(4)  # another story, matched for this one
    later = NOW + 5 * MINUTE
    assert await rows.record([world.matches(story, (8, other))], later) == ([], [alert_id])
    grown = (await rows.get([alert_id]))[alert_id]
    assert (grown.version, grown.created_at, grown.updated_at) == (2, NOW, later)
    assert [m.watch_id for m in (await rows.matches([alert_id]))[alert_id]] == [7, 8]
    assert [s.article_id for s in (await rows.sources([alert_id]))[alert_id]] == [
        article,
        sibling,
        other,
    ]
    [joined] = await rows.story_alerts([story, other_story])
    assert (joined.alert_id, joined.workspace_id, joined.story_id) == (
        alert_id,
        world.workspace_id,
        story,
    )
    assert await rows.story_alerts([]) == []

    assert await rows.add_articles({alert_id: [other]}, later) == []  # listed already
    assert await rows.add_articles({}, NOW) == []
    assert await rows.add_articles({alert_id: [unfollowed, unfollowed]}, later) == [alert_id]
    assert (await rows.get([alert_id]))[alert_id].version == 3

    # another channel of the workspace gets its own alert for the same story
    [elsewhere] = (await rows.record([world.matches(story, (9, article), channel="c2")], NOW))[0]
    assert elsewhere != alert_id
    assert sorted(a.alert_id for a in await rows.story_alerts([story])) == [alert_id, elsewhere]
    assert await rows.get([]) == {} and await rows.sources([]) == {}
    assert await rows.matches([]) == {} and await rows.get([elsewhere + 1]) == {}


async def test_reading_alerts_by_workspace_channel_and_message(world: World) -> None:
    rows = world.rows
    ids = await world.alerts(3)
    article, story = await world.article(9)
    other_ws = StoryMatches(
        world.other_workspace_id, "c9", story, (AlertMatch(1, "t", article, "w"),)
    )
    [foreign] = (await rows.record([other_ws], NOW))[0]

    assert await rows.find(workspace_id=world.workspace_id) == ids[::-1]  # newest first
    assert await rows.find(workspace_id=world.workspace_id, limit=2) == ids[:0:-1]
    assert await rows.find(channel="c9") == [foreign]
    # created at NOW like the first: the id breaks the tie
    assert await rows.find() == [ids[2], ids[1], foreign, ids[0]]
    assert await rows.find(channel="nowhere") == []
    assert await rows.count(world.workspace_id) == 3
    assert await rows.count(world.other_workspace_id, pending_only=True) == 1

    await rows.delivered(CHANNEL, {ids[0]: 1, ids[1]: 1}, message_ref="m1", digest=True, now=NOW)
    await rows.delivered("c9", {foreign: 1}, message_ref="m1", digest=False, now=NOW)
    assert await rows.find(workspace_id=world.workspace_id, pending_only=True) == [ids[2]]
    assert await rows.count(world.workspace_id, pending_only=True) == 1
    assert await rows.of_message("m1") == [*ids[:2], foreign]
    assert await rows.of_message("m1", channel=CHANNEL) == ids[:2]
    assert await rows.of_message("m1", workspace_id=world.other_workspace_id) == [foreign]
    assert await rows.of_message("m2") == []


async def test_the_outbox_claims_delivers_fails_and_gives_up(world: World) -> None:
    rows = world.rows
    assert await rows.backlog() == (0, None)
    ids = await world.alerts(3)
    assert await rows.backlog() == (3, NOW)
    assert await rows.due(NOW) == [(i, CHANNEL) for i in ids]

    assert await rows.claim(ids[:2], "d1n2")
    claimed = await rows.get(ids)
    assert [claimed[i].send_key for i in ids] == ["d1n2", "d1n2", None]
    retry_at = NOW + 5 * MINUTE
    await rows.failed([ids[0]], attempts=1, retry_at=retry_at, error="boom", permanent=False)
    # the claimed message goes again whole: its other member rides with the one still due
    assert [i for i, _ in await rows.due(NOW)] == ids
    await rows.failed([ids[1]], attempts=1, retry_at=retry_at, error="boom", permanent=False)
    assert [i for i, _ in await rows.due(NOW)] == [ids[2]]
    assert [i for i, _ in await rows.due(retry_at)] == ids  # retried when its time comes
    retry = (await rows.get([ids[0]]))[ids[0]]
    assert (retry.attempts, retry.next_attempt_at, retry.last_error, retry.failed) == (
        1,
        retry_at,
        "boom",
        False,
    )

    sent_at = NOW + 10 * MINUTE + timedelta(milliseconds=400)
    await rows.delivered(
        CHANNEL, {ids[0]: 1, ids[1]: 1}, message_ref="m1", digest=True, now=sent_at
    )
    assert await rows.sent_since(CHANNEL, NOW) == 1
    assert await rows.sent_since(CHANNEL, NOW + 10 * MINUTE) == 0  # kept to the second
    assert await rows.sent_since("elsewhere", NOW) == 0
    first = (await rows.get([ids[0]]))[ids[0]]
    assert (first.delivered_version, first.delivered_at, first.message_ref) == (
        1,
        NOW + 10 * MINUTE,
        "m1",
    )
    assert (first.send_key, first.attempts, first.next_attempt_at, first.last_error) == (
        None,
        0,
        None,
        None,
    )
    assert first.digest
    assert sorted(await rows.delivered_after(NOW)) == [
        (NOW, NOW + 10 * MINUTE),
        (NOW + MINUTE, NOW + 10 * MINUTE),
    ]
    assert await rows.delivered_after(NOW + 10 * MINUTE) == []
    assert await rows.backlog() == (1, NOW + 2 * MINUTE)

    # an edit of a delivered message: the first delivery's time stays; uncounted, no message
    await rows.delivered(
        CHANNEL, {ids[0]: 1}, message_ref="m1", digest=False, now=NOW + HOUR, count=False
    )
    assert (await rows.get([ids[0]]))[ids[0]].delivered_at == NOW + 10 * MINUTE
    assert await rows.sent_since(CHANNEL, NOW) == 1
    # a message a day later prunes the deliveries older than a day
    await rows.delivered(CHANNEL, {}, message_ref=None, digest=False, now=NOW + 2 * DAY)
    assert await rows.sent_since(CHANNEL, NOW - DAY) == 1

    await rows.failed([ids[2]], attempts=3, retry_at=NOW, error="forbidden", permanent=True)
    gone = (await rows.get([ids[2]]))[ids[2]]
    assert (gone.failed, gone.attempts, gone.last_error) == (True, 3, "forbidden")
    assert await rows.due(NOW + DAY) == [] and await rows.backlog() == (0, None)
    assert await rows.count(world.workspace_id, pending_only=True) == 0
    assert await rows.count(world.workspace_id) == 3


async def test_giving_up_a_channel_fails_its_pending_alerts(world: World) -> None:
    rows = world.rows
    ids = await world.alerts(3)
    await rows.delivered(CHANNEL, {ids[0]: 1}, message_ref="m1", digest=False, now=NOW)
    await rows.failed([ids[1]], attempts=2, retry_at=NOW + HOUR, error="boom", permanent=False)
    assert await rows.give_up_channel("elsewhere", "gone") == 0
    assert await rows.give_up_channel(CHANNEL, "gone") == 2
    found = await rows.get(ids)
    assert [(found[i].failed, found[i].last_error, found[i].next_attempt_at) for i in ids] == [
        (False, None, None),  # delivered: not pending
        (True, "gone", None),
        (True, "gone", None),
    ]
    assert await rows.give_up_channel(CHANNEL, "gone") == 0
    assert await rows.backlog() == (0, None) and await rows.due(NOW + DAY) == []


async def test_matching_reads_the_workspace_articles(world: World) -> None:
    rows = world.rows
    a, _ = await world.article(1)
    b, _ = await world.article(2)
    c, _ = await world.engine.article(world.other_feed_id, 3, NOW, story_id=None)
    assert await rows.workspace_articles(world.workspace_id, None) == [b, a]  # newest first
    assert await rows.workspace_articles(world.workspace_id, NOW + 2 * MINUTE) == [b]
    assert await rows.workspace_articles(world.workspace_id, NOW + DAY) == []
    assert await rows.workspace_articles(world.other_workspace_id, None) == [c]
    assert await rows.article_count() == 3
    assert sorted(await rows.sample_articles(5)) == sorted([a, b, c])
    assert len(set(await rows.sample_articles(2)) & {a, b, c}) == 2


async def test_a_claim_is_all_or_nothing(world: World) -> None:
    """Two senders overlapping while the sender lease changes hands: each message's alerts are
    claimed under one key, and a message whose alerts another key holds is not claimed."""
    rows = world.rows
    ids = await world.alerts(3)
    assert await rows.claim(ids[:2], "d1n2")
    assert not await rows.claim(ids, "d1n3"), "two of them are another message's"
    assert not await rows.claim([ids[1]], "a2")
    after = await rows.get(ids)
    assert [after[i].send_key for i in ids] == ["d1n2", "d1n2", None], "nothing half-claimed"
    assert await rows.claim(ids[:2], "d1n2"), "the same message again (a retry) may"
    assert await rows.claim([ids[2]], "a3")

    await rows.delivered(CHANNEL, {ids[2]: 1}, message_ref="m3", digest=False, now=NOW)
    assert not await rows.claim([ids[2]], "a3"), "a delivered alert is not posted again"
    await rows.failed([ids[0]], attempts=1, retry_at=NOW, error="gone", permanent=True)
    assert not await rows.claim(ids[:2], "d1n2"), "nor one given up"
