"""Stage: `migrations/NNNN_name.sql` -> the database's schema. Side effects: creates and alters
tables; records each applied file in `schema_migrations`.

Each file runs in its own transaction, which first takes a transaction-scoped advisory lock:
two processes starting at once take turns, and the second finds the file applied. Files are
never edited once merged; a change is a new file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The advisory lock every migration transaction takes (any constant bigint: "wirewatch").
LOCK_KEY = 0x7769726577617463
_LEDGER = re.compile(r"^[a-z_]+$")
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path


def migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    """The migration files of `folder`, by version; StoreError on a bad or repeated version."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise StoreError(f"{path.name}: a migration is named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"{path.name}: version {version} is taken by {found[version].name}")
        found[version] = Migration(version, path.stem, path)
    return [found[v] for v in sorted(found)]


async def migrate(
    conn: Any, folder: Path = MIGRATIONS, *, ledger: str = "schema_migrations"
) -> list[str]:
    """Apply the migrations of `folder` not recorded yet in table `ledger`, in order, on the
    asyncpg connection `conn`; returns the names of those this call applied. The engine's own
    files are recorded in `schema_migrations`; a layer above that keeps tables in this
    database (the chat layer, bot/store/) has its files and its ledger."""
    if not _LEDGER.match(ledger):
        raise ValueError(f"not a ledger table name: {ledger!r}")
    applied = []
    for migration in migrations(folder):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {ledger} ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = await conn.fetchval(
                f"SELECT 1 FROM {ledger} WHERE version = $1", migration.version
            )
            if done:
                continue
            await conn.execute(migration.path.read_text(encoding="utf-8"))
            await conn.execute(
                f"INSERT INTO {ledger} (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        log.info("migration applied", extra={"migration": migration.name})
        applied.append(migration.name)
    return applied
