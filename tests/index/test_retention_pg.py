"""Retention on PostgreSQL: `prune` deletes old articles with their passages (their text-search
column and vectors with them), event metadata and delivered alerts, keeps what a pending alert
lists, runs one at a time per database, and is what `wirewatch prune` runs there. A real
PostgreSQL + pgvector server (tests/pg.py), feeds over HTTP on 127.0.0.1, the real extractor."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands, maintenance
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import HashEmbedder
from index.store.pg.retention import PRUNE_LOCK
from index.store.retention import PruneBusy
from tests.fakes import FakeChat
from tests.index.test_ingest import Clock
from tests.index.test_retention import (
    OLD,
    _ids,
    _old_then_new,
    _scalar,
    alert_pending_meanwhile_keeps_its_article,
    dry_run_then_prune,
    pending_alert_keeps_its_article,
    prune_from_the_command_line,
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


async def test_an_alert_pending_again_after_the_articles_were_chosen_keeps_its_article(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await alert_pending_meanwhile_keeps_its_article(app, clock, httpserver_ipv4, monkeypatch)


async def test_a_story_an_alert_is_being_added_to_stays(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    """A sender records an alert on an old story (not committed yet) while the prune deletes
    the stories left empty: that story stays, and the prune finishes."""
    old, _ = await _old_then_new(app, clock, httpserver_ipv4)
    await commands.deliver_alerts(app, FakeChat())
    story = await _scalar(  # an old story no alert refers to
        app,
        "SELECT min(story_id) FROM articles a WHERE article_id = ANY($1) "
        "AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.story_id = a.story_id)",
        list(old),
    )
    async with app.store.pool.acquire() as other:
        adding = other.transaction()
        await adding.start()
        await other.execute(
            "INSERT INTO alerts (workspace_id, channel, story_id, created_at, updated_at, "
            "delivered_version) SELECT workspace_id, 'console', $1, now(), now(), 1 "
            "FROM workspaces LIMIT 1",
            story,
        )
        try:
            report = await maintenance.prune(app, days=30)
        finally:
            await adding.rollback()
    assert report.articles == 2
    assert await _ids(app, "SELECT story_id FROM stories WHERE story_id = $1", story) == {story}
    assert (await maintenance.prune(app, days=30)).stories == 1, "the next prune takes it"


async def test_one_prune_at_a_time_per_database(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    await _old_then_new(app, clock, httpserver_ipv4)
    await commands.deliver_alerts(app, FakeChat())
    app.settings = app.settings.model_copy(update={"retention_days": 30.0})  # the bot's setting
    async with app.store.pool.acquire() as other:  # another process's prune, as it runs
        await other.execute("SELECT pg_advisory_lock($1)", PRUNE_LOCK)
        try:
            with pytest.raises(PruneBusy, match="another prune is running"):
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
    on_pg: Settings,
    clock: Clock,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
) -> None:
    prune_from_the_command_line(on_pg, clock, extractor, httpserver_ipv4, monkeypatch, model_cache)
