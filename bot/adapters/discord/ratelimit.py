"""The process-wide limits on the chat's REST calls to Discord: a global rate cap below Discord's
50 requests/s, and a pause before the invalid-request ban. Side effects: sleeps (the limiter),
log lines when a pause starts and ends (the guard).

discord.py keeps Discord's per-route buckets and waits out 429s; it does not cap the process as
a whole. `RateLimiter` does, for every post and edit the chat makes: a token bucket refilled at
`rate` per second, holding at most `burst` tokens, so that no second sees more than
`rate + burst` calls (the default burst keeps that at 50 or under). Callers wait in arrival
order; a waiting caller sleeps until its token is due.

Discord bans an IP for a while after 10,000 invalid requests (401, 403, 429) in 10 minutes.
`InvalidRequestGuard` counts them in a sliding window and says `paused` from `threshold` on,
until enough of them have left the window; the chat then refuses to call Discord at all. Fed
by `trace(guard)` on the client's HTTP session, it counts every answer the process gets,
those discord.py retries by itself and those of slash commands included (a 429 of a shared
rate limit, which Discord does not count, excepted); without it, the chat counts the errors
that reach it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

DISCORD_GLOBAL_RPS = 50  # Discord's global limit for a bot
BURST = 5  # calls a quiet limiter lets through at once
INVALID_STATUSES = frozenset({401, 403, 429})
INVALID_WINDOW_S = 600.0  # Discord counts invalid requests over 10 minutes


class RateLimiter:
    """A token bucket shared by all the calls it guards: `acquire()` before each one."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if burst is None:  # as much as keeps any one second within Discord's limit
            burst = max(1, min(BURST, DISCORD_GLOBAL_RPS - math.ceil(rate)))
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()  # the head of the queue waits for its token; the rest queue

    async def acquire(self) -> None:
        """Wait for a token, after every earlier caller got theirs."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now


class InvalidRequestGuard:
    """Counts the responses Discord holds against a ban in a sliding window; `paused` from
    `threshold` in the window until the count falls below it again."""

    def __init__(
        self,
        threshold: int,
        window_s: float = INVALID_WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or window_s <= 0:
            raise ValueError("the threshold must be at least 1 and the window positive")
        self.threshold = threshold
        self.window_s = window_s
        self._clock = clock
        self._seen: deque[float] = deque()  # when each invalid response came, oldest first
        self._paused = False
        self.traced = False  # fed by trace(): every HTTP answer is seen there

    def record(self, status: int | None) -> None:
        """A response from Discord with HTTP `status` (None: no response)."""
        if status in INVALID_STATUSES:
            self._seen.append(self._clock())
            self._update()

    @property
    def invalid_requests(self) -> int:
        """Invalid responses within the window now."""
        self._update()
        return len(self._seen)

    @property
    def paused(self) -> bool:
        self._update()
        return self._paused

    def resume_in(self) -> float:
        """Seconds until the count falls below the threshold (0 when not paused)."""
        self._update()
        if not self._paused:
            return 0.0
        # the oldest responses leave first: below the threshold once this one has left
        leaving = self._seen[len(self._seen) - self.threshold]
        return max(0.0, leaving + self.window_s - self._clock())

    def _update(self) -> None:
        start = self._clock() - self.window_s
        while self._seen and self._seen[0] <= start:
            self._seen.popleft()
        paused = len(self._seen) >= self.threshold
        if paused == self._paused:
            return
        self._paused = paused
        if paused:
            log.warning(
                "%d invalid requests to Discord in %.0f s: delivery paused until fewer than %d",
                len(self._seen),
                self.window_s,
                self.threshold,
            )
        else:
            log.warning(
                "invalid requests to Discord down to %d in %.0f s: delivery resumes",
                len(self._seen),
                self.window_s,
            )


def trace(guard: InvalidRequestGuard) -> aiohttp.TraceConfig:
    """An aiohttp trace that feeds every HTTP answer of a session to `guard` (give it to the
    client as `http_trace`)."""

    async def answered(session: Any, context: SimpleNamespace, params: Any) -> None:
        response = params.response
        if response.status == 429 and response.headers.get("X-RateLimit-Scope") == "shared":
            return  # a shared resource's limit: Discord does not hold it against the bot
        guard.record(response.status)

    config = aiohttp.TraceConfig()
    config.on_request_end.append(answered)
    guard.traced = True
    return config
