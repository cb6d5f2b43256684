"""BM25 over SQLite FTS5 and hybrid retrieval: the full-text index follows the passages, and
each retrieval mode finds what it should, within the workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pytest_httpserver import HTTPServer

from bot import commands
from bot.app import App, open_app
from bot.settings import Settings
from index.embed import Embedder, HashEmbedder
from index.search import fts_query, retrieve
from tests.index.test_ingest import HARVEST, MOSUL, RAQQA, Clock, item, rss


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[App]:
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def fts_rows(app: App) -> dict[int, str]:
    rows = await app.store.fetch_all("SELECT rowid, text FROM passages_fts")
    return {int(r[0]): str(r[1]) for r in rows}


async def passage_rows(app: App) -> dict[int, str]:
    rows = await app.store.fetch_all("SELECT passage_id, text FROM passages")
    return {int(r[0]): str(r[1]) for r in rows}


def test_fts_query_keeps_content_words_quoted() -> None:
    assert fts_query("What happened in Albu Kamal this week?") == '"albu" OR "kamal"'
    assert fts_query('Who said "Zubair" AND (Qaryatayn) OR fee*?') == (
        '"zubair" OR "qaryatayn" OR "fee"'
    )
    assert fts_query("Déir ez-Zór") == '"deir" OR "ez" OR "zor"'
    assert fts_query("what is the") == ""


async def test_the_text_index_follows_the_passages(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Market bombing", MOSUL)])
    )
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", HARVEST), item("a2", "Market bombing", MOSUL)])
    )
    await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"))
    await commands.poll_once(app)
    assert await fts_rows(app) == await passage_rows(app)
    clock.advance(hours=1)
    report = await commands.poll_once(app)  # the first entry's text changed
    assert report["updated_articles"] == 1
    assert await fts_rows(app) == await passage_rows(app)
    ws = await app.workspace_id()
    hits = await app.store.text_search('"wheat"', 10, workspace_id=ws)
    assert len(hits) == 1
    assert await app.store.text_search('"medics"', 10, workspace_id=ws) == []  # old text gone


async def test_text_search_stays_in_the_workspace_and_survives_odd_queries(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(rss([item("a", "M", MOSUL)]))
    await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"))
    await commands.poll_once(app)
    ws = await app.workspace_id()
    other = await app.workspace_id("discord:1")
    assert await app.store.text_search('"mosul"', 10, workspace_id=ws)
    assert await app.store.text_search('"mosul"', 10, workspace_id=other) == []
    assert await app.store.text_search("AND OR (", 10, workspace_id=ws) == []


async def test_each_mode_finds_its_kind_of_match(
    settings: Settings, real_embedder: Embedder, httpserver_ipv4: HTTPServer
) -> None:
    """BM25 finds a rare exact word; dense finds a paraphrase with no shared word; hybrid
    finds both."""
    rare = (
        "Officials in the town of Qaryatayn said the Zubair checkpoint was closed after "
        "a dispute over fees charged to lorry drivers."
    )
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss([item("r", "Raqqa", RAQQA), item("h", "Harvest", HARVEST), item("z", "Fees", rare)])
    )
    async with open_app(settings, embedder=real_embedder) as app:
        await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"))
        await commands.poll_once(app)
        ws = await app.workspace_id()
        p = app.require_pipeline()

        async def first(query: str, mode: str) -> str:
            hits = await retrieve(app.store, p.vectors, p.embedder, ws, query, 1, mode=mode)  # type: ignore[arg-type]
            return hits[0].title if hits else ""

        assert await first("Zubair", "bm25") == "Fees"
        assert await first("warplanes bombed an apartment block", "dense") == "Raqqa"
        assert await first("warplanes bombed an apartment block", "bm25") != "Raqqa"
        assert await first("Zubair", "hybrid") == "Fees"
        assert await first("warplanes bombed an apartment block", "hybrid") == "Raqqa"
        raqqa = [a.article_id for a in await app.store.find_articles(ws) if a.title == "Raqqa"]
        only = await retrieve(app.store, p.vectors, p.embedder, ws, "Zubair", 5, article_ids=raqqa)
        assert {h.title for h in only} == {"Raqqa"}
