"""The worker measurement of bench/poll.py: whether `wirewatch worker` and PostgreSQL are
there, a fresh database, `wirewatch worker` processes (started and stopped here) and their
rounds: every feed made due, timed until every feed's last_polled_at has moved."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench import pgserver
from bench.poll_feeds import FeedServer
from bench.poll_rounds import (
    LOOPBACK,
    WORKSPACE,
    Round,
    bench_settings,
    changed_feeds,
    make_round,
    measured,
    median_of,
    tree_cpu_s,
)
from bot.app import open_app
from bot.core import commands
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
WIREWATCH = ROOT / ".venv" / "bin" / "wirewatch"
ROUND_TIMEOUT_S = 900.0  # a worker round that takes longer is reported as failed
SETTLE_S = 1.0  # after a worker round: a second fetch of a feed would arrive meanwhile


def has_worker_command() -> bool:
    """Whether `wirewatch --help` lists a worker command."""
    try:
        done = subprocess.run(
            [str(WIREWATCH), "--help"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(r"^\s+worker\s", done.stdout, re.MULTILINE) is not None


def worker_unavailable(database_url: str | None, embedded_postgres: bool) -> str | None:
    """Why the worker figures cannot be measured here, or None when they can."""
    if not has_worker_command():
        return "`wirewatch worker` does not exist yet (`wirewatch --help` lists no worker command)"
    if "database_url" not in Settings.model_fields:
        return (
            "the settings have no database_url (WIREWATCH_DATABASE_URL), so the feeds cannot be "
            "subscribed in PostgreSQL through the project's own code"
        )
    if not database_url and not embedded_postgres:
        return (
            "no PostgreSQL database: give --database-url postgresql://... (or set "
            "WIREWATCH_DATABASE_URL), or --embedded-postgres"
        )
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (the postgres extra)"
    return None


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the server of `server_url` (never the one it names), dropped after."""
    import asyncpg

    name = f"wirewatch_poll_bench_{os.getpid()}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pgserver.with_database(server_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class Workers:
    """`count` `wirewatch worker` processes on the database at `url`, with the default
    settings but for the data dir, loopback feeds allowed, the model cache and the backend."""

    def __init__(self, count: int, url: str, workdir: Path, *, models: Path, backend: str) -> None:
        self.logs = [workdir / f"worker{count}-{n}.log" for n in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for n, path in enumerate(self.logs):
            data_dir = workdir / f"worker{count}-{n}"
            data_dir.mkdir(parents=True, exist_ok=True)
            env = {
                **os.environ,
                "WIREWATCH_DATABASE_URL": url,
                "WIREWATCH_DATA_DIR": str(data_dir),
                "WIREWATCH_MODEL_CACHE_DIR": str(models),  # exported by the embedded run
                "WIREWATCH_EMBED_BACKEND": backend,
                "WIREWATCH_ALLOWED_NETWORKS": LOOPBACK,
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
            }
            with path.open("wb") as out:  # the child keeps its own descriptor
                self.processes.append(
                    subprocess.Popen(
                        [str(WIREWATCH), "worker"],
                        env=env,
                        cwd=data_dir,  # no .env of the project's folder
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    def cpu_s(self) -> float:
        """CPU seconds the workers have used so far."""
        return tree_cpu_s([process.pid for process in self.processes])

    def check(self) -> None:
        for process, path in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"a worker exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def worker_round(
    conn: Any,
    server: FeedServer,
    workers: Workers,
    changed: Sequence[int],
    *,
    lead_s: float,
    database_pid: int | None = None,
) -> Round:
    """Every feed falls due `lead_s` from now; the round lasts from then until every feed's
    last_polled_at has moved past that moment. A worker between rounds sleeps until the next
    feed falls due, waking at least once a scheduler tick to look again: with `lead_s` over a
    tick, every worker has seen the new due time and wakes for it, as it would for feeds
    falling due on their own."""
    server.begin_round(changed)
    due = await conn.fetchval("SELECT clock_timestamp() + make_interval(secs => $1)", lead_s)
    await conn.execute("UPDATE feeds SET next_check_at = $1 WHERE kind = 'http'", due)
    await asyncio.sleep(lead_s)
    async with measured(server, workers, database_pid) as timing:
        deadline = time.perf_counter() + ROUND_TIMEOUT_S
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM feeds WHERE kind = 'http' AND last_polled_at >= $1", due
            )
            if done >= server.feeds:
                break
            workers.check()
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"{done} of {server.feeds} feeds polled after {ROUND_TIMEOUT_S:.0f} s"
                )
            await asyncio.sleep(0.05)
    await asyncio.sleep(SETTLE_S)
    counts = server.counts()
    return make_round(timing, server.feeds, counts, new_articles=counts.statuses.get(200, 0))


async def measure_workers(
    server: FeedServer,
    url: str,
    worker_counts: Sequence[int],
    *,
    rounds: int,
    change_rate: float,
    workdir: Path,
    models: Path,
    backend: str,
    interval_s: int = 3600,
    database_pid: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Subscribe the feeds in PostgreSQL, then for each worker count a warm-up round and
    `rounds` measured rounds."""
    import asyncpg

    rng = random.Random(seed + 1)
    lead_s = Settings(_env_file=None).scheduler_tick_s + 2.0  # the workers' own settings
    settings = bench_settings(workdir / "subscribe", database_url=url)
    async with open_app(settings, with_model=False) as app:
        started = time.perf_counter()
        for feed_url in server.urls():
            await commands.add_feed(app, feed_url, interval_s=interval_s, workspace=WORKSPACE)
        subscribe_s = time.perf_counter() - started
    print(
        f"  subscribed {server.feeds} feeds in PostgreSQL in {subscribe_s:.1f} s", file=sys.stderr
    )
    result: dict[str, Any] = {"measured": True, "subscribe_s": subscribe_s, "counts": {}}
    server.begin_round([])
    conn = await asyncpg.connect(url)
    try:
        for count in worker_counts:
            workers = Workers(count, url, workdir, models=models, backend=backend)
            try:
                warm = await worker_round(
                    conn, server, workers, [], lead_s=0.0, database_pid=database_pid
                )
                print(f"  {count} workers: warm-up round {warm.seconds:.1f} s", file=sys.stderr)
                done = []
                for index in range(rounds):
                    changed = changed_feeds(rng, server.feeds, change_rate)
                    r = await worker_round(
                        conn, server, workers, changed, lead_s=lead_s, database_pid=database_pid
                    )
                    done.append(r)
                    print(
                        f"  {count} workers, round {index + 1}/{rounds}: {r.seconds:.1f} s "
                        f"({r.feeds_per_min:,.0f} feeds/min, {r.doubled} fetched twice)",
                        file=sys.stderr,
                    )
            finally:
                workers.stop()
            result["counts"][str(count)] = {
                "warm_up": warm.doc(),
                "rounds": [r.doc() for r in done],
                "median": median_of(done),
            }
    finally:
        await conn.close()
    return result
