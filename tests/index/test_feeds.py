"""fetch_feed against real HTTP servers on 127.0.0.1: validators, throttling, redirects, the SSRF
guard, timeouts, size limits and decompression; plus parse_retry_after and HostLimiter."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpcore
import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from index.errors import FeedRefused, FeedThrottled, FeedUnavailable
from index.fetch.feeds import (
    MAX_RETRY_AFTER_S,
    AddressBlocked,
    GuardedBackend,
    HostLimiter,
    fetch_feed,
    make_client,
    parse_retry_after,
    validate_feed_url,
)
from index.models import FeedSource, FetchPolicy

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Wire</title>'
    b"<item><title>Shelling reported near Goma</title><guid>g-1</guid></item></channel></rss>\n"
)
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
LIMIT = 100_000


class RecordingBackend(httpcore.AnyIOBackend):
    """httpcore's real backend, recording every address it is asked to connect to.

    As a belt to the guard under test, it refuses anything but a loopback IP literal, so a broken
    guard fails the test instead of reaching out.
    """

    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"test tried to connect to {host}")
        return await super().connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )


def make_policy(**overrides: object) -> FetchPolicy:
    base: dict[str, object] = {
        "connect_timeout_s": 0.5,
        "read_timeout_s": 0.5,
        "total_timeout_s": 5.0,
        "max_body_bytes": LIMIT,
        "max_redirects": 3,
        "allowed_networks": ("127.0.0.1/32",),
    }
    base.update(overrides)
    return FetchPolicy(**base)  # type: ignore[arg-type]


@pytest.fixture
def server(httpserver_ipv4: HTTPServer) -> Iterator[HTTPServer]:
    """pytest-httpserver bound to 127.0.0.1 (not "localhost", which may also mean ::1)."""
    yield httpserver_ipv4
    httpserver_ipv4.check_assertions()


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[HTTPServer]:
    """A threaded (hence HTTP/1.1, chunked-capable) server on 127.0.0.1."""
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture
def recorder() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def policy() -> FetchPolicy:
    return make_policy()


@pytest.fixture
async def client(
    policy: FetchPolicy, recorder: RecordingBackend
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(policy, network_backend=recorder) as http:
        yield http


def feed_at(url: str, **kw: object) -> FeedSource:
    return FeedSource(feed_id=1, url=url, **kw)  # type: ignore[arg-type]


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


# --- the connect-time guard ----------------------------------------------------------------------


async def test_loopback_refused_by_default_and_allowed_with_allow_private(server, recorder):
    server.expect_request("/feed").respond_with_data(FEED)
    url = server.url_for("/feed")
    strict = FetchPolicy(connect_timeout_s=0.5, read_timeout_s=0.5, total_timeout_s=5.0)
    async with make_client(strict, network_backend=recorder) as http:
        with pytest.raises(FeedRefused, match="loopback"):
            await fetch_feed(http, feed_at(url), strict)
    assert recorder.hosts == [] and server.log == []

    relaxed = FetchPolicy(connect_timeout_s=0.5, read_timeout_s=0.5, allow_private=True)
    async with make_client(relaxed, network_backend=recorder) as http:
        assert (await fetch_feed(http, feed_at(url), relaxed)).body == FEED
    assert recorder.hosts == ["127.0.0.1"]


async def test_hostname_resolving_to_loopback_is_refused(server, recorder):
    server.expect_request("/feed").respond_with_data(FEED)
    strict = FetchPolicy(connect_timeout_s=0.5, read_timeout_s=0.5, total_timeout_s=5.0)
    async with make_client(strict, network_backend=recorder) as http:
        with pytest.raises(FeedRefused, match=r"localhost \(.*\): it is a loopback address"):
            await fetch_feed(http, feed_at(f"http://localhost:{server.port}/feed"), strict)
    assert recorder.hosts == [] and server.log == []


async def test_hostname_is_connected_by_vetted_ip_but_sent_as_host(server, recorder):
    """The guard connects to the address it checked (no second DNS lookup to rebind), while the
    request still names the host (and TLS would use it for SNI)."""
    server.expect_request("/feed").respond_with_data(FEED)
    policy = make_policy(allowed_networks=("127.0.0.0/8", "::1/128"))
    async with make_client(policy, network_backend=recorder) as http:
        got = await fetch_feed(http, feed_at(f"http://localhost:{server.port}/feed"), policy)
    assert got.body == FEED
    assert recorder.hosts and all(ipaddress.ip_address(h) for h in recorder.hosts)
    assert recorder.hosts[-1] == "127.0.0.1"
    ((request, _),) = server.log
    assert request.headers["Host"] == f"localhost:{server.port}"


async def test_client_pool_goes_through_the_guard(server, recorder):
    """make_client installs the guard via a private httpx attribute; prove the plain client (not
    just fetch_feed) is guarded, and that allowed connections go through the given backend."""
    server.expect_request("/x").respond_with_data(b"ok")
    strict = FetchPolicy()
    async with make_client(strict, network_backend=recorder) as http:
        with pytest.raises(AddressBlocked) as info:
            await http.get(server.url_for("/x"))
        assert isinstance(info.value, httpx.ConnectError)
    assert recorder.hosts == []
    async with make_client(make_policy(), network_backend=recorder) as http:
        response = await http.get(server.url_for("/x"))
        assert response.text == "ok"
        assert response.request.headers["User-Agent"] == FetchPolicy().user_agent
    assert recorder.hosts == ["127.0.0.1"]


async def test_default_backend_really_connects(server):
    server.expect_request("/feed").respond_with_data(FEED)
    policy = make_policy()
    async with make_client(policy) as http:
        assert (await fetch_feed(http, feed_at(server.url_for("/feed")), policy)).body == FEED


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_guard_classifies_addresses(address, kind):
    ip = ipaddress.ip_address(address)
    assert GuardedBackend(FetchPolicy()).refusal(ip) == kind
    assert GuardedBackend(FetchPolicy(allow_private=True)).refusal(ip) is None


def test_allowed_networks_open_only_their_range():
    guard = GuardedBackend(FetchPolicy(allowed_networks=("10.1.0.0/16", "fd00:1::/32")))
    assert guard.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert guard.refusal(ipaddress.ip_address("::ffff:10.1.2.3")) is None
    assert guard.refusal(ipaddress.ip_address("fd00:1::5")) is None
    assert guard.refusal(ipaddress.ip_address("10.2.0.1")) == "private"
    assert guard.refusal(ipaddress.ip_address("127.0.0.1")) == "loopback"


def test_bad_allowed_network_fails_at_startup():
    with pytest.raises(ValueError, match="allowed_networks: 'intranet'"):
        make_client(FetchPolicy(allowed_networks=("intranet",)))


# --- URL validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http:// and https://"),
        ("ftp://example.com/feed.xml", "only http:// and https://"),
        ("gopher://example.com/", "only http:// and https://"),
        ("javascript:alert(1)", "only http:// and https://"),
        ("example.com/feed.xml", "no scheme"),
        ("http://user:secret@example.com/feed", "credentials are not allowed"),
        ("https://:443/feed", "no host"),
        ("   ", "empty"),
        ("https://example.com/" + "a" * 3000, "over the 2048-character limit"),
        ("http://[::1/feed", "cannot be parsed"),
    ],
)
def test_validate_feed_url_refuses(url, message):
    with pytest.raises(FeedRefused, match=message) as info:
        validate_feed_url(url)
    assert info.value.url and message in info.value.reason


def test_validate_feed_url_strips_and_returns():
    assert validate_feed_url("  https://example.com/feed.xml?a=1\n") == (
        "https://example.com/feed.xml?a=1"
    )
    assert validate_feed_url("http://10.0.0.1/feed") == "http://10.0.0.1/feed"  # guard's job


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1/", "javascript:x"]
)
async def test_fetch_feed_refuses_non_http_schemes(client, policy, recorder, url):
    with pytest.raises(FeedRefused, match="only http:// and https://"):
        await fetch_feed(client, feed_at(url), policy)
    assert recorder.hosts == []


# --- timeouts and cancellation -------------------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so a stalled handler returns at once and frees the server thread."""
    event = threading.Event()
    yield event
    event.set()


def stalling_handler(release: threading.Event):
    def handler(request: Request) -> Response:
        release.wait(timeout=5)
        return Response(FEED)

    return handler


async def test_slow_server_hits_read_timeout(server, client, policy, release):
    server.expect_request("/slow").respond_with_handler(stalling_handler(release))
    started = time.monotonic()
    with pytest.raises(FeedUnavailable, match="timed out waiting for the server"):
        await fetch_feed(client, feed_at(server.url_for("/slow")), policy)
    assert time.monotonic() - started < 2.0


async def test_total_timeout_bounds_the_whole_fetch(server, recorder, release):
    policy = make_policy(read_timeout_s=10.0, total_timeout_s=0.3)
    server.expect_request("/slow").respond_with_handler(stalling_handler(release))
    async with make_client(policy, network_backend=recorder) as http:
        with pytest.raises(FeedUnavailable, match="total_timeout_s"):
            await fetch_feed(http, feed_at(server.url_for("/slow")), policy)


async def test_cancellation_propagates(server, client, policy, release):
    server.expect_request("/slow").respond_with_handler(stalling_handler(release))
    task = asyncio.create_task(fetch_feed(client, feed_at(server.url_for("/slow")), policy))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- size limits and decompression ---------------------------------------------------------------


async def test_declared_oversized_body_is_refused(server, client, policy):
    server.expect_request("/big").respond_with_data(b"x" * (LIMIT + 1))
    with pytest.raises(FeedUnavailable, match="declared Content-Length of 100001 bytes"):
        await fetch_feed(client, feed_at(server.url_for("/big")), policy)


async def test_body_exactly_at_the_limit_is_accepted(server, client, policy):
    server.expect_request("/edge").respond_with_data(b"x" * LIMIT)
    got = await fetch_feed(client, feed_at(server.url_for("/edge")), policy)
    assert got.body == b"x" * LIMIT


async def test_chunked_oversized_body_is_aborted(threaded_server, client, policy):
    chunk = b"<item>" + b"x" * 16_378 + b"</item>"  # 16 KiB

    def endless(request: Request) -> Response:
        return Response(chunk for _ in range(1_000))  # 16 MB if we kept reading

    threaded_server.expect_request("/chunked").respond_with_handler(endless)
    url = threaded_server.url_for("/chunked")
    # First show that the response really comes chunked, with no length.
    async with httpx.AsyncClient() as plain, plain.stream("GET", url) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
    with pytest.raises(FeedUnavailable, match="body as sent is over the 100000-byte limit"):
        await fetch_feed(client, feed_at(url), policy)


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped in 1 MiB steps (never holding the whole plaintext)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


async def test_gzip_bomb_is_aborted_on_decompressed_size(server, client, policy):
    bomb = gzip_bomb(64 << 20)  # 64 MiB of zeros in about 64 KB
    assert len(bomb) < LIMIT
    server.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FeedUnavailable, match="decompressed body is over the 100000-byte limit"):
        await fetch_feed(client, feed_at(server.url_for("/bomb")), policy)


async def test_deflate_bomb_is_aborted(server, client, policy):
    bomb = zlib.compress(bytes(16 << 20), 9)
    server.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "deflate"})
    with pytest.raises(FeedUnavailable, match="decompressed body"):
        await fetch_feed(client, feed_at(server.url_for("/bomb")), policy)


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
        ("gzip", gzip.compress(FEED[:50]) + gzip.compress(FEED[50:])),  # two members
        ("deflate", zlib.compress(FEED)),
        ("deflate", raw_deflate(FEED)),  # raw deflate, as some servers send it
        ("identity", FEED),
    ],
)
async def test_compressed_feed_is_decoded(server, client, policy, encoding, encoded):
    server.expect_request("/feed").respond_with_data(
        encoded, headers={"Content-Encoding": encoding}
    )
    assert (await fetch_feed(client, feed_at(server.url_for("/feed")), policy)).body == FEED


async def test_corrupt_gzip_is_unavailable(server, client, policy):
    server.expect_request("/feed").respond_with_data(
        b"\x1f\x8b\x08\x00garbage-not-deflate", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FeedUnavailable, match="compressed body is corrupt"):
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)


async def test_unrequested_content_encoding_is_unavailable(server, client, policy):
    server.expect_request("/feed").respond_with_data(b"??", headers={"Content-Encoding": "br"})
    with pytest.raises(FeedUnavailable, match="Content-Encoding 'br'"):
        await fetch_feed(client, feed_at(server.url_for("/feed")), policy)


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
