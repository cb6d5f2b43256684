"""The SSRF guard against real HTTP servers on 127.0.0.1: the connect-time guard (loopback,
hostnames resolving to it, vetted IPs, the client pool, address classes, allowed
networks), and feed URL validation.
"""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from index.errors import FeedRefused
from index.fetch.feeds import (
    AddressBlocked,
    GuardedBackend,
    fetch_feed,
    make_client,
    validate_feed_url,
)
from index.models import FetchPolicy
from tests.index.feeds_helpers import (
    FEED,
    client_fixture,  # noqa: F401
    feed_at,
    make_policy,
    policy_fixture,  # noqa: F401
    recorder_fixture,  # noqa: F401
    server_fixture,  # noqa: F401
)

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
