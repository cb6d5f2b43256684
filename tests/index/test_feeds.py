"""fetch_feed against real HTTP servers on 127.0.0.1: validators, HTTP errors and throttling,
and redirects. The SSRF guard and URL validation are in test_feeds_guard.py, timeouts, size
limits and decompression in test_feeds_limits.py, parse_retry_after, HostLimiter and
connection reuse in test_feeds_hosts.py; the shared fixtures in feeds_helpers.py."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from index.errors import FeedRefused, FeedThrottled, FeedUnavailable
from index.fetch.feeds import fetch_feed
from tests.index.feeds_helpers import (
    FEED,
    LAST_MODIFIED,
    client_fixture,  # noqa: F401
    feed_at,
    make_policy,
    policy_fixture,  # noqa: F401
    recorder_fixture,  # noqa: F401
    server_fixture,  # noqa: F401
)

# --- conditional GET, headers ------------------------------------------------------------------


async def test_200_returns_body_and_validators_then_304_keeps_them(server, client, policy):
    server.expect_ordered_request("/feed.xml").respond_with_data(
        FEED,
        content_type="application/rss+xml",
        headers={"ETag": '"v1"', "Last-Modified": LAST_MODIFIED},
    )
    server.expect_ordered_request(
        "/feed.xml", headers={"If-None-Match": '"v1"', "If-Modified-Since": LAST_MODIFIED}
    ).respond_with_data(b"", status=304)
    url = server.url_for("/feed.xml")

    first = await fetch_feed(client, feed_at(url), policy)
    assert (first.body, first.etag, first.last_modified) == (FEED, '"v1"', LAST_MODIFIED)
    assert (first.status, first.final_url, first.not_modified) == (200, url, False)

    second = await fetch_feed(
        client, feed_at(url, etag=first.etag, last_modified=first.last_modified), policy
    )
    assert second.body is None and second.not_modified and second.status == 304
    assert (second.etag, second.last_modified) == ('"v1"', LAST_MODIFIED)
    assert len(server.log) == 2


async def test_first_fetch_sends_no_validators_and_names_wirewatch(server, client, policy):
    server.expect_request("/feed.xml").respond_with_data(FEED)
    await fetch_feed(client, feed_at(server.url_for("/feed.xml")), policy)
    ((request, _),) = server.log
    assert "Wirewatch" in request.headers["User-Agent"]
    assert "application/rss+xml" in request.headers["Accept"]
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


async def test_unsendable_stored_validator_is_dropped_not_fatal(server, client, policy):
    server.expect_request("/feed.xml").respond_with_data(FEED)
    feed = feed_at(server.url_for("/feed.xml"), etag='"caf\u00e9"', last_modified="x\r\ny: z")
    assert (await fetch_feed(client, feed, policy)).body == FEED
    ((request, _),) = server.log
    assert "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers


# --- HTTP errors and throttling ------------------------------------------------------------------


async def test_429_retry_after_seconds(server, client, policy):
    server.expect_request("/feed").respond_with_data(
        b"", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(FeedThrottled) as info:
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)
    assert info.value.retry_after_s == 120.0
    assert info.value.reason.startswith("HTTP 429")


async def test_503_retry_after_http_date(server, client, policy):
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    server.expect_request("/feed").respond_with_data(
        b"down",
        status=503,
        headers={"Retry-After": format_datetime(now + timedelta(seconds=90), usegmt=True)},
    )
    with pytest.raises(FeedThrottled) as info:
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy, now=lambda: now)
    assert info.value.retry_after_s == 90.0
    assert info.value.reason == "HTTP 503; retry after 90 s"


async def test_503_without_retry_after_is_throttled_with_no_delay(server, client, policy):
    server.expect_request("/feed").respond_with_data(b"", status=503)
    with pytest.raises(FeedThrottled) as info:
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)
    assert info.value.retry_after_s is None


@pytest.mark.parametrize("status", [500, 404, 410, 403])
async def test_other_errors_are_unavailable_not_throttled(server, client, policy, status):
    server.expect_request("/feed").respond_with_data(b"nope", status=status)
    with pytest.raises(FeedUnavailable) as info:
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)
    assert not isinstance(info.value, FeedThrottled)
    assert info.value.reason == f"HTTP {status}"


async def test_connection_refused_is_unavailable(client, policy):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FeedUnavailable, match="could not connect"):
        await fetch_feed(client, feed_at(f"http://127.0.0.1:{port}/feed"), policy)


# --- redirects -----------------------------------------------------------------------------------


async def test_redirect_chain_with_relative_locations_is_followed(server, client, policy):
    server.expect_request("/old/feed").respond_with_data(
        b"", status=301, headers={"Location": "moved"}
    )
    server.expect_request("/old/moved").respond_with_data(
        b"", status=302, headers={"Location": "/new/feed?x=1"}
    )
    server.expect_request("/new/feed").respond_with_data(
        b"", status=307, headers={"Location": server.url_for("/final")}
    )
    server.expect_request("/final").respond_with_data(FEED, headers={"ETag": '"f"'})
    got = await fetch_feed(client, feed_at(server.url_for("/old/feed")), policy)
    assert (got.body, got.etag, got.final_url) == (FEED, '"f"', server.url_for("/final"))
    assert [r.path for r, _ in server.log] == ["/old/feed", "/old/moved", "/new/feed", "/final"]


async def test_more_than_max_redirects_is_refused(server, client):
    server.expect_request("/loop").respond_with_data(b"", status=302, headers={"Location": "/loop"})
    with pytest.raises(FeedRefused, match="too many redirects"):
        await fetch_feed(client, feed_at(server.url_for("/loop")), make_policy(max_redirects=2))
    assert len(server.log) == 3  # the original request and two redirects, then stop


async def test_redirect_without_location_is_unavailable(server, client, policy):
    server.expect_request("/feed").respond_with_data(b"", status=301)
    with pytest.raises(FeedUnavailable, match="without a Location"):
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/feed",
        "http://[::ffff:10.0.0.1]/feed",
        "http://[::1]/feed",
        "http://0.0.0.0/feed",
    ],
)
async def test_redirect_to_private_address_is_refused_before_connecting(
    server, client, policy, recorder, target
):
    server.expect_request("/feed").respond_with_data(b"", status=302, headers={"Location": target})
    with pytest.raises(FeedRefused, match="refused to connect") as info:
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)
    assert "after a redirect" in info.value.reason
    assert recorder.hosts == ["127.0.0.1"]  # only the allowed server was ever connected to


async def test_redirect_to_other_loopback_address_never_reaches_it(
    server, client, policy, recorder
):
    """127.0.0.2 is loopback but outside the allowed 127.0.0.1/32: a real listener proves that
    not even a TCP handshake reached it."""
    with socket.socket() as trap:
        trap.bind(("127.0.0.2", 0))
        trap.listen()
        trap.setblocking(False)
        port = trap.getsockname()[1]
        server.expect_request("/feed").respond_with_data(
            b"", status=308, headers={"Location": f"http://127.0.0.2:{port}/feed"}
        )
        with pytest.raises(FeedRefused, match="loopback"):
            await fetch_feed(client, feed_at(server.url_for("/feed")), policy)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nothing connected
    assert recorder.hosts == ["127.0.0.1"]


@pytest.mark.parametrize("target", ["ftp://example.com/feed", "file:///etc/passwd", "gopher://x/"])
async def test_redirect_to_other_scheme_is_refused(server, client, policy, target):
    server.expect_request("/feed").respond_with_data(b"", status=301, headers={"Location": target})
    with pytest.raises(FeedRefused, match="only http:// and https://"):
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)
