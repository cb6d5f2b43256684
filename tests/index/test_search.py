"""BM25 over SQLite FTS5 and hybrid retrieval: the full-text index follows the passages, and
each retrieval mode finds what it should, within the workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import Embedder, HashEmbedder
from index.retrieve.search import BM25_WEIGHT, _fuse, fts_query, retrieve, retrieve_many
from index.text import fold
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
    """The passages as the text index holds them: folded (`index.text.fold`)."""
    rows = await app.store.fetch_all("SELECT passage_id, text FROM passages")
    return {int(r[0]): fold(str(r[1])) for r in rows}


def test_fts_query_keeps_content_words_quoted() -> None:
    assert fts_query("What happened in Albu Kamal this week?") == '"albu" OR "kamal"'
    assert fts_query('Who said "Zubair" AND (Qaryatayn) OR fee*?') == (
        '"zubair" OR "qaryatayn" OR "fee"'
    )
    assert fts_query("Déir ez-Zór") == '"deir" OR "ez" OR "zor"'
    assert fts_query("what is the") == ""


def test_hybrid_fusion_adds_a_share_of_bm25_to_the_cosine() -> None:
    bm25 = [(3, 12.0), (1, 6.0)]  # passage 3 only BM25 found
    dense = [(1, 0.70), (2, 0.68), (4, 0.40)]
    fused = dict(_fuse([bm25, dense]))
    assert fused[1] == pytest.approx(0.70 + BM25_WEIGHT * 0.5)
    assert fused[2] == pytest.approx(0.68)  # dense alone keeps its cosine
    assert fused[3] == pytest.approx(0.40 + BM25_WEIGHT)  # from the dense list's lowest
    assert [pid for pid, _ in _fuse([bm25, dense])][:2] == [1, 2]
    assert _fuse([dense]) == dense  # one list (dense or BM25 mode) stays as it is


async def test_the_text_index_follows_the_passages(
    app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Market bombing", MOSUL)])
    )
    httpserver_ipv4.expect_ordered_request("/feed.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", HARVEST), item("a2", "Market bombing", MOSUL)])
    )
    await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
    await commands.poll_once(app, workspace="console")
    assert await fts_rows(app) == await passage_rows(app)
    clock.advance(hours=1)
    report = await commands.poll_once(app, workspace="console")  # the first entry's text changed
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
    await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
    await commands.poll_once(app, workspace="console")
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
        await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
        await commands.poll_once(app, workspace="console")
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


async def test_a_small_workspace_in_a_crowded_index_still_finds_its_own(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    """Retrieval ranks everything first and keeps the workspace's own; when a crowd of other
    workspaces' passages fills those places, it searches again within the workspace, and
    either way finds exactly what an exact filtered search finds."""
    words = ["convoy", "checkpoint", "shelling", "drone", "ceasefire", "border", "market"]
    crowd = [
        item(
            f"c{i}",
            f"Convoy report {i}",
            f"The convoy passed the {words[i % 7]} near kilometre {i}; the convoy was escorted.",
            link=f"https://outlet.example/crowd/{i}",
        )
        for i in range(260)
    ]
    own = [
        item(
            "o1",
            "Own one",
            "A lone convoy reached the valley after farmers, teachers, traders, nurses and "
            "drivers from the hill villages spent the whole dry season repairing the old road.",
            link="https://own.example/1",
        ),
        item("o2", "Own two", "Farmers met about the harvest.", link="https://own.example/2"),
    ]
    httpserver_ipv4.expect_request("/crowd.xml").respond_with_data(rss(crowd))
    httpserver_ipv4.expect_request("/own.xml").respond_with_data(rss(own, title="Own"))
    await commands.add_feed(app, httpserver_ipv4.url_for("/crowd.xml"), workspace="console")
    await commands.add_feed(app, httpserver_ipv4.url_for("/own.xml"), workspace="discord:1")
    await commands.poll_once(app, workspace="console")
    await commands.poll_once(app, workspace="discord:1")
    p = app.require_pipeline()
    ws, small = await app.workspace_id(), await app.workspace_id("discord:1")
    own_ids = {
        h.passage_id
        for h in await app.store.hits(await app.store.text_rank('"convoy"', 1000), small)
    }
    # the crowd outranks the workspace's own passage: a first pass over the best alone misses it
    assert len(own_ids) == 1 and not own_ids & {
        pid for pid, _ in await app.store.text_rank('"convoy"', 200)
    }
    for mode in ("bm25", "dense", "hybrid"):
        hits = await retrieve(app.store, p.vectors, p.embedder, small, "convoy", 5, mode=mode)  # type: ignore[arg-type]
        assert {h.title for h in hits} <= {"Own one", "Own two"} and hits, mode
    assert [
        h.title
        for h in await retrieve(app.store, p.vectors, p.embedder, small, "convoy", 5, mode="bm25")
    ] == ["Own one"]
    ids = [a.article_id for a in await app.store.find_articles(ws, limit=1000)]
    sets: list[list[int] | None] = [ids[::97], ids[:3], None, []]
    for mode in ("bm25", "dense"):
        found = await retrieve_many(
            app.store,
            p.vectors,
            p.embedder,
            ws,
            "convoy checkpoint",
            5,
            mode=mode,  # type: ignore[arg-type]
            article_sets=sets,
        )
        assert found[3] == []
        for ids_set, hits in zip(sets[:3], found[:3], strict=True):
            allowed = set(ids_set) if ids_set is not None else set(ids)
            assert hits and {h.article_id for h in hits} <= allowed
    exact = await app.store.text_search(
        fts_query("convoy checkpoint"), 5, workspace_id=ws, article_ids=ids[:3]
    )
    found = await retrieve_many(
        app.store,
        p.vectors,
        p.embedder,
        ws,
        "convoy checkpoint",
        5,
        mode="bm25",
        article_sets=[ids[:3]],
    )
    assert [h.passage_id for h in found[0]] == [pid for pid, _ in exact]
