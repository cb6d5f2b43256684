"""fetch_feed's limits against real HTTP servers on 127.0.0.1: read and total timeouts,
cancellation, body size limits (declared, exact, chunked), decompression bombs, and
encoded or corrupt bodies.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest
from werkzeug import Request, Response

from index.errors import FeedUnavailable
from index.fetch.feeds import fetch_feed, make_client
from tests.index.feeds_helpers import (
    FEED,
    LIMIT,
    client_fixture,  # noqa: F401
    feed_at,
    make_policy,
    policy_fixture,  # noqa: F401
    recorder_fixture,  # noqa: F401
    server_fixture,  # noqa: F401
    threaded_server_fixture,  # noqa: F401
)

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
