"""The ingest cycle end to end, for passages and their embeddings: unchanged passages never
embedded again, entries that share links, guids or text, a cycle caught up after a failure,
workspaces that see only their own feeds, and embedding that
goes on while a slow feed is fetched. Real HTTP on 127.0.0.1, real SQLite and FAISS.
"""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import HashEmbedder
from tests.index.ingest_helpers import (
    HARVEST,
    MOSUL,
    RAQQA,
    Clock,
    app_fixture,  # noqa: F401
    clock_fixture,  # noqa: F401
    item,
    rss,
    subscribe,
)


class CountingEmbedder(HashEmbedder):
    """The model-free embedder, recording what it was asked to embed; can fail once."""

    def __init__(self, fail_once: bool = False) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.fail_once = fail_once

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        if self.fail_once:
            self.fail_once = False
            raise RuntimeError("embedding backend crashed")
        self.texts.extend(texts)
        return super().embed_passages(texts)


LONG = " ".join(
    f"Paragraph {i}: fighters and civilians in Hajin district, report number {i}, said the "
    f"situation around the market and the river crossing changed again on day {i}."
    for i in range(30)
)


async def test_unchanged_passages_are_never_re_embedded(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    embedder = CountingEmbedder()
    edited = LONG.replace("report number 29,", "report number 29 (corrected),")
    httpserver_ipv4.expect_ordered_request("/a.xml").respond_with_data(
        rss([item("x", "Hajin fighting", LONG)], "A")
    )
    httpserver_ipv4.expect_ordered_request("/a.xml").respond_with_data(
        rss([item("x", "Hajin fighting", edited)], "A")
    )
    async with open_app(settings, embedder=embedder, now=clock) as app:
        await subscribe(app, httpserver_ipv4.url_for("/a.xml"))
        await commands.poll_once(app, workspace="console")
        first = len(embedder.texts)
        assert first >= 4
        report = await commands.poll_once(app, workspace="console")
        assert report["updated_articles"] == 1
        # only the passage holding the edited sentence was embedded again
        assert len(embedder.texts) == first + 1 and "(corrected)" in embedder.texts[-1]
        assert (
            len(app.require_pipeline().vectors)
            == (await commands.stats(app, workspace="console"))["passages"]
        )


async def test_two_outlets_with_one_link_and_different_summaries_settle(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    link = "https://wire.example/raqqa"
    httpserver_ipv4.expect_request("/a.xml").respond_with_data(
        rss([item("a-1", "Strike on Raqqa", RAQQA, link=link)], "A")
    )
    httpserver_ipv4.expect_request("/b.xml").respond_with_data(
        rss([item("b-7", "Raqqa strike", "Twelve civilians were killed in Raqqa.", link=link)], "B")
    )
    await subscribe(app, httpserver_ipv4.url_for("/a.xml"))
    await subscribe(app, httpserver_ipv4.url_for("/b.xml"))
    first = await commands.poll_once(app, workspace="console")
    assert (first["new_articles"], first["duplicates"]) == (1, 1)
    # the feeds are fetched side by side: whichever outlet's copy was stored first is the
    # article, and stays it
    stored = await app.store._one("SELECT title FROM articles")
    assert stored is not None and stored["title"] in ("Strike on Raqqa", "Raqqa strike")
    for _ in range(2):  # polling again changes nothing: no version flip-flops
        again = await commands.poll_once(app, workspace="console")
        assert (again["new_articles"], again["updated_articles"], again["embedded"]) == (0, 0, 0)
    row = await app.store._one("SELECT title FROM articles")
    assert row is not None and row["title"] == stored["title"]


async def test_repeated_guid_in_one_feed_keeps_the_first_entry(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss(
            [
                item("same", "Strike on Raqqa", RAQQA, link="https://s.example/1"),
                item("same", "Mosul car bomb", MOSUL, link="https://s.example/2"),
            ]
        )
    )
    await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert (report["new_articles"], report["duplicates"], report["updated_articles"]) == (1, 1, 0)
    row = await app.store._one("SELECT title, url FROM articles")
    assert row is not None and (row["title"], row["url"]) == (
        "Strike on Raqqa",
        "https://s.example/1",
    )


async def test_different_articles_with_the_same_text_are_kept_apart(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    bulletin = "The evening news bulletin."
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss([item("mon", "Evening bulletin", bulletin), item("tue", "Evening bulletin", bulletin)])
    )
    await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
    report = await commands.poll_once(app, workspace="console")
    assert (report["new_articles"], report["duplicates"]) == (2, 0)


async def test_a_cycle_that_fails_mid_way_is_caught_up_by_the_next(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    embedder = CountingEmbedder(fail_once=True)
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA)])
    )
    async with open_app(settings, embedder=embedder, now=clock) as app:
        await subscribe(app, httpserver_ipv4.url_for("/feed.xml"))
        with pytest.raises(RuntimeError):
            await commands.poll_once(app, workspace="console")
        assert len(app.require_pipeline().vectors) == 0
        await commands.poll_once(
            app, workspace="console"
        )  # nothing new to fetch, but the leftovers are finished
        stats = await commands.stats(app, workspace="console")
        assert stats["embedded_passages"] == stats["passages"] >= 1
        assert len(app.require_pipeline().vectors) == stats["passages"]


async def test_small_workspace_in_a_large_shared_index_still_finds_its_own(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    crowd = [
        item(f"c{i}", f"Raqqa strike report {i}", RAQQA + f" Variant {i}.") for i in range(120)
    ]
    httpserver_ipv4.expect_request("/crowd.xml").respond_with_data(rss(crowd, "Crowd"))
    httpserver_ipv4.expect_request("/mine.xml").respond_with_data(
        rss([item("m1", "Harvest", HARVEST)], "Mine")
    )
    await commands.add_feed(app, httpserver_ipv4.url_for("/crowd.xml"), workspace="discord:big")
    await commands.add_feed(app, httpserver_ipv4.url_for("/mine.xml"), workspace="discord:small")
    await commands.poll_once(app, workspace="discord:big")
    await commands.poll_once(app, workspace="discord:small")
    found = await commands.search(app, RAQQA, k=3, workspace="discord:small")
    assert [r["title"] for r in found["results"]] == ["Harvest"]
    assert (await commands.search(app, RAQQA, k=3, workspace="nobody"))["results"] == []


async def test_workspace_sees_only_its_own_feeds(app: App, httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/a.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA)])
    )
    httpserver_ipv4.expect_request("/b.xml").respond_with_data(
        rss([item("b1", "Mosul car bomb", MOSUL)])
    )
    await commands.add_feed(app, httpserver_ipv4.url_for("/a.xml"), workspace="discord:1")
    await commands.add_feed(app, httpserver_ipv4.url_for("/b.xml"), workspace="discord:2")
    for ws in ("discord:1", "discord:2"):
        await commands.poll_once(app, workspace=ws)
    one = await commands.search(app, "car bomb market Mosul", k=10, workspace="discord:1")
    two = await commands.search(app, "car bomb market Mosul", k=10, workspace="discord:2")
    assert {r["title"] for r in one["results"]} == {"Strike on Raqqa"}
    assert {r["title"] for r in two["results"]} == {"Mosul car bomb"}
    assert (await commands.search(app, "Mosul", workspace="console"))["results"] == []
    assert (await commands.list_feeds(app, workspace="discord:1"))["feeds"][0]["url"].endswith(
        "/a.xml"
    )


async def test_passages_are_embedded_while_a_slow_feed_is_still_being_fetched(
    settings: Settings, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    """The fast feed's passages are embedded before the slow feed has answered; a text that
    two articles share is embedded once."""
    import threading
    import time

    answered = threading.Event()
    embedded_before_answer: list[bool] = []

    class Watching(CountingEmbedder):
        def embed_passages(self, texts):  # type: ignore[no-untyped-def]
            embedded_before_answer.append(not answered.is_set())
            return super().embed_passages(texts)

    def slow(_: Request) -> Response:
        time.sleep(1.5)
        answered.set()
        return Response(rss([item("s", "Slow", MOSUL)]), content_type="application/rss+xml")

    same = "Both outlets carried the same agency wire about the Hajin crossing word for word."
    httpserver_ipv4.expect_request("/fast.xml").respond_with_data(
        rss(
            [
                item("f1", "Raqqa", RAQQA),
                item("f2", "Wire", same, link="https://a.example/1"),
                item("f3", "Wire", same, link="https://b.example/2"),
            ]
        )
    )
    httpserver_ipv4.expect_request("/slow.xml").respond_with_handler(slow)
    embedder = Watching()
    async with open_app(settings, embedder=embedder, now=clock) as app:
        await subscribe(app, httpserver_ipv4.url_for("/fast.xml"))
        await subscribe(app, httpserver_ipv4.url_for("/slow.xml"))
        report = await commands.poll_once(app, workspace="console")
        assert report["new_articles"] == 4 and report["embedded"] == report["passages"]
        assert embedded_before_answer[0] and not embedded_before_answer[-1]
        assert len(embedder.texts) == len(set(embedder.texts)) == report["passages"] - 1
        rows = await app.store.fetch_all("SELECT count(*) FROM passages WHERE embedding IS NULL")
        assert rows[0][0] == 0
