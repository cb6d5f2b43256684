"""Watches and alerts end to end: a real feed server on 127.0.0.1, real SQLite, the real model
and extractor, and a fake chat. Every text here is our own invented sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.core import watches as watch_table
from bot.core.ports import Card
from bot.core.watches import Ambiguous, channel_workspace
from bot.settings import Settings
from bot.store import alert_rows as store_alert_rows
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.fakes import FakeChat
from tests.index.test_ingest import Clock, item, rss

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

ISIS_AMBUSH = (
    "Islamic State fighters ambushed an army convoy in the desert east of Palmyra on Monday, "
    "killing nine soldiers, the group said in a statement. The convoy was carrying supplies "
    "to a garrison near the T4 air base, a military source said."
)
ALBU_KAMAL = (
    "Clashes broke out in Albu Kamal, in Syria's Deir ez-Zor province, on Monday between "
    "local fighters and a militia that controls the border crossing. Residents said gunfire "
    "lasted for hours and shops stayed closed."
)
AL_QAIM = (
    "Iraqi border guards reinforced positions in Al-Qaim on Monday after shelling was heard "
    "from across the frontier. The town's mayor said families had left the outskirts for "
    "safer districts."
)
MOSUL = (
    "A car bomb exploded in a crowded market in western Mosul on Monday, killing at least 23 "
    "people. Police said the vehicle was parked near a row of vegetable stalls."
)
DRILL = (
    "Soldiers staged a car bomb drill in Mosul on Monday to train rescue crews. No one was "
    "hurt, officials said, and the market reopened in the afternoon."
)
POWER = (
    "Unmanned aircraft struck an electricity plant outside Kharkiv overnight, knocking out "
    "power to tens of thousands of homes, regional officials said. Engineers were working to "
    "restore supply before temperatures drop further this week."
)
HARVEST = (
    "Farmers in the Euphrates valley began bringing in the wheat harvest this week, though "
    "yields are thin after a dry spring and diesel for the pumps costs twice what it did "
    "last year, growers said."
)


def entry(
    guid: str, title: str, text: str, at: datetime, link: str | None = None
) -> dict[str, str]:
    return item(guid, title, text, link=link, date=format_datetime(at, usegmt=True))


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def app(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    gazetteer_cache: Path,
) -> AsyncIterator[App]:
    settings = settings.model_copy(update={"cache_dir": gazetteer_cache.parent})
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as opened:
        yield opened


def serve(httpserver: HTTPServer, path: str, items: list[dict[str, str]], title: str) -> str:
    httpserver.expect_request(path).respond_with_data(
        rss(items, title=title), content_type="application/rss+xml"
    )
    return httpserver.url_for(path)


async def poll(app: App) -> dict[str, object]:
    return await commands.poll_once(app, workspace="console")


async def publish(
    app: App,
    clock: Clock,
    httpserver: HTTPServer,
    items: list[dict[str, str]],
    path: str = "/a.xml",
    backfill: str | None = None,
) -> dict[str, object]:
    """Serve `items` as a feed, subscribe the console to it, an hour later poll it. `backfill`
    None (default here): every item may alert, as for a feed followed long before."""
    url = serve(httpserver, path, items, "A")
    await commands.add_feed(app, url, workspace="console", backfill=backfill)
    clock.advance(hours=1)
    return await poll(app)


async def alerts(app: App, channel: str = "console") -> list[dict[str, object]]:
    workspace = channel_workspace(channel)
    doc = await commands.list_alerts(app, workspace=workspace, channel=channel)
    return doc["alerts"]  # type: ignore[no-any-return]


LATER = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


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


async def test_same_story_from_two_feeds_is_one_alert_updated_in_place(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await commands.watch_add(app, "Mosul", channel="console")
    text_b = MOSUL + " Shopkeepers said the blast shattered windows across the street."
    first = serve(
        httpserver_ipv4, "/a.xml", [entry("m1", "Car bomb kills 23 in Mosul", MOSUL, LATER)], "A"
    )
    await commands.add_feed(app, first, workspace="console")
    clock.advance(hours=1)
    assert (await poll(app))["alerts"] == 1
    chat = FakeChat()
    await commands.deliver_alerts(app, chat)
    assert len(chat.drain()) == 1

    second = serve(
        httpserver_ipv4,
        "/b.xml",
        [entry("m2", "Mosul market car bomb kills 23", text_b, LATER, "https://b.example/m2")],
        "B",
    )
    await commands.add_feed(app, second, workspace="console")
    clock.advance(minutes=10)
    assert (await poll(app))["alerts"] == 0
    [alert] = await alerts(app)
    assert alert["sources"] == ["A", "B"] and len(alert["article_ids"]) == 2  # type: ignore[arg-type]
    assert alert["version"] == 2 and alert["pending"]
    report = await commands.deliver_alerts(app, chat)
    assert (report.sent, report.edited) == (0, 1)
    assert chat.drain() == []
    [(_, ref, card)] = chat.edits
    assert ref == "m1" and card.kind == "update" and dict(card.fields)["Sources"] == "A, B"
    assert not (await alerts(app))[0]["pending"]


async def test_killed_between_recording_and_delivery_delivers_exactly_once(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
) -> None:
    mosul = [entry("m1", "Car bomb in Mosul", MOSUL, LATER)]
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        await commands.watch_add(app, "Mosul", channel="console")
        assert (await publish(app, clock, httpserver_ipv4, mosul))["alerts"] == 1
    # the process "dies" here: recorded, never delivered. A new one starts on the same data.
    chat = FakeChat()
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        chat.crash_after_post = True  # and this one dies right after the chat took the post
        assert (await commands.deliver_alerts(app, chat)).failed == 1
        assert (await alerts(app))[0]["pending"]
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        chat.crash_after_post = False
        clock.advance(hours=2)  # past the retry backoff
        assert (await commands.deliver_alerts(app, chat)).alerts == 1
        assert (await commands.deliver_alerts(app, chat)).alerts == 0
        [alert] = await alerts(app)
        assert alert["delivered_at"] is not None and not alert["pending"]
    assert len(chat.posts) == 1  # the same key was posted once


async def test_an_outage_is_retried_with_backoff_and_a_gone_channel_given_up(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await commands.watch_add(app, "Mosul", channel="console")
    await publish(app, clock, httpserver_ipv4, [entry("m1", "Car bomb in Mosul", MOSUL, LATER)])
    chat = FakeChat()
    chat.outage = "gateway down"
    assert (await commands.deliver_alerts(app, chat)).failed == 1
    [alert] = await alerts(app)
    assert alert["attempts"] == 1 and alert["last_error"] == "gateway down" and alert["pending"]
    chat.outage = None
    assert (await commands.deliver_alerts(app, chat)).sent == 0  # still backing off
    clock.advance(minutes=2)
    assert (await commands.deliver_alerts(app, chat)).sent == 1

    await commands.watch_add(app, "Albu Kamal", channel="console")
    more = serve(httpserver_ipv4, "/b.xml", [entry("ak", "Albu Kamal", ALBU_KAMAL, clock.now)], "B")
    await commands.add_feed(app, more, workspace="console")
    clock.advance(minutes=10)
    await poll(app)
    chat.outage, chat.permanent = "unknown channel", True
    await commands.deliver_alerts(app, chat)
    gone = (await alerts(app))[0]
    assert gone["failed"] and not gone["pending"] and gone["last_error"] == "unknown channel"
    clock.advance(days=1)
    chat.outage = None
    assert (await commands.deliver_alerts(app, chat)).sent == 0  # given up for good


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


async def test_backfill_none_then_last_n(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    url = serve(
        httpserver_ipv4,
        "/a.xml",
        [
            entry("m1", "Market bombing in Mosul", MOSUL, START),
            entry("d1", "Drill in Mosul", DRILL, START),
            entry("h1", "Harvest", HARVEST, START),
        ],
        "A",
    )
    await commands.add_feed(app, url, workspace="console")
    await poll(app)
    clock.advance(hours=1)
    none = await commands.watch_add(app, "Mosul", channel="console")
    assert none["backfilled"] == 0 and await alerts(app) == []
    clock.advance(minutes=10)
    await poll(app)  # the same old items again: still nothing
    assert await alerts(app) == []
    one = await commands.watch_add(app, "Mosul", channel="console", backfill="1")
    assert one["backfilled"] == 1 and len(await alerts(app)) == 1
    both = await commands.watch_add(
        app, "car bomb", kind="keyword", backfill="2026-11-01", channel="console"
    )
    assert both["backfilled"] == 1  # the market story; the drill already has its alert


async def test_a_digest_forms_past_k_and_the_rate_limit_holds_the_rest(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
) -> None:
    settings = settings.model_copy(update={"alert_digest_after": 2, "alert_rate_per_hour": 2})
    reports = {
        "Mosul": "A roadside bomb hit a patrol west of Mosul, wounding two soldiers.",
        "Kirkuk": "Protesters blocked the main road into Kirkuk over unpaid salaries.",
        "Tikrit": "Engineers in Tikrit reopened a bridge closed since the spring floods.",
        "Ramadi": "A sandstorm grounded flights and shut schools across Ramadi.",
        "Fallujah": "Police in Fallujah arrested three men suspected of smuggling fuel.",
        "Baqubah": "Gunmen on motorbikes shot dead a shopkeeper in central Baqubah.",
    }
    towns = list(reports)
    items = [
        entry(f"t{n}", f"News from {town}", reports[town], LATER) for n, town in enumerate(towns)
    ]
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        await commands.watch_add(app, "Iraq", channel="console")
        await commands.add_feed(
            app, serve(httpserver_ipv4, "/a.xml", items[:3], "A"), workspace="console"
        )
        clock.advance(hours=1)
        assert (await poll(app))["alerts"] == 3
        chat = FakeChat()
        report = await commands.deliver_alerts(app, chat)
        assert (report.sent, report.digests, report.alerts) == (1, 1, 3)
        [(_, digest)] = chat.drain()
        assert digest.kind == "digest" and digest.title == "3 new alerts"
        assert [title for title, _, _ in digest.items] == [f"News from {t}" for t in towns[:3]]
        assert "News from Kirkuk" in digest.markdown
        assert all(a["digest"] and not a["pending"] for a in await alerts(app))

        await commands.add_feed(  # backfill None: the feed's items may all alert
            app,
            serve(httpserver_ipv4, "/b.xml", items[3:4], "B"),
            workspace="console",
            backfill=None,
        )
        clock.advance(minutes=10)
        await poll(app)
        assert (await commands.deliver_alerts(app, chat)).sent == 1  # one alone: no digest
        await commands.add_feed(  # backfill None: the feed's items may all alert
            app,
            serve(httpserver_ipv4, "/c.xml", items[4:], "C"),
            workspace="console",
            backfill=None,
        )
        clock.advance(minutes=10)
        await poll(app)
        held = await commands.deliver_alerts(app, chat)
        assert (held.sent, held.deferred) == (0, 2)  # two messages this hour already
        clock.advance(hours=1)
        assert (await commands.deliver_alerts(app, chat)).alerts == 2


class RivalClaims(FakeChat):
    """A chat whose first post lets a second sender claim the channel's other due alerts under
    a key of its own, as happens while two senders overlap when the sender lease changes hands."""

    def __init__(self, app: App) -> None:
        super().__init__()
        self.app = app
        self.rival: list[int] = []

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        if not self.rival:
            rows = store_alert_rows(self.app.store)
            due = [alert_id for alert_id, _ in await rows.due(self.app.now())]
            self.rival = due[1:]
            assert await rows.claim(self.rival, f"d{self.rival[0]}n{len(self.rival)}")
        return await super().send(channel, card, key=key, retry=retry)


async def test_alerts_another_sender_claimed_meanwhile_are_posted_once(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await commands.watch_add(app, "Iraq", channel="console")
    towns = ("Mosul", "Kirkuk", "Tikrit")
    items = [
        entry(f"t{n}", f"News from {t}", f"Police in {t} said.", LATER) for n, t in enumerate(towns)
    ]
    assert (await publish(app, clock, httpserver_ipv4, items))["alerts"] == 3

    mine = RivalClaims(app)
    report = await commands.deliver_alerts(app, mine)
    assert (report.sent, report.alerts) == (1, 1), "the rival's alerts are not posted here"
    rival = FakeChat()
    report = await commands.deliver_alerts(app, rival)
    assert (report.sent, report.alerts, report.digests) == (1, 2, 1)
    posted = [c.title for _, c in mine.drain()] + [
        title for _, c in rival.drain() for title, _, _ in c.items
    ]
    assert sorted(posted) == sorted(f"News from {t}" for t in towns), "each alert posted once"
    assert not any(a["pending"] for a in await alerts(app))


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


async def test_a_guild_sees_only_its_own_feeds_watches_and_alerts(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    guild = "discord:111:222"
    await commands.watch_add(app, "Mosul", channel=guild)
    await commands.watch_add(app, "Mosul", channel="console")
    url = serve(httpserver_ipv4, "/a.xml", [entry("m1", "Car bomb in Mosul", MOSUL, LATER)], "A")
    await commands.add_feed(app, url, workspace="console")  # the console's feed, not the guild's
    clock.advance(hours=1)
    assert (await poll(app))["alerts"] == 1
    assert await alerts(app, guild) == [] and len(await alerts(app)) == 1
    assert [
        w["channel"]
        for w in (await commands.watch_list(app, workspace="discord:111", channel=guild))["watches"]
    ] == [guild]
    with pytest.raises(Exception, match="no watch 1 here"):
        await commands.watch_remove(app, 1, workspace="discord:999")
    chat = FakeChat(channels=(guild,))
    assert (await commands.deliver_alerts(app, chat)).sent == 0  # console alerts are not its


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


async def test_articles_stored_by_a_process_killed_before_matching_alert_on_restart(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
) -> None:
    mosul = [entry("m1", "Car bomb in Mosul", MOSUL, LATER)]
    # stored, then killed before extraction and matching (an app without the extractor
    # stores articles and nothing more)
    async with open_app(settings, embedder=real_embedder, now=clock) as app:
        await commands.watch_add(app, "Mosul", channel="console")
        assert (await publish(app, clock, httpserver_ipv4, mosul))["new_articles"] == 1
        assert await alerts(app) == []
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        [alert] = await alerts(app)  # start-up extracted it and matched the watches
        assert alert["title"] == "Car bomb in Mosul"
        clock.advance(minutes=10)
        assert (await poll(app))["alerts"] == 0  # and nothing twice
        assert len(await alerts(app)) == 1


async def test_an_article_linked_into_another_workspace_alerts_there(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    guild = "discord:111:222"
    await commands.watch_add(app, "Mosul", channel="console")
    await commands.watch_add(app, "Mosul", channel=guild)
    same = [entry("m1", "Car bomb in Mosul", MOSUL, LATER, "https://outlet.example/mosul")]
    await publish(app, clock, httpserver_ipv4, same)
    assert len(await alerts(app)) == 1 and await alerts(app, guild) == []
    # the guild subscribes to another outlet's feed carrying the same link
    url = serve(httpserver_ipv4, "/g.xml", [{**same[0], "guid": "g-1"}], "G")
    await commands.add_feed(app, url, workspace="discord:111")
    clock.advance(minutes=10)
    await poll(app)  # the console's feed, nothing new
    await commands.poll_once(app, workspace="discord:111")
    [theirs] = await alerts(app, guild)
    assert theirs["title"] == "Car bomb in Mosul" and len(await alerts(app)) == 1


async def test_a_digest_retried_after_an_outage_goes_out_whole(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
) -> None:
    settings = settings.model_copy(update={"alert_digest_after": 2})
    items = [
        entry(f"n{n}", f"Report {n} from Iraq", f"{text} Officials in Iraq confirmed it.", LATER)
        for n, text in enumerate((MOSUL, DRILL, AL_QAIM, HARVEST.replace("Euphrates", "Tigris")))
    ]
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as app:
        await commands.watch_add(app, "Iraq", channel="console")
        await publish(app, clock, httpserver_ipv4, items)
        pending = len(await alerts(app))
        assert pending > 2
        chat = FakeChat()
        chat.outage = "gateway down"
        await commands.deliver_alerts(app, chat)
        chat.outage = None
        clock.advance(hours=2)
        report = await commands.deliver_alerts(app, chat)
        assert (report.sent, report.digests, report.alerts) == (1, 1, pending)
        [(_, digest)] = chat.posts
        assert len(digest.items) == pending
        assert not any(a["pending"] for a in await alerts(app))


async def test_a_feeds_lag_is_allowed_but_old_news_is_not(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await commands.watch_add(app, "Mosul", channel="console")  # at START
    lagging = [
        entry("m1", "Car bomb in Mosul", MOSUL, START - timedelta(hours=3)),  # fetched later
        entry("d1", "Old drill in Mosul", DRILL, START - timedelta(days=3)),
    ]
    await publish(app, clock, httpserver_ipv4, lagging)
    assert [a["title"] for a in await alerts(app)] == ["Car bomb in Mosul"]


CHECKPOINT = (
    "A car bomb exploded near a checkpoint in eastern Mosul on Tuesday, killing five police "
    "officers, officials said. The blast also damaged two armoured vehicles."
)
STATION = (
    "Gunmen attacked a police station in the old city of Mosul overnight, killing two "
    "officers before fleeing on foot, a security source said."
)


@pytest.mark.parametrize(
    ("backfill", "alerted"),
    [
        ("none", {"Market bomb"}),  # only what is published after the feed was added
        ("1", {"Market bomb", "Checkpoint bomb"}),  # and the newest item already in it
        (
            (START - timedelta(days=1)).date().isoformat(),
            {"Market bomb", "Checkpoint bomb", "Station attack"},
        ),
        (None, {"Market bomb", "Checkpoint bomb", "Station attack"}),  # every item
    ],
)
async def test_feed_backfill_decides_which_items_already_in_the_feed_alert(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer, backfill: str | None, alerted: set[str]
) -> None:
    """`/feed add ... backfill`: items already in a feed when it is added alert only as asked.
    Without it, all would: the watch allows a day of a feed's lag."""
    await commands.watch_add(app, "Mosul", channel="console")  # at START
    clock.advance(hours=6)
    items = [
        entry("m1", "Checkpoint bomb", CHECKPOINT, START + timedelta(hours=5)),
        entry("m2", "Station attack", STATION, START - timedelta(hours=20)),
    ]
    url = serve(httpserver_ipv4, "/a.xml", items, "A")
    await commands.add_feed(app, url, workspace="console", backfill=backfill)
    clock.advance(minutes=5)
    await poll(app)
    httpserver_ipv4.clear_all_handlers()
    fresh = entry("m3", "Market bomb", MOSUL, clock() + timedelta(minutes=1))
    serve(httpserver_ipv4, "/a.xml", [fresh, *items], "A")
    clock.advance(hours=1)
    await poll(app)
    assert {a["title"] for a in await alerts(app)} == alerted


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
