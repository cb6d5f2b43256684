"""/healthz judges polling by the last successful feed fetch: a real scheduler polls feeds
served on 127.0.0.1 (failing with 500s, closing every connection, answering 304, or holding
the answer) and a real HTTP client reads /healthz; the app's clock moves past the limit, so
nothing here is timed."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import App
from bot.core import commands
from bot.health import Monitor, bound_port
from index.timeutil import to_iso
from tests.bot.test_health import (  # noqa: F401
    MAX_AGE_S,
    _sample,
    _until,
    app_fixture,
    clock_fixture,
    healthz_of,
    running_monitor,
)
from tests.index.test_ingest import RAQQA, Clock, item, rss

Doc = dict[str, Any]


async def _health_until(client: httpx.AsyncClient, ready: Callable[[Doc], bool]) -> Doc:
    """/healthz's document once `ready` holds for it (the scheduler works meanwhile)."""
    async with asyncio.timeout(60):
        while not ready(doc := (await client.get("/healthz")).json()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return doc


async def _add_feed(app: App, url: str, interval_s: int = 60) -> None:
    await commands.add_feed(app, url, interval_s=interval_s, workspace="console")


def _feed_body() -> bytes:
    return rss([item("a1", "Strike on Raqqa", RAQQA)])


async def test_an_outage_where_every_fetch_fails_turns_503_after_the_limit(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    calls = 0

    def feed(request: Request) -> Response:  # good once, then the server fails
        nonlocal calls
        calls += 1
        return Response(_feed_body()) if calls == 1 else Response("down", status=500)

    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(feed)
    await _add_feed(app, httpserver_ipv4.url_for("/feed.xml"))
    async with running_monitor(app) as client:
        fetched = await _health_until(client, lambda d: d["last_fetch_ok_at"] is not None)
        assert fetched["status"] == "ok" and fetched["polling"] == "waiting"

        clock.advance(seconds=61)  # due again: the server answers 500 from now on
        failing = await _health_until(client, lambda d: d["fetch_failing_since"] is not None)
        assert failing["status"] == "ok" and failing["polling"] == "failing"  # within the limit
        assert failing["last_poll_at"] > fetched["last_poll_at"]  # the cycle did finish

        clock.advance(seconds=MAX_AGE_S)  # 181 s since the good fetch; each retry fails
        response = await _until(client, "/healthz", 503)
        [reason] = response.json()["reasons"]
        assert reason == f"no feed fetched successfully for 181 s (limit {MAX_AGE_S} s)"
        metrics = (await client.get("/metrics")).text
        assert _sample(metrics, "wirewatch_healthy") == 0
        assert _sample(metrics, "wirewatch_last_fetch_ok_age_seconds") == 181
    assert calls >= 2


async def test_a_feed_server_that_closes_every_connection_turns_503_from_the_start(
    app: App, clock: Clock
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    closing = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        await _add_feed(app, f"http://127.0.0.1:{bound_port(closing)}/feed.xml")
        async with running_monitor(app) as client:
            failing = await _health_until(client, lambda d: d["fetch_failing_since"] is not None)
            assert failing["status"] == "ok" and failing["last_fetch_ok_at"] is None

            clock.advance(seconds=MAX_AGE_S + 1)
            response = await _until(client, "/healthz", 503)
            [reason] = response.json()["reasons"]
            assert (
                reason
                == f"no feed fetched successfully since the start, 121 s (limit {MAX_AGE_S} s)"
            )
    finally:
        closing.close()


async def test_a_feed_answering_304_keeps_healthz_200(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(b"", status=304)
    await _add_feed(app, httpserver_ipv4.url_for("/feed.xml"))
    async with running_monitor(app) as client:
        doc = await _health_until(client, lambda d: d["last_fetch_ok_at"] is not None)
        for _ in range(4):  # 244 s in all, each step a due feed answered 304
            clock.advance(seconds=61)
            now = clock.now  # the feed is due: wait for a fetch recorded at this moment
            doc = await _health_until(
                client,
                lambda d: datetime.fromisoformat(d["next_feed_due_at"]) > now,  # noqa: B023
            )
            assert doc["status"] == "ok" and doc["fetch_failing_since"] is None
    assert len(httpserver_ipv4.log) >= 5


async def test_a_feed_not_yet_due_is_not_late_until_its_due_time_plus_the_limit(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    release, asked = threading.Event(), threading.Event()
    calls = 0

    def feed(request: Request) -> Response:  # the second fetch hangs until the test lets go
        nonlocal calls
        calls += 1
        if calls > 1:
            asked.set()
            release.wait(60)
        return Response(_feed_body())

    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(feed)
    await _add_feed(app, httpserver_ipv4.url_for("/feed.xml"), interval_s=3600)
    try:
        async with running_monitor(app) as client:
            doc = await _health_until(client, lambda d: d["last_fetch_ok_at"] is not None)
            fetched_at = clock.now
            due_in = datetime.fromisoformat(doc["next_feed_due_at"]) - fetched_at
            assert due_in >= timedelta(seconds=1800)  # half an interval at least
            clock.advance(seconds=10 * MAX_AGE_S)  # nothing due for a while: not a stall
            idle = await _health_until(client, lambda d: d["last_fetch_ok_age_s"] == 1200)
            assert idle["status"] == "ok" and idle["polling"] == "waiting"

            clock.now = fetched_at + due_in + timedelta(seconds=MAX_AGE_S)  # due 120 s ago
            assert await asyncio.to_thread(asked.wait, 60)  # and its fetch hangs
            due = (await client.get("/healthz")).json()
            assert due["status"] == "ok" and due["polling"] == "due"

            clock.advance(seconds=1)
            stalled = await client.get("/healthz")
            assert stalled.status_code == 503
            [reason] = stalled.json()["reasons"]
            age = (due_in + timedelta(seconds=MAX_AGE_S + 1)).total_seconds()
            assert reason == f"no feed fetched successfully for {age:.0f} s (limit {MAX_AGE_S} s)"

            release.set()
            await _until(client, "/healthz", 200)
    finally:
        release.set()


async def test_no_feeds_to_poll_is_healthy_and_said_so(app: App, clock: Clock) -> None:
    paths = (app.settings.db_path, app.settings.index_path)
    monitor = Monitor(app.store, app.now, MAX_AGE_S, *paths, scheduler_running=lambda: True)
    clock.advance(seconds=10 * MAX_AGE_S)
    response = await healthz_of(monitor)
    assert response.status_code == 200
    doc = response.json()
    assert (doc["polling"], doc["next_feed_due_at"], doc["reasons"]) == ("no feeds", None, [])


@contextlib.asynccontextmanager
async def _failing_feed(app: App, clock: Clock) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """A feed whose server closes every connection, polled until /healthz says 503: the
    client and the feed's id."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    closing = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{bound_port(closing)}/feed.xml"
        doc = await commands.add_feed(app, url, workspace="console")
        async with running_monitor(app) as client:
            await _health_until(client, lambda d: d["fetch_failing_since"] is not None)
            clock.advance(seconds=MAX_AGE_S + 1)
            await _until(client, "/healthz", 503)
            yield client, doc["feed_id"]
    finally:
        closing.close()


async def test_a_failing_feed_removed_leaves_nothing_to_judge(app: App, clock: Clock) -> None:
    async with _failing_feed(app, clock) as (client, feed_id):
        await commands.remove_feed(app, feed_id, workspace="console")
        healthy = (await _until(client, "/healthz", 200)).json()
        assert healthy["polling"] == "no feeds" and healthy["fetch_failing_since"] is None


async def test_a_good_fetch_by_another_process_counts(app: App, clock: Clock) -> None:
    """Workers share the feeds: one whose own fetches failed is healthy while another fetches
    (recorded in the shared feeds table)."""
    async with _failing_feed(app, clock) as (client, feed_id):
        async with app.store.transaction():  # as another worker records a good fetch
            await app.store.db.execute(
                "UPDATE feeds SET last_polled_at = ?, error_count = 0 WHERE feed_id = ?",
                (to_iso(clock.now), feed_id),
            )
        healthy = (await _until(client, "/healthz", 200)).json()
        assert healthy["last_fetch_ok_at"] == to_iso(clock.now)
        assert healthy["fetch_failing_since"] is None
