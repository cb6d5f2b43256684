"""Stage: a lease name -> a PostgreSQL session advisory lock held by this process. Side effects:
opens one dedicated connection per lease (not from a pool: the lock lives and dies with it).

`pg_try_advisory_lock` never waits: one connection in the database gets the lock, the others
get False. When the holder's process dies its connection drops and the server frees the lock;
the next `acquire()` of another process wins. The lock is scoped to the database, so
deployments on separate databases of one server never contend.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

from index.store.pg.connect import require_asyncpg

log = logging.getLogger(__name__)

SENDER = "wirewatch:sender"
# Failures: a connection the server dropped fails in asyncpg with unrelated classes (OSError,
# TimeoutError, PostgresError, InterfaceError, InternalClientError when the server's goodbye
# lands mid-query), so every Exception counts as "no lease"; CancelledError still propagates.


def lease_key(name: str) -> int:
    """The advisory lock key of the lease `name`: a fixed signed 64-bit number."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PgLease:
    """The lease `name` in the database at `url`, as a session advisory lock."""

    def __init__(self, url: str, name: str = SENDER, *, timeout_s: float = 10.0) -> None:
        self.name = name
        self.key = lease_key(name)
        self._url = url
        self._timeout_s = timeout_s
        self._conn: Any = None
        self._holding = False

    async def acquire(self) -> bool:
        if self._holding:
            return await self.held()
        asyncpg = require_asyncpg()
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._url, timeout=self._timeout_s)
            got = await self._conn.fetchval(
                "SELECT pg_try_advisory_lock($1)", self.key, timeout=self._timeout_s
            )
        except Exception as exc:  # see "Failures" above
            log.warning(
                "lease not tried: %s: %s",
                type(exc).__name__,
                exc,
                extra={"lease": self.name},
            )
            await self._drop()
            return False
        self._holding = bool(got)
        return self._holding

    async def held(self) -> bool:
        if not self._holding or self._conn is None or self._conn.is_closed():
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=self._timeout_s)
        except Exception:  # see "Failures" above
            return False
        return True

    async def release(self) -> None:
        """Unlock and close the connection (the server frees the lock either way)."""
        if self._conn is not None and self._holding and not self._conn.is_closed():
            # A connection that fails here is dead, and a dead connection holds no lock.
            with contextlib.suppress(Exception):  # see "Failures" above
                await self._conn.execute(
                    "SELECT pg_advisory_unlock($1)", self.key, timeout=self._timeout_s
                )
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self._holding = self._conn, None, False
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=self._timeout_s)
        except Exception:  # a close that hangs or fails: cut the socket
            conn.terminate()
