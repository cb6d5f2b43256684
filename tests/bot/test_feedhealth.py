"""Feed health notices: real SQLite, the store's own failure bookkeeping driven with an injected
clock, real fetch errors from a feed server on 127.0.0.1, and the fake chat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot import store as chat_store
from bot.core import watches as watch_table
from bot.core.delivery import AlertPolicy
from bot.core.feedhealth import (
    check_feed_health,
    classify_error,
    deliver_notices,
    duration,
    list_notices,
)
from bot.core.ports import Card, DeliveryError
from bot.core.watches import Resolved
from index.errors import FeedError
from index.fetch.feeds import fetch_feed, make_client
from index.fetch.parse import parse_feed
from index.models import FeedSource, FetchPolicy
from index.store.sqlite.store import Store
from tests.fakes import FakeChat

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=1)
POLICY = AlertPolicy()
URL = "https://outlet.example/feed.xml"
GUILD = "discord:1"
OPS = "discord:1:10"
NEWS = "discord:1:20"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store.open(tmp_path / "wirewatch.db") as opened:
        await chat_store.migrate(opened)
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def subscribe(
    store: Store,
    workspace: str,
    *,
    channel: str | None = None,
    url: str = URL,
    name: str | None = "Outlet",
) -> int:
    ws = await store.workspace_id(workspace, START)
    return await store.subscribe(ws, url, interval_s=300, name=name, now=START, channel=channel)


async def watch(store: Store, channel: str, term: str = "mosul") -> watch_table.Watch:
    ws = await store.workspace_id(watch_table.channel_workspace(channel), START)
    return await watch_table.add(
        store,
        workspace_id=ws,
        channel=channel,
        term=term,
        resolved=Resolved("keyword", term, {"query": term}),
        since=START,
        now=START,
    )


async def fail(
    store: Store, clock: Clock, feed_id: int, error: str = "HTTP 503", max_failures: int = 100
) -> None:
    await store.record_fetch_failure(
        feed_id,
        error=error,
        now=clock.now,
        next_check_at=clock.now + timedelta(minutes=5),
        max_failures=max_failures,
    )


async def ok(store: Store, clock: Clock, feed_id: int) -> None:
    await store.record_fetch_ok(
        feed_id,
        status="ok",
        etag=None,
        last_modified=None,
        title="Outlet",
        now=clock.now,
        next_check_at=clock.now + timedelta(minutes=5),
    )


async def check(store: Store, clock: Clock) -> int:
    return await check_feed_health(store, now=clock.now, grace=GRACE)


async def notices(store: Store, channel: str | None = None) -> list[tuple[str, str, str]]:
    """(channel, kind, title) oldest first."""
    found = await list_notices(store, channel=channel)
    return [(n.channel, n.kind, n.title) for n in reversed(found)]


# ---- when notices are recorded ----------------------------------------------------------
async def test_one_notice_past_the_grace_however_many_polls_fail_and_one_on_recovery(
    store: Store, clock: Clock
) -> None:
    feed = await subscribe(store, "console")  # from the command line: the console is told
    await fail(store, clock, feed)
    [row] = await store.list_feeds(await store.workspace_id("console", START))
    assert row.failing_since == START
    for _ in range(11):  # a poll every five minutes, for 55 minutes
        clock.advance(minutes=5)
        await fail(store, clock, feed)
        assert await check(store, clock) == 0
    clock.advance(minutes=5)  # an hour since the first failure
    await fail(store, clock, feed)
    assert await check(store, clock) == 1
    for _ in range(20):
        clock.advance(minutes=5)
        await fail(store, clock, feed)
        assert await check(store, clock) == 0
    [failing] = await list_notices(store)
    assert (failing.channel, failing.kind, failing.title) == (
        "console",
        "feed_failing",
        "Feed failing: Outlet",
    )
    assert failing.reason == "HTTP 503" and failing.failing_since == START
    assert failing.body == (
        "No news from Outlet for 1 h: fetching it fails (HTTP 503). It is tried again less and "
        "less often; a notice follows when it works again."
    )

    clock.advance(minutes=5)
    await ok(store, clock, feed)
    [row] = await store.list_feeds(await store.workspace_id("console", START))
    assert row.failing_since is None
    assert await check(store, clock) == 1
    assert await check(store, clock) == 0
    recovered = (await list_notices(store))[0]
    assert (recovered.kind, recovered.title) == ("feed_recovered", "Feed working again: Outlet")
    assert recovered.body == "Outlet works again, after failing for 2 h 45 min (HTTP 503)."

    # a new run of failures starts its own clock
    clock.advance(minutes=5)
    await fail(store, clock, feed)
    clock.advance(minutes=30)
    assert await check(store, clock) == 0
    clock.advance(minutes=30)
    assert await check(store, clock) == 1


async def test_a_feed_that_fails_now_and_then_gives_no_notice(store: Store, clock: Clock) -> None:
    feed = await subscribe(store, "console")
    for _ in range(12):  # fails, works, fails, works: never an hour without a break
        await fail(store, clock, feed)
        clock.advance(minutes=20)
        await ok(store, clock, feed)
        clock.advance(minutes=20)
        assert await check(store, clock) == 0
    assert await notices(store) == []


async def test_the_channels_a_subscription_tells(store: Store, clock: Clock) -> None:
    # added from the chat: that channel; else every channel with a live watch; else nothing
    await watch(store, OPS)
    await watch(store, NEWS)
    gone = await watch(store, "discord:1:30")
    await watch_table.pause_channel(store, "discord:1:30", "Unknown Channel", START)
    assert gone.channel == "discord:1:30"
    unnamed = await subscribe(store, GUILD, url="https://a.example/rss", name=None)
    placed = await subscribe(store, GUILD, url="https://b.example/rss", channel=NEWS)
    lonely = await subscribe(store, "discord:2", url="https://c.example/rss")
    for feed in (unnamed, placed, lonely):
        await fail(store, clock, feed)
    clock.advance(hours=1)
    assert await check(store, clock) == 3
    assert sorted(await notices(store)) == [
        (OPS, "feed_failing", "Feed failing: https://a.example/rss"),
        (NEWS, "feed_failing", "Feed failing: Outlet"),
        (NEWS, "feed_failing", "Feed failing: https://a.example/rss"),
    ]
    # the recovery goes where the failure was told, once each
    await watch(store, "discord:1:40")
    clock.advance(minutes=5)
    for feed in (unnamed, placed, lonely):
        await ok(store, clock, feed)
    assert await check(store, clock) == 3
    assert sorted(c for c, kind, _ in await notices(store) if kind == "feed_recovered") == [
        OPS,
        NEWS,
        NEWS,
    ]


async def test_two_workspaces_following_one_feed_each_get_their_own(
    store: Store, clock: Clock
) -> None:
    console = await subscribe(store, "console")
    guild = await subscribe(store, GUILD, channel=OPS, name="Wire")
    assert console == guild  # one feed, fetched once
    await fail(store, clock, console)
    clock.advance(hours=2)
    assert await check(store, clock) == 2
    assert await notices(store) == [
        ("console", "feed_failing", "Feed failing: Outlet"),
        (OPS, "feed_failing", "Feed failing: Wire"),
    ]
    # a workspace that stops following the feed is not told of the recovery
    assert await store.unsubscribe(await store.workspace_id(GUILD, START), guild)
    await ok(store, clock, console)
    assert await check(store, clock) == 1
    assert (await notices(store))[-1] == ("console", "feed_recovered", "Feed working again: Outlet")


async def test_a_disabled_feed_is_still_failing_and_says_how_to_enable_it(
    store: Store, clock: Clock
) -> None:
    feed = await subscribe(store, "console")
    for _ in range(3):
        await fail(store, clock, feed, error="not an RSS or Atom feed", max_failures=3)
        clock.advance(minutes=30)
    [row] = await store.list_feeds(await store.workspace_id("console", START))
    assert not row.enabled and row.failing_since == START
    assert await check(store, clock) == 1
    [told] = await list_notices(store)
    assert told.reason == "not a feed"
    assert told.body == (
        "No news from Outlet for 1 h 30 min: fetching it fails (not a feed). It was disabled "
        "after 3 failures in a row; re-add the feed to enable it again."
    )
    await subscribe(store, "console")  # re-added: enabled, still failing until a good fetch
    assert await check(store, clock) == 0
    clock.advance(minutes=5)
    await ok(store, clock, feed)
    assert await check(store, clock) == 1


async def test_subscribing_again_with_a_channel_moves_the_notices_there(store: Store) -> None:
    feed = await subscribe(store, GUILD, channel=OPS)
    await subscribe(store, GUILD)  # from the command line: the channel stays
    rows = await store.fetch_all("SELECT channel FROM subscriptions WHERE feed_id = ?", (feed,))
    assert [r[0] for r in rows] == [OPS]
    await subscribe(store, GUILD, channel=NEWS)
    rows = await store.fetch_all("SELECT channel FROM subscriptions WHERE feed_id = ?", (feed,))
    assert [r[0] for r in rows] == [NEWS]


# ---- delivery ------------------------------------------------------------------------------
async def failing_feed(store: Store, clock: Clock, *channels: str) -> None:
    for n, channel in enumerate(channels):
        feed = await subscribe(store, GUILD, channel=channel, url=f"https://{n}.example/rss")
        await fail(store, clock, feed, error="HTTP 503; retry after 120 s")
    clock.advance(hours=1, minutes=5)
    assert await check(store, clock) == len(channels)


async def test_notices_are_posted_as_cards_once(store: Store, clock: Clock) -> None:
    await failing_feed(store, clock, OPS, NEWS)
    chat = FakeChat(channels=(OPS,))  # this chat serves one channel
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 1
    [(channel, card)] = chat.drain()
    assert channel == OPS and card.kind == "notice"
    assert card.title == "Feed failing: Outlet" and card.url == "https://0.example/rss"
    assert card.fields == (
        ("Feed", "Outlet"),
        ("Reason", "HTTP 503"),
        ("Failing since", "2026-11-25 12:00 UTC"),
    )
    assert "(HTTP 503)" in card.body
    [key] = chat.refs
    [posted] = await list_notices(store, channel=OPS)
    assert key == f"n{posted.notice_id}" and posted.delivered_at == clock.now
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 0
    [waiting] = await list_notices(store, channel=NEWS, pending_only=True)
    assert waiting.delivered_at is None


async def test_a_retried_notice_is_not_posted_twice(store: Store, clock: Clock) -> None:
    await failing_feed(store, clock, OPS)
    chat = FakeChat()
    chat.outage = "gateway down"
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 0
    [notice] = await list_notices(store)
    assert notice.attempts == 1 and notice.last_error == "gateway down" and not notice.failed
    chat.outage = None
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 0  # backing off
    chat.crash_after_post = True  # the chat takes it, then the process dies before marking it
    clock.advance(minutes=2)
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 0
    assert len(chat.posts) == 1
    chat.crash_after_post = False
    clock.advance(minutes=5)
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 1
    assert len(chat.posts) == 1 and list(chat.refs) == [f"n{notice.notice_id}"]
    [notice] = await list_notices(store)
    assert notice.delivered_at == clock.now and notice.send_key is None


class GoneChat(FakeChat):
    """The fake chat with one channel deleted (Discord's 404 Unknown Channel)."""

    def __init__(self, gone: str) -> None:
        super().__init__()
        self.gone = gone

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        if channel == self.gone:
            raise DeliveryError("Unknown Channel (404)", channel_gone=True)
        return await super().send(channel, card, key=key)


async def test_a_gone_channel_gives_up_its_notices_and_pauses_its_watches(
    store: Store, clock: Clock
) -> None:
    paused = await watch(store, OPS)
    kept = await watch(store, NEWS)
    await failing_feed(store, clock, OPS, OPS, NEWS)
    chat = GoneChat(OPS)
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 1
    assert [c for c, _ in chat.drain()] == [NEWS]
    assert all(
        n.failed and n.last_error == "Unknown Channel (404)"
        for n in await list_notices(store, channel=OPS)
    )
    found = {w.watch_id: w for w in await watch_table.list_watches(store)}
    assert found[paused.watch_id].paused_reason == "Unknown Channel (404)"
    assert found[kept.watch_id].paused_reason is None
    clock.advance(days=1)
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 0


async def test_many_notices_at_once_are_one_message(store: Store, clock: Clock) -> None:
    await failing_feed(store, clock, *[OPS] * 7)
    chat = FakeChat()
    chat.outage = "gateway down"  # the digest is retried whole, under the same key
    await deliver_notices(store, chat, now=clock.now, policy=POLICY)
    chat.outage = None
    clock.advance(hours=1)
    assert await deliver_notices(store, chat, now=clock.now, policy=POLICY) == 7
    [(_, card)] = chat.drain()
    assert card.kind == "notice" and card.title == "7 feeds failing" and len(card.items) == 7
    assert card.items[0] == (
        "Outlet",
        "https://0.example/rss",
        "failing since 2026-11-25 12:00 UTC: HTTP 503",
    )
    first = min(n.notice_id for n in await list_notices(store))
    assert list(chat.refs) == [f"n{first}n7"]


# ---- reasons -------------------------------------------------------------------------------
async def _fetch_error(url: str, *, allow_private: bool = True, max_body_bytes: int = 10**6) -> str:
    """The reason the real fetch (and parse) code gives for `url`, as ingest stores it."""
    settings = FetchPolicy(
        connect_timeout_s=2.0,
        read_timeout_s=0.2,
        total_timeout_s=5.0,
        max_body_bytes=max_body_bytes,
        allow_private=allow_private,
    )
    async with make_client(settings) as http:
        try:
            fetched = await fetch_feed(http, FeedSource(1, url), settings)
            assert fetched.body is not None
            parse_feed(fetched.body, url, now=START)
        except FeedError as exc:
            return exc.reason
    raise AssertionError(f"{url} did not fail")


async def test_real_fetch_errors_are_named_in_a_few_words(httpserver_ipv4: HTTPServer) -> None:
    server = httpserver_ipv4
    server.expect_request("/busy").respond_with_data("", status=503, headers={"Retry-After": "120"})
    server.expect_request("/missing").respond_with_data("", status=404)
    server.expect_request("/page").respond_with_data(
        "<html><body><p>Hello</p></body></html>", content_type="text/html"
    )
    server.expect_request("/big").respond_with_data("<rss>" + "x" * 5000 + "</rss>")

    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response("<rss/>")

    server.expect_request("/slow").respond_with_handler(slow)
    base = server.url_for("/")
    cases = {"/busy": "HTTP 503", "/missing": "HTTP 404", "/page": "not a feed"}
    for path, phrase in cases.items():
        error = await _fetch_error(server.url_for(path))
        assert classify_error(error) == phrase, error
    assert classify_error(await _fetch_error(server.url_for("/big"), max_body_bytes=100)) == (
        "too large"
    )
    refused = await _fetch_error(server.url_for("/busy"), allow_private=False)
    assert classify_error(refused) == "refused address", refused
    tls = await _fetch_error(base.replace("http://", "https://") + "busy")
    assert classify_error(tls) == "TLS error", tls
    dns = await _fetch_error("http://no-such-host.invalid/feed.xml")
    assert classify_error(dns) == "DNS lookup failed", dns
    slow_error = await _fetch_error(server.url_for("/slow"))  # last: it holds the server up
    assert classify_error(slow_error) == "timed out", slow_error


def test_stored_errors_are_named_in_a_few_words() -> None:
    assert classify_error("HTTP 503; retry after 120 s") == "HTTP 503"
    assert classify_error("HTTP 301 redirect without a Location header") == "HTTP 301"
    assert classify_error("timed out connecting (connect timeout 10 s)") == "timed out"
    assert classify_error("timed out: the fetch took longer than 60 s (total_timeout_s)") == (
        "timed out"
    )
    assert (
        classify_error("could not connect: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify")
        == "TLS error"
    )
    assert classify_error("no entries; syntax error at line 3, column 0") == "not a feed"
    assert classify_error("empty body") == "not a feed"
    assert classify_error("could not connect: All connection attempts failed") == (
        "could not connect"
    )
    assert classify_error("too many redirects (more than 5); update the feed URL") == (
        "too many redirects"
    )
    long = "internal error: " + "KeyError " * 20
    assert classify_error(long).endswith("…") and len(classify_error(long)) <= 80
    assert classify_error(None) == "unknown error"


def test_durations_read_short() -> None:
    assert duration(timedelta(minutes=45, seconds=50)) == "45 min"
    assert duration(timedelta(hours=1)) == "1 h"
    assert duration(timedelta(hours=2, minutes=50)) == "2 h 50 min"
    assert duration(timedelta(days=2, hours=3, minutes=9)) == "2 d 3 h"
