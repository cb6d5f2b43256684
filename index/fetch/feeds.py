"""Stage: FeedSource + FetchPolicy -> FeedFetch (the body, or "not modified").

Side effects: DNS lookups and HTTP GETs to the feed's host and to the hosts it redirects to.

One feed is fetched politely (conditional GET, a User-Agent that names us, per-host concurrency via
`HostLimiter`) and safely: only http(s), no credentials in URLs, redirects followed by hand and each
hop checked, bodies capped *after* decompression, the whole fetch bounded in time, and an SSRF guard
at connect time. The guard (`GuardedBackend`) resolves the host itself, refuses if any address is
loopback, private, link-local, multicast, reserved or unspecified (unless the policy allows it), and
then connects to the address it vetted, so DNS rebinding between check and connect cannot happen;
TLS still uses the original hostname for SNI and certificate checks (httpcore passes the origin's
host to `start_tls`, not the address we connected to).

Every network or HTTP problem surfaces as a `FeedError` subclass; `asyncio.CancelledError` is never
caught. The address rules are in index/fetch/address.py, the bounded body reading in
index/fetch/feedbody.py and the per-host limit in index/fetch/hostlimit.py (all importable from
here).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import re
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore
import httpx

from index.errors import FeedRefused, FeedThrottled, FeedUnavailable
from index.fetch.address import IPAddress, address_kind, embedded_ipv4, parse_networks
from index.fetch.feedbody import ACCEPT_ENCODING, read_body
from index.fetch.hostlimit import HostLimiter, host_key
from index.models import FeedFetch, FeedSource, FetchPolicy

__all__ = [
    "ACCEPT_ENCODING",
    "FEED_ACCEPT",
    "MAX_RETRY_AFTER_S",
    "AddressBlocked",
    "GuardedBackend",
    "HostLimiter",
    "fetch_feed",
    "host_key",
    "make_client",
    "parse_retry_after",
    "validate_feed_url",
]

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
MAX_URL_LENGTH = 2048
MAX_RETRY_AFTER_S = 24 * 3600.0
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_THROTTLE_STATUSES = frozenset({429, 503})
_MAX_CONNECTIONS = 50
_MAX_KEEPALIVE = _MAX_CONNECTIONS  # idle connections kept: a poll round reuses them
_KEEPALIVE_EXPIRY_S = 30.0


# --- URLs ------------------------------------------------------------------------------------


def _url_problem(url: str) -> str | None:
    """Why `url` may not be fetched (a sentence), or None when it is syntactically acceptable."""
    if not url:
        return "the feed URL is empty; give the full address, e.g. https://example.com/feed.xml"
    if len(url) > MAX_URL_LENGTH:
        return (
            f"the feed URL is {len(url)} characters long, over the {MAX_URL_LENGTH}-character "
            "limit; check that it was pasted correctly"
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"the feed URL cannot be parsed ({exc}); check it for typos"
    scheme = parsed.scheme
    if not scheme:
        return "the feed URL has no scheme; write it in full, starting with https:// or http://"
    if scheme not in ("http", "https"):
        return (
            f"only http:// and https:// feed URLs can be fetched, not {scheme}:; "
            "use the feed's web address"
        )
    if not parsed.host:
        return "the feed URL has no host name; write it as https://host/path"
    if parsed.userinfo:
        return (
            "the feed URL contains a user name or password (user:pass@host); credentials are "
            "not allowed in feed URLs, so remove them"
        )
    return None


def validate_feed_url(url: str) -> str:
    """Check a feed URL's syntax (http/https, a host, no credentials, sane length); return it
    stripped. Raises FeedRefused with a sentence saying what is wrong and how to fix it.

    Addresses are not checked here: the connect-time guard of `make_client` does that, for the
    first request and for every redirect.
    """
    stripped = url.strip()
    problem = _url_problem(stripped)
    if problem is not None:
        raise FeedRefused(stripped or url, problem)
    return stripped


# --- The connect-time SSRF guard ---------------------------------------------------------------


class AddressBlocked(httpx.ConnectError):
    """The guard refused to connect: the host resolved to an address the policy does not allow.

    It is an `httpx.ConnectError`, so any code using the shared client sees a connect failure;
    `fetch_feed` turns it into `FeedRefused`.
    """

    def __init__(self, host: str, address: str, kind: str) -> None:
        super().__init__(
            f"refused to connect to {host} ({address}): it is a {kind} address. If this feed "
            "really lives on your own network, add that network to WIREWATCH_ALLOWED_NETWORKS "
            "(or set WIREWATCH_ALLOW_PRIVATE_FEEDS=true)"
        )
        self.host = host
        self.address = address
        self.kind = kind


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, vets, then connects to the vetted address.

    `inner` opens the TCP connection to the vetted IP (default: httpcore's AnyIOBackend). Uses the
    running asyncio loop's resolver, so it serves asyncio applications (not trio).
    """

    def __init__(
        self, policy: FetchPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._allow_private = policy.allow_private
        self._allowed = parse_networks(policy.allowed_networks)
        self._inner: httpcore.AsyncNetworkBackend = inner or httpcore.AnyIOBackend()

    def refusal(self, ip: IPAddress) -> str | None:
        """The kind of address that makes `ip` refused under this policy, or None if allowed."""
        if self._allow_private:
            return None
        if any(ip in net for net in self._allowed if net.version == ip.version):
            return None
        mapped = embedded_ipv4(ip)
        if mapped and all(any(v4 in net for net in self._allowed) for v4 in mapped):
            return None
        return address_kind(ip)

    async def _resolve(self, host: str, port: int, limit_s: float | None) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(limit_s):
                infos = await loop.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out resolving {host}") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0])
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve {host}: no addresses")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        addresses = await self._resolve(host, port, timeout)
        # Refuse if ANY address is disallowed: a name that resolves to one public and one private
        # address is exactly what a rebinding attacker serves.
        for ip in addresses:
            kind = self.refusal(ip)
            if kind is not None:
                raise AddressBlocked(host, str(ip), kind)
        last_error: Exception | None = None
        for ip in addresses:
            remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def check_url_allowed(url: str, policy: FetchPolicy) -> None:
    """At subscribe time, refuse a URL whose host resolves to an address the policy forbids.

    A host that does not resolve right now is accepted: the poller will report it.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    guard = GuardedBackend(policy)
    try:
        addresses = await guard._resolve(host, port, policy.connect_timeout_s)
    except (httpcore.ConnectError, httpcore.ConnectTimeout):
        return
    for ip in addresses:
        kind = guard.refusal(ip)
        if kind is not None:
            raise FeedRefused(url, str(AddressBlocked(host, str(ip), kind)))


def _guarded_transport(backend: GuardedBackend, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connection pool opens every connection through `backend`."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, limits=limits, http1=True, http2=False)
    # PRIVATE ATTRIBUTE: httpx 0.28 offers no public way to hand its transport an httpcore
    # network backend, so we replace the pool it built (never opened, holds no resources) with
    # an identical one that uses ours. Everything else (request/response and exception mapping)
    # stays httpx's. tests/index/test_feeds.py::test_client_pool_goes_through_the_guard proves it.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=backend,
    )
    return transport


def make_client(
    policy: FetchPolicy, *, network_backend: httpcore.AsyncNetworkBackend | None = None
) -> httpx.AsyncClient:
    """The one HTTP client the app owns, with the SSRF guard installed at connect time.

    Redirects are not followed (fetch_feed follows them by hand), proxies are never taken from the
    environment. `network_backend` opens the vetted connections (default: httpcore's own); tests
    pass one that records where it connects.
    """
    limits = httpx.Limits(
        max_connections=_MAX_CONNECTIONS,
        max_keepalive_connections=_MAX_KEEPALIVE,
        keepalive_expiry=_KEEPALIVE_EXPIRY_S,
    )
    guard = GuardedBackend(policy, network_backend)
    return httpx.AsyncClient(
        transport=_guarded_transport(guard, limits),
        headers={
            "User-Agent": policy.user_agent,
            "Accept": FEED_ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        timeout=httpx.Timeout(
            connect=policy.connect_timeout_s,
            read=policy.read_timeout_s,
            write=policy.read_timeout_s,
            pool=policy.connect_timeout_s,
        ),
        follow_redirects=False,
        trust_env=False,
    )


# --- Retry-After -------------------------------------------------------------------------------

_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), relative to `now`.

    Capped at MAX_RETRY_AFTER_S; a date in the past gives 0.0; None when absent or unreadable.
    A naive `now` is taken as UTC.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return min(seconds, MAX_RETRY_AFTER_S) if math.isfinite(seconds) else MAX_RETRY_AFTER_S
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # older Pythons returned None for garbage
        return None  # pragma: no cover
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    delta = (when - now).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER_S)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- Fetching ----------------------------------------------------------------------------------


def _header_value(value: str | None) -> str | None:
    """A stored validator, if it can be sent back as a header (printable ASCII, one line)."""
    if value and value.isascii() and value.isprintable():
        return value
    return None


def _transport_reason(exc: httpx.TransportError, policy: FetchPolicy) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (connect timeout {policy.connect_timeout_s:g} s)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"timed out waiting for the server (read timeout {policy.read_timeout_s:g} s)"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    if isinstance(exc, httpx.ProtocolError):
        return f"HTTP protocol error: {detail}"
    return f"network error ({type(exc).__name__}): {detail}"


def _redirect_target(feed_url: str, response: httpx.Response) -> str:
    location = response.headers.get("location", "").strip()
    if not location:
        raise FeedUnavailable(
            feed_url, f"HTTP {response.status_code} redirect without a Location header"
        )
    try:
        target = str(response.url.join(location))
    except (httpx.InvalidURL, ValueError) as exc:
        raise FeedRefused(
            feed_url, f"redirected to an unreadable Location {location[:200]!r}: {exc}"
        ) from exc
    problem = _url_problem(target)
    if problem is not None:
        raise FeedRefused(feed_url, f"redirected to {target[:200]!r}, which is refused: {problem}")
    return target


DRAIN_BYTES = 64 * 1024  # the most read of an answer whose body is not wanted


async def _drain(response: httpx.Response) -> None:
    """Read the rest of an answer whose body is not wanted (a 304 has none), so its connection
    goes back to the pool: a response left unread closes its connection, and every poll would
    open a new one. Past DRAIN_BYTES the rest is left, and the connection closed."""
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > DRAIN_BYTES:
            return


async def _fetch(
    http: httpx.AsyncClient,
    feed: FeedSource,
    url: str,
    policy: FetchPolicy,
    now: Callable[[], datetime],
) -> FeedFetch:
    headers = {"Accept-Encoding": ACCEPT_ENCODING}
    if etag := _header_value(feed.etag):
        headers["If-None-Match"] = etag
    if last_modified := _header_value(feed.last_modified):
        headers["If-Modified-Since"] = last_modified
    current = url
    redirects = 0
    while True:
        try:
            async with http.stream(
                "GET", current, headers=headers, follow_redirects=False
            ) as response:
                status = response.status_code
                if status in _REDIRECT_STATUSES:
                    if redirects >= policy.max_redirects:
                        raise FeedRefused(
                            feed.url,
                            f"too many redirects (more than {policy.max_redirects}); "
                            "update the feed URL to where it now lives",
                        )
                    redirects += 1
                    current = _redirect_target(feed.url, response)
                    continue
                if status == 304:
                    await _drain(response)
                    return FeedFetch(
                        body=None,
                        etag=response.headers.get("etag") or feed.etag,
                        last_modified=response.headers.get("last-modified") or feed.last_modified,
                        status=304,
                        final_url=str(response.url),
                    )
                if status in _THROTTLE_STATUSES:
                    delay = parse_retry_after(response.headers.get("retry-after"), now())
                    wait = f"; retry after {delay:g} s" if delay is not None else ""
                    raise FeedThrottled(feed.url, f"HTTP {status}{wait}", delay)
                if status >= 400:
                    raise FeedUnavailable(feed.url, f"HTTP {status}")
                if not 200 <= status < 300:
                    raise FeedUnavailable(feed.url, f"HTTP {status} (unexpected status)")
                body = await read_body(feed.url, response, policy.max_body_bytes)
                return FeedFetch(
                    body=body,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    status=status,
                    final_url=str(response.url),
                    content_type=response.headers.get("content-type"),
                )
        except AddressBlocked as exc:
            hop = "" if current == url else f" (after a redirect to {current[:200]})"
            raise FeedRefused(feed.url, f"{exc}{hop}") from exc
        except httpx.TransportError as exc:
            raise FeedUnavailable(feed.url, _transport_reason(exc, policy)) from exc
        except httpx.HTTPError as exc:
            raise FeedUnavailable(feed.url, f"{type(exc).__name__}: {exc}") from exc
        except httpx.InvalidURL as exc:
            raise FeedRefused(feed.url, f"the URL cannot be requested: {exc}") from exc


async def fetch_feed(
    http: httpx.AsyncClient,
    feed: FeedSource,
    policy: FetchPolicy,
    *,
    now: Callable[[], datetime] = _utc_now,
) -> FeedFetch:
    """Conditional GET of one feed, following redirects by hand, body capped after decompression.

    Use a client from `make_client`: its connect-time guard is what keeps private addresses out.
    Raises FeedRefused (URL, address or redirects not allowed), FeedThrottled (429/503) or
    FeedUnavailable (network, timeout, HTTP >= 400, body too large); nothing else for network or
    HTTP problems. `now` is the clock an HTTP-date Retry-After is measured against.
    """
    url = validate_feed_url(feed.url)
    try:
        async with asyncio.timeout(policy.total_timeout_s):
            return await _fetch(http, feed, url, policy, now)
    except TimeoutError as exc:
        raise FeedUnavailable(
            feed.url,
            f"timed out: the fetch took longer than {policy.total_timeout_s:g} s (total_timeout_s)",
        ) from exc
