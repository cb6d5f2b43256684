"""Retention for the app: WIREWATCH_RETENTION_DAYS -> a cutoff -> the engine's prune
(`index.store.sqlite.retention` on the embedded engine, `index.store.pg.retention` on
PostgreSQL), from the command line (`wirewatch prune`) and from the running bot's scheduler.
Side effects: deletes old rows and vectors in the data dir or the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.app import App
from bot.core.errors import UserError
from bot.store.retention import CHAT_DEPENDENTS
from index.retrieve.vectors import VectorIndex, saved_model
from index.store.retention import PruneBusy, PruneReport
from index.store.sqlite import retention
from index.store.sqlite.store import Store

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600  # the bot's scheduled prune
PRUNE_FIRST_AFTER_S = 300  # after a start: once the first poll cycles are done


def _saved_index(app: App) -> VectorIndex | None:
    """The vector index on disk, opened for the model it was built with (no model loaded)."""
    path = app.settings.index_path
    found = saved_model(path)
    if found is None:
        return None
    model_id, dim = found
    s = app.settings
    return VectorIndex.load(
        path,
        dim,
        model_id,
        compress_above=s.index_compress_above,
        min_recall=s.index_min_recall,
    )


async def prune(
    app: App,
    *,
    days: float | None = None,
    dry_run: bool = False,
    allow_full_vacuum: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PruneReport:
    """Prune what is older than `days` (default WIREWATCH_RETENTION_DAYS)."""
    days = days if days is not None else app.settings.retention_days
    if days is None:
        raise UserError(
            "nothing to prune by: set WIREWATCH_RETENTION_DAYS (days to keep) or give --days"
        )
    if days <= 0:
        raise UserError("--days takes a number of days above 0")
    cutoff = app.now() - timedelta(days=days)
    if not isinstance(app.store, Store):
        return await _prune_pg(app, cutoff, dry_run=dry_run, progress=progress)
    if app.pipeline is not None:
        assert isinstance(app.pipeline.vectors, VectorIndex)
        vectors: VectorIndex | None = app.pipeline.vectors
    else:
        vectors = await asyncio.to_thread(_saved_index, app)
    return await retention.prune(
        app.store,
        app.settings.db_path,
        vectors,
        cutoff,
        dry_run=dry_run,
        allow_full_vacuum=allow_full_vacuum,
        progress=progress,
        dependents=CHAT_DEPENDENTS,
    )


async def _prune_pg(
    app: App,
    cutoff: datetime,
    *,
    dry_run: bool,
    progress: Callable[[int, int], None] | None,
) -> PruneReport:
    from bot.store.pg.retention import CHAT_DEPENDENTS as PG_CHAT_DEPENDENTS
    from index.store.pg import retention as pg_retention
    from index.store.pg.store import PgStore

    assert isinstance(app.store, PgStore)
    return await pg_retention.prune(
        app.store, cutoff, dry_run=dry_run, progress=progress, dependents=PG_CHAT_DEPENDENTS
    )


async def prune_tick(app: App, busy: asyncio.Lock) -> None:
    """The scheduled prune: on the embedded engine between poll cycles (`busy`: they share one
    connection), on PostgreSQL beside them. Never raises: a failure is logged and the next run
    retries."""
    try:
        if isinstance(app.store, Store):
            async with busy:
                await prune(app)
        else:
            await prune(app)
    except asyncio.CancelledError:
        raise
    except PruneBusy as exc:  # another process's prune holds the database
        log.info("scheduled prune skipped: %s", exc)
    except Exception:
        log.exception("scheduled prune failed; the next one retries")
