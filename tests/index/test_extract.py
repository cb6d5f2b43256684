"""Event metadata end to end: the extractor with the real model, and what the ingest cycle
stores and lets one query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.extract.casualties import Casualties, Count
from index.extract.events import Event
from index.extract.eventtypes import BATTLES, EXPLOSIONS, STRATEGIC
from index.extract.extractor import EXTRACTOR_VERSION, Extractor, article_fields
from index.retrieve.embed import Embedder
from index.store.rows import PlaceFilter
from tests.index.test_ingest import Clock, item, rss

PUBLISHED = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)  # a Thursday

STORY_TITLE = "Nusra Front branch in Albu Kamal pledges loyalty to ISIS"
STORY = (
    "Fighters of the Nusra Front's branch in Albu Kamal pledged loyalty to ISIS on Wednesday, "
    "while Islamic State fighters waited on the Iraqi side of the border in Al-Qaim. "
    "Separately, an air strike on Raqqa killed 12 civilians, including a woman and a child."
)


def test_the_albu_kamal_story(extractor: Extractor) -> None:
    record = extractor.extract(STORY_TITLE, STORY, PUBLISHED)
    assert {a.actor_id for a in record.actors} >= {"nusra_front", "isis"}
    places = {m.text: m.place for m in record.places}
    albu_kamal, al_qaim, raqqa = places["Albu Kamal"], places["Al-Qaim"], places["Raqqa"]
    assert (albu_kamal.admin1, albu_kamal.country_code) == ("Deir ez-Zor", "SY")
    assert al_qaim.country_code == "IQ" and "Anbar" in (al_qaim.admin1 or "")
    assert raqqa.country_code == "SY" and raqqa.precision == "town"
    assert {STRATEGIC, EXPLOSIONS} <= set(record.event_types)
    # the story's fields come from its main event, the pledge: the strike's toll is its own
    assert record.casualties.killed is None
    [strike] = [e for e in record.events if e.killed is not None]
    assert strike.killed is not None and strike.killed.best == 12 and not strike.main
    assert strike.place is not None and strike.place.text == "Raqqa"
    assert record.event_date == date(2026, 11, 18)  # "Wednesday" in a Thursday story
    main = record.main_place
    assert main is not None and main.text == "Albu Kamal"


def test_spellings_resolve_to_one_actor_and_one_place(extractor: Extractor) -> None:
    texts = [
        "Daesh militants attacked Abu Kamal.",
        "ISIL fighters attacked Al-Bukamal.",
        "Islamic State gunmen attacked Albu Kamal.",
    ]
    records = extractor.extract_many(
        [
            __import__("index.extract.extractor", fromlist=["ExtractInput"]).ExtractInput(
                "", t, PUBLISHED
            )
            for t in texts
        ]
    )
    assert {r.actors[0].actor_id for r in records} == {"isis"}
    assert len({r.places[0].place.geonameid for r in records}) == 1


def test_a_small_town_is_a_place_not_a_person_or_organisation(extractor: Extractor) -> None:
    record = extractor.extract(
        "", "Clashes erupted in Hajin and Gharanij on Monday, and later near Dhiban.", PUBLISHED
    )
    assert {m.text for m in record.places} >= {"Hajin", "Dhiban"}
    assert not {a.text for a in record.actors} & {"Hajin", "Gharanij", "Dhiban"}


def test_an_actor_outside_the_catalogue_comes_from_ner(extractor: Extractor) -> None:
    record = extractor.extract(
        "",
        "A group calling itself the Free Euphrates Movement claimed the attack near Mayadin.",
        PUBLISHED,
    )
    outside = [a for a in record.actors if a.actor_id is None]
    assert [a.canonical for a in outside] == ["Free Euphrates Movement"]


def test_extract_document_shape(extractor: Extractor) -> None:
    doc = extractor.extract(STORY_TITLE, STORY, PUBLISHED).to_doc()
    assert set(doc) == {"actors", "places", "event_types", "casualties", "event_date", "events"}
    assert {"text", "canonical", "kind"} <= set(doc["actors"][0])
    assert {
        "text",
        "canonical",
        "country",
        "country_code",
        "admin1",
        "lat",
        "lon",
        "geonameid",
        "precision",
    } <= set(doc["places"][0])
    assert doc["casualties"] == {"killed": None, "injured": None}  # the main event's: a pledge
    assert [e["killed"] for e in doc["events"] if e["killed"]] == [
        {"low": 12, "best": 12, "high": 12, "civilians": True}  # "killed 12 civilians"
    ]
    assert doc["event_date"] == "2026-11-18"


def test_the_story_fields_never_mix_events() -> None:
    strike = Event(
        type=EXPLOSIONS,
        sub_type="air_strike",
        actors=(),
        place=None,
        date=date(2026, 11, 17),
        killed=Count(12, 12, 12),
        injured=None,
        sentences=("an air strike killed 12",),
    )
    clash = replace(strike, type=BATTLES, sub_type="armed_clash", killed=None, main=True)
    whole_text = Casualties(Count(12, 12, 12), Count(3, 3, 3))
    events, types, casualties, when = article_fields(
        (clash, strike), (STRATEGIC,), whole_text, date(2026, 11, 18)
    )
    assert events == (clash, strike)
    assert types == (BATTLES, EXPLOSIONS, STRATEGIC)  # every event's type and the lead's
    # killed: the main event counts none and the strike's 12 is its own; injured: no event
    # counts any, so the whole text's count stands
    assert casualties == Casualties(None, Count(3, 3, 3))
    assert when == date(2026, 11, 17)
    # with no count in any event, the whole text's count stands
    _, _, casualties, _ = article_fields((clash,), (), whole_text, None)
    assert casualties == whole_text
    # one event: the story is that event, its counts read from the whole text
    [only], _, casualties, _ = article_fields((strike,), (), whole_text, None)
    assert only.killed == Count(12, 12, 12) and only.injured == Count(3, 3, 3)
    assert casualties == whole_text
    # no events: the article-level readings
    assert article_fields((), (STRATEGIC,), whole_text, None) == (
        (),
        (STRATEGIC,),
        whole_text,
        None,
    )


# ---- stored and queryable after ingest -----------------------------------------------------
@pytest.fixture
async def app(
    settings: Settings, real_embedder: Embedder, extractor: Extractor, httpserver_ipv4: HTTPServer
) -> AsyncIterator[App]:
    clock = Clock(PUBLISHED)
    items = [
        item("s1", STORY_TITLE, STORY, date="Thu, 19 Nov 2026 09:00:00 GMT"),
        item(
            "s2",
            "Car bomb kills 23 in Mosul market",
            "A car bomb exploded in a crowded market in Mosul on Tuesday, killing 23 people.",
            date="Wed, 18 Nov 2026 09:00:00 GMT",
        ),
        item(
            "s3",
            "Protest in Basra over power cuts",
            "Hundreds of protesters blocked roads in Basra on Sunday over power cuts.",
            date="Mon, 16 Nov 2026 09:00:00 GMT",
        ),
    ]
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(rss(items, "Wire"))
    async with open_app(
        settings, embedder=real_embedder, now=clock, with_extractor=False
    ) as opened:
        opened.require_pipeline().extractor = extractor
        await commands.add_feed(opened, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
        report = await commands.poll_once(opened, workspace="console")
        assert report["new_articles"] == 3
        yield opened


async def _titles(app: App, **filters: object) -> set[str]:
    ws = await app.workspace_id()
    return {a.title for a in await app.store.find_articles(ws, **filters)}  # type: ignore[arg-type]


async def test_every_ingested_article_has_metadata(app: App) -> None:
    ws = await app.workspace_id()
    for article in await app.store.find_articles(ws):
        assert await app.store.event_metadata(article.article_id) is not None


async def test_query_by_actor_any_alias(app: App, extractor: Extractor) -> None:
    [isis] = extractor.catalogue.resolve("Daesh")
    assert await _titles(app, actor_keys=[isis.id]) == {STORY_TITLE}


async def test_query_by_place_with_containment(app: App, extractor: Extractor) -> None:
    deir = next(p for p in extractor.gazetteer.resolve("Deir ez-Zor") if p.precision == "admin1")
    region = PlaceFilter(deir.country_code, deir.admin1_code)
    assert await _titles(app, region=region) == {STORY_TITLE}
    iraq = PlaceFilter("IQ")
    assert await _titles(app, region=iraq) == {
        STORY_TITLE,
        "Car bomb kills 23 in Mosul market",
        "Protest in Basra over power cuts",
    }


async def test_query_by_event_type_and_dates(app: App) -> None:
    assert await _titles(app, event_types=["protests"]) == {"Protest in Basra over power cuts"}
    assert await _titles(app, since=date(2026, 11, 17), until=date(2026, 11, 17)) == {
        "Car bomb kills 23 in Mosul market"
    }  # the event date (Tuesday), not publication


class _Failing:
    """The real extractor, failing on any article whose title starts with BOOM."""

    def __init__(self, real: Extractor) -> None:
        self.real = real

    def extract_many(self, items):  # type: ignore[no-untyped-def]
        if any(i.title.startswith("BOOM") for i in items):
            raise RuntimeError("extractor bug")
        return self.real.extract_many(items)


async def test_an_article_that_breaks_extraction_does_not_stop_ingest(
    settings: Settings, real_embedder: Embedder, extractor: Extractor, httpserver_ipv4: HTTPServer
) -> None:
    items = [
        item("b1", "BOOM goes the parser", "Nothing to see."),
        item(
            "s2",
            "Car bomb kills 23 in Mosul market",
            "A car bomb exploded in a crowded market in Mosul, killing 23 people.",
        ),
    ]
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(rss(items, "Wire"))
    async with open_app(
        settings, embedder=real_embedder, now=Clock(PUBLISHED), with_extractor=False
    ) as app:
        app.require_pipeline().extractor = _Failing(extractor)  # type: ignore[assignment]
        await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
        report = await commands.poll_once(app, workspace="console")
        assert report["new_articles"] == 2 and report["embedded"] >= 2
        ws = await app.workspace_id()
        metas = {
            a.title: await app.store.event_metadata(a.article_id)
            for a in await app.store.find_articles(ws)
        }
        assert metas["BOOM goes the parser"] is not None  # stored empty, not retried forever
        assert metas["BOOM goes the parser"]["actors"] == []
        assert (
            "explosions/remote violence"
            in metas["Car bomb kills 23 in Mosul market"]["event_types"]
        )
        assert await app.store.articles_to_extract(EXTRACTOR_VERSION, 10) == []


async def test_an_updated_article_gets_fresh_metadata(
    settings: Settings, real_embedder: Embedder, extractor: Extractor, httpserver_ipv4: HTTPServer
) -> None:
    first = item("u1", "Clashes near Hajin", "Fighting broke out near Hajin on Tuesday.")
    second = item(
        "u1",
        "Air strike on Raqqa kills 12",
        "An air strike on Raqqa killed 12 civilians on Wednesday.",
    )
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(rss([first]))
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(rss([second]))
    async with open_app(
        settings, embedder=real_embedder, now=Clock(PUBLISHED), with_extractor=False
    ) as app:
        app.require_pipeline().extractor = extractor
        await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
        await commands.poll_once(app, workspace="console")
        await commands.poll_once(app, workspace="console")
        [article] = await app.store.find_articles(await app.workspace_id())
        meta = await app.store.event_metadata(article.article_id)
        assert meta is not None and meta["event"]["killed_best"] == 12
        assert {p["mention"] for p in meta["places"]} == {"Raqqa"}


async def test_ingested_files_get_metadata(
    settings: Settings, real_embedder: Embedder, extractor: Extractor, tmp_path: Path
) -> None:
    path = tmp_path / "wire.xml"
    path.write_bytes(rss([item("f1", STORY_TITLE, STORY)], "Wire"))
    async with open_app(
        settings, embedder=real_embedder, now=Clock(PUBLISHED), with_extractor=False
    ) as app:
        app.require_pipeline().extractor = extractor
        await commands.ingest_files(app, [path], workspace="console")
        [article] = await app.store.find_articles(
            await app.workspace_id(), actor_keys=["nusra_front"]
        )
        assert article.title == STORY_TITLE


def test_batch_lines_are_checked_and_cleaned() -> None:
    from bot.core.extraction import parse_batch

    items = parse_batch(
        [
            '{"id": 7, "text": "Title\\nBody \\ud800 text"}',
            '{"id": "x", "text": "", "published": "2024-03-01"}',
        ]
    )
    assert [i for i, _ in items] == [7, "x"]
    assert items[0][1].title == "Title" and "?" in items[0][1].text
    assert items[0][1].published is None and items[1][1].published is not None
    for bad in ('{"id": 1}', "[1, 2]", '{"text": "a", "published": "yesterday-ish"}', "{"):
        with pytest.raises(ValueError, match="line 1"):
            parse_batch([bad])
