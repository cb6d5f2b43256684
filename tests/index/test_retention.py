"""Retention: `prune` deletes old articles with their passages, full-text rows, vectors, event
metadata and delivered alerts, keeps what a pending alert lists, and shrinks the files. Real
SQLite and FAISS in tmp dirs, feeds over HTTP on 127.0.0.1, the real extractor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands, maintenance
from bot.core.errors import UserError
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import HashEmbedder
from index.retrieve.vectors import VectorIndex
from index.store.retention import PruneReport
from index.store.sqlite.store import Store
from tests.fakes import FakeChat
from tests.index.test_ingest import HARVEST, MOSUL, NOW, RAQQA, Clock, item, rss

OLD = NOW - timedelta(days=100)


@pytest.fixture
def clock() -> Clock:
    return Clock(OLD)


@pytest.fixture
async def app(settings: Settings, clock: Clock, extractor: Extractor) -> AsyncIterator[App]:
    async with open_app(settings, embedder=HashEmbedder(), extractor=extractor, now=clock) as a:
        yield a


def _at(when):  # type: ignore[no-untyped-def]
    return format_datetime(when)


async def _scalar(app: App, sql: str, *params: object) -> int:
    """One number the query reads, on either engine (the SQL in the engine's dialect)."""
    if isinstance(app.store, Store):
        row = await app.store.fetch_one(sql, params)
        assert row is not None
        return int(row[0])
    return int(await app.store.pool.fetchval(sql, *params))


async def _ids(app: App, sql: str, *params: object) -> set[int]:
    if isinstance(app.store, Store):
        return {int(r[0]) for r in await app.store.fetch_all(sql, params)}
    return {int(r[0]) for r in await app.store.pool.fetch(sql, *params)}


async def _old_then_new(app: App, clock: Clock, server: HTTPServer) -> tuple[set[int], set[int]]:
    """Two old articles (a Mosul watch alerts on one), then, 100 days later, a new one.
    Returns (old article ids, their passage ids)."""
    await commands.watch_add(app, "Mosul", channel="console")
    server.expect_request("/old.xml").respond_with_data(
        rss(
            [
                item("o1", "Strike on Raqqa", RAQQA, date=_at(OLD + timedelta(hours=1))),
                item("o2", "Car bomb in Mosul", MOSUL, date=_at(OLD + timedelta(hours=1))),
            ]
        )
    )
    await commands.add_feed(app, server.url_for("/old.xml"), workspace="console")
    clock.advance(hours=2)
    await commands.poll_once(app, workspace="console")
    old = await _ids(app, "SELECT article_id FROM articles")
    passages = await _ids(app, "SELECT passage_id FROM passages")
    clock.now = NOW
    server.expect_request("/new.xml").respond_with_data(
        rss([item("n1", "Wheat harvest", HARVEST, date=_at(NOW - timedelta(hours=3)))])
    )
    await commands.add_feed(app, server.url_for("/new.xml"), workspace="console")
    await commands.poll_once(app, workspace="console")
    assert len(old) == 2 and await _scalar(app, "SELECT count(*) FROM articles") == 3
    return old, passages


async def dry_run_then_prune(app: App, old_passages: set[int]) -> tuple[PruneReport, PruneReport]:
    """Prune the two old articles of `_old_then_new` (their alert delivered), a dry run first:
    both report the same, and the dry run changes nothing."""
    before = await commands.stats(app, workspace="console")
    dry = await maintenance.prune(app, days=30, dry_run=True)
    assert await commands.stats(app, workspace="console") == before, "a dry run changes nothing"
    report = await maintenance.prune(app, days=30)
    expected = {"articles": 2, "passages": len(old_passages), "fts_rows": len(old_passages)}
    expected |= {"vectors": len(old_passages), "events": 2, "alerts": 1, "stories": 2}
    assert {k: report.doc()[k] for k in expected} == expected
    assert {k: dry.doc()[k] for k in expected} == expected
    return dry, report


def _filler(n: int) -> bytes:
    """n old articles of a few KiB each, every one its own text."""
    words = HARVEST.split()
    items = []
    for i in range(n):
        text = " ".join(f"{w}{(i * 7 + j) % 997}" for j, w in enumerate(words * 8))
        items.append(item(f"f{i}", f"Report {i}", text, date=_at(OLD + timedelta(hours=1))))
    return rss(items)


async def _many_old(app: App, clock: Clock, server: HTTPServer, n: int = 150) -> None:
    server.expect_request("/many.xml").respond_with_data(_filler(n))
    await commands.add_feed(app, server.url_for("/many.xml"), workspace="console")
    await commands.poll_once(app, workspace="console")
    clock.now = NOW


async def test_prune_removes_vectors_fts_rows_and_events_with_the_rows(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    old, old_passages = await _old_then_new(app, clock, httpserver_ipv4)
    await commands.deliver_alerts(app, FakeChat())
    vectors = app.require_pipeline().vectors
    assert old_passages <= set(vectors.ids().tolist())
    assert await _scalar(app, "SELECT count(*) FROM events") == 3
    assert await _scalar(app, "SELECT count(*) FROM alerts WHERE delivered_at IS NOT NULL") == 1
    dry, report = await dry_run_then_prune(app, old_passages)

    marks = ",".join("?" * len(old))
    pmarks = ",".join("?" * len(old_passages))
    assert (
        await _ids(app, f"SELECT article_id FROM articles WHERE article_id IN ({marks})", *old)
        == set()
    )
    assert (
        await _ids(
            app, f"SELECT passage_id FROM passages WHERE passage_id IN ({pmarks})", *old_passages
        )
        == set()
    )
    assert (
        await _ids(app, f"SELECT rowid FROM passages_fts WHERE rowid IN ({pmarks})", *old_passages)
        == set()
    )
    assert (
        await _ids(app, f"SELECT article_id FROM events WHERE article_id IN ({marks})", *old)
        == set()
    )
    assert await _scalar(app, "SELECT count(*) FROM passages_fts") == await _scalar(
        app, "SELECT count(*) FROM passages"
    )
    assert await app.store.text_rank("Mosul OR Raqqa", 10) == []
    assert await _scalar(app, "SELECT count(*) FROM alerts") == 0
    assert await app.store.fetch_all("PRAGMA foreign_key_check") == []
    # the vectors went, in memory and on disk
    assert set(vectors.ids().tolist()) & old_passages == set()
    saved = VectorIndex.load(vectors.path, vectors.dim, vectors.model_id)
    assert sorted(saved.ids().tolist()) == sorted(vectors.ids().tolist())
    assert len(saved) == await _scalar(app, "SELECT count(*) FROM passages")
    hits = await commands.search(app, "car bomb in a Mosul market", k=5, workspace="console")
    assert {h["article_id"] for h in hits["results"]} & old == set()
    # what is left is the new article, whole
    after = await commands.stats(app, workspace="console")
    assert (after["articles"], after["stories"], after["alerts"]) == (1, 1, 0)
    assert report.index_bytes_after < report.index_bytes_before


async def test_an_alert_still_waiting_keeps_its_article_until_delivered(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await pending_alert_keeps_its_article(app, clock, httpserver_ipv4)


async def pending_alert_keeps_its_article(app: App, clock: Clock, server: HTTPServer) -> None:
    """The body, for either engine (tests/index/test_retention_pg.py runs it on PostgreSQL)."""
    old, _ = await _old_then_new(app, clock, server)
    [pending] = (await commands.list_alerts(app, workspace="console", pending=True))["alerts"]
    report = await maintenance.prune(app, days=30)
    assert report.articles == 1 and report.dependents["alerts"] == 0
    left = await _ids(app, "SELECT article_id FROM articles")
    assert set(pending["article_ids"]) <= left and len(left & old) == 1
    await commands.deliver_alerts(app, FakeChat())
    report = await maintenance.prune(app, days=30)
    assert (report.articles, report.dependents["alerts"]) == (1, 1)
    assert await _ids(app, "SELECT article_id FROM articles") & old == set()


async def test_an_alert_pending_again_after_the_articles_were_chosen_keeps_its_article(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await alert_pending_meanwhile_keeps_its_article(app, clock, httpserver_ipv4, monkeypatch)


async def alert_pending_meanwhile_keeps_its_article(
    app: App, clock: Clock, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A story gains a report while a prune runs (a poll beside it), so its delivered alert is
    pending again: the old article it lists stays, though chosen before. For either engine."""
    from index.store.pg import retention as pg_retention
    from index.store.sqlite import retention as sqlite_retention

    old, _ = await _old_then_new(app, clock, server)
    await commands.deliver_alerts(app, FakeChat())
    module: Any = sqlite_retention if isinstance(app.store, Store) else pg_retention
    delete_articles = module._delete_articles

    async def alert_changes_first(*args: Any) -> Any:
        bump = "UPDATE alerts SET version = version + 1"
        if isinstance(app.store, Store):
            async with app.store.transaction():
                await app.store.db.execute(bump)
        else:
            await app.store.pool.execute(bump)
        return await delete_articles(*args)

    monkeypatch.setattr(module, "_delete_articles", alert_changes_first)
    report = await maintenance.prune(app, days=30)
    assert report.articles == 2, "both were chosen"
    [pending] = (await commands.list_alerts(app, workspace="console", pending=True))["alerts"]
    left = await _ids(app, "SELECT article_id FROM articles")
    assert set(pending["article_ids"]) <= left and len(left & old) == 1


async def test_nothing_is_pruned_without_a_retention_period(app: App) -> None:
    assert app.settings.retention_days is None  # the default keeps everything
    with pytest.raises(UserError, match="WIREWATCH_RETENTION_DAYS"):
        await maintenance.prune(app)


async def test_the_database_file_shrinks_step_by_step(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await _many_old(app, clock, httpserver_ipv4)
    report = await maintenance.prune(app, days=30)
    assert report.articles == 150 and report.vacuum == "incremental"
    assert report.database_bytes_after < report.database_bytes_before
    assert await _scalar(app, "PRAGMA freelist_count") == 0


async def test_an_old_database_is_converted_to_incremental_vacuum_by_the_command(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    import sqlite3

    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        await _many_old(app, clock, httpserver_ipv4)
    conn = sqlite3.connect(settings.db_path, isolation_level=None)  # as databases were before
    conn.execute("PRAGMA auto_vacuum=NONE")
    conn.execute("VACUUM")
    conn.close()
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        assert await _scalar(app, "PRAGMA auto_vacuum") == 0
        scheduled = await maintenance.prune(app, days=30)  # the bot's: no full VACUUM
        assert scheduled.articles == 150 and scheduled.vacuum == "none"
        assert await _scalar(app, "PRAGMA freelist_count") > 0
        await maintenance.prune(app, days=200)  # nothing left to delete, pages still free
        by_hand = await maintenance.prune(app, days=30, allow_full_vacuum=True)
        assert by_hand.vacuum == "full"
        assert by_hand.database_bytes_after < scheduled.database_bytes_before
        assert await _scalar(app, "PRAGMA auto_vacuum") == 2
        assert await _scalar(app, "PRAGMA freelist_count") == 0


async def test_the_bot_prunes_on_schedule_only_with_a_retention_period(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    from bot.jobs import start_jobs

    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        scheduler = start_jobs(app, asyncio.Lock())
        try:
            assert scheduler.get_job("prune") is None  # the default keeps everything
        finally:
            scheduler.shutdown(wait=False)
    kept = settings.model_copy(update={"retention_days": 30.0, "scheduler_tick_s": 3600})
    async with open_app(kept, embedder=HashEmbedder(), now=clock) as app:
        await _many_old(app, clock, httpserver_ipv4, n=3)
        busy = asyncio.Lock()
        scheduler = start_jobs(app, busy)
        try:
            job = scheduler.get_job("prune")
            assert job.trigger.interval == timedelta(seconds=maintenance.PRUNE_EVERY_S)
        finally:
            scheduler.shutdown(wait=False)
        await maintenance.prune_tick(app, busy)  # what the job runs
        assert await _scalar(app, "SELECT count(*) FROM articles") == 0
        await app.store.db.close()  # the database goes away under the running bot
        with caplog.at_level(logging.ERROR):
            await maintenance.prune_tick(app, busy)  # must not raise
        assert "scheduled prune failed" in caplog.text


def test_wirewatch_prune_from_the_command_line(
    settings: Settings,
    clock: Clock,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
) -> None:
    prune_from_the_command_line(
        settings, clock, extractor, httpserver_ipv4, monkeypatch, model_cache
    )


def prune_from_the_command_line(
    settings: Settings,
    clock: Clock,
    extractor: Extractor,
    server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
) -> None:
    """`wirewatch prune` on the instance of `settings` (either engine), as a user runs it."""
    import asyncio
    import json
    import os
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from bot.adapters.cli.main import cli

    async def fill() -> set[int]:
        async with open_app(settings, embedder=HashEmbedder(), extractor=extractor, now=clock) as a:
            _, old_passages = await _old_then_new(a, clock, server)
            await commands.deliver_alerts(a, FakeChat())
            return old_passages

    old_passages = asyncio.run(fill())
    for name in [n for n in os.environ if n.startswith("WIREWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIREWATCH_MODEL_CACHE_DIR", str(model_cache))
    if settings.database_url is not None:
        monkeypatch.setenv("WIREWATCH_DATABASE_URL", settings.database_url.get_secret_value())
    days = str((datetime.now(UTC) - (NOW - timedelta(days=50))).days)  # between old and new

    def wirewatch(*args: str) -> tuple[int, str, str]:
        done = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])
        return done.exit_code, done.stdout, done.stderr

    code, out, err = wirewatch("prune", "--dry-run", "--days", days, "--json")
    assert code == 0, err
    dry = json.loads(out)
    assert (dry["dry_run"], dry["articles"], dry["vectors"]) == (True, 2, len(old_passages))
    assert json.loads(wirewatch("stats", "--json")[1])["articles"] == 3, "a dry run keeps all"
    code, out, err = wirewatch("prune", "--days", days)
    assert code == 0, err
    first, second = out.splitlines()
    assert first.startswith("pruned 2 articles published and stored before ")
    assert second.startswith("database ") and "vector index" in second
    assert json.loads(wirewatch("stats", "--json")[1])["articles"] == 1
    code, _, err = wirewatch("prune")  # no period given, none configured
    assert code == 2 and "WIREWATCH_RETENTION_DAYS" in err and err.count("\n") == 1
    code, _, err = wirewatch("prune", "--days", "0")
    assert code == 2 and "above 0" in err
