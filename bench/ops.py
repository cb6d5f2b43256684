"""Benchmark: backup, restore and prune on a data dir of a few thousand articles.

What is measured, and how:

* A data dir is filled through the real ingest pipeline (`commands.ingest_files`, the
  model-free HashEmbedder: embedding speed is not the point here) with `--articles` articles
  (default 4,000) of about 300 words each, written here: half stored with the clock 200 days
  back, half now.
* Backup: `index.store.backup.backup` of the data dir while a second connection, in its own thread,
  inserts rows into a scratch table as fast as it can; printed: the size, the seconds, and how
  many rows the writer committed meanwhile (the backup never blocks it).
* Restore: `index.store.backup.restore` of that backup into a new data dir (checksums, integrity
  check, counts, copy).
* Prune: `bot.core.maintenance.prune` with `--days 100` on the restored copy (half the articles
  go); printed: the seconds, each write transaction's duration (the time a bot sharing the
  database may wait), the incremental vacuum steps, and the database and index sizes before
  and after. Beside it, the plain call: one DELETE of the old articles in one transaction.
* `--engines postgres` (or `sqlite,postgres`): the same data through the same pipeline into a
  fresh PostgreSQL database (`--database-url`, else a throwaway embedded server), then
  `wirewatch prune`'s work there: the seconds, each batch's transaction (from one progress
  call to the next), the VACUUM, the sizes; beside it the plain DELETE on a copy of the
  database. Backup and restore are the embedded engine's (pg_dump on PostgreSQL).

    .venv/bin/python bench/ops.py [--articles N] [--engines sqlite,postgres] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import open_app  # noqa: E402
from bot.core import commands, maintenance  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.retrieve.embed import HashEmbedder  # noqa: E402
from index.store import backup  # noqa: E402
from index.store.sqlite.store import Store  # noqa: E402
from tests.index.test_ingest import HARVEST, NOW, RAQQA, Clock, item, rss  # noqa: E402

PER_FEED = 500


def _feed(folder: Path, name: str, n: int, when: object, offset: int) -> Path:
    words = (RAQQA + " " + HARVEST).split()
    items = []
    for i in range(n):
        text = " ".join(
            f"{words[(i * 7 + j) % len(words)]}{(i + offset) % 1000 if j % 5 == 0 else ''}"
            for j in range(300)
        )
        items.append(item(f"{name}{i}", f"Report {name} {i}", text, date=format_datetime(when)))  # type: ignore[arg-type]
    path = folder / f"{name}.xml"
    path.write_bytes(rss(items))
    return path


async def _fill(settings: Settings, folder: Path, articles: int) -> None:
    """Ingest `articles` articles, half of them 200 days old, into the data dir or database."""
    clock = Clock(NOW - timedelta(days=200))
    feeds = max(articles // (2 * PER_FEED), 1)
    old = [_feed(folder, f"old{k}", PER_FEED, clock.now, k * PER_FEED) for k in range(feeds)]
    new = [_feed(folder, f"new{k}", PER_FEED, NOW, 10**6 + k * PER_FEED) for k in range(feeds)]
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        started = time.perf_counter()
        await commands.ingest_files(app, old, workspace="console")
        clock.now = NOW
        await commands.ingest_files(app, new, workspace="console")
        stats = await commands.stats(app, workspace="console")
    size = (
        f", {stats['database_bytes'] / 2**20:.1f} MiB database" if "database_bytes" in stats else ""
    )
    print(
        f"{'PostgreSQL' if settings.database_url else 'data dir'}: {stats['articles']} articles, "
        f"{stats['passages']} passages{size} (ingested in {time.perf_counter() - started:.0f} s)"
    )


def _backup_under_writes(settings: Settings, dest: Path) -> None:
    stop, writes = threading.Event(), [0]

    def writer() -> None:
        conn = sqlite3.connect(settings.db_path, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_writes (x BLOB)")
        while not stop.is_set():
            conn.execute("INSERT INTO bench_writes VALUES (randomblob(2000))")
            writes[0] += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)
    before, started = writes[0], time.perf_counter()
    report = backup.backup(settings.data_dir, dest)
    seconds, during = time.perf_counter() - started, writes[0] - before
    # the plain call beside it: sqlite3's own backup of the database file alone
    plain_dest = dest.with_name("plain-backup.db")
    before, started = writes[0], time.perf_counter()
    with sqlite3.connect(settings.db_path) as src, sqlite3.connect(plain_dest) as dst:
        src.backup(dst)
    plain_seconds, plain_during = time.perf_counter() - started, writes[0] - before
    stop.set()
    thread.join()
    print(
        f"backup: {sum(report.files.values()) / 2**20:.1f} MiB in {seconds:.2f} s; the writer "
        f"committed {during} rows meanwhile\n"
        f"  plain sqlite3 Connection.backup of the database alone: {plain_seconds:.2f} s, the "
        f"writer committed {plain_during} rows meanwhile"
    )


def _plain_prune(db_path: Path, cutoff: str) -> None:
    """The plain alternative to `prune`: one DELETE of the old articles in one transaction
    (cascading to passages and events; full-text rows and vectors are left behind)."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    gone = conn.execute("DELETE FROM articles WHERE published_at < ?", (cutoff,)).rowcount
    conn.execute("COMMIT")
    held = time.perf_counter() - started
    conn.close()
    print(
        f"  plain: one DELETE of {gone} articles in one transaction held the write lock "
        f"{held * 1000:.0f} ms (and leaves full-text rows and vectors behind)"
    )


async def _prune(settings: Settings) -> None:
    holds: list[float] = []
    steps: list[float] = []
    transaction, maintenance_cm = Store.transaction, Store.maintenance

    @contextlib.asynccontextmanager
    async def timed_transaction(self: Store) -> AsyncIterator[None]:
        started = time.perf_counter()
        async with transaction(self):
            yield
        holds.append(time.perf_counter() - started)

    @contextlib.asynccontextmanager
    async def timed_maintenance(self: Store) -> AsyncIterator[object]:
        started = time.perf_counter()
        async with maintenance_cm(self) as db:
            yield db
        steps.append(time.perf_counter() - started)

    Store.transaction = timed_transaction  # type: ignore[method-assign,assignment]
    Store.maintenance = timed_maintenance  # type: ignore[method-assign,assignment]
    try:
        async with open_app(settings, embedder=HashEmbedder(), now=Clock(NOW)) as app:
            started = time.perf_counter()
            r = await maintenance.prune(app, days=100)
            seconds = time.perf_counter() - started
    finally:
        Store.transaction, Store.maintenance = transaction, maintenance_cm  # type: ignore[method-assign]
    print(
        f"prune: {r.articles} articles, {r.passages} passages, {r.vectors} vectors in "
        f"{seconds:.2f} s; write transactions: {len(holds)}, longest {max(holds) * 1000:.0f} ms, "
        f"median {statistics.median(holds) * 1000:.0f} ms; {r.vacuum} vacuum in {len(steps)} "
        f"steps, longest {max(steps, default=0) * 1000:.0f} ms"
    )
    print(
        f"  database {r.database_bytes_before / 2**20:.1f} -> {r.database_bytes_after / 2**20:.1f}"
        f" MiB; vector index {r.index_bytes_before / 2**20:.2f} -> "
        f"{r.index_bytes_after / 2**20:.2f} MiB"
    )


async def _prune_pg(settings: Settings) -> None:
    """`prune` on PostgreSQL, each batch timed from one progress call to the next."""
    marks: list[float] = []
    async with open_app(settings, embedder=HashEmbedder(), now=Clock(NOW)) as app:
        started = time.perf_counter()
        marks.append(started)
        r = await maintenance.prune(
            app, days=100, progress=lambda done, total: marks.append(time.perf_counter())
        )
        seconds = time.perf_counter() - started
    batches = [b - a for a, b in itertools.pairwise(marks)]
    print(
        f"prune on PostgreSQL: {r.articles} articles, {r.passages} passages, {r.vectors} vectors "
        f"in {seconds:.2f} s; batches: {len(batches)}, longest "
        f"{max(batches, default=0) * 1000:.0f} ms, median "
        f"{statistics.median(batches or [0]) * 1000:.0f} ms; then {r.vacuum} VACUUM in "
        f"{(seconds - (marks[-1] - started)):.2f} s (with the final counts)"
    )
    print(
        f"  database {r.database_bytes_before / 2**20:.1f} -> {r.database_bytes_after / 2**20:.1f}"
        f" MiB; vector indexes {r.index_bytes_before / 2**20:.2f} -> "
        f"{r.index_bytes_after / 2**20:.2f} MiB"
    )


def _plain_prune_pg(url: str) -> None:
    """The plain alternative on PostgreSQL: one DELETE of the old articles (cascading)."""
    cutoff = NOW - timedelta(days=100)

    async def run() -> tuple[int, float]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            status = await conn.execute("DELETE FROM articles WHERE published_at < $1", cutoff)
            return int(status.split()[-1]), time.perf_counter() - started
        finally:
            await conn.close()

    gone, held = asyncio.run(run())
    print(
        f"  plain: one DELETE of {gone} articles in one transaction took {held * 1000:.0f} ms "
        "(the rows it deletes stay locked until it commits; no VACUUM)"
    )


def _postgres(folder: Path, articles: int, database_url: str | None) -> None:
    from pydantic import SecretStr

    from bench import pgserver

    with pgserver.server(database_url) as server, pgserver.fresh_database(server) as url:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=folder / "pg-data",
            max_entries_per_feed=1000,
            database_url=SecretStr(url),
        )
        asyncio.run(_fill(settings, folder, articles))
        name = urlsplit(url).path.lstrip("/")
        copy = f"{name}_plain"
        pgserver.admin(server, f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
        try:
            asyncio.run(_prune_pg(settings))
            _plain_prune_pg(pgserver.with_database(server, copy))
        finally:
            pgserver.admin(server, f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--engines", default="sqlite", help="sqlite, postgres or both")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    args = parser.parse_args()
    engines = set(args.engines.split(","))
    if not engines or not engines <= {"sqlite", "postgres"}:
        parser.error(f"--engines takes sqlite, postgres or both, not {args.engines!r}")
    folder = Path(tempfile.mkdtemp(prefix="wirewatch-bench-ops-"))
    try:
        if "postgres" in engines:
            _postgres(folder, args.articles, args.database_url)
        if "sqlite" not in engines:
            return
        settings = Settings(_env_file=None, data_dir=folder / "data", max_entries_per_feed=1000)  # type: ignore[call-arg]
        asyncio.run(_fill(settings, folder, args.articles))
        _backup_under_writes(settings, folder / "backup")
        started = time.perf_counter()
        restored = backup.restore(folder / "backup", folder / "restored")
        print(f"restore: {time.perf_counter() - started:.2f} s, integrity {restored.integrity}")
        plain = folder / "plain-prune.db"
        shutil.copy(folder / "restored" / settings.db_path.name, plain)
        asyncio.run(_prune(settings.model_copy(update={"data_dir": folder / "restored"})))
        _plain_prune(plain, (NOW - timedelta(days=100)).isoformat())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
