"""Stage: a lease -> work that runs only while this process holds it. Side effects: whatever
`work` does; logs (INFO) when leadership is gained and lost.

A `Lease` says which one process leads (e.g. the one that delivers the outbox). `LocalLease`
serves the embedded engine, whose data dir admits one process already (datadir.py), so it is
always granted; `index/store/pg/lease.py` holds a PostgreSQL advisory lock, freed by the server when
the holder's connection drops, so another process takes over when the leader dies.

`held()` is polled every `retry_s`: a leader cut off from its lease stops its work within one
poll, and another process may start as soon as the lease is free, so for up to `retry_s` the
two may overlap. Work that must never run twice (a delivery) claims its rows in the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Lease(Protocol):
    name: str

    async def acquire(self) -> bool:
        """Try once, never wait for the holder: True when this process now holds the lease."""
        ...

    async def held(self) -> bool:
        """Whether the lease is still this process's."""
        ...

    async def release(self) -> None:
        """Give the lease up (a no-op when not held)."""
        ...


class LocalLease:
    """The lease of a single-process deployment: always granted."""

    def __init__(self, name: str = "local") -> None:
        self.name = name
        self._held = False

    async def acquire(self) -> bool:
        self._held = True
        return True

    async def held(self) -> bool:
        return self._held

    async def release(self) -> None:
        self._held = False


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it has ended (its outcome is the caller's to read)."""
    task.cancel()
    await asyncio.wait({task})


async def run_while_leader(
    lease: Lease, work: Callable[[], Coroutine[Any, Any, None]], *, retry_s: float
) -> None:
    """Run `work` (a loop that runs until cancelled) while this process holds `lease`.

    Tries to acquire the lease every `retry_s`; once held, starts `work` and checks `held()`
    every `retry_s`, cancelling `work` when the lease is lost, then tries again. Runs until
    cancelled, or until `work` ends by itself: then returns, or raises what `work` raised.
    The lease is released on the way out.
    """
    try:
        while True:
            if not await lease.acquire():
                await asyncio.sleep(retry_s)
                continue
            log.info("leadership gained", extra={"lease": lease.name})
            task = asyncio.create_task(work())
            try:
                while True:
                    await asyncio.wait({task}, timeout=retry_s)
                    if task.done():
                        log.info("leadership given up: work ended", extra={"lease": lease.name})
                        task.result()  # raises what `work` raised
                        return
                    if not await lease.held():
                        break
            finally:
                if not task.done():
                    await _stop(task)
            log.info("leadership lost", extra={"lease": lease.name})
            await lease.release()
            await asyncio.sleep(retry_s)
    finally:
        await lease.release()
