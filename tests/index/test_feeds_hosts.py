"""parse_retry_after, HostLimiter (concurrency per host, keyed by host name) and connections
reused across polls of unchanged feeds.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from index.fetch.feeds import (
    MAX_RETRY_AFTER_S,
    HostLimiter,
    fetch_feed,
    make_client,
    parse_retry_after,
)
from tests.index.feeds_helpers import (
    FEED,
    feed_at,
    policy_fixture,  # noqa: F401
    recorder_fixture,  # noqa: F401
)

# --- parse_retry_after ---------------------------------------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("99999999", MAX_RETRY_AFTER_S),
        ("9" * 400, MAX_RETRY_AFTER_S),
        ("Sun, 01 Jun 2025 12:01:30 GMT", 90.0),
        ("Sunday, 01-Jun-25 12:01:30 GMT", 90.0),  # obsolete RFC 850 form
        ("Sun, 01 Jun 2025 11:00:00 GMT", 0.0),  # already past
        ("Tue, 01 Jul 2025 12:00:00 GMT", MAX_RETRY_AFTER_S),  # a month away: capped
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("12s", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_naive_now_is_utc():
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sun, 01 Jun 2025 12:00:10 GMT", naive) == 10.0


# --- HostLimiter ---------------------------------------------------------------------------------


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_host_limiter_caps_concurrency_per_host():
    limiter = HostLimiter(per_host=2)
    release = asyncio.Event()
    current = {"a.example": 0, "b.example": 0}
    peak = dict(current)

    async def fetch(host: str, path: str) -> None:
        async with limiter.slot(f"https://{host}{path}"):
            current[host] += 1
            peak[host] = max(peak[host], current[host])
            await release.wait()
            await asyncio.sleep(0)
            current[host] -= 1

    tasks = [asyncio.create_task(fetch("a.example", f"/{i}")) for i in range(6)]
    tasks += [asyncio.create_task(fetch("b.example", f"/{i}")) for i in range(3)]
    await settle()
    assert current == {"a.example": 2, "b.example": 2}  # hosts do not share slots
    release.set()
    await asyncio.gather(*tasks)
    assert peak == {"a.example": 2, "b.example": 2}
    assert current == {"a.example": 0, "b.example": 0}


async def test_host_limiter_keys_by_host_name_not_path_or_case():
    limiter = HostLimiter(per_host=1)
    async with limiter.slot("https://News.Example/a"):
        waiter = asyncio.create_task(_enter(limiter, "http://news.example:8080/b"))
        await settle()
        assert not waiter.done()
    await asyncio.wait_for(waiter, 1)
    async with limiter.slot("https://news.example/again"):  # freed and reusable
        pass


async def _enter(limiter: HostLimiter, url: str) -> None:
    async with limiter.slot(url):
        pass


def test_host_limiter_rejects_zero():
    with pytest.raises(ValueError, match="at least 1"):
        HostLimiter(0)


async def test_polls_of_unchanged_feeds_reuse_one_connection(recorder, policy):
    """A 304 is read to its end, so its connection goes back to the pool: a thousand unchanged
    feeds on one host cost one connection, not a thousand. (aiohttp's server keeps connections
    alive; pytest-httpserver's closes them.)"""
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        if request.path == "/full":
            return web.Response(body=FEED, headers={"ETag": '"v2"'})
        return web.Response(status=304, headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/{name}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with make_client(policy, network_backend=recorder) as http:
            for _ in range(4):
                got = await fetch_feed(http, feed_at(f"{base}/same", etag='"v1"'), policy)
                assert got.status == 304
            assert (await fetch_feed(http, feed_at(f"{base}/full"), policy)).body == FEED
            assert (await fetch_feed(http, feed_at(f"{base}/same"), policy)).status == 304
    finally:
        await runner.cleanup()
    assert recorder.hosts == ["127.0.0.1"]
