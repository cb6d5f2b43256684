"""A `wirewatch worker` with WIREWATCH_METRICS_PORT serves /healthz and /metrics as `run` does:
a real worker on a real PostgreSQL (tests/pg.py) polls a feed served on 127.0.0.1, and a real
HTTP client reads what it says while it runs; stopped, it answers no more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.app import open_app
from bot.core import commands
from bot.settings import Settings
from bot.worker import work
from tests.index.test_ingest import MOSUL, RAQQA, item, rss


async def _served_port(caplog: pytest.LogCaptureFixture) -> int:
    """The port the worker logged it serves on (WIREWATCH_METRICS_PORT=0: any free one)."""
    async with asyncio.timeout(120):  # the worker loads the model first
        while True:
            for record in caplog.records:
                found = re.search(
                    r"serving /healthz and /metrics on http://[\d.]+:(\d+)", record.getMessage()
                )
                if found:
                    return int(found.group(1))
            await asyncio.sleep(0.1)


async def _after_first_round(client: httpx.AsyncClient) -> httpx.Response:
    """/healthz, read once /metrics counts the first round's fetch (the round is told to the
    monitor in one step, so what /healthz says then includes it)."""
    async with asyncio.timeout(120):  # the worker loads the model first
        while True:
            with contextlib.suppress(httpx.TransportError):
                if "feeds_polled_total 1" in (await client.get("/metrics")).text:
                    return await client.get("/healthz")
            await asyncio.sleep(0.1)


async def test_a_worker_serves_healthz_and_metrics_while_it_polls(
    settings: Settings,
    pg_url: str,
    httpserver_ipv4: HTTPServer,
    real_embedder: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.jobs")
    on_pg = settings.model_copy(update={"database_url": SecretStr(pg_url), "metrics_port": 0})
    httpserver_ipv4.expect_request("/a.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul car bomb", MOSUL)])
    )
    async with open_app(on_pg, embedder=real_embedder) as app:
        await commands.add_feed(app, httpserver_ipv4.url_for("/a.xml"), workspace="console")

    worker = asyncio.create_task(work(on_pg, name="w1"))
    port = await _served_port(caplog)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await _after_first_round(client)
            doc = health.json()
            assert (
                health.status_code == 200
                and doc["status"] == "ok"
                and doc["scheduler"] == "running"
            ), doc
            assert doc["polling"] == "waiting" and doc["last_fetch_ok_at"] is not None, doc
            assert doc["discord"] is None, "a worker has no Discord to check"
            metrics = (await client.get("/metrics")).text
            assert "wirewatch_articles_ingested_total 2.0" in metrics
            assert "wirewatch_events_extracted_total 2.0" in metrics
            assert 'wirewatch_poll_cycles_total{result="ok"}' in metrics
            assert "wirewatch_embedding_info{" in metrics
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        try:
            await client.get("/healthz", timeout=2)
            raise AssertionError("a stopped worker still answers")
        except httpx.TransportError:
            pass
