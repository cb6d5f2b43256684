"""The chat layer's tables come from its own migrations (bot/store/migrations/), on both engines:
a new database gets them from there, and a database the engine's migrations made before the
chat layer had its own (tests/data/*_schema_v*.sql) keeps them and ends with the very same
schema. Real SQLite files in a temp dir; a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bot import store as chat_store
from index.store.pg.store import PgStore
from index.store.sqlite.store import Store
from tests.pg import fresh_database

DATA = Path(__file__).resolve().parent.parent / "data"
CHAT_TABLES = set(chat_store.TABLES)


def _sqlite_schema(path: Path) -> dict[str, Any]:
    """Every table's columns, foreign keys and indexes (with their definitions), as SQLite
    reports them: what a query sees, whatever order the statements that made them ran in."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        schema: dict[str, Any] = {}
        for table in tables:
            indexes = {}
            for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
                sql = conn.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
                ).fetchone()
                columns = [r[2] for r in conn.execute(f"PRAGMA index_info({name})")]
                text = " ".join(sql[0].split()) if sql and sql[0] else None
                indexes[name] = (unique, origin, partial, columns, text)
            schema[table] = {
                "columns": conn.execute(f"PRAGMA table_info({table})").fetchall(),
                "foreign_keys": sorted(conn.execute(f"PRAGMA foreign_key_list({table})")),
                "indexes": indexes,
            }
        return schema
    finally:
        conn.close()


async def _new_sqlite(path: Path) -> None:
    async with Store.open(path) as store:
        assert await chat_store.migrate(store) == ["0001_chat.sql"]


async def test_a_new_sqlite_database_gets_the_chat_tables_from_the_chat_migrations(
    tmp_path: Path,
) -> None:
    engine_only = tmp_path / "engine.db"
    async with Store.open(engine_only):
        pass
    assert CHAT_TABLES.isdisjoint(_sqlite_schema(engine_only)), "the engine makes none of them"

    path = tmp_path / "new.db"
    await _new_sqlite(path)
    assert set(_sqlite_schema(path)) >= CHAT_TABLES
    async with Store.open(path) as store:
        assert await chat_store.migrate(store) == [], "applied once"


async def test_a_sqlite_database_made_before_the_chat_migrations_ends_the_same(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript((DATA / "sqlite_schema_v11.sql").read_text(encoding="utf-8"))
    conn.close()
    assert set(_sqlite_schema(old)) >= CHAT_TABLES, "the old engine made them"
    async with Store.open(old) as store:
        assert await chat_store.migrate(store) == ["0001_chat.sql"]  # recorded; nothing made
    new = tmp_path / "new.db"
    await _new_sqlite(new)

    old_schema, new_schema = _sqlite_schema(old), _sqlite_schema(new)
    assert set(old_schema) == set(new_schema)
    for table in sorted(new_schema):
        assert old_schema[table] == new_schema[table], table


async def _pg_schema(pool: Any) -> dict[str, Any]:
    columns = await pool.fetch(
        "SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, "
        "column_default, is_identity FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    )
    indexes = await pool.fetch(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "ORDER BY tablename, indexname"
    )
    constraints = await pool.fetch(
        "SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY tab, conname"
    )
    return {
        "columns": [tuple(r) for r in columns],
        "indexes": [tuple(r) for r in indexes],
        "constraints": [tuple(r) for r in constraints],
    }


async def test_a_postgres_database_made_before_the_chat_migrations_ends_the_same(
    pg_server_url: str,
) -> None:
    async with fresh_database(pg_server_url) as old_url, fresh_database(pg_server_url) as new_url:
        import asyncpg

        conn = await asyncpg.connect(old_url)
        try:
            await conn.execute((DATA / "postgres_schema_v4.sql").read_text(encoding="utf-8"))
        finally:
            await conn.close()
        async with PgStore.open(old_url, max_size=2) as old:
            assert await chat_store.migrate(old) == ["0001_chat"]
            old_schema = await _pg_schema(old.pool)
        async with PgStore.open(new_url, max_size=2) as new:
            made = {r[0] for r in await new.pool.fetch("SELECT tablename FROM pg_tables")}
            assert CHAT_TABLES.isdisjoint(made), "the engine makes none of them"
            assert await chat_store.migrate(new) == ["0001_chat"]
            assert await chat_store.migrate(new) == [], "applied once"
            new_schema = await _pg_schema(new.pool)
    tables = {row[0] for row in new_schema["columns"]}
    assert tables >= CHAT_TABLES
    for part in ("columns", "indexes", "constraints"):
        assert old_schema[part] == new_schema[part], part
