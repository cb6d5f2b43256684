"""Which stored items alert, end to end: a new watch's backfill, a feed's backfill and lag,
articles stored by a process killed before matching, and workspaces (a guild sees only its
own; an article linked into another workspace alerts there).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import (
    DRILL,
    HARVEST,
    LATER,
    MOSUL,
    START,
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
