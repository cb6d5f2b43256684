"""Watches and alerts end to end: a real feed server on 127.0.0.1, real SQLite, the real model
and extractor, and a fake chat. Every text here is our own invented sentence.

This module: what a watch matches (groups, places with their radius, mutes, keywords, topics,
ambiguous and unknown names, event types and the killed). Delivery is in
test_alerts_delivery.py, backfill, restarts and workspaces in test_alerts_backfill.py; the
shared texts, fixtures and helpers in alerts_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.core import watches as watch_table
from bot.core.watches import Ambiguous
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import (
    AL_QAIM,
    ALBU_KAMAL,
    DRILL,
    HARVEST,
    ISIS_AMBUSH,
    LATER,
    MOSUL,
    POWER,
    alerts,
    app_fixture,  # noqa: F401
    clock_fixture,  # noqa: F401
    entry,
    poll,
    publish,
    serve,
)
from tests.fakes import FakeChat
from tests.index.ingest_helpers import Clock


async def test_isil_watch_fires_once_on_islamic_state(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    watch = await commands.watch_add(app, "ISIL", channel="console")
    assert (watch["kind"], watch["canonical"], watch["channel"]) == (
        "group",
        "Islamic State",
        "console",
    )
    report = await publish(
        app,
        clock,
        httpserver_ipv4,
        [
            entry("is1", "Convoy ambushed near Palmyra", ISIS_AMBUSH, LATER),
            entry("h1", "Thin wheat harvest", HARVEST, LATER),
        ],
    )
    assert report["alerts"] == 1
    [alert] = await alerts(app)
    assert alert["title"] == "Convoy ambushed near Palmyra"
    assert alert["sources"] == ["A"]
    assert alert["delivered_at"] is None and alert["pending"]
    [matched] = alert["matched"]  # type: ignore[misc]
    assert matched["watch_id"] == watch["watch_id"] and matched["term"] == "ISIL"
    assert '"Islamic State"' in matched["why"]

    chat = FakeChat()
    delivered = await commands.deliver_alerts(app, chat)
    assert delivered.sent == 1
    [(channel, card)] = chat.drain()
    assert channel == "console" and card.title == "Convoy ambushed near Palmyra"
    assert card.url == "https://outlet.example/is1"
    assert card.footer.startswith("matched: ISIL")
    fields = dict(card.fields)
    assert fields["Source"] == "A" and "Syria" in fields["Place"]
    assert "Islamic State" in fields["Actors"] and fields["Casualties"] == "9 killed"

    clock.advance(minutes=10)  # the feed is polled again and serves the same items
    again = await poll(app)
    assert again["alerts"] == 0 and again["new_articles"] == 0
    assert len(await alerts(app)) == 1
    assert (await commands.deliver_alerts(app, chat)).sent == 0 and chat.drain() == []
    stats = await commands.stats(app, workspace="console")
    assert (stats["watches"], stats["alerts"]) == (1, 1)


async def test_a_province_covers_its_towns_and_a_radius_crosses_the_border(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    province = await commands.watch_add(app, "Deir ez-Zor", channel="console")
    assert province["kind"] == "place" and province["canonical"] == "Deir ez-Zor"
    near = await commands.watch_add(app, "Albu Kamal", radius_km=30, channel="console")
    assert near["kind"] == "place" and near["radius_km"] == 30
    await publish(
        app,
        clock,
        httpserver_ipv4,
        [
            entry("ak", "Clashes in Albu Kamal", ALBU_KAMAL, LATER),
            entry("qa", "Guards reinforce Al-Qaim", AL_QAIM, LATER),
            entry("mo", "Market bombing in Mosul", MOSUL, LATER),
        ],
        "/b.xml",
    )
    found = {a["title"]: a for a in await alerts(app)}
    assert set(found) == {"Clashes in Albu Kamal", "Guards reinforce Al-Qaim"}
    albu = {m["watch_id"]: m["why"] for m in found["Clashes in Albu Kamal"]["matched"]}  # type: ignore[attr-defined]
    assert set(albu) == {province["watch_id"], near["watch_id"]}
    assert "inside Deir ez-Zor" in albu[province["watch_id"]]
    [qaim] = found["Guards reinforce Al-Qaim"]["matched"]  # type: ignore[misc]
    assert qaim["watch_id"] == near["watch_id"] and "km from" in qaim["why"]


async def test_mute_suppresses_and_expires(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    watch = await commands.watch_add(app, "Mosul", channel="console")
    muted = await commands.watch_mute(app, watch["watch_id"], "2h", workspace="console")
    assert muted["muted_until"] == "2026-11-25T14:00:00+00:00"
    listed = (await commands.watch_list(app, workspace="console"))["watches"]
    assert listed[0]["muted_until"] == "2026-11-25T14:00:00+00:00"
    await publish(app, clock, httpserver_ipv4, [entry("m1", "Car bomb in Mosul", MOSUL, LATER)])
    assert await alerts(app) == []
    clock.advance(hours=2)  # the mute is over
    assert (await commands.watch_list(app, workspace="console"))["watches"][0][
        "muted_until"
    ] is None
    httpserver_ipv4.clear()
    serve(
        httpserver_ipv4,
        "/a.xml",
        [entry("m2", "Another blast in Mosul", DRILL.replace("drill", "attack"), clock.now)],
        "A",
    )
    await poll(app)
    assert [a["title"] for a in await alerts(app)] == ["Another blast in Mosul"]


async def test_keyword_with_not(app: App, clock: Clock, httpserver_ipv4: HTTPServer) -> None:
    watch = await commands.watch_add(app, '"car bomb" NOT drill', channel="console")
    assert watch["kind"] == "keyword" and watch["canonical"] == '"car bomb" AND NOT drill'
    await publish(
        app,
        clock,
        httpserver_ipv4,
        [
            entry("m1", "Market bombing", MOSUL, LATER),
            entry("d1", "Rescue crews train", DRILL, LATER),
        ],
    )
    [alert] = await alerts(app)
    assert alert["title"] == "Market bombing"
    assert alert["matched"][0]["why"] == 'keywords "car bomb"'  # type: ignore[index]


# Real news as the background that topic thresholds are measured against.
BACKGROUND = (
    "fastfeedparser/aljazeera_all.xml",
    "fastfeedparser/bbc_world.xml",
    "fastfeedparser/nyt_world.xml",
    "fastfeedparser/dawn_world.xml",
    "feeder/guardian_world_2022.xml",
)


async def test_topic_fires_on_a_paraphrase_not_on_an_unrelated_story(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    shared_data: Path,
) -> None:
    files = [shared_data / "news_feeds" / name for name in BACKGROUND]
    async with open_app(settings, embedder=real_embedder, now=clock) as app:
        stored = await commands.ingest_files(app, files, workspace="console")
        assert stored["new_articles"] >= 150
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        watch = await commands.watch_add(app, "drone attacks on power stations", channel="console")
        assert watch["kind"] == "topic" and watch["threshold"] is None  # per description
        report = await publish(
            app,
            clock,
            httpserver_ipv4,
            [
                entry("p1", "Blackout after overnight strike", POWER, LATER),
                entry("h1", "Thin wheat harvest", HARVEST, LATER),
                entry("m1", "Market bombing", MOSUL, LATER),
            ],
        )
        assert report["alerts"] == 1
        [alert] = await alerts(app)
        assert alert["title"] == "Blackout after overnight strike"
        assert alert["matched"][0]["why"].startswith("topic, similarity")  # type: ignore[index]

        # a description of its own threshold, and the global one while the store is small
        strict = await commands.watch_add(
            app, "drone attacks on power stations", threshold=0.9, channel="console"
        )
        assert strict["threshold"] == 0.9


async def test_topic_threshold_without_background_is_the_global_one(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await commands.watch_add(
        app, "car bomb attack on a crowded market", kind="topic", channel="console"
    )
    engine = await app.alert_engine()
    assert engine.topics is not None
    [watch] = [w for w in await watch_table.list_watches(app.store) if w.kind == "topic"]
    assert await engine.topics.thresholds([watch]) == {watch.watch_id: 0.56}
    report = await publish(
        app, clock, httpserver_ipv4, [entry("m1", "Market bombing", MOSUL, LATER)]
    )
    assert report["alerts"] == 1  # 0.6 or so: above the conservative global threshold


async def test_ambiguous_terms_come_back_with_choices(app: App) -> None:
    with pytest.raises(Ambiguous) as found:
        await commands.watch_add(app, "Tripoli", channel="console")
    labels = [c.label for c in found.value.choices]
    assert any("Libya" in label for label in labels) and any("Lebanon" in label for label in labels)
    lebanon = next(c for c in found.value.choices if "Lebanon" in c.label)
    picked = await commands.watch_add(app, lebanon.term, channel="console")
    assert picked["kind"] == "place" and picked["canonical"] == "Tripoli"
    assert (await commands.watch_list(app, workspace="console"))["watches"][0][
        "term"
    ] == lebanon.term


async def test_a_name_outside_the_catalogue_is_an_exact_name_watch(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    watch = await commands.watch_add(app, "Qasim Darwish", kind="group", channel="console")
    assert (watch["kind"], watch["canonical"]) == ("group", None)
    said = (
        "Fighters loyal to the commander Qasim Darwish seized a checkpoint near Manbij on "
        "Monday, residents said, after a week of talks with local elders broke down."
    )
    other = said.replace("Qasim Darwish", "Omar Haddad")
    await publish(
        app,
        clock,
        httpserver_ipv4,
        [entry("q1", "Checkpoint seized", said, LATER), entry("o1", "Talks fail", other, LATER)],
    )
    [alert] = await alerts(app)
    assert alert["title"] == "Checkpoint seized"
    assert "Qasim Darwish" in alert["matched"][0]["why"]  # type: ignore[index]


async def test_filters_on_event_type_and_the_killed(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    watch = await commands.watch_add(
        app, "Mosul", event_types=["explosions"], min_killed=10, channel="console"
    )
    assert watch["event_types"] == ["explosions/remote violence"] and watch["min_killed"] == 10
    few = MOSUL.replace("killing at least 23 people", "killing three people")
    await publish(
        app,
        clock,
        httpserver_ipv4,
        [
            entry("m1", "Car bomb kills 23 in Mosul market", MOSUL, LATER),
            entry("m2", "Car bomb kills three in Mosul", few, LATER),
            entry("d1", "Rescue drill in Mosul", DRILL, LATER),
        ],
    )
    [alert] = await alerts(app)
    assert alert["title"] == "Car bomb kills 23 in Mosul market"
    why = alert["matched"][0]["why"]  # type: ignore[index]
    assert "type explosions/remote violence" in why and "23 killed (at least 10)" in why


async def test_a_topic_description_is_embedded_again_after_a_change_of_model(
    settings: Settings, clock: Clock, real_embedder: Embedder, extractor: Extractor
) -> None:
    """A topic watch remembers which model embedded its description; opened with another
    model (or backend), the description is embedded again instead of comparing vectors of two
    models. Other watches and up-to-date topics are left alone."""
    import numpy as np

    from index.retrieve.embed import HashEmbedder

    description = "drone strikes on power plants"
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        await commands.watch_add(app, description, kind="topic", channel="console")
        await commands.watch_add(app, "ISIL", kind="group", channel="console")
    rows = await _watch_rows(settings)
    assert rows["topic"][1] == real_embedder.model_id
    other = HashEmbedder(real_embedder.dim)
    async with open_app(settings, embedder=other, now=clock) as app:
        [topic] = [w for w in await watch_table.list_watches(app.store) if w.kind == "topic"]
        assert topic.vector is not None
        assert np.allclose(topic.vector, other.embed_query(description))
        assert await watch_table.reembed_topics(app.store, other.embed_query, other.model_id) == 0
    rows = await _watch_rows(settings)
    assert rows["topic"][1] == other.model_id and rows["group"] == (None, None)


async def _watch_rows(settings: Settings) -> dict[str, tuple[object, object]]:
    import sqlite3

    with sqlite3.connect(settings.db_path) as db:
        found = db.execute("SELECT kind, vector IS NOT NULL, vector_model FROM watches")
        return {kind: (has or None, model) for kind, has, model in found}
