"""The scheduler: a real AsyncIOScheduler ticking over a real feed server."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import open_app
from bot.core import commands
from bot.jobs import deliver_tick, delivery_loop, poll_tick, start_jobs
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import HashEmbedder
from tests.fakes import FakeChat
from tests.index.test_ingest import MOSUL, RAQQA, item, rss


async def _wait_for(predicate) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10):
        while not await predicate():  # noqa: ASYNC110 - polling the database is the point
            await asyncio.sleep(0.05)


async def test_scheduler_polls_due_feeds_and_survives_a_bad_one(
    settings: Settings, httpserver_ipv4: HTTPServer
) -> None:
    settings = settings.model_copy(update={"scheduler_tick_s": 1})
    httpserver_ipv4.expect_request("/good.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul", MOSUL)])
    )
    httpserver_ipv4.expect_request("/bad.xml").respond_with_data("<rss><channel><item>", status=200)
    async with open_app(settings, embedder=HashEmbedder()) as app:
        await commands.add_feed(app, httpserver_ipv4.url_for("/bad.xml"), workspace="console")
        await commands.add_feed(app, httpserver_ipv4.url_for("/good.xml"), workspace="console")
        busy = asyncio.Lock()
        scheduler = start_jobs(app, busy)
        try:

            async def ingested() -> bool:
                return (await commands.stats(app, workspace="console"))["articles"] == 2

            await _wait_for(ingested)
            feeds = (await commands.list_feeds(app, workspace="console"))["feeds"]
            assert [f["error_count"] for f in feeds] == [1, 0]
            assert scheduler.running
            # the good feed is not due again for its interval: later ticks fetch nothing new
            requests = len(httpserver_ipv4.log)
            await asyncio.sleep(2.2)
            assert len(httpserver_ipv4.log) == requests
        finally:
            scheduler.shutdown(wait=False)
            async with busy:
                pass


async def test_a_failing_cycle_is_logged_and_the_next_tick_runs(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_app(settings, embedder=HashEmbedder()) as app:
        await app.store.db.close()  # the database goes away under the running bot
        with caplog.at_level(logging.ERROR):
            await poll_tick(app, asyncio.Lock())  # must not raise
        assert "poll cycle failed" in caplog.text


async def test_alerts_reach_the_chat_as_soon_as_they_are_recorded(
    settings: Settings, httpserver_ipv4: HTTPServer, extractor: Extractor
) -> None:
    settings = settings.model_copy(update={"scheduler_tick_s": 3600})  # no help from the tick

    def feed(request: Request) -> Response:  # published when fetched: after the feed was added
        when = format_datetime(datetime.now(UTC))
        return Response(rss([item("m1", "Car bomb in Mosul", MOSUL, date=when)]))

    # (items published before the feed was added do not alert: no flood on `feed add`)
    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(feed)
    chat = FakeChat()
    async with open_app(settings, embedder=HashEmbedder(), extractor=extractor) as app:
        await commands.watch_add(app, "Mosul", channel="console")
        await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
        delivery = asyncio.create_task(delivery_loop(app, chat))
        try:
            await commands.poll_once(app, workspace="console")

            async def posted() -> bool:
                return bool(chat.posts)

            await _wait_for(posted)
        finally:
            delivery.cancel()
    [(channel, card)] = chat.posts
    assert channel == "console" and card.title == "Car bomb in Mosul"


async def test_a_chat_that_breaks_never_stops_the_delivery_loop(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_app(settings, embedder=HashEmbedder()) as app:
        await app.store.db.close()  # the database goes away under the running bot
        with caplog.at_level(logging.ERROR):
            await deliver_tick(app, FakeChat())  # must not raise
        assert "alert delivery failed" in caplog.text
