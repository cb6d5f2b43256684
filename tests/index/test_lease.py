"""The leader lease (index/store/lease.py, index/store/pg/lease.py): one holder at a time, on a real
PostgreSQL; the lease passes on when the holder's connection or process dies."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from index.store.lease import LocalLease, run_while_leader
from index.store.pg.lease import PgLease, lease_key

ROOT = Path(__file__).resolve().parents[2]
RETRY_S = 0.05
PATIENCE_S = 10.0  # generous: only a hang fails it


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[Any]:
    """A third connection, outside the contenders, as an operator's would be."""
    import asyncpg  # `pg_url` skips (or fails in CI) without it

    conn = await asyncpg.connect(pg_url)
    yield conn
    await conn.close()


@pytest.fixture
async def leases(pg_url: str) -> AsyncIterator[list[PgLease]]:
    """Two contenders for the same lease, as two processes would hold."""
    made = [PgLease(pg_url, "test:sender"), PgLease(pg_url, "test:sender")]
    yield made
    for lease in made:
        await lease.release()


async def holder_pid(admin: Any) -> int | None:
    """The backend pid that holds an advisory lock in this database, if one does."""
    pid = await admin.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return None if pid is None else int(pid)


async def kill_holder(admin: Any) -> None:
    pid = await holder_pid(admin)
    assert pid is not None
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)


async def eventually_acquires(lease: PgLease) -> float:
    """Seconds until `lease` is acquired, tried every RETRY_S (fails past PATIENCE_S)."""
    start = time.monotonic()
    while not await lease.acquire():
        assert time.monotonic() - start < PATIENCE_S, "the lease was never freed"
        await asyncio.sleep(RETRY_S)
    return time.monotonic() - start


def test_the_key_is_fixed_per_name() -> None:
    assert lease_key("wirewatch:sender") == lease_key("wirewatch:sender")
    assert lease_key("wirewatch:sender") != lease_key("wirewatch:other")
    assert -(2**63) <= lease_key("wirewatch:sender") < 2**63


async def test_one_holder_until_it_releases(leases: list[PgLease]) -> None:
    first, second = leases
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.held() and not await second.held()
    assert await first.acquire()  # asking again while holding: still ours
    await first.release()
    assert not await first.held()
    assert await second.acquire()
    assert not await first.acquire()


async def test_a_dropped_connection_frees_the_lease(leases: list[PgLease], admin: Any) -> None:
    first, second = leases
    assert await first.acquire()
    assert not await second.acquire()
    await kill_holder(admin)  # the server signals the backend; it ends a moment later
    start = time.monotonic()
    while await first.held():
        assert time.monotonic() - start < PATIENCE_S, "the lease outlived its connection"
        await asyncio.sleep(RETRY_S)
    await eventually_acquires(second)
    assert await second.held()
    assert not await first.acquire()  # a new connection, and the lease is taken


async def test_a_lease_on_another_key_is_free(pg_url: str, leases: list[PgLease]) -> None:
    assert await leases[0].acquire()
    other = PgLease(pg_url, "test:other")
    try:
        assert await other.acquire()
    finally:
        await other.release()


async def test_an_unreachable_database_is_no_lease() -> None:
    lease = PgLease("postgresql://nobody@127.0.0.1:1/none", timeout_s=2.0)
    assert not await lease.acquire()
    assert not await lease.held()
    await lease.release()


async def test_the_work_moves_to_the_other_contender(
    pg_url: str, admin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="index.store.lease")
    running: set[str] = set()
    together: list[set[str]] = []  # every moment two works ran at once
    started: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}
    stopped: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}
    first = asyncio.Event()

    def contender(name: str) -> Any:
        async def work() -> None:
            if running:
                together.append({*running, name})
            running.add(name)
            started[name].set()
            first.set()
            try:
                await asyncio.Event().wait()  # a loop that runs until cancelled
            finally:
                running.discard(name)
                stopped[name].set()

        return work

    tasks = {
        name: asyncio.create_task(
            run_while_leader(PgLease(pg_url, "test:sender"), contender(name), retry_s=RETRY_S)
        )
        for name in ("a", "b")
    }
    try:
        async with asyncio.timeout(PATIENCE_S):
            await first.wait()
        leader = next(iter(running))
        other = "b" if leader == "a" else "a"
        await asyncio.sleep(10 * RETRY_S)  # the other keeps trying, and keeps failing
        assert running == {leader} and not together

        # The old leader stops at its next check of held(); the two may overlap until then
        # (index/store/lease.py), so `together` is only asserted before the handover.
        await kill_holder(admin)
        async with asyncio.timeout(PATIENCE_S):
            await stopped[leader].wait()
            await started[other].wait()
        assert running == {other}
        assert not tasks[leader].done()  # the old leader went back to trying
        await asyncio.sleep(10 * RETRY_S)
        assert running == {other}
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.wait(tasks.values())
    assert not running  # cancelling the loop cancels the work
    said = [(r.getMessage(), getattr(r, "lease", None)) for r in caplog.records]
    assert said.count(("leadership gained", "test:sender")) == 2
    assert ("leadership lost", "test:sender") in said
    assert await holder_pid(admin) is None  # and releases the lease


async def test_work_that_fails_releases_the_lease(pg_url: str, admin: Any) -> None:
    async def work() -> None:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError, match="broken"):
        await run_while_leader(PgLease(pg_url, "test:sender"), work, retry_s=RETRY_S)
    assert await holder_pid(admin) is None


CHILD = """
import asyncio, sys
from index.store.pg.lease import PgLease

async def main():
    lease = PgLease(sys.argv[1], "test:sender")
    assert await lease.acquire()
    print("held", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_killed_process_hands_the_lease_over(pg_url: str) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        pg_url,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    lease = PgLease(pg_url, "test:sender")
    try:
        assert child.stdout is not None
        async with asyncio.timeout(30):  # the child imports the engine first
            assert await child.stdout.readline() == b"held\n"
        assert not await lease.acquire()
        child.send_signal(signal.SIGKILL)
        await child.wait()
        await eventually_acquires(lease)
        assert await lease.held()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await lease.release()


async def test_a_local_lease_is_always_granted() -> None:
    lease, other = LocalLease(), LocalLease()
    assert await lease.acquire() and await other.acquire()
    assert await lease.held()
    await lease.release()
    assert not await lease.held()


async def test_a_local_leader_runs_the_work_at_once() -> None:
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()

    lease = LocalLease()
    task = asyncio.create_task(run_while_leader(lease, work, retry_s=60))
    try:
        async with asyncio.timeout(PATIENCE_S):
            await started.wait()
        assert await lease.held()
    finally:
        task.cancel()
        await asyncio.wait({task})
    assert not await lease.held()
