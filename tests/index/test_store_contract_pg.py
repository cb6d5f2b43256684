"""The store's contract on PostgreSQL only: feed claims shared by workers, and what
concurrent transactions (several workers on one database) must not break: one article per
entry, a feed's interval, extraction of the same articles.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests.index.store_contract_helpers import (
    BAGHDAD,
    ISIS,
    MOSUL,
    NOW,
    PMF,
    entry,
    fetched,
    record,
    save,
    setup,
)


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Any]:
    from index.store.pg.store import PgStore

    async with PgStore.open(pg_url, max_size=6) as pg:
        yield pg


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
