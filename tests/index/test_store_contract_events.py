"""The store's contract for event metadata, on each engine: events stored and read back
alike, articles found by each filter (places, actors, types, dates) and alert horizons.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from index.extract.actors import actor_key
from index.extract.casualties import Count
from index.extract.events import event_doc
from index.extract.extractor import EventRecord
from index.store.rows import ArticleMeta, EventMeta, PlaceFilter, PlaceRow
from index.store.sqlite.store import Store
from index.timeutil import to_iso
from tests.index.store_contract_helpers import (
    ALEPPO,
    BAGHDAD,
    ISIS,
    MOSUL,
    NOW,
    PMF,
    entry,
    fetched,
    record,
    row_of,
    save,
    setup,
    store_fixture,  # noqa: F401
    utc,
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
