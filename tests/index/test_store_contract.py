"""The store's contract, on each engine: `Store` (SQLite, FTS5, FAISS) and `PgStore`
(PostgreSQL, tsvector, pgvector) run the same test bodies and must give the same answers.

This module holds workspaces and feeds (subscriptions, due feeds, claims, fetch failures),
articles and stories, and the change feed; passages and search are in
test_store_contract_passages.py, event metadata in test_store_contract_events.py and
PostgreSQL's own tests in test_store_contract_pg.py. The shared fixture and builders are in
store_contract_helpers.py.
"""

from __future__ import annotations

from datetime import timedelta

from index.extract.extractor import EventRecord
from index.retrieve.passages import content_hash
from index.store.sqlite.store import Store
from tests.index.store_contract_helpers import (
    NOW,
    WINDOW,
    entry,
    fetched,
    row_of,
    save,
    setup,
    store_fixture,  # noqa: F401
    utc,
)


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
