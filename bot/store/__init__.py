"""The chat layer's own tables, in the engine's database: the watches, the alerts with their
outbox and delivery records, and the feed notices. Side effects: `migrate` creates and alters
those tables.

The engine (index/) knows nothing of them. They have their own migrations, one folder per
engine (`migrations/sqlite/`, `migrations/postgres/`, numbered `NNNN_name.sql`, never edited
once merged), recorded in their own ledger table, `chat_migrations`, and applied after the
engine's own by `migrate` (bot/app.py `open_store` calls it). Each table has a row interface,
a small Protocol with an implementation per engine: `watchrows.py`, `noticerows.py`,
`alertrows.py` on SQLite, `pg/` on PostgreSQL; `watch_rows`, `notice_rows` and `alert_rows`
hand out the one for the store's engine.

Databases made before these migrations existed hold the same tables, created by the engine's
migrations of that time; the first chat migration creates each table and index only where it
is missing, so both kinds of database end with the same schema (tests/bot/test_chat_schema.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from index.store.interfaces import Storage
from index.store.sqlite.store import Store

if TYPE_CHECKING:
    from bot.store.alertrows import AlertRows
    from bot.store.noticerows import NoticeRows
    from bot.store.watchrows import WatchRows
    from index.store.pg.copy import Layer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LEDGER = "chat_migrations"
# Every table of the chat layer, parents first (bot/adapters/cli/ops.py `migrate-to` copies them).
TABLES = (
    "watches",
    "alerts",
    "alert_matches",
    "alert_articles",
    "deliveries",
    "feed_notice_state",
    "feed_notices",
)

# What `backup` and `restore` count of these tables, beside the engine's counts
# (index/store/backup.py).
COUNTS = {
    "watches": "SELECT count(*) FROM watches",
    "alerts": "SELECT count(*) FROM alerts",
}


def engine_of(store: Storage) -> str:
    """ "sqlite" or "postgres": which dialect the store speaks."""
    return "sqlite" if isinstance(store, Store) else "postgres"


async def migrate(store: Storage) -> list[str]:
    """Create or bring up to date the chat layer's tables in `store`'s database; returns the
    names of the migrations applied."""
    return await store.apply_migrations(MIGRATIONS / engine_of(store), LEDGER)


def copy_layer() -> Layer:
    """These tables, as `wirewatch migrate-to` copies them (index/store/pg/copy.py)."""
    from index.store.pg.copy import Layer

    return Layer(TABLES, LEDGER, MIGRATIONS / "sqlite", MIGRATIONS / "postgres")


def watch_rows(store: Storage) -> WatchRows:
    """The `watches` table of `store`."""
    if isinstance(store, Store):
        from bot.store.watchrows import SqliteWatchRows

        return SqliteWatchRows(store)
    from bot.store.pg.watchrows import PgWatchRows

    return PgWatchRows(_pool(store))


def notice_rows(store: Storage) -> NoticeRows:
    """The feed notice tables of `store`."""
    if isinstance(store, Store):
        from bot.store.noticerows import SqliteNoticeRows

        return SqliteNoticeRows(store)
    from bot.store.pg.noticerows import PgNoticeRows

    return PgNoticeRows(_pool(store))


def alert_rows(store: Storage) -> AlertRows:
    """The alert tables of `store`."""
    if isinstance(store, Store):
        from bot.store.alertrows import SqliteAlertRows

        return SqliteAlertRows(store)
    from bot.store.pg.alertrows import PgAlertRows

    return PgAlertRows(_pool(store))


def _pool(store: Storage) -> object:
    from index.store.pg.store import PgStore

    if not isinstance(store, PgStore):
        raise TypeError(f"no chat tables for a {type(store).__name__}")
    return store.pool
