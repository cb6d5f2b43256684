"""PostgreSQL migrations (index/store/pg/migrate.py) and the pool (index/store/pg/connect.py), on a
real database: each file applied once, in order, even when two processes start at once."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.errors import StoreError
from index.store.pg.connect import open_pool, require_asyncpg
from index.store.pg.migrate import migrate, migrations


@pytest.fixture
async def conns(pg_url: str) -> AsyncIterator[list[Any]]:
    """Two connections to a fresh database, as two processes would hold."""
    import asyncpg  # `pg_url` skips (or fails in CI) without it

    opened = [await asyncpg.connect(pg_url) for _ in range(2)]
    yield opened
    for conn in opened:
        await conn.close()


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


async def test_migrating_twice_is_a_no_op(conns: list[Any]) -> None:
    conn = conns[0]
    names = [m.name for m in migrations()]
    assert names[0] == "0001_rows"
    assert await migrate(conn) == names
    assert await migrate(conn) == []
    recorded = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in recorded] == [
        (m.version, m.name) for m in migrations()
    ]
    tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
    assert tables >= {
        "workspaces",
        "feeds",
        "subscriptions",
        "stories",
        "articles",
        "feed_entries",
        "passages",
        "events",
        "article_changes",
    }
    assert not tables & {"watches", "alerts", "feed_notices"}, "the chat layer migrates its own"


async def test_two_processes_migrating_at_once_apply_each_file_once(
    conns: list[Any], tmp_path: Path
) -> None:
    folder = write(
        tmp_path / "migrations",
        {
            "0001_runs.sql": "CREATE TABLE runs (name TEXT NOT NULL);"
            "INSERT INTO runs VALUES ('0001');",
            "0002_slow.sql": "SELECT pg_sleep(0.2); INSERT INTO runs VALUES ('0002');",
            "0003_more.sql": "INSERT INTO runs VALUES ('0003');",
        },
    )
    first, second = await asyncio.gather(migrate(conns[0], folder), migrate(conns[1], folder))
    assert sorted(first + second) == ["0001_runs", "0002_slow", "0003_more"]
    runs = await conns[0].fetch("SELECT name FROM runs ORDER BY name")
    assert [r["name"] for r in runs] == ["0001", "0002", "0003"]


async def test_two_processes_starting_at_once_both_get_the_schema(conns: list[Any]) -> None:
    first, second = await asyncio.gather(migrate(conns[0]), migrate(conns[1]))
    assert sorted(first + second) == [m.name for m in migrations()]
    assert await conns[1].fetchval("SELECT count(*) FROM feeds") == 0


async def test_a_failing_migration_leaves_nothing_behind(conns: list[Any], tmp_path: Path) -> None:
    folder = write(
        tmp_path / "migrations",
        {
            "0001_good.sql": "CREATE TABLE good (x INTEGER);",
            "0002_bad.sql": "CREATE TABLE half (x INTEGER); SELECT * FROM missing;",
        },
    )
    with pytest.raises(Exception, match='relation "missing" does not exist'):
        await migrate(conns[0], folder)
    recorded = await conns[0].fetch("SELECT name FROM schema_migrations")
    assert [r["name"] for r in recorded] == ["0001_good"]
    assert await conns[0].fetchval("SELECT to_regclass('half')") is None


def test_migration_files_are_numbered_once(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="NNNN_name.sql"):
        migrations(write(tmp_path / "a", {"1_init.sql": ""}))
    with pytest.raises(StoreError, match="version 1 is taken"):
        migrations(write(tmp_path / "b", {"0001_a.sql": "", "0001_b.sql": ""}))


async def test_the_pool_migrates_and_reads_vectors_as_arrays(pg_url: str) -> None:
    async with open_pool(pg_url) as pool:
        value = await pool.fetchval("SELECT $1::vector", np.array([0.5, 1.5], dtype=np.float32))
        assert value.to_numpy().tolist() == [0.5, 1.5]
        assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == len(migrations())
    async with open_pool(pg_url) as pool:  # a second start finds the schema in place
        assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == len(migrations())


def test_without_asyncpg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(StoreError, match=r"wirewatch\[postgres\]"):
        require_asyncpg()


async def test_a_server_that_cannot_be_reached_is_named_without_its_password() -> None:
    pytest.importorskip("asyncpg")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://wirewatch:s3cret@127.0.0.1:{port}/news"
    with pytest.raises(StoreError) as caught:
        async with open_pool(url):
            pass
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}/news" in str(caught.value)
    assert "s3cret" not in str(caught.value)
