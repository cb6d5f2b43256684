"""`wirewatch migrate-to` (index/store/pg/copy.py): an embedded instance built by the engine's own
ingest (a feed file, the real extractor, the model-free HashEmbedder for the passages) copied
into a real PostgreSQL database: every row of every table reads back as it was, the copy
resumes after an interruption without duplicates, and a database of another instance is
refused."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot import store as chat_store
from bot.adapters.cli.main import cli
from bot.app import open_app
from bot.core import commands
from bot.settings import Settings
from bot.store.noticerows import FailingFeed, NoticeText
from index.extract.extractor import Extractor
from index.retrieve.embed import HashEmbedder
from index.store.pg.connect import INSTALL_HINT, open_pool
from index.store.pg.copy import (
    COPY_ORDER,
    CopyError,
    CopyRefused,
    CopyReport,
    masked_url,
)
from index.store.pg.copy import copy_instance as copy_engine
from index.store.sqlite.store import Store
from index.timeutil import from_iso
from tests.fakes import FakeChat
from tests.index.test_ingest import HARVEST, MOSUL, RAQQA, item, rss

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ORDER = COPY_ORDER + chat_store.TABLES  # the engine's tables, then the chat layer's
HOMS = (
    "Islamic State militants attacked an army checkpoint outside Homs on Monday, killing four "
    "soldiers, a war monitor said. The group claimed the attack in a statement."
)
PASSWORD = "s3cret-Pw"


async def copy_instance(db_path: Path, url: str, **kwargs: Any) -> CopyReport:
    """What `wirewatch migrate-to` copies: the engine's tables and the chat layer's."""
    return await copy_engine(db_path, url, layers=(chat_store.copy_layer(),), **kwargs)


class Interrupted(Exception):
    """Stands for a kill or Ctrl-C in the middle of a copy."""


def _feed() -> bytes:
    words = (RAQQA + " " + HARVEST).split()
    items = [
        item("a1", "Strike on Raqqa", RAQQA),
        item("a2", "Mosul car bomb", MOSUL),
        item("a3", "Harvest", HARVEST),
        item("a4", "Checkpoint attack near Homs", HOMS),
    ]
    for i in range(12):
        text = " ".join(words[(i * 5 + j) % len(words)] for j in range(120))
        items.append(item(f"r{i}", f"Field report {i}", text))
    return rss(items)


async def _fill(settings: Settings, feed: Path, extractor: Extractor) -> None:
    async with open_app(
        settings, embedder=HashEmbedder(), extractor=extractor, now=lambda: NOW
    ) as app:
        await commands.watch_add(app, "Mosul", channel="console")
        await commands.watch_add(
            app, "air strike on a residential district", channel="discord:1:2", kind="topic"
        )
        await commands.ingest_files(app, [feed], workspace="console")
        await commands.deliver_alerts(app, FakeChat())
        [followed] = await app.store.list_feeds(await app.workspace_id())
        failing = FailingFeed(
            workspace_id=await app.workspace_id(),
            workspace="console",
            feed_id=followed.feed_id,
            channel="console",
            name=None,
            url=followed.url,
            failing_since=NOW,
            last_error="HTTP 503",
            error_count=3,
            enabled=True,
        )
        text = NoticeText(reason="HTTP 503", title="Feed failing", body="It answers 503.")
        assert await chat_store.notice_rows(app.store).record_failing(
            failing, text, ["console"], NOW
        )


@pytest.fixture(scope="module")
def source(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, extractor: Extractor
) -> Path:
    """The database of an embedded instance with rows in every table but article_changes
    (its changes were all consumed, so pruned; sqlite_sequence remembers their seqs)."""
    root = tmp_path_factory.mktemp("source")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        model_cache_dir=model_cache,
    )
    feed = root / "outlet.xml"
    feed.write_bytes(_feed())
    asyncio.run(_fill(settings, feed, extractor))
    return settings.db_path


def _sqlite(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


@pytest.fixture
async def pool(pg_url: str) -> AsyncIterator[Any]:
    async with open_pool(pg_url, max_size=2) as made:
        yield made


# ---- reading back ----------------------------------------------------------------------------
async def _columns(pool: Any, table: str) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
        "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        table,
    )
    return {r["attname"]: r["type"] for r in rows if r["attname"] not in ("fts", "claimed_by")}


def _from_sqlite(value: Any, pg_type: str) -> Any:
    """A SQLite value as the PostgreSQL column of `pg_type` should read back."""
    if value is None:
        return None
    convert: dict[str, Callable[[Any], Any]] = {
        "timestamp with time zone": from_iso,
        "date": date.fromisoformat,
        "boolean": bool,
        "jsonb": lambda v: json.dumps(json.loads(v), sort_keys=True),
        "vector": lambda v: np.frombuffer(v, dtype=np.float32).tolist(),
    }
    return convert.get(pg_type, lambda v: v)(value)


def _from_pg(value: Any, pg_type: str) -> Any:
    if value is None:
        return None
    if pg_type == "jsonb":
        return json.dumps(json.loads(value), sort_keys=True)
    if pg_type == "vector":
        return value.to_numpy().tolist()
    return value


async def _same_rows(source: Path, pool: Any, table: str) -> None:
    """Every row of `table` reads back from PostgreSQL as SQLite holds it, ids included."""
    types = await _columns(pool, table)
    names = [n for n in types if n != "claimed_until"]
    theirs = await pool.fetch(f"SELECT {', '.join(names)} FROM {table}")
    mine = _sqlite(source, f"SELECT {', '.join(names)} FROM {table}")
    expected = sorted(
        repr(tuple(_from_sqlite(v, types[n]) for n, v in zip(names, r, strict=True))) for r in mine
    )
    found = sorted(repr(tuple(_from_pg(r[n], types[n]) for n in names)) for r in theirs)
    assert found == expected, table


def _last_progress(calls: list[tuple[str, int, int]]) -> dict[str, tuple[int, int]]:
    return {table: (done, total) for table, done, total in calls}


# ---- the copy --------------------------------------------------------------------------------
async def test_a_copy_holds_every_row_with_its_ids_times_vectors_and_words(
    source: Path, pg_url: str, pool: Any
) -> None:
    calls: list[tuple[str, int, int]] = []
    report = await copy_instance(
        source, pg_url, batch_size=7, progress=lambda *call: calls.append(call)
    )
    counts = {t.table: (t.source, t.target) for t in report.tables}
    assert not report.mismatched() and not report.resumed and not report.already_finished
    assert [t.table for t in report.tables] == list(ORDER)
    assert all(source_n == target_n for source_n, target_n in counts.values())
    assert {t for t, (n, _) in counts.items() if n == 0} == {"article_changes"}
    assert report.embedded_passages == (counts["passages"][0], counts["passages"][0])
    assert _last_progress(calls) == {t: (n, n) for t, (n, _) in counts.items()}
    for table in ORDER:
        await _same_rows(source, pool, table)
    assert await pool.fetchval("SELECT count(*) FROM feeds WHERE claimed_by IS NOT NULL") == 0

    # the vector and the words of the Mosul passage find it
    [(mosul, blob)] = _sqlite(
        source,
        "SELECT p.passage_id, p.embedding FROM passages p "
        "JOIN articles a ON a.article_id = p.article_id WHERE a.title = 'Mosul car bomb'",
    )
    vector = np.frombuffer(blob, dtype=np.float32)
    nearest = await pool.fetchval(
        "SELECT passage_id FROM passages ORDER BY embedding <=> $1 LIMIT 1", vector
    )
    assert nearest == mosul
    for words in ("mosul & market", "field"):  # "field": title words only
        found = await pool.fetch(
            "SELECT passage_id FROM passages WHERE fts @@ to_tsquery('simple', $1) "
            "ORDER BY passage_id",
            words,
        )
        match = words.replace("&", "AND")
        expected = _sqlite(
            source,
            "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rowid",
            (match,),
        )
        assert [r[0] for r in found] == [r[0] for r in expected] and found, words
    assert (
        await pool.fetchval(
            "SELECT passage_id FROM passages WHERE fts @@ to_tsquery('simple', 'mosul') "
            "ORDER BY ts_rank(fts, to_tsquery('simple', 'mosul')) DESC LIMIT 1"
        )
        == mosul
    )

    # new rows get fresh ids; a change's seq follows the largest SQLite ever gave
    story = await pool.fetchval(
        "INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES ('new', now(), now()) "
        "RETURNING story_id"
    )
    assert story == counts["stories"][0] + 1
    [(last_seq,)] = _sqlite(
        source, "SELECT seq FROM sqlite_sequence WHERE name = 'article_changes'"
    )
    seq = await pool.fetchval(
        "INSERT INTO article_changes (article_id, change, at) "
        "VALUES ((SELECT min(article_id) FROM articles), 'updated', now()) RETURNING seq"
    )
    assert last_seq > 0 and seq == last_seq + 1

    # a finished copy is final: a rerun writes nothing and checks the counts again
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM article_changes")
        await conn.execute("DELETE FROM stories WHERE story_id = $1", story)
    again = await copy_instance(source, pg_url)
    assert again.already_finished and sum(t.copied for t in again.tables) == 0


async def test_the_copied_database_serves_wirewatch(
    source: Path, pg_url: str, tmp_path: Path, model_cache: Path
) -> None:
    own = tmp_path / "data" / "wirewatch.db"  # opening an instance may write to it
    own.parent.mkdir()
    shutil.copyfile(source, own)
    await copy_instance(own, pg_url)
    embedded = Settings(_env_file=None, data_dir=own.parent, model_cache_dir=model_cache)
    on_pg = embedded.model_copy(
        update={"data_dir": tmp_path / "pg", "database_url": SecretStr(pg_url)}
    )
    results = {}
    for settings in (embedded, on_pg):
        async with open_app(settings, embedder=HashEmbedder(), repair_mode="index") as app:
            found = await commands.search(
                app, "car bomb in a crowded market", k=3, workspace="console"
            )
            stats = await commands.stats(app, workspace="console")
        results[settings.database_url is None] = (
            [r["passage_id"] for r in found["results"]],
            {k: stats[k] for k in ("articles", "passages", "feeds", "watches")},
        )
    assert results[True] == results[False] and results[True][0]


def _kill_copy(pg_url: str) -> None:
    """Terminate the copy's connection from outside, as a network failure would drop it."""

    async def kill() -> None:
        import asyncpg

        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "  # waits for it
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()

    done = threading.Thread(target=asyncio.run, args=(kill(),))
    done.start()
    done.join()


@pytest.mark.parametrize(
    ("table", "how"),
    [("minhash_bands", "raise"), ("passages", "raise"), ("feed_entries", "kill")],
)
async def test_an_interrupted_copy_resumes_without_duplicates(
    source: Path, pg_url: str, pool: Any, table: str, how: str
) -> None:
    def stop_after_first_batch(name: str, done: int, total: int) -> None:
        if name == table and done > 0:
            if how == "raise":
                raise Interrupted
            _kill_copy(pg_url)

    with pytest.raises(Interrupted if how == "raise" else CopyError) as caught:
        await copy_instance(source, pg_url, batch_size=4, progress=stop_after_first_batch)
    if how == "kill":
        assert "run migrate-to again" in str(caught.value)
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 4
    before = ORDER[: ORDER.index(table)]

    report = await copy_instance(source, pg_url, batch_size=5)
    copied = {t.table: t.copied for t in report.tables}
    assert report.resumed and not report.mismatched()
    assert all(copied[t] == 0 for t in before if t != "deliveries")
    assert copied[table] == report.tables[ORDER.index(table)].source - 4
    for name in ORDER:
        await _same_rows(source, pool, name)


async def test_a_database_with_rows_of_another_instance_is_refused(
    source: Path, pg_url: str, pool: Any, tmp_path: Path
) -> None:
    await pool.execute("INSERT INTO workspaces (name, created_at) VALUES ('console', now())")
    with pytest.raises(CopyRefused, match="not copied from"):
        await copy_instance(source, pg_url)
    assert await pool.fetchval("SELECT count(*) FROM copy_source") == 0
    assert await pool.fetchval("SELECT count(*) FROM workspaces") == 1

    await pool.execute("DELETE FROM workspaces")
    await copy_instance(source, pg_url)
    other = tmp_path / "other.db"
    async with Store.open(other) as store:
        await chat_store.migrate(store)
        await store.workspace_id("console", NOW)
    with pytest.raises(CopyRefused, match="copy of another instance"):
        await copy_instance(other, pg_url)


async def test_a_second_copy_into_the_same_database_at_once_is_refused(
    source: Path, pg_url: str, pool: Any
) -> None:
    from index.store.pg.copy import LOCK_KEY

    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        with pytest.raises(CopyRefused, match="another migrate-to"):
            await copy_instance(source, pg_url)
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


# ---- the command line ------------------------------------------------------------------------
def _wirewatch(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_migrate_to_prints_the_counts_and_never_the_password(
    source: Path, pg_url: str
) -> None:
    url = pg_url.replace("postgres:@", f"postgres:{PASSWORD}@")  # the test server trusts
    assert PASSWORD in url
    args = ("--data-dir", str(source.parent), "migrate-to", url, "--json")
    code, out, err = await asyncio.to_thread(_wirewatch, *args)
    assert code == 0, err
    doc = json.loads(out)
    assert PASSWORD not in out + err and doc["target"] == masked_url(url) and "***" in doc["target"]
    assert doc["verified"] and not doc["resumed"]
    articles = _sqlite(source, "SELECT count(*) FROM articles")[0][0]
    assert doc["tables"]["articles"] == {"source": articles, "target": articles, "copied": articles}
    assert set(doc["tables"]) == set(ORDER)

    code, out, err = await asyncio.to_thread(_wirewatch, *args[:-1])
    assert code == 0 and "already copied" in out and PASSWORD not in out + err


def test_a_server_that_cannot_be_reached_is_named_without_its_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(_empty_instance(data_dir / "wirewatch.db"))
    url = f"postgresql://wirewatch:{PASSWORD}@127.0.0.1:1/wirewatch?password={PASSWORD}"
    code, out, err = _wirewatch("--data-dir", str(data_dir), "migrate-to", url)
    assert code == 1 and PASSWORD not in out + err
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/wirewatch" in err


def test_migrate_to_refuses_what_it_cannot_copy(tmp_path: Path) -> None:
    code, _, err = _wirewatch("--data-dir", str(tmp_path), "migrate-to", "mysql://x@y/z")
    assert code == 2 and "postgresql://" in err
    code, _, err = _wirewatch("--data-dir", str(tmp_path), "migrate-to", "postgresql://x@y/z")
    assert code == 2 and "no database at" in err


def test_without_asyncpg_migrate_to_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_empty_instance(tmp_path / "wirewatch.db"))
    monkeypatch.setitem(__import__("sys").modules, "asyncpg", None)
    code, _, err = _wirewatch("--data-dir", str(tmp_path), "migrate-to", "postgresql://x@y/z")
    assert code == 1 and INSTALL_HINT in err


async def _empty_instance(path: Path) -> None:
    async with Store.open(path) as store:
        await chat_store.migrate(store)
        await store.workspace_id("console", NOW)


def test_a_password_is_masked_wherever_the_url_carries_it() -> None:
    assert masked_url("postgresql://u:p%40ss@db.example:5432/ww") == (
        "postgresql://u:***@db.example:5432/ww"
    )
    assert masked_url("postgresql://u@db/ww?sslmode=require&password=x&a=1") == (
        "postgresql://u@db/ww?sslmode=require&password=***&a=1"
    )
    assert masked_url("postgresql:///ww?host=/run/pg") == "postgresql:///ww?host=/run/pg"
    assert masked_url("postgresql://u:@/ww") == "postgresql://u:@/ww"


async def test_a_copy_is_the_database_as_it_was_when_the_run_began(
    source: Path, pg_url: str, pool: Any, tmp_path: Path
) -> None:
    own = tmp_path / "wirewatch.db"
    shutil.copyfile(source, own)
    writer = sqlite3.connect(own, isolation_level=None)  # a bot writing meanwhile
    at = NOW.isoformat()

    def write_meanwhile(table: str, done: int, total: int) -> None:
        if table == "workspaces" and done == total:
            writer.execute("INSERT INTO workspaces (name, created_at) VALUES ('late', ?)", (at,))
            writer.execute("INSERT INTO deliveries VALUES ('console', ?)", (at,))

    try:
        report = await copy_instance(own, pg_url, progress=write_meanwhile)
    finally:
        writer.close()
    counts = {t.table: (t.source, t.target) for t in report.tables}
    assert counts["workspaces"] == (2, 2) and counts["deliveries"] == (1, 1)
    assert _sqlite(own, "SELECT count(*) FROM workspaces") == [(3,)]
    assert await pool.fetchval("SELECT count(*) FROM workspaces WHERE name = 'late'") == 0
