"""Stage: a database URL -> an asyncpg pool on a migrated database. Side effects: connects to
PostgreSQL, applies pending migrations (migrate.py), registers pgvector's codec on every
connection of the pool.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from index.errors import StoreError
from index.store.pg.migrate import migrate

# Every connection's: pgvector's HNSW search keeps this many candidates and, when a filter
# drops rows, scans on until it has k (0.8's iterative scans) instead of returning fewer.
SESSION_SETTINGS = {"hnsw.ef_search": "100", "hnsw.iterative_scan": "relaxed_order"}
INSTALL_HINT = "the PostgreSQL engine needs asyncpg and pgvector: install 'wirewatch[postgres]'"


def url_secrets(url: str) -> list[str]:
    """The passwords a database URL holds (in its user part or a `password=` parameter), as
    written and decoded: what must never be shown."""
    parts = urlsplit(url)
    found = [parts.password or ""]
    found += [value for key, value in parse_qsl(parts.query) if key == "password"]
    found += [m.group(2) for m in PASSWORD_PARAM.finditer(parts.query)]  # still encoded
    return sorted({*found, *map(unquote, found)} - {""}, key=len, reverse=True)


# A `password=` parameter of a URL's query: (its name with the separator, its value as written).
PASSWORD_PARAM = re.compile(r"((?:^|&)password=)([^&]*)")


def require_asyncpg() -> Any:
    """The asyncpg module; StoreError naming the extra to install when it (or pgvector) is
    missing."""
    try:
        import asyncpg
        import pgvector.asyncpg  # noqa: F401
    except ImportError as exc:
        raise StoreError(INSTALL_HINT) from exc
    return asyncpg


def where(url: str) -> str:
    """The server and database a URL names, without its user or password (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or dict(parse_qsl(parts.query)).get("host") or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"


async def _register_vector(conn: Any) -> None:
    from pgvector.asyncpg import register_vector

    await register_vector(conn)


@asynccontextmanager
async def open_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> AsyncIterator[Any]:
    """An asyncpg pool on the database at `url` (postgresql://...), its schema migrated first;
    its connections write `vector` columns from numpy arrays and read them as pgvector's
    `Vector` (index/store/pg/passages.py turns them into float32 arrays)."""
    asyncpg = require_asyncpg()
    try:
        conn = await asyncpg.connect(url)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreError(f"cannot connect to PostgreSQL at {where(url)}: {exc}") from exc
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_register_vector,
        server_settings=SESSION_SETTINGS,
    )
    try:
        yield pool
    finally:
        await pool.close()
