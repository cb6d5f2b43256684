"""Stage: a feed URL -> a slot among at most `per_host` concurrent fetches of its host.
Side effects: none (in-process semaphores).

`HostLimiter` keeps one process polite to each host; index/store/pg/hosts.py extends the same limit
across processes. Both count by `host_key`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(slots=True)
class _Gate:
    semaphore: asyncio.Semaphore
    users: int = 0


def host_key(url: str) -> str:
    """The name a host limit counts by: the URL's host name (the URL itself when it has none)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return host or url


class HostLimiter:
    """At most `per_host` concurrent fetches per host name: `async with limiter.slot(url): ...`.

    Idle hosts are forgotten, so the table only holds hosts with a fetch running or waiting.
    """

    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, got {per_host}")
        self._per_host = per_host
        self._gates: dict[str, _Gate] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        key = host_key(url)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(asyncio.Semaphore(self._per_host))
        gate.users += 1
        try:
            async with gate.semaphore:
                yield
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[key]
