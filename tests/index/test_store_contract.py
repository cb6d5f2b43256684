"""The store's contract, on each engine: `Store` (SQLite, FTS5, FAISS) and `PgStore`
(PostgreSQL, tsvector, pgvector) run the same test bodies and must give the same answers.

Text ranks differ in value between the engines (BM25 against ts_rank), so the tests compare
their order only. The last tests are PostgreSQL's own: feed claims shared by workers, and
what concurrent transactions (several workers on one database) must not break: one article per
entry, a feed's interval, extraction of the same articles.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.extract.actors import actor_key
from index.extract.casualties import Casualties, Count
from index.extract.events import Event, EventActor, event_doc
from index.extract.extractor import ActorRef, EventRecord
from index.extract.places.types import Place, PlaceMention
from index.models import Passage, RawEntry
from index.retrieve.passages import content_hash, embed_text
from index.retrieve.vectors import VectorIndex
from index.store.rows import ArticleMeta, EventMeta, PlaceFilter, PlaceRow
from index.store.sqlite.store import Store
from index.timeutil import to_iso
from tests.pg import fresh_database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
MODEL = "hash-16"
DIM = 16


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store on each engine in turn (PgStore has Store's methods)."""
    if request.param == "sqlite":
        async with Store.open(tmp_path / "w.db") as opened:
            yield opened
        return
    from index.store.pg.store import PgStore

    server_url = request.getfixturevalue("pg_server_url")  # pg_url is async: not from here
    async with fresh_database(server_url) as url, PgStore.open(url, max_size=4) as pg:
        yield pg  # type: ignore[misc]


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Any]:
    from index.store.pg.store import PgStore

    async with PgStore.open(pg_url, max_size=6) as pg:
        yield pg


# ---- helpers --------------------------------------------------------------------------------
async def row_of(store: Any, sql: str, *params: Any) -> tuple[Any, ...] | None:
    """One row of `sql` (written with `?` marks) on either engine, for what no method reads."""
    if isinstance(store, Store):
        found = await store.fetch_one(sql, params)
    else:
        numbers = itertools.count(1)
        found = await store.pool.fetchrow(
            re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *params
        )
    return None if found is None else tuple(found)


def utc(value: datetime | None) -> datetime | None:
    """A time read back, checked to be aware UTC."""
    assert value is None or value.utcoffset() == timedelta(0)
    return value


def entry(
    n: int,
    *,
    url: str | None = "",
    guid: str | None = None,
    title: str | None = None,
    text: str | None = None,
    published: datetime | None = NOW,
) -> RawEntry:
    return RawEntry(
        guid=guid,
        url=f"https://outlet.example/{n}" if url == "" else url,
        title=title if title is not None else f"Title number {n}",
        text=text if text is not None else f"Body of story {n} about something else entirely {n}.",
        published_at=published,
    )


async def save(
    store: Store, feed_id: int, item: RawEntry, *, now: datetime = NOW, source: str = "Outlet"
) -> Any:
    return await store.save_entry(
        feed_id, item, source=source, now=now, story_window=WINDOW, story_threshold=0.5
    )


async def setup(
    store: Store, name: str = "console", url: str = "https://a.example/feed"
) -> tuple[int, int]:
    ws = await store.workspace_id(name, NOW)
    feed_id = await store.subscribe(ws, url, interval_s=300, name="Outlet", now=NOW)
    return ws, feed_id


async def fetched(store: Any, feed_id: int, now: datetime, next_check_at: datetime) -> None:
    """A good fetch of the feed that said nothing about it (no title, etag or date)."""
    await store.record_fetch_ok(
        feed_id,
        status="ok",
        etag=None,
        last_modified=None,
        title=None,
        now=now,
        next_check_at=next_check_at,
    )


def passage(seq: int, text: str, title: str = "Title") -> Passage:
    shown = embed_text(title, text)
    return Passage(seq=seq, text=text, embed_text=shown, content_hash=content_hash(shown))


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


# ---- workspaces and feeds -------------------------------------------------------------------
async def test_workspaces(store: Store) -> None:
    first = await store.workspace_id("console", NOW)
    assert await store.workspace_id("console", NOW + timedelta(days=1)) == first
    other = await store.workspace_id("discord:1", NOW)
    assert other != first
    assert await store.workspace_id("discord:1", NOW) == other


async def test_subscribe_resubscribe_and_unsubscribe(store: Store) -> None:
    ws = await store.workspace_id("console", NOW)
    other = await store.workspace_id("discord:1", NOW)
    url = "https://a.example/feed"
    feed_id = await store.subscribe(
        ws, url, interval_s=600, name="Outlet", now=NOW, channel="console"
    )
    [row] = await store.list_feeds(ws)
    assert (row.feed_id, row.url, row.name, row.kind, row.interval_s) == (
        feed_id,
        url,
        "Outlet",
        "http",
        600,
    )
    assert (row.last_polled_at, row.last_status, row.last_error, row.error_count) == (
        None,
        None,
        None,
        0,
    )
    assert (utc(row.next_check_at), row.articles, row.enabled, row.failing_since) == (
        NOW,
        0,
        True,
        None,
    )
    channel = "SELECT name, channel, interval_s FROM subscriptions WHERE workspace_id = ?"

    # again with no name or channel: both kept; the interval is the new one
    later = NOW + timedelta(hours=1)
    assert await store.subscribe(ws, url, interval_s=900, name=None, now=later) == feed_id
    assert await row_of(store, channel, ws) == ("Outlet", "console", 900)
    again = await store.subscribe(
        ws, url, interval_s=900, name="Renamed", now=later, channel="side"
    )
    assert again == feed_id
    assert await row_of(store, channel, ws) == ("Renamed", "side", 900)
    [row] = await store.list_feeds(ws)
    assert (row.name, row.interval_s, utc(row.next_check_at)) == ("Renamed", 900, later)

    # the feed is polled at the shortest interval any subscriber asked for
    assert await store.subscribe(other, url, interval_s=120, name=None, now=later) == feed_id
    [source] = await store.workspace_feeds(ws)
    assert (source.feed_id, source.interval_s) == (feed_id, 120)
    [row] = await store.list_feeds(ws)
    assert row.interval_s == 900  # the workspace's own
    assert await store.unsubscribe(other, feed_id)
    assert not await store.unsubscribe(other, feed_id)
    [source] = await store.workspace_feeds(ws)
    assert source.interval_s == 900
    assert await store.list_feeds(other) == []

    # the last subscriber gone: the feed is kept (and its interval) but never due
    assert await store.unsubscribe(ws, feed_id)
    assert await store.list_feeds(ws) == [] and await store.workspace_feeds(ws) == []
    assert await store.due_feeds(later + timedelta(days=1)) == []
    assert await row_of(store, "SELECT interval_s FROM feeds WHERE feed_id = ?", feed_id) == (900,)


async def test_due_and_workspace_feeds(store: Store) -> None:
    ws, early = await setup(store)
    late = await store.subscribe(
        ws, "https://b.example/feed", interval_s=300, name=None, now=NOW - timedelta(minutes=5)
    )
    done = await store.subscribe(ws, "https://c.example/feed", interval_s=300, name=None, now=NOW)
    local = await store.subscribe(ws, "/tmp/f.xml", interval_s=300, name=None, now=NOW, kind="file")
    await store.record_fetch_ok(
        done,
        status="ok",
        etag='"v1"',
        last_modified="Mon, 02 Mar 2026 08:00:00 GMT",
        title="C title",
        now=NOW,
        next_check_at=NOW + timedelta(minutes=5),
    )
    # due: enabled, subscribed http feeds whose next check has come, the earliest first
    assert [f.feed_id for f in await store.due_feeds(NOW)] == [late, early]
    assert [f.feed_id for f in await store.due_feeds(NOW - timedelta(minutes=1))] == [late]
    due_later = await store.due_feeds(NOW + timedelta(minutes=5))
    assert [f.feed_id for f in due_later] == [late, early, done]
    c = due_later[2]
    assert (c.url, c.title, c.etag, c.last_modified, c.error_count, c.interval_s) == (
        "https://c.example/feed",
        "C title",
        '"v1"',
        "Mon, 02 Mar 2026 08:00:00 GMT",
        0,
        300,
    )
    # every enabled http feed of the workspace, due or not, by id
    assert [f.feed_id for f in await store.workspace_feeds(ws)] == [early, late, done]
    assert local not in [f.feed_id for f in await store.due_feeds(NOW + timedelta(days=1))]
    other = await store.workspace_id("other", NOW)
    assert await store.workspace_feeds(other) == []


async def test_claim_due_feeds_and_next_due_at(store: Store) -> None:
    """What both engines share: a claim takes the earliest due feeds, up to `limit` (only
    PostgreSQL's claims hold: see the tests at the end)."""
    assert await store.next_due_at() is None
    ws = await store.workspace_id("console", NOW)
    feeds = [
        await store.subscribe(
            ws,
            f"https://f{n}.example/feed",
            interval_s=300,
            name=None,
            now=NOW + timedelta(minutes=n),
        )
        for n in range(3)
    ]
    assert utc(await store.next_due_at()) == NOW
    assert await store.claim_due_feeds("w1", NOW - timedelta(seconds=1), limit=5, lease_s=60) == []
    claimed = await store.claim_due_feeds("w1", NOW + timedelta(minutes=5), limit=2, lease_s=60)
    assert sorted(f.feed_id for f in claimed) == feeds[:2]
    for feed_id in feeds:
        await fetched(store, feed_id, NOW, NOW + timedelta(hours=1 + feed_id))
    assert utc(await store.next_due_at()) == NOW + timedelta(hours=1 + feeds[0])
    await store.unsubscribe(ws, feeds[0])  # no longer polled
    assert utc(await store.next_due_at()) == NOW + timedelta(hours=1 + feeds[1])


async def test_fetch_failures_count_disable_and_clear(store: Store) -> None:
    ws, feed_id = await setup(store)
    t1, t2, t3 = (NOW + timedelta(minutes=m) for m in (1, 2, 3))
    fail = {"next_check_at": NOW + timedelta(hours=1), "max_failures": 3}
    assert await store.record_fetch_failure(feed_id, error="HTTP 503", now=t1, **fail) == 1
    assert await store.record_fetch_failure(feed_id, error="timed out", now=t2, **fail) == 2
    [row] = await store.list_feeds(ws)
    assert (row.error_count, row.last_error, row.last_status, row.enabled) == (
        2,
        "timed out",
        "error",
        True,
    )
    assert (utc(row.failing_since), utc(row.last_polled_at)) == (t1, t2)  # the run's start
    assert utc(row.next_check_at) == NOW + timedelta(hours=1)
    [source] = await store.workspace_feeds(ws)
    assert source.error_count == 2

    # a good fetch clears the run; the title is kept when the fetch gives none
    await store.record_fetch_ok(
        feed_id,
        status="ok",
        etag=None,
        last_modified=None,
        title="Feed title",
        now=t2,
        next_check_at=t3,
    )
    await store.record_fetch_ok(
        feed_id,
        status="not modified",
        etag="e2",
        last_modified=None,
        title=None,
        now=t3,
        next_check_at=t3 + timedelta(minutes=5),
    )
    [row] = await store.list_feeds(ws)
    assert (row.error_count, row.last_error, row.failing_since, row.last_status) == (
        0,
        None,
        None,
        "not modified",
    )
    assert (row.name, utc(row.last_polled_at)) == ("Outlet", t3)  # the subscription's name
    [source] = await store.workspace_feeds(ws)
    assert (source.title, source.etag, source.last_modified) == ("Feed title", "e2", None)

    # a new run: failing_since starts again; the max_failures-th failure disables the feed
    for n, at in enumerate((t1, t2, t3), start=1):
        count = await store.record_fetch_failure(feed_id, error="HTTP 500", now=at + WINDOW, **fail)
        assert count == n
    [row] = await store.list_feeds(ws)
    assert (row.enabled, row.error_count, utc(row.failing_since)) == (False, 3, t1 + WINDOW)
    assert await store.workspace_feeds(ws) == []
    assert await store.due_feeds(NOW + timedelta(days=30)) == []
    assert await store.record_fetch_failure(10_000, error="x", now=NOW, **fail) == 0  # no feed

    # subscribing again re-enables it and starts the count afresh
    await store.subscribe(ws, "https://a.example/feed", interval_s=300, name=None, now=NOW)
    [row] = await store.list_feeds(ws)
    assert (row.enabled, row.error_count) == (True, 0)


# ---- articles and stories -------------------------------------------------------------------
async def test_save_entry_outcomes(store: Store) -> None:
    ws, feed_a = await setup(store)
    feed_b = await store.subscribe(ws, "https://b.example/feed", interval_s=300, name=None, now=NOW)
    first = await save(
        store, feed_a, entry(1, guid="g1", published=NOW + timedelta(microseconds=999))
    )
    assert first.status == "new"
    [article] = await store.articles_by_ids([first.article_id])
    assert (article.story_id, article.url, article.title, article.source) == (
        first.story_id,
        "https://outlet.example/1",
        "Title number 1",
        "Outlet",
    )
    assert (utc(article.published_at), utc(article.first_seen_at)) == (NOW, NOW)  # to the second
    assert article.content_hash == content_hash(f"{article.title}\n{article.text}")

    again = await save(store, feed_a, entry(1, guid="g1"), now=NOW + timedelta(hours=1))
    assert (again.status, again.article_id, again.story_id) == (
        "unchanged",
        first.article_id,
        first.story_id,
    )

    # the origin feed changes its text: the article is updated and its metadata dropped
    record = EventRecord.empty()
    await store.save_events([(first.article_id, record)], extractor="x1", now=NOW)
    assert await store.extracted([first.article_id]) == {first.article_id}
    changed = entry(1, guid="g1", text="A corrected body.")
    updated = await save(store, feed_a, changed, now=NOW + timedelta(hours=2))
    assert (updated.status, updated.article_id, updated.story_id) == (
        "updated",
        first.article_id,
        first.story_id,
    )
    [article] = await store.articles_by_ids([first.article_id])
    assert article.text == "A corrected body." and utc(article.published_at) == NOW
    assert await store.extracted([first.article_id]) == set()

    # the same link from another feed: a duplicate of the article, which that feed never edits
    dup = await save(store, feed_b, entry(1, guid="other-guid", text="Their copy."))
    assert (dup.status, dup.article_id, dup.story_id) == (
        "duplicate",
        first.article_id,
        first.story_id,
    )
    edited = entry(1, guid="other-guid", text="Their edited copy.")
    assert (await save(store, feed_b, edited)).status == "unchanged"
    assert (await save(store, feed_b, edited)).status == "unchanged"
    [article] = await store.articles_by_ids([first.article_id])
    assert article.text == "A corrected body."

    # no link: the same title and text from another feed is the same article
    bare = entry(2, url=None, title="No link", text="Only text.")
    new_bare = await save(store, feed_a, bare)
    dup_bare = await save(store, feed_b, bare)
    assert (new_bare.status, dup_bare.status) == ("new", "duplicate")
    assert dup_bare.article_id == new_bare.article_id
    other_text = await save(store, feed_b, entry(3, url=None, title="No link", text="Other."))
    assert other_text.status == "new" and other_text.article_id != new_bare.article_id
    # ... but a linked article with that text is not
    linked = await save(store, feed_a, entry(4, title="Twin", text="Twin text."))
    unlinked = await save(store, feed_b, entry(5, url=None, title="Twin", text="Twin text."))
    assert unlinked.status == "new" and unlinked.article_id != linked.article_id

    assert await store.article_workspaces([first.article_id, 999_999]) == {first.article_id: {ws}}
    [row_a, row_b] = await store.list_feeds(ws)
    assert (row_a.articles, row_b.articles) == (3, 4)  # entries each feed carried


STORY = (
    "Heavy fighting broke out on Tuesday near the northern city as government forces pushed "
    "into the outskirts, residents said, while aid groups warned of a growing crisis for the "
    "thousands of families trapped inside without water, power or medical supplies."
)


async def test_near_duplicates_join_one_story_within_the_window(store: Store) -> None:
    ws, feed_a = await setup(store)
    feed_b = await store.subscribe(ws, "https://b.example/feed", interval_s=300, name=None, now=NOW)
    title = "Fighting near the northern city"
    first = await save(store, feed_a, entry(1, title=title, text=STORY), source="Alpha")
    near = await save(
        store,
        feed_b,
        entry(2, title=title, text=STORY.replace("Tuesday", "Tuesday morning")),
        now=NOW + timedelta(hours=3),
        source="Beta",
    )
    late = await save(
        store,
        feed_b,
        entry(3, title=title, text=STORY, published=NOW + timedelta(days=10)),
        now=NOW + timedelta(days=10),
        source="Beta",
    )
    unrelated = await save(store, feed_a, entry(4), source="Alpha")
    assert [o.status for o in (first, near, late, unrelated)] == ["new"] * 4
    assert near.story_id == first.story_id
    assert late.story_id != first.story_id and unrelated.story_id not in {
        first.story_id,
        late.story_id,
    }
    story = await store.story(first.story_id)
    assert story is not None
    assert (story.title, [a.article_id for a in story.articles], story.sources) == (
        title,
        [first.article_id, near.article_id],
        ["Alpha", "Beta"],
    )
    assert [s.story_id for s in await store.multi_source_stories()] == [first.story_id]
    assert await store.story(999_999) is None
    assert [a.article_id for a in await store.story_articles(late.story_id)] == [late.article_id]


# ---- the change feed ------------------------------------------------------------------------
async def test_change_feed(store: Store) -> None:
    ws, feed_a = await setup(store)
    feed_b = await store.subscribe(ws, "https://b.example/feed", interval_s=300, name=None, now=NOW)
    before = await save(store, feed_a, entry(1))
    await store.register_consumer("alerts")
    assert await store.changes_after("alerts") == []  # starts after what exists
    t1, t2, t3 = (NOW + timedelta(minutes=m) for m in (1, 2, 3))
    new = await save(store, feed_a, entry(2), now=t1)
    await save(store, feed_a, entry(2, text="Changed."), now=t2)
    await save(store, feed_b, entry(2), now=t3)  # a duplicate: linked
    await save(store, feed_a, entry(2, text="Changed."), now=t3)  # unchanged: no change
    changes = await store.changes_after("alerts")
    assert [(aid, change) for _, aid, change, _ in changes] == [
        (new.article_id, "new"),
        (new.article_id, "updated"),
        (new.article_id, "linked"),
    ]
    seqs = [seq for seq, *_ in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert [utc(at) for *_, at in changes] == [t1, t2, t3]
    assert await store.changes_after("alerts", limit=2) == changes[:2]
    # every change is still there for a consumer at 0 (none registered under that name)
    everything = await store.changes_after("nobody")
    assert [aid for _, aid, _, _ in everything] == [before.article_id] + [new.article_id] * 3

    await store.register_consumer("digest")
    await store.register_consumer("digest")  # registering again moves nothing
    assert await store.changes_after("digest") == []
    await store.advance_cursor("alerts", seqs[0])
    assert await store.changes_after("alerts") == changes[1:]
    await store.advance_cursor("alerts", seqs[0] - 1)  # a cursor never goes back
    assert await store.changes_after("alerts") == changes[1:]
    # dropped: what every consumer has handled ("digest" started after all of them)
    assert [c[0] for c in await store.changes_after("nobody")] == seqs[1:]
    later = await save(store, feed_a, entry(3), now=t3)
    await store.advance_cursor("alerts", seqs[-1])
    assert [c[0] for c in await store.changes_after("nobody")] == [
        c[0] for c in await store.changes_after("digest")
    ]
    [(_, aid, change, _)] = await store.changes_after("digest")
    assert (aid, change) == (later.article_id, "new")


# ---- passages, text search, embeddings ------------------------------------------------------
async def test_replace_passages(store: Store) -> None:
    ws, feed_id = await setup(store)
    art = await save(store, feed_id, entry(1, title="Title"))
    first = [passage(0, "Alpha text."), passage(1, "Beta text."), passage(2, "Gamma text.")]
    change = await store.replace_passages(art.article_id, first, MODEL)
    assert (len(change.added), change.removed, change.pending) == (3, [], 3)
    ids = change.added
    assert sorted(int(i) for i in await store.article_passage_ids([art.article_id])) == ids
    vectors = np.stack([unit(n) for n in range(3)])
    await store.set_embeddings(ids, vectors, MODEL)

    same = await store.replace_passages(art.article_id, first, MODEL)
    assert (same.added, same.removed, same.pending) == ([], [], 0)

    # seq 0 unchanged (keeps its id and vector), seq 1 rewritten, seq 2 gone
    second = [passage(0, "Alpha text."), passage(1, "Beta text, corrected.")]
    change = await store.replace_passages(art.article_id, second, MODEL)
    assert (len(change.added), sorted(change.removed), change.pending) == (1, ids[1:], 1)
    [new_id] = change.added
    assert new_id not in ids
    assert sorted(int(i) for i in await store.article_passage_ids([art.article_id])) == [
        ids[0],
        new_id,
    ]
    assert [int(i) for i in await store.embedded_ids(MODEL)] == [ids[0]]
    assert [pid for pid, _ in await store.pending_passages(10)] == [new_id]

    # identical text elsewhere reuses the stored vector (of this model only)
    other = await save(store, feed_id, entry(2, title="Title"))
    reuse = await store.replace_passages(other.article_id, [passage(0, "Alpha text.")], MODEL)
    assert (len(reuse.added), reuse.pending) == (1, 0)
    batches = [b async for b in store.embeddings(np.asarray(reuse.added), MODEL, DIM)]
    [(got_ids, matrix)] = batches
    assert got_ids.tolist() == reuse.added
    np.testing.assert_array_equal(matrix[0], vectors[0])
    third = await save(store, feed_id, entry(3, title="Title"))
    fresh = await store.replace_passages(third.article_id, [passage(0, "Alpha text.")], "other")
    assert fresh.pending == 1

    # removed passages are gone from the text index too
    assert await store.text_search('"gamma"', 10, workspace_id=ws) == []
    assert [pid for pid, _ in await store.text_search('"corrected"', 10, workspace_id=ws)] == [
        new_id
    ]
    gone = await store.replace_passages(art.article_id, [], MODEL)
    assert (gone.added, sorted(gone.removed)) == ([], sorted([ids[0], new_id]))
    assert await store.text_search('"corrected"', 10, workspace_id=ws) == []
    assert len(await store.article_passage_ids([art.article_id])) == 0


async def _text_corpus(store: Store) -> dict[str, Any]:
    """Two workspaces; passages naming Mosul in a title, in a text, and in the other
    workspace."""
    ws, feed_a = await setup(store)
    ws2, feed_b = await setup(store, "discord:2", "https://b.example/feed")
    found: dict[str, Any] = {"ws": ws, "ws2": ws2}
    items = {
        "title": (feed_a, "Mosul offensive resumes", "Troops advanced on the old city at dawn."),
        "text": (feed_a, "Regional update", "Fighting near Mosul continued in the old city."),
        "other": (feed_b, "Mosul talks", "Delegates met in Geneva about Mosul."),
        "plain": (feed_a, "Ḥalab markets reopen", "Traders returned on Sunday, Олена said."),
    }
    for n, (name, (feed_id, title, text)) in enumerate(items.items()):
        art = await save(store, feed_id, entry(n, title=title, text=text))
        change = await store.replace_passages(art.article_id, [passage(0, text, title)], MODEL)
        found[name] = (art.article_id, change.added[0])
    return found


async def test_text_search(store: Store) -> None:
    c = await _text_corpus(store)
    ws, ws2 = c["ws"], c["ws2"]
    title_p, text_p, other_p = c["title"][1], c["text"][1], c["other"][1]

    ranked = [pid for pid, _ in await store.text_rank('"mosul"', 10)]
    assert sorted(ranked) == sorted([title_p, text_p, other_p])  # every workspace's
    assert ranked.index(title_p) < ranked.index(text_p)  # a title word ranks higher
    scores = [score for _, score in await store.text_rank('"mosul"', 10)]
    assert scores == sorted(scores, reverse=True)
    assert len(await store.text_rank('"mosul"', 2)) == 2

    mine = await store.text_search('"mosul"', 10, workspace_id=ws)
    assert [pid for pid, _ in mine] == [title_p, text_p]  # never another workspace's
    assert [pid for pid, _ in await store.text_search('"mosul"', 10, workspace_id=ws2)] == [other_p]
    only = await store.text_search('"mosul"', 10, workspace_id=ws, article_ids=[c["text"][0]])
    assert [pid for pid, _ in only] == [text_p]
    assert await store.text_search('"mosul"', 10, workspace_id=ws, article_ids=[]) == []
    not_theirs = [c["other"][0]]
    assert await store.text_search('"mosul"', 10, workspace_id=ws, article_ids=not_theirs) == []

    # words ORed; prefixes; folded words (diacritics); a phrase
    either = await store.text_search('"dawn" OR "geneva"', 10, workspace_id=ws)
    assert [pid for pid, _ in either] == [title_p]
    assert [pid for pid, _ in await store.text_search('"offens"*', 10, workspace_id=ws)] == [
        title_p
    ]
    for word in ('"halab"', '"олена"', '"ОЛЕНА"'):
        assert [pid for pid, _ in await store.text_search(word, 10, workspace_id=ws)] == [
            c["plain"][1]
        ], word
    phrase = await store.text_search('"old city"', 10, workspace_id=ws)
    assert sorted(pid for pid, _ in phrase) == sorted([title_p, text_p])
    assert await store.text_search('"city old"', 10, workspace_id=ws) == []
    assert await store.text_search('"kyiv"', 10, workspace_id=ws) == []

    # a query the engine cannot read finds nothing, without an error
    for unreadable in ("", '""', '"', '"mosul', "AND", "*", "(", '"mosul" OR'):
        assert await store.text_rank(unreadable, 10) == [], unreadable
        assert await store.text_search(unreadable, 10, workspace_id=ws) == [], unreadable
        assert not await store.mentions(unreadable, workspace_id=ws), unreadable

    assert await store.mentions('"mosul"', workspace_id=ws)
    assert await store.mentions('"geneva"', workspace_id=ws2)
    assert not await store.mentions('"geneva"', workspace_id=ws)  # the other workspace's
    assert await store.mentions('"offen"* OR "kyiv"', workspace_id=ws)
    assert not await store.mentions('"kyiv"', workspace_id=ws)

    asked = [title_p, other_p, text_p, 999_999]
    assert await store.passage_articles(asked, ws) == {
        title_p: c["title"][0],
        text_p: c["text"][0],
    }
    assert await store.passage_articles([], ws) == {}


async def test_hits_keep_the_given_order_and_the_workspace(store: Store) -> None:
    c = await _text_corpus(store)
    title_p, text_p, other_p = c["title"][1], c["text"][1], c["other"][1]
    hits = await store.hits([(other_p, 0.9), (text_p, 0.7), (title_p, 0.4)], c["ws"])
    assert [(h.passage_id, h.score) for h in hits] == [(text_p, 0.7), (title_p, 0.4)]
    hit = hits[0]
    assert (hit.article_id, hit.title, hit.url, hit.source, hit.text) == (
        c["text"][0],
        "Regional update",
        "https://outlet.example/1",
        "Outlet",
        "Fighting near Mosul continued in the old city.",
    )
    [article] = await store.articles_by_ids([hit.article_id])
    assert (hit.story_id, utc(hit.published_at)) == (article.story_id, NOW)
    assert await store.hits([], c["ws"]) == []
    assert [h.passage_id for h in await store.hits([(other_p, 1.0)], c["ws2"])] == [other_p]


async def test_embeddings_and_counts(store: Store) -> None:
    ws, feed_id = await setup(store)
    ws2, feed_b = await setup(store, "discord:2", "https://b.example/feed")
    one = await save(store, feed_id, entry(1, title="One"))
    two = await save(store, feed_id, entry(2, title="Two"))
    far = await save(store, feed_b, entry(3, title="Far"))
    ids: list[int] = []
    for art, title in ((one, "One"), (two, "Two"), (far, "Far")):
        texts = [f"{title} first passage.", f"{title} second passage."]
        change = await store.replace_passages(
            art.article_id, [passage(n, t, title) for n, t in enumerate(texts)], MODEL
        )
        ids.extend(change.added)
    assert await store.count_pending() == 6
    pending = await store.pending_passages(4)
    assert [pid for pid, _ in pending] == sorted(ids)[:4]
    assert pending[0][1] == embed_text("One", "One first passage.")
    assert await store.unembedded([one.article_id, two.article_id]) == {
        one.article_id,
        two.article_id,
    }

    vectors = {pid: unit(pid) for pid in ids}
    await store.set_embeddings(ids[:4], np.stack([vectors[p] for p in ids[:4]]), MODEL)
    await store.set_embeddings(ids[4:5], np.stack([vectors[ids[4]]]), "old-model")
    assert [int(i) for i in await store.embedded_ids(MODEL)] == ids[:4]
    assert (await store.count_embedded(MODEL), await store.count_embedded("old-model")) == (4, 1)
    assert (await store.count_pending(), [p for p, _ in await store.pending_passages(9)]) == (
        1,
        ids[5:],
    )
    assert await store.unembedded([one.article_id, two.article_id, far.article_id]) == {
        far.article_id
    }
    got: dict[int, np.ndarray] = {}
    async for batch_ids, matrix in store.embeddings(np.asarray(ids), MODEL, DIM, batch=3):
        assert matrix.dtype == np.float32 and matrix.shape == (len(batch_ids), DIM)
        got.update(zip(batch_ids.tolist(), matrix, strict=True))
    assert sorted(got) == ids[:4]  # only this model's
    for pid, vector in got.items():
        np.testing.assert_array_equal(vector, vectors[pid])

    by_article = await store.article_vectors([one.article_id, far.article_id], MODEL, DIM)
    assert sorted(by_article) == [one.article_id]  # far's vector is another model's
    np.testing.assert_array_equal(
        by_article[one.article_id], np.stack([vectors[p] for p in ids[:2]])
    )
    assert sorted(int(i) for i in await store.article_passage_ids([two.article_id])) == ids[2:4]
    assert sorted(int(i) for i in await store.workspace_passage_ids(ws)) == ids[:4]
    assert sorted(int(i) for i in await store.workspace_passage_ids(ws2)) == ids[4:]

    counts = await store.counts(ws)
    assert (counts.feeds, counts.articles, counts.stories, counts.passages, counts.embedded) == (
        1,
        2,
        2,
        4,
        4,
    )
    far_counts = await store.counts(ws2)
    assert (far_counts.articles, far_counts.passages, far_counts.embedded) == (1, 2, 1)

    assert await store.forget_other_models(MODEL) == 1
    assert (await store.count_embedded("old-model"), await store.count_pending()) == (0, 2)
    assert await store.forget_other_models(MODEL) == 0
    await store.clear_embeddings()
    assert (await store.count_embedded(MODEL), await store.count_pending()) == (0, 6)
    assert len(await store.embedded_ids(MODEL)) == 0
    assert (await store.counts(ws)).embedded == 0


# ---- event metadata -------------------------------------------------------------------------
MOSUL = Place(99072, "Mosul", "IQ", "Iraq", "Nineveh", "15", 36.335, 43.119, "town", 1_739_800)
BAGHDAD = Place(98182, "Baghdad", "IQ", "Iraq", "Baghdad", "07", 33.341, 44.401, "town", 7_216_000)
ALEPPO = Place(170063, "Aleppo", "SY", "Syria", "Aleppo", "09", 36.202, 37.158, "town", 1_602_264)
ISIS = ActorRef("Islamic State", "Islamic State", "armed_group", "isis")
PMF = ActorRef("the militia", "Popular Mobilization Forces", "armed_group", None)


def record(
    *,
    places: tuple[tuple[Place, bool], ...],
    actors: tuple[ActorRef, ...],
    types: tuple[str, ...],
    day: date | None,
    killed: Count | None = None,
    injured: Count | None = None,
) -> EventRecord:
    mentions = tuple(PlaceMention(p.name, 0, len(p.name), p, main) for p, main in places)
    events = ()
    if types:
        main_place = next((m for m in mentions if m.main), None)
        events = (
            Event(
                type=types[0],
                sub_type="air/drone strike" if types[0].startswith("explosions") else None,
                actors=tuple(
                    EventActor(a.canonical, "actor" if n == 0 else "target", a.actor_id)
                    for n, a in enumerate(actors)
                ),
                place=main_place,
                date=day,
                killed=killed,
                injured=injured,
                sentences=("An air strike hit the market.", "Nine were killed."),
                main=True,
            ),
            Event(
                type=types[-1],
                sub_type=None,
                actors=(),
                place=None,
                date=None,
                killed=None,
                injured=None,
                sentences=("Rebels seized a hill.",),
            ),
        )
    return EventRecord(
        actors=actors,
        places=mentions,
        event_types=types,
        casualties=Casualties(killed, injured),
        event_date=day,
        events=events,
    )


async def test_events_are_stored_and_read_back_alike(store: Store) -> None:
    ws, feed_id = await setup(store)
    art = await save(store, feed_id, entry(1))
    plain = await save(store, feed_id, entry(2))
    rec = record(
        places=((MOSUL, True), (BAGHDAD, False), (MOSUL, False)),  # Mosul twice: main wins
        actors=(ISIS, PMF, ISIS),
        types=("explosions/remote violence", "battles"),
        day=date(2026, 3, 1),
        killed=Count(8, 9, 10, civilians=True),
        injured=Count(14, 14, 14),
    )
    await store.save_events([(art.article_id, EventRecord.empty())], extractor="v0", now=NOW)
    at = NOW + timedelta(minutes=1)
    await store.save_events([(art.article_id, rec)], extractor="v1", now=at)  # replaces

    shown = await store.event_metadata(art.article_id)
    assert shown is not None
    assert shown["event"] == {
        "article_id": art.article_id,
        "event_date": "2026-03-01",
        "killed_low": 8,
        "killed_best": 9,
        "killed_high": 10,
        "injured_low": 14,
        "injured_best": 14,
        "injured_high": 14,
        "main_geonameid": MOSUL.geonameid,
        "extractor": "v1",
        "extracted_at": to_iso(at),
    }
    assert shown["actors"] == [
        {
            "actor_key": ISIS.key,
            "name": "Islamic State",
            "kind": "armed_group",
            "mention": ISIS.text,
        },
        {"actor_key": PMF.key, "name": PMF.canonical, "kind": "armed_group", "mention": PMF.text},
    ]
    mosul = {
        "geonameid": MOSUL.geonameid,
        "name": "Mosul",
        "country_code": "IQ",
        "admin1_code": "15",
        "precision": "town",
        "main": 1,
        "mention": "Mosul",
    }
    baghdad = mosul | {"geonameid": BAGHDAD.geonameid, "name": "Baghdad", "mention": "Baghdad"}
    baghdad |= {"admin1_code": "07", "main": 0}
    assert shown["places"] == [baghdad, mosul]  # by geonameid
    assert shown["event_types"] == ["battles", "explosions/remote violence"]
    assert await store.event_metadata(plain.article_id) is None

    docs = json.loads(json.dumps([event_doc(e) for e in rec.events]))
    assert docs[0]["killed"]["civilians"] is True
    assert await store.article_events(art.article_id) == docs
    assert await store.article_events(plain.article_id) == []

    meta = await store.article_meta([art.article_id, plain.article_id])
    assert list(meta) == [art.article_id]  # none stored: left out
    mosul_row = PlaceRow(MOSUL.geonameid, "Mosul", "IQ", "15", "town", True, "Mosul")
    baghdad_row = PlaceRow(BAGHDAD.geonameid, "Baghdad", "IQ", "07", "town", False, "Baghdad")
    assert meta[art.article_id] == ArticleMeta(
        actors={ISIS.key: ("Islamic State", ISIS.text), PMF.key: (PMF.canonical, PMF.text)},
        places=(baghdad_row, mosul_row),  # by geonameid, as event_metadata lists them
        event_types=frozenset({"battles", "explosions/remote violence"}),
        killed=9,
        injured=14,
        event_date=date(2026, 3, 1),
        events=(
            EventMeta(
                type="explosions/remote violence",
                sub_type="air/drone strike",
                place=mosul_row,
                killed=9,
                injured=14,
                main=True,
                actors=frozenset({ISIS.key, PMF.key}),
                acting=frozenset({ISIS.key}),
                date=date(2026, 3, 1),
                civilians_killed=True,
                civilians_injured=False,
            ),
            EventMeta(
                type="battles",
                sub_type=None,
                place=None,
                killed=None,
                injured=None,
                main=False,
            ),
        ),
    )
    assert ISIS.key == actor_key("isis", "Islamic State")

    # extraction bookkeeping: what this extractor version has not done yet
    todo = await store.articles_to_extract("v1", 10)
    assert [a.article_id for a in todo] == [plain.article_id]
    assert [a.article_id for a in await store.articles_to_extract("v2", 10)] == [
        art.article_id,
        plain.article_id,
    ]
    assert len(await store.articles_to_extract("v2", 1)) == 1
    assert await store.extracted([art.article_id, plain.article_id]) == {art.article_id}


async def _findable(store: Store) -> dict[str, Any]:
    ws, feed_a = await setup(store)
    ws2, feed_b = await setup(store, "discord:2", "https://b.example/feed")
    east = timezone(timedelta(hours=5))
    articles = {
        # an event date before its publication
        "mosul": (
            feed_a,
            datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
            (MOSUL,),
            ISIS,
            "battles",
            date(2026, 2, 27),
        ),
        # no event date: its publication day counts (02-28 in UTC)
        "baghdad": (
            feed_a,
            datetime(2026, 3, 1, 2, 0, tzinfo=east),
            (BAGHDAD,),
            PMF,
            "explosions/remote violence",
            None,
        ),
        # no metadata at all
        "bare": (feed_a, datetime(2026, 2, 20, 12, 0, tzinfo=UTC), (), None, None, None),
        # in every filter, but another workspace's
        "far": (
            feed_b,
            datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            (MOSUL, ALEPPO),
            ISIS,
            "battles",
            date(2026, 2, 27),
        ),
    }
    found: dict[str, Any] = {"ws": ws, "ws2": ws2}
    for n, (name, (feed_id, published, places, actor, kind, day)) in enumerate(articles.items()):
        art = await save(store, feed_id, entry(n, published=published))
        found[name] = art.article_id
        if places:
            rec = record(
                places=tuple((p, i == 0) for i, p in enumerate(places)),
                actors=(actor,) if actor else (),
                types=(kind,) if kind else (),
                day=day,
            )
            await store.save_events([(art.article_id, rec)], extractor="v1", now=NOW)
    return found


async def test_find_articles_by_each_filter(store: Store) -> None:
    f = await _findable(store)
    ws = f["ws"]

    async def ids(**filters: Any) -> list[int]:
        found = await store.find_article_ids(ws, **filters)
        articles = await store.find_articles(ws, **filters)
        assert [a.article_id for a in articles] == found
        return found

    mosul, baghdad, bare = f["mosul"], f["baghdad"], f["bare"]
    assert await ids() == [mosul, baghdad, bare]  # newest first; never another workspace's
    assert await ids(limit=2) == [mosul, baghdad]
    assert await ids(actor_keys=[ISIS.key]) == [mosul]
    assert await ids(actor_keys=[ISIS.key, PMF.key]) == [mosul, baghdad]
    assert await ids(actor_keys=["nobody"]) == []
    assert await ids(region=PlaceFilter("IQ")) == [mosul, baghdad]
    assert await ids(region=PlaceFilter("IQ", admin1_code="15")) == [mosul]
    assert await ids(region=PlaceFilter("IQ", admin1_code="07")) == [baghdad]
    assert await ids(region=PlaceFilter("IQ", geonameid=BAGHDAD.geonameid)) == [baghdad]
    assert await ids(region=PlaceFilter("SY")) == []
    assert await store.find_article_ids(f["ws2"], region=PlaceFilter("SY")) == [f["far"]]
    assert await ids(event_types=["battles"]) == [mosul]
    assert await ids(event_types=["battles", "explosions/remote violence"]) == [mosul, baghdad]
    # the event date, else the publication day (in UTC)
    assert await ids(since=date(2026, 2, 28)) == [baghdad]
    assert await ids(until=date(2026, 2, 27)) == [mosul, bare]
    assert await ids(since=date(2026, 2, 27), until=date(2026, 2, 27)) == [mosul]
    assert await ids(since=date(2026, 2, 28), until=date(2026, 2, 28)) == [baghdad]
    assert await ids(since=date(2026, 2, 20), until=date(2026, 2, 20)) == [bare]
    assert await ids(region=PlaceFilter("IQ"), since=date(2026, 2, 28)) == [baghdad]

    [article] = await store.find_articles(ws, actor_keys=[PMF.key])
    assert utc(article.published_at) == datetime(2026, 2, 28, 21, 0, tzinfo=UTC)
    assert await store.article_workspaces([mosul, f["far"], bare]) == {
        mosul: {ws},
        f["far"]: {f["ws2"]},
        bare: {ws},
    }
    assert await store.article_workspaces([]) == {}


async def test_alert_horizons(store: Store) -> None:
    ws1 = await store.workspace_id("one", NOW)
    ws2 = await store.workspace_id("two", NOW)
    ws3 = await store.workspace_id("three", NOW)
    url_a, url_b = "https://a.example/feed", "https://b.example/feed"
    t0, t1 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    feed_a = await store.subscribe(ws1, url_a, interval_s=300, name=None, now=NOW, alert_from=t1)
    await store.subscribe(ws2, url_a, interval_s=300, name=None, now=NOW)
    await store.subscribe(ws3, url_a, interval_s=300, name=None, now=NOW, alert_from=t1)
    feed_b = await store.subscribe(ws3, url_b, interval_s=300, name=None, now=NOW, alert_from=t0)
    art = await save(store, feed_a, entry(1))
    assert (await save(store, feed_b, entry(1))).status == "duplicate"
    horizons = await store.alert_horizons([art.article_id])
    assert horizons == {
        (art.article_id, ws1): t1,
        (art.article_id, ws2): None,
        (art.article_id, ws3): t0,
    }
    assert all(utc(at) for at in horizons.values() if at is not None)
    # subscribing again sets the horizon again
    await store.subscribe(ws1, url_a, interval_s=300, name=None, now=NOW)
    assert (await store.alert_horizons([art.article_id]))[(art.article_id, ws1)] is None
    assert await store.alert_horizons([]) == {}

    # the newest N of the first fetch: settled once that fetch is stored
    ws4 = await store.workspace_id("four", NOW)
    url_c = "https://c.example/feed"
    feed_c = await store.subscribe(
        ws4, url_c, interval_s=300, name=None, now=NOW, alert_from=NOW, alert_newest=2
    )
    times = [NOW - timedelta(hours=h) for h in (30, 20, 10)]
    saved = [
        await save(store, feed_c, entry(10 + n, published=at), now=NOW)
        for n, at in enumerate(times)
    ]
    ids = [s.article_id for s in saved]
    before = await store.alert_horizons(ids)
    assert set(before.values()) == {NOW}  # not fetched yet: alert_from as subscribed
    later = NOW + timedelta(minutes=1)
    await fetched(store, feed_c, later, later)
    settled = await store.alert_horizons(ids)
    assert settled == {(aid, ws4): times[1] for aid in ids}  # the 2nd newest item's time
    sub = "SELECT alert_from, alert_newest FROM subscriptions WHERE workspace_id = ?"
    stored = await row_of(store, sub, ws4)
    assert stored is not None and stored[1] is None

    # fewer items than N: no limit at all
    ws5 = await store.workspace_id("five", NOW)
    feed_d = await store.subscribe(
        ws5,
        "https://d.example/feed",
        interval_s=300,
        name=None,
        now=NOW,
        alert_from=NOW,
        alert_newest=5,
    )
    few = await save(store, feed_d, entry(20), now=NOW)
    await fetched(store, feed_d, later, later)
    assert await store.alert_horizons([few.article_id]) == {(few.article_id, ws5): None}


# ---- vector search --------------------------------------------------------------------------
async def test_vector_search(store: Store, tmp_path: Path) -> None:
    ws, feed_id = await setup(store)
    ids: list[int] = []
    for n in range(6):
        art = await save(store, feed_id, entry(n))
        texts = [f"passage {n} {k}" for k in range(4)]
        change = await store.replace_passages(
            art.article_id, [passage(k, t) for k, t in enumerate(texts)], MODEL
        )
        ids.extend(change.added)
    if isinstance(store, Store):
        index: Any = VectorIndex.load(tmp_path / "passages.faiss", DIM, MODEL)
    else:
        from index.store.pg.vectors import PgVectorIndex

        index = await PgVectorIndex.open(store.pool, DIM, MODEL)  # type: ignore[attr-defined]
    assert len(index) == 0
    matrix = np.stack([unit(1000 + n) for n in range(len(ids))])
    await store.set_embeddings(ids, matrix, MODEL)
    await store.set_embeddings(ids[-2:], matrix[-2:], "another-model")  # not this index's
    report = await index.sync(
        lambda: store.embedded_ids(MODEL), lambda wanted: store.embeddings(wanted, MODEL, DIM)
    )
    assert len(index) == len(ids) - 2
    assert report.added == len(ids) - 2

    vectors = dict(zip(ids[:-2], matrix[:-2], strict=True))
    for seed in range(5):
        query = unit(seed)
        exact = sorted(vectors, key=lambda pid: -float(vectors[pid] @ query))
        found = await index.nearest(query, 5)
        assert [pid for pid, _ in found] == exact[:5]
        for pid, score in found:
            assert score == pytest.approx(float(vectors[pid] @ query), abs=1e-5)
        allowed = np.asarray(ids[4:12], dtype=np.int64)
        among = await index.nearest(query, 3, allowed)
        assert [pid for pid, _ in among] == [pid for pid in exact if pid in set(ids[4:12])][:3]
    assert await index.nearest(unit(0), 5, np.asarray([], dtype=np.int64)) == []
    assert await index.nearest(unit(0), 0) == []
    own = await index.nearest(matrix[3], 1)
    assert own[0][0] == ids[3] and own[0][1] == pytest.approx(1.0, abs=1e-5)
    # a workspace's passages as the allowed set
    allowed_ws = await store.workspace_passage_ids(ws)
    assert len(await index.nearest(unit(9), 50, allowed_ws)) == len(ids) - 2


# ---- PostgreSQL only: feed claims, concurrent writers ----------------------------------------
async def test_claims_split_due_feeds_between_workers(pg_store: Any) -> None:
    ws = await pg_store.workspace_id("console", NOW)
    feeds = [
        await pg_store.subscribe(
            ws, f"https://f{n}.example/feed", interval_s=300, name=None, now=NOW
        )
        for n in range(12)
    ]
    claims = await asyncio.gather(
        *(pg_store.claim_due_feeds(f"w{n}", NOW, limit=4, lease_s=60) for n in range(4))
    )
    claimed = [f.feed_id for batch in claims for f in batch]
    assert len(claimed) == len(set(claimed)) == 12  # no feed twice
    assert sorted(claimed) == feeds
    assert all(len(batch) <= 4 for batch in claims)
    assert await pg_store.claim_due_feeds("w9", NOW, limit=10, lease_s=60) == []
    assert await pg_store.due_feeds(NOW) == []  # held feeds are not due
    assert await pg_store.next_due_at() == NOW + timedelta(seconds=60)


async def test_an_unreleased_claim_expires_and_an_outcome_releases_it(pg_store: Any) -> None:
    ws = await pg_store.workspace_id("console", NOW)
    died = await pg_store.subscribe(ws, "https://a.example/f", interval_s=300, name=None, now=NOW)
    ok = await pg_store.subscribe(ws, "https://b.example/f", interval_s=300, name=None, now=NOW)
    bad = await pg_store.subscribe(ws, "https://c.example/f", interval_s=300, name=None, now=NOW)
    assert await pg_store.next_due_at() == NOW
    got = await pg_store.claim_due_feeds("w1", NOW, limit=10, lease_s=120)
    assert [f.feed_id for f in got] == [died, ok, bad]
    # the worker fetched two of them: their outcomes release the claims
    await fetched(pg_store, ok, NOW, NOW)
    await pg_store.record_fetch_failure(
        bad, error="HTTP 500", now=NOW, next_check_at=NOW, max_failures=5
    )
    soon = NOW + timedelta(seconds=30)
    again = await pg_store.claim_due_feeds("w2", soon, limit=10, lease_s=120)
    assert [f.feed_id for f in again] == [ok, bad]  # the third is still held
    # ... until its lease runs out (the worker died)
    assert (
        await pg_store.claim_due_feeds("w2", NOW + timedelta(seconds=119), limit=10, lease_s=1)
        == []
    )
    assert await pg_store.next_due_at() == NOW + timedelta(seconds=120)
    retaken = await pg_store.claim_due_feeds(
        "w3", NOW + timedelta(seconds=121), limit=10, lease_s=60
    )
    assert [f.feed_id for f in retaken] == [died]
    owner = await pg_store.pool.fetchval("SELECT claimed_by FROM feeds WHERE feed_id = $1", died)
    assert owner == "w3"
    await pg_store.unsubscribe(ws, died)
    await pg_store.unsubscribe(ws, ok)
    await pg_store.unsubscribe(ws, bad)
    assert await pg_store.next_due_at() is None


async def test_concurrent_writers_store_one_article(pg_store: Any) -> None:
    ws = await pg_store.workspace_id("console", NOW)
    feed_a = await pg_store.subscribe(ws, "https://a.example/f", interval_s=300, name=None, now=NOW)
    feed_b = await pg_store.subscribe(ws, "https://b.example/f", interval_s=300, name=None, now=NOW)
    for n in range(8):
        linked = entry(n)
        bare = entry(100 + n, url=None)
        for item in (linked, bare):
            outcomes = await asyncio.gather(
                save(pg_store, feed_a, item), save(pg_store, feed_b, item)
            )
            assert sorted(o.status for o in outcomes) == ["duplicate", "new"], item
            assert outcomes[0].article_id == outcomes[1].article_id
    assert (await pg_store.counts(ws)).articles == 16

    # the same entry twice from one feed at once (same key, another link): stored once
    first, second = await asyncio.gather(
        save(pg_store, feed_a, entry(200, guid="same", url="https://outlet.example/x")),
        save(pg_store, feed_a, entry(200, guid="same", url="https://outlet.example/y")),
    )
    assert sorted([first.status, second.status]) == ["new", "unchanged"]
    assert first.article_id == second.article_id
    orphans = await pg_store.pool.fetchval(
        "SELECT count(*) FROM articles a WHERE NOT EXISTS "
        "(SELECT 1 FROM feed_entries fe WHERE fe.article_id = a.article_id)"
    )
    assert orphans == 0
    changes = await pg_store.changes_after("nobody")
    seqs = [seq for seq, *_ in changes]
    assert seqs == sorted(seqs)


async def test_concurrent_subscribers_set_the_shortest_interval(pg_store: Any) -> None:
    spaces = [await pg_store.workspace_id(f"ws{n}", NOW) for n in range(4)]
    for n in range(20):
        url = f"https://f{n}.example/feed"
        await asyncio.gather(
            *(
                pg_store.subscribe(ws, url, interval_s=interval, name=None, now=NOW)
                for ws, interval in zip(spaces, (900, 120, 600, 300), strict=True)
            )
        )
        [feed] = await pg_store.workspace_feeds(spaces[0])
        assert feed.interval_s == 120, n
        await asyncio.gather(*(pg_store.unsubscribe(ws, feed.feed_id) for ws in spaces[:2]))
        [feed] = await pg_store.workspace_feeds(spaces[2])
        assert feed.interval_s == 300, n
        await pg_store.unsubscribe(spaces[2], feed.feed_id)
        await pg_store.unsubscribe(spaces[3], feed.feed_id)


async def test_concurrent_extractions_of_one_article_both_store(pg_store: Any) -> None:
    """Two processes starting at once each extract what is missing: both store, neither fails
    on the other's rows."""
    ws, feed_id = await setup(pg_store)
    ids = [(await save(pg_store, feed_id, entry(n))).article_id for n in range(6)]
    first = record(places=((MOSUL, True),), actors=(ISIS,), types=("battles",), day=None)
    second = record(places=((BAGHDAD, True),), actors=(PMF,), types=("battles",), day=None)
    for _ in range(5):
        await asyncio.gather(
            pg_store.save_events([(a, first) for a in ids], extractor="v1", now=NOW),
            pg_store.save_events([(a, second) for a in reversed(ids)], extractor="v1", now=NOW),
        )
        meta = await pg_store.article_meta(ids)
        assert sorted(meta) == ids
        for one in meta.values():
            assert len(one.places) == 1 and len(one.actors) == 1 and len(one.events) == 2
