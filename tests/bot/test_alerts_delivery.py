"""Alerts delivered end to end: one alert per story updated in place, exactly once across a
kill between recording and delivery, outages retried with back-off and gone channels given
up, digests and the rate limit, alerts another sender claimed meanwhile, and a digest retried
after an outage. Real feed server, SQLite, model and extractor; a fake chat.
"""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.core.ports import Card
from bot.settings import Settings
from bot.store import alert_rows as store_alert_rows
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import (
    AL_QAIM,
    ALBU_KAMAL,
    DRILL,
    HARVEST,
    LATER,
    MOSUL,
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
