"""Stage: a feed URL -> a fetch slot of its host shared by every worker. Side effects: writes
`host_slots` (one row per fetch in flight).

`PgHostLimiter` is `index.fetch.feeds.HostLimiter` across processes: at most `per_host` fetches of
one host run at once however many workers poll. A slot is a row (host, slot number) taken with
an INSERT that only succeeds when the row is free or its holder's time ran out, so a worker
killed mid-fetch holds its slot until `hold_s` (longer than a fetch may take) and no longer.
Times are the database's clock, so workers on machines whose clocks differ agree. Within the
process a `HostLimiter` queues first, so waiting tasks do not all poll the table.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from index.fetch.feeds import HostLimiter, host_key

WAIT_S = 0.25  # between tries while every slot of a host is taken (jittered)


class PgHostLimiter:
    """At most `per_host` concurrent fetches per host name across every process sharing the
    database: `async with limiter.slot(url): ...`."""

    def __init__(self, pool: Any, per_host: int, *, hold_s: float) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, got {per_host}")
        self.pool = pool
        self.per_host = per_host
        self.hold_s = hold_s
        self._local = HostLimiter(per_host)

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_key(url)
        async with self._local.slot(url):
            holder = uuid.uuid4().hex
            number = await self._take(host, holder)
            try:
                yield
            finally:
                await asyncio.shield(self._give_back(host, number, holder))

    async def _take(self, host: str, holder: str) -> int:
        while True:
            for number in range(self.per_host):
                taken = await self.pool.fetchval(
                    "INSERT INTO host_slots (host, slot, holder, until) "
                    "VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4)) "
                    "ON CONFLICT (host, slot) DO UPDATE SET holder = excluded.holder, "
                    "until = excluded.until WHERE host_slots.until < clock_timestamp() "
                    "RETURNING slot",
                    host,
                    number,
                    holder,
                    self.hold_s,
                )
                if taken is not None:
                    return number
            await asyncio.sleep(WAIT_S * (0.5 + random.random()))

    async def _give_back(self, host: str, number: int, holder: str) -> None:
        await self.pool.execute(
            "DELETE FROM host_slots WHERE host = $1 AND slot = $2 AND holder = $3",
            host,
            number,
            holder,
        )
