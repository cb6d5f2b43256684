"""/healthz and /metrics of the running scheduler, read by a real HTTP client (httpx) from the
real server on 127.0.0.1; feeds served on 127.0.0.1. Polling is stalled by a feed server that
holds its answer, and the app's clock moves past the allowed age: nothing here is timed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.adapters.discord.ratelimit import InvalidRequestGuard
from bot.app import App, open_app
from bot.core import commands
from bot.health import Monitor, bound_port, start_server
from bot.jobs import serve_monitor, start_jobs
from bot.settings import Settings
from index.retrieve.embed import HashEmbedder
from tests.index.test_ingest import MOSUL, NOW, RAQQA, Clock, item, rss

MAX_AGE_S = 120


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock(NOW)


@pytest.fixture(name="app")
async def app_fixture(settings: Settings, clock: Clock) -> AsyncIterator[App]:
    settings = settings.model_copy(
        update={
            "scheduler_tick_s": 1,
            "metrics_port": 0,
            "health_max_poll_age_s": MAX_AGE_S,
            "read_timeout_s": 60.0,
            "fetch_timeout_s": 60.0,
        }
    )
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as opened:
        yield opened


@asynccontextmanager
async def running_monitor(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """The scheduler polling `app`'s feeds, and a client of its /healthz and /metrics."""
    busy = asyncio.Lock()
    scheduler = start_jobs(app, busy)
    server = await serve_monitor(app, scheduler)
    base = f"http://127.0.0.1:{bound_port(server)}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client
    finally:
        server.close()
        scheduler.shutdown(wait=False)
        async with busy:
            pass


async def _until(client: httpx.AsyncClient, path: str, want: int) -> httpx.Response:
    """GET `path` until it answers `want` (the scheduler works meanwhile)."""
    async with asyncio.timeout(60):
        while (response := await client.get(path)).status_code != want:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return response


def _sample(metrics: str, name: str) -> float:
    """The value of the sample `name` (with its labels, if any) in a Prometheus exposition."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics:\n{metrics}")


async def test_healthz_and_metrics_during_a_run_and_503_when_polling_stalls(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    release, asked = threading.Event(), threading.Event()
    calls = 0

    def feed(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls > 1:  # the second poll hangs until the test lets it go
            asked.set()
            release.wait(60)
        return Response(rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul", MOSUL)]))

    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(feed)
    await commands.add_feed(
        app, httpserver_ipv4.url_for("/feed.xml"), interval_s=60, workspace="console"
    )
    try:
        async with running_monitor(app) as client:
            health = (await _until(client, "/healthz", 200)).json()
            async with asyncio.timeout(60):  # the first cycle finishes
                while health["last_poll_at"] is None:
                    health = (await client.get("/healthz")).json()
            assert health["status"] == "ok" and health["reasons"] == []
            assert health["scheduler"] == "running" and health["discord"] is None
            assert health["outbox"] == {"alerts": 0, "oldest_age_s": None}

            response = await client.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain; version=")
            text = response.text
            assert _sample(text, "wirewatch_feeds_polled_total") == 1
            assert _sample(text, "wirewatch_articles_ingested_total") == 2
            assert _sample(text, 'wirewatch_poll_cycles_total{result="ok"}') >= 1
            assert _sample(text, "wirewatch_index_vectors") == len(app.require_pipeline().vectors)
            assert _sample(text, "wirewatch_index_bytes") > 0
            assert _sample(text, "wirewatch_healthy") == 1
            assert 'wirewatch_embedding_info{backend="fp32",model="hash-' in text
            assert "wirewatch_ask_seconds_bucket" in text

            # The feed is due again, and its server holds the answer: polling stalls.
            clock.advance(seconds=61)
            await asyncio.to_thread(asked.wait, 60)
            clock.advance(seconds=MAX_AGE_S + 1)
            stalled = await client.get("/healthz")
            assert stalled.status_code == 503
            [reason] = stalled.json()["reasons"]
            assert reason == "no feed fetched successfully for 182 s (limit 120 s)"
            assert _sample((await client.get("/metrics")).text, "wirewatch_healthy") == 0

            release.set()  # the cycle finishes: healthy again
            await _until(client, "/healthz", 200)
            assert (await client.get("/nothing")).status_code == 404
            assert (await client.post("/healthz")).status_code == 405
    finally:
        release.set()


async def healthz_of(monitor: Monitor) -> httpx.Response:
    """GET /healthz from `monitor`'s own server on 127.0.0.1."""
    server = await start_server(monitor, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.get(f"http://127.0.0.1:{bound_port(server)}/healthz")
    finally:
        server.close()


async def test_healthz_names_a_stopped_scheduler_and_a_lost_gateway(app: App) -> None:
    monitor = Monitor(
        app.store,
        app.now,
        MAX_AGE_S,
        app.settings.db_path,
        app.settings.index_path,
        scheduler_running=lambda: False,
        discord_connected=lambda: False,
    )
    monitor.poll_done(None)
    response = await healthz_of(monitor)
    assert response.status_code == 503
    doc = response.json()
    assert doc["reasons"] == ["the scheduler is not running", "not connected to Discord"]
    assert (doc["scheduler"], doc["discord"], doc["last_poll_at"]) == (
        "stopped",
        "disconnected",
        None,
    )


def test_metrics_count_feed_failures_by_reason(app: App) -> None:
    from index.models import IngestReport

    monitor = Monitor(app.store, app.now, MAX_AGE_S, app.settings.db_path, app.settings.index_path)
    report = IngestReport(feeds_polled=3, failed_feeds=2)
    report.errors += [
        "http://127.0.0.1:1/a.xml: HTTP 503",
        "http://127.0.0.1:1/b.xml: timed out after 5 s",
        "hook after extraction failed",
    ]
    monitor.poll_done(report)
    registry = monitor.metrics.registry
    assert registry.get_sample_value("wirewatch_feeds_failed_total", {"reason": "HTTP 503"}) == 1
    assert registry.get_sample_value("wirewatch_feeds_failed_total", {"reason": "timed out"}) == 1
    assert registry.get_sample_value("wirewatch_feeds_polled_total") == 3


async def test_healthz_and_metrics_show_a_paused_discord_delivery(app: App) -> None:
    seconds = [0.0]  # the guard's monotonic clock
    guard = InvalidRequestGuard(2, clock=lambda: seconds[0])
    paths = (app.settings.db_path, app.settings.index_path)
    _, plain = await Monitor(app.store, app.now, MAX_AGE_S, *paths).check()
    assert plain["discord_delivery"] is None  # no Discord configured
    monitor = Monitor(app.store, app.now, MAX_AGE_S, *paths, discord_requests=guard)
    registry = monitor.metrics.registry

    async def shown() -> tuple[object, float | None, float | None]:
        _, doc = await monitor.check()
        return (
            doc["discord_delivery"],
            registry.get_sample_value("wirewatch_discord_invalid_requests"),
            registry.get_sample_value("wirewatch_discord_delivery_paused"),
        )

    guard.record(403)
    assert await shown() == ({"paused": False, "invalid_requests": 1}, 1, 0)
    guard.record(429)
    assert await shown() == ({"paused": True, "invalid_requests": 2}, 2, 1)
    assert b"wirewatch_discord_delivery_paused 1.0" in await monitor.exposition()
    seconds[0] += 600
    assert await shown() == ({"paused": False, "invalid_requests": 0}, 0, 0)
