"""The global rate cap and the invalid-request guard of the Discord chat, on an injected clock:
sleeping moves the clock, so nothing here waits or measures time."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.adapters.discord.ratelimit import InvalidRequestGuard, RateLimiter
from bot.core.ports import Card, DeliveryError
from bot.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    import discord

from bot.adapters.discord.chat import PAUSED, DiscordChat  # noqa: E402


class Ticks:
    """A monotonic clock whose `sleep` moves it forward instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let the others queue meanwhile


# ---- the rate cap -------------------------------------------------------------------------------
async def test_a_burst_goes_at_once_then_one_call_per_token() -> None:
    ticks = Ticks()
    limiter = RateLimiter(10, 3, clock=ticks, sleep=ticks.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert ticks.slept == pytest.approx([0.1, 0.1])
    ticks.advance(60)  # a quiet minute fills the bucket up to the burst, no more
    for _ in range(3):
        await limiter.acquire()
    await limiter.acquire()
    assert ticks.slept == pytest.approx([0.1, 0.1, 0.1])


@pytest.mark.parametrize(("rate", "burst"), [(40, 5), (49, 1), (1, 5)])
async def test_no_second_sees_more_calls_than_discord_allows(rate: int, burst: int) -> None:
    ticks = Ticks()
    limiter = RateLimiter(rate, clock=ticks, sleep=ticks.sleep)
    assert limiter.burst == burst
    times = []
    for _ in range(rate * 5):
        await limiter.acquire()
        times.append(ticks.now)
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert busiest <= min(rate + burst, 50)
    assert times[-1] - times[0] >= (len(times) - burst) / rate - 1e-9  # the rate holds overall


async def test_callers_get_their_tokens_in_arrival_order() -> None:
    ticks = Ticks()
    limiter = RateLimiter(2, 1, clock=ticks, sleep=ticks.sleep)
    served: list[int] = []

    async def call(n: int) -> None:
        await limiter.acquire()
        served.append(n)

    first = [asyncio.create_task(call(n)) for n in range(4)]
    await asyncio.sleep(0)  # they queue; the head sleeps for its token
    late = [asyncio.create_task(call(n)) for n in range(4, 8)]
    await asyncio.gather(*first, *late)
    assert served == list(range(8))
    assert ticks.slept == pytest.approx([0.5] * 7)  # one wait per token, no polling


# ---- the invalid-request guard ------------------------------------------------------------------
def test_the_guard_pauses_at_the_threshold_until_the_window_slides_past(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = Ticks()
    guard = InvalidRequestGuard(3, 600, clock=ticks)
    caplog.set_level(logging.INFO, logger="bot.adapters.discord.ratelimit")
    guard.record(403)  # t=0
    ticks.advance(100)
    for status in (200, 404, 500, None, 401):  # only the 401 counts
        guard.record(status)
    assert (guard.invalid_requests, guard.paused) == (2, False)
    ticks.advance(500)  # t=600: the first 403 is just out of the window
    guard.record(429)
    assert (guard.invalid_requests, guard.paused) == (2, False)
    ticks.advance(50)  # t=650
    guard.record(403)
    assert (guard.invalid_requests, guard.paused) == (3, True)
    guard.record(403)
    ticks.advance(400)  # t=1050: the 401 (t=100) has left, three remain
    assert (guard.invalid_requests, guard.paused) == (3, True)
    ticks.advance(150)  # t=1200: the 429 (t=600) has left
    assert (guard.invalid_requests, guard.paused) == (2, False)
    assert not guard.paused
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == ["WARNING", "WARNING"]
    assert "delivery paused" in lines[0][1] and "resumes" in lines[1][1]


def test_the_guard_refuses_a_threshold_below_one() -> None:
    with pytest.raises(ValueError, match="threshold"):
        InvalidRequestGuard(0)


async def test_a_paused_chat_fails_retryably_without_calling_discord() -> None:
    ticks = Ticks()
    guard = InvalidRequestGuard(1, clock=ticks)
    guard.record(403)
    client = discord.Client(intents=discord.Intents.none())  # not logged in: any call would fail
    chat = DiscordChat(client, guard=guard, limiter=RateLimiter(40, clock=ticks, sleep=ticks.sleep))
    card = Card("Convoy ambushed", None, "body", ref="alert 1")
    for attempt in (
        chat.send("discord:1:2", card, key="a1"),
        chat.send("discord:1:2", card, key="a1", retry=True),
        chat.edit("discord:1:2", "3", card),
    ):
        with pytest.raises(DeliveryError) as failed:
            await attempt
        assert failed.value.reason == PAUSED
        assert not failed.value.permanent and not failed.value.channel_gone
    ticks.advance(600)
    assert not chat.guard.paused
    await client.close()


# ---- settings -----------------------------------------------------------------------------------
def test_the_settings_keep_the_cap_below_discords_limits(tmp_path: Path) -> None:
    made = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert (made.discord_max_rps, made.discord_invalid_pause) == (40, 1000)
    for bad in ({"discord_max_rps": 50}, {"discord_max_rps": 0}, {"discord_invalid_pause": 10_000}):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, data_dir=tmp_path, **bad)  # type: ignore[call-arg, arg-type]


def test_a_pause_says_when_it_ends() -> None:
    ticks = Ticks()
    guard = InvalidRequestGuard(2, 600, clock=ticks)
    assert guard.resume_in() == 0.0
    guard.record(403)
    ticks.advance(100)
    guard.record(429)
    guard.record(401)  # three in the window, threshold two: below it once two have left
    assert guard.paused and guard.resume_in() == 600.0
    ticks.advance(600)
    assert not guard.paused and guard.resume_in() == 0.0


async def test_the_trace_counts_what_discord_counts() -> None:
    from types import SimpleNamespace

    from bot.adapters.discord.ratelimit import trace

    guard = InvalidRequestGuard(10, clock=Ticks())
    [answered] = trace(guard).on_request_end
    assert guard.traced
    for status, scope in ((200, None), (403, None), (429, "user"), (429, "shared"), (404, None)):
        headers = {"X-RateLimit-Scope": scope} if scope else {}
        response = SimpleNamespace(status=status, headers=headers)
        await answered(None, SimpleNamespace(), SimpleNamespace(response=response))
    assert guard.invalid_requests == 2  # the 403 and the bot's own 429
