"""Shared parts of the fetch tests (tests/index/test_feeds*.py): a small feed, a backend that
records every address it is asked to connect to (and refuses all but loopback IP literals),
fetch policies, and the fixtures: HTTP servers on 127.0.0.1, the recorder, a policy and a
client that goes through the guard.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterable, Iterator

import httpcore
import httpx
import pytest
from pytest_httpserver import HTTPServer

from index.fetch.feeds import make_client
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


@pytest.fixture(name="server")
def server_fixture(httpserver_ipv4: HTTPServer) -> Iterator[HTTPServer]:
    """pytest-httpserver bound to 127.0.0.1 (not "localhost", which may also mean ::1)."""
    yield httpserver_ipv4
    httpserver_ipv4.check_assertions()


@pytest.fixture(name="threaded_server", scope="module")
def threaded_server_fixture() -> Iterator[HTTPServer]:
    """A threaded (hence HTTP/1.1, chunked-capable) server on 127.0.0.1."""
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture(name="recorder")
def recorder_fixture() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture(name="policy")
def policy_fixture() -> FetchPolicy:
    return make_policy()


@pytest.fixture(name="client")
async def client_fixture(
    policy: FetchPolicy, recorder: RecordingBackend
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(policy, network_backend=recorder) as http:
        yield http


def feed_at(url: str, **kw: object) -> FeedSource:
    return FeedSource(feed_id=1, url=url, **kw)  # type: ignore[arg-type]
