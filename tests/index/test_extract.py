"""Event metadata end to end: the extractor with the real model, and what the ingest cycle
stores and lets one query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from pytest_httpserver import HTTPServer

from bot import commands
from bot.app import App, open_app
from bot.settings import Settings
from index.embed import Embedder
from index.eventtypes import EXPLOSIONS, STRATEGIC
from index.extract import Extractor
from index.store import PlaceFilter
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
    killed = record.casualties.killed
    assert killed is not None and killed.best == 12
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
            __import__("index.extract", fromlist=["ExtractInput"]).ExtractInput("", t, PUBLISHED)
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
    assert set(doc) == {"actors", "places", "event_types", "casualties", "event_date"}
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
    assert doc["casualties"]["killed"] == {"low": 12, "best": 12, "high": 12}
    assert doc["event_date"] == "2026-11-18"


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
        await commands.add_feed(opened, httpserver_ipv4.url_for("/feed.xml"))
        report = await commands.poll_once(opened)
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
