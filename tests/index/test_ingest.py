"""The ingest cycle end to end: a real HTTP server on 127.0.0.1, real SQLite in tmp_path, the
real FAISS index. Plumbing tests use the model-free HashEmbedder; retrieval tests the real model.

This module: polling, conditional GETs, back-off, refused or failing fetches, stories and
updated entries. Passages and embeddings are in test_ingest_passages.py; recovery, the real
corpus and retrieval in test_ingest_recovery.py; the shared builders and fixtures in
ingest_helpers.py (Clock, item, rss and the sample texts stay importable from here).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import HashEmbedder
from tests.index.ingest_helpers import (
    HARVEST,  # noqa: F401
    MOSUL,
    NOW,  # noqa: F401
    RAQQA,
    Clock,
    app_fixture,  # noqa: F401
    clock_fixture,  # noqa: F401
    feed_row,
    item,
    rss,
    subscribe,
)


async def test_poll_stores_articles_and_passages(app: App, httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul car bomb", MOSUL)]),
        content_type="application/rss+xml",
    )
    await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert (report["feeds_polled"], report["new_articles"], report["failed_feeds"]) == (1, 2, 0)
    stats = await commands.stats(app, workspace="console")
    assert stats["articles"] == 2 and stats["stories"] == 2
    assert stats["passages"] >= 2 and stats["embedded_passages"] == stats["passages"]
    assert len(app.require_pipeline().vectors) == stats["passages"]


async def test_conditional_get_sends_validators_and_304_stores_nothing(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    body = rss([item("a1", "Strike on Raqqa", RAQQA)])
    seen: list[dict[str, str | None]] = []

    def handler(request: Request) -> Response:
        seen.append(
            {
                "etag": request.headers.get("If-None-Match"),
                "since": request.headers.get("If-Modified-Since"),
            }
        )
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(
            body,
            headers={"ETag": '"v1"', "Last-Modified": "Tue, 24 Nov 2026 10:00:00 GMT"},
            content_type="application/rss+xml",
        )

    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(handler)
    feed_id = await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    first = await commands.poll_once(app, workspace="console")
    second = await commands.poll_once(app, workspace="console")
    assert first["new_articles"] == 1 and second["new_articles"] == 0
    assert seen[0] == {"etag": None, "since": None}
    assert seen[1] == {"etag": '"v1"', "since": "Tue, 24 Nov 2026 10:00:00 GMT"}
    row = await feed_row(app, feed_id)
    assert row["last_status"] == "not modified" and row["articles"] == 1


async def test_429_retry_after_pushes_next_check(
    app: App, httpserver_ipv4: HTTPServer, clock: Clock
) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "900"}
    )
    feed_id = await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert report["failed_feeds"] == 1
    row = await feed_row(app, feed_id)
    assert row["error_count"] == 1 and "429" in str(row["last_error"])
    next_check = datetime.fromisoformat(str(row["next_check_at"]))
    assert next_check >= clock.now + timedelta(seconds=900)
    assert await app.store.due_feeds(clock.now + timedelta(seconds=899)) == []
    assert len(await app.store.due_feeds(clock.now + timedelta(seconds=1800))) == 1


async def test_500s_back_off_then_disable_keeping_last_error(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    settings = settings.model_copy(update={"max_failures": 3})
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data("boom", status=500)
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        feed_id = await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
        delays = []
        for _ in range(3):
            due = await app.store.due_feeds(clock.now)
            assert [f.feed_id for f in due] == [feed_id]
            await commands.poll_due(app)
            row = await feed_row(app, feed_id)
            if row["enabled"]:
                delays.append(datetime.fromisoformat(str(row["next_check_at"])) - clock.now)
            clock.advance(days=1)
        row = await feed_row(app, feed_id)
        assert row["enabled"] is False and row["error_count"] == 3
        assert row["last_error"] == "HTTP 500"
        assert await app.store.due_feeds(clock.now + timedelta(days=30)) == []
        # exponential: the second wait is drawn from twice the first's range
        assert timedelta(seconds=30) <= delays[0] <= timedelta(seconds=60)
        assert timedelta(seconds=60) <= delays[1] <= timedelta(seconds=120)
        # subscribing again re-enables it
        await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
        assert (await feed_row(app, feed_id))["enabled"] is True


async def test_one_bad_feed_does_not_stop_the_others(app: App, httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/bad.xml").respond_with_data(b"\x00\xff not xml at all")
    httpserver_ipv4.expect_request("/good.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA)])
    )
    bad = await subscribe(app, httpserver_ipv4.url_for("/bad.xml"))
    await subscribe(app, httpserver_ipv4.url_for("/good.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert report["new_articles"] == 1 and report["failed_feeds"] == 1
    assert (await feed_row(app, bad))["error_count"] == 1


async def test_redirect_to_private_address_refused(app: App, httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    feed_id = await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert report["failed_feeds"] == 1
    assert "link-local" in str((await feed_row(app, feed_id))["last_error"])


async def test_slow_server_times_out(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    import time

    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response(rss([item("a1", "late", RAQQA)]))

    settings = settings.model_copy(update={"read_timeout_s": 0.3, "fetch_timeout_s": 1.0})
    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(slow)
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        feed_id = await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
        report = await commands.poll_once(app, workspace="console")
        assert report["failed_feeds"] == 1 and report["new_articles"] == 0
        assert "time" in str((await feed_row(app, feed_id))["last_error"]).lower()


async def test_oversized_body_aborted(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    settings = settings.model_copy(update={"max_body_bytes": 50_000})
    big = rss([item(f"a{i}", f"Item {i}", RAQQA) for i in range(400)])
    assert len(big) > 50_000
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(big)
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as app:
        feed_id = await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
        report = await commands.poll_once(app, workspace="console")
        assert report["failed_feeds"] == 1 and report["new_articles"] == 0
        assert "limit" in str((await feed_row(app, feed_id))["last_error"])


async def test_same_article_in_two_feeds_stored_once_one_story(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    shared = item("x-1", "Strike on Raqqa", RAQQA, link="https://wire.example/raqqa?utm_source=a")
    httpserver_ipv4.expect_request("/a.xml").respond_with_data(rss([shared], "Outlet A"))
    relinked = dict(shared, guid="other-guid", link="https://WIRE.example/raqqa?utm_medium=rss#top")
    httpserver_ipv4.expect_request("/b.xml").respond_with_data(rss([relinked], "Outlet B"))
    await subscribe(app, httpserver_ipv4.url_for("/a.xml"))
    await subscribe(app, httpserver_ipv4.url_for("/b.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert report["new_articles"] == 1 and report["duplicates"] == 1
    stats = await commands.stats(app, workspace="console")
    assert (stats["articles"], stats["stories"]) == (1, 1)


async def test_near_identical_copy_from_another_outlet_joins_the_story(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    original = item("lw-1", "Air strike on Raqqa kills 12 civilians", RAQQA)
    copy_text = "Levant Wire reported: " + RAQQA.replace(" through the night", "")
    syndicated = item(
        "em-9",
        "Twelve civilians dead in Raqqa strike",
        copy_text,
        link="https://monitor.example/raqqa-strike",
    )
    unrelated = item("em-10", "Mosul car bomb", MOSUL)
    httpserver_ipv4.expect_request("/a.xml").respond_with_data(rss([original], "Levant Wire"))
    httpserver_ipv4.expect_request("/b.xml").respond_with_data(
        rss([syndicated, unrelated], "Euphrates Monitor")
    )
    await subscribe(app, httpserver_ipv4.url_for("/a.xml"))
    await subscribe(app, httpserver_ipv4.url_for("/b.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert report["new_articles"] == 3
    stories = await app.store.multi_source_stories()
    assert len(stories) == 1
    assert sorted(stories[0].sources) == ["Euphrates Monitor", "Levant Wire"]
    assert (await commands.stats(app, workspace="console"))["stories"] == 2


async def test_copy_outside_the_time_window_starts_its_own_story(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    old = item("a", "Strike on Raqqa", RAQQA, date="Mon, 02 Nov 2026 10:00:00 GMT")
    new = item("b", "Strike on Raqqa", RAQQA + " Updated.", date="Tue, 24 Nov 2026 10:00:00 GMT")
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(rss([old, new]))
    await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    await commands.poll_once(app, workspace="console")
    assert (await commands.stats(app, workspace="console"))["stories"] == 2


async def test_updated_entry_is_updated_in_place(
    app: App, httpserver_ipv4: HTTPServer, clock: Clock
) -> None:
    versions = [
        rss([item("a1", "Strike on Raqqa", RAQQA)]),
        rss(
            [
                item(
                    "a1",
                    "Strike on Raqqa: toll rises to 15",
                    RAQQA.replace("12 civilians", "15 civilians"),
                )
            ]
        ),
    ]
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(versions[0])
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(versions[1])
    await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    await commands.poll_once(app, workspace="console")
    clock.advance(minutes=10)
    report = await commands.poll_once(app, workspace="console")
    assert report["new_articles"] == 0 and report["updated_articles"] == 1
    stats = await commands.stats(app, workspace="console")
    assert stats["articles"] == 1
    row = await app.store._one("SELECT title, text, updated_at FROM articles")
    assert row is not None and "15 civilians" in row["text"] and row["updated_at"]
    # the old passages are gone from SQLite and FAISS alike
    vectors = app.require_pipeline().vectors
    assert len(vectors) == stats["passages"]
    texts = [r[0] for r in await app.store._all("SELECT text FROM passages")]
    assert all("12 civilians" not in t for t in texts)


async def test_reposted_feed_adds_nothing(app: App, httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul", MOSUL)])
    )
    await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    await commands.poll_once(app, workspace="console")
    before = await commands.stats(app, workspace="console")
    again = await commands.poll_once(app, workspace="console")
    assert again["new_articles"] == 0 and again["updated_articles"] == 0
    assert await commands.stats(app, workspace="console") == before
