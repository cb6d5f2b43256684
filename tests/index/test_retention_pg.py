"""Retention on PostgreSQL: `prune` deletes old articles with their passages (their text-search
column and vectors with them), event metadata and delivered alerts, keeps what a pending alert
lists, runs one at a time per database, and is what `wirewatch prune` runs there. A real
PostgreSQL + pgvector server (tests/pg.py), feeds over HTTP on 127.0.0.1, the real extractor."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.adapters.cli.main import cli
from bot.app import App, open_app
from bot.core import commands, maintenance
from bot.core.errors import UserError
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import HashEmbedder
from index.store.pg.retention import PRUNE_LOCK
from tests.fakes import FakeChat
from tests.index.test_ingest import Clock
from tests.index.test_retention import (
    OLD,
    _ids,
    _old_then_new,
    _scalar,
    dry_run_then_prune,
    pending_alert_keeps_its_article,
)


@pytest.fixture
def clock() -> Clock:
    return Clock(OLD)


@pytest.fixture
def on_pg(settings: Settings, pg_url: str) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(pg_url)})


@pytest.fixture
async def app(on_pg: Settings, clock: Clock, extractor: Extractor) -> AsyncIterator[App]:
    async with open_app(on_pg, embedder=HashEmbedder(), extractor=extractor, now=clock) as a:
        yield a


async def test_prune_removes_passages_vectors_and_events_with_the_rows(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    old, old_passages = await _old_then_new(app, clock, httpserver_ipv4)
    await commands.deliver_alerts(app, FakeChat())
    assert await _scalar(app, "SELECT count(*) FROM events") == 3
    assert await _scalar(app, "SELECT count(embedding) FROM passages") > len(old_passages)
    dry, report = await dry_run_then_prune(app, old_passages)
    assert (dry.vacuum, report.vacuum) == ("none", "plain")

    gone = list(old)
    assert (
        await _ids(app, "SELECT article_id FROM articles WHERE article_id = ANY($1)", gone) == set()
    )
    assert (
        await _ids(
            app, "SELECT passage_id FROM passages WHERE passage_id = ANY($1)", list(old_passages)
        )
        == set()
    )
    for table in ("events", "article_places", "article_actors", "article_events", "feed_entries"):
        assert (
            await _ids(app, f"SELECT article_id FROM {table} WHERE article_id = ANY($1)", gone)
            == set()
        )
    assert await app.store.text_rank('"mosul" OR "raqqa"', 10) == []
    assert await _scalar(app, "SELECT count(*) FROM alerts") == 0
    hits = await commands.search(app, "car bomb in a Mosul market", k=5, workspace="console")
    assert {h["article_id"] for h in hits["results"]} & old == set()
    after = await commands.stats(app, workspace="console")
    assert (after["articles"], after["stories"], after["alerts"]) == (1, 1, 0)


async def test_an_alert_still_waiting_keeps_its_article_until_delivered(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await pending_alert_keeps_its_article(app, clock, httpserver_ipv4)


async def test_one_prune_at_a_time_per_database(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    await _old_then_new(app, clock, httpserver_ipv4)
    await commands.deliver_alerts(app, FakeChat())
    app.settings = app.settings.model_copy(update={"retention_days": 30.0})  # the bot's setting
    async with app.store.pool.acquire() as other:  # another process's prune, as it runs
        await other.execute("SELECT pg_advisory_lock($1)", PRUNE_LOCK)
        try:
            with pytest.raises(UserError, match="another prune is running"):
                await maintenance.prune(app, days=30)
            with caplog.at_level(logging.INFO):
                await maintenance.prune_tick(app, asyncio.Lock())  # the bot's: skips quietly
            assert "scheduled prune skipped" in caplog.text
            assert "scheduled prune failed" not in caplog.text
        finally:
            await other.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK)
    assert await _scalar(app, "SELECT count(*) FROM articles") == 3, "nothing went meanwhile"
    assert (await maintenance.prune(app, days=30)).articles == 2


def test_wirewatch_prune_runs_on_postgresql(
    on_pg: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path
) -> None:
    async def fill() -> None:
        async with open_app(on_pg, embedder=HashEmbedder()) as app:
            await commands.stats(app, workspace="console")  # the schema, nothing stored

    asyncio.run(fill())
    assert on_pg.database_url is not None
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", on_pg.database_url.get_secret_value())
    monkeypatch.setenv("WIREWATCH_MODEL_CACHE_DIR", str(model_cache))
    monkeypatch.delenv("WIREWATCH_RETENTION_DAYS", raising=False)
    data_dir = ["--data-dir", str(tmp_path / "data")]
    done = CliRunner().invoke(cli, [*data_dir, "prune", "--dry-run", "--days", "30", "--json"])
    assert done.exit_code == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["dry_run"], doc["articles"], doc["vacuum"]) == (True, 0, "none")
    done = CliRunner().invoke(cli, [*data_dir, "prune", "--days", "30"])
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("pruned 0 articles")
    done = CliRunner().invoke(cli, [*data_dir, "prune"])
    assert done.exit_code == 2 and "WIREWATCH_RETENTION_DAYS" in done.stderr
