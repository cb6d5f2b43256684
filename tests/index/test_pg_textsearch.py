"""PostgreSQL's text search prunes its candidates the MaxScore way (index/store/pg/textsearch.py
`essential`) and gives exactly the top passages the whole query gives. A real PostgreSQL
(tests/pg.py) and real rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from index.store.pg import textsearch
from tests.index.test_store_contract import entry, passage, save, setup


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Any]:
    from index.store.pg.store import PgStore

    async with PgStore.open(pg_url, max_size=4) as store:
        yield store


async def _corpus(store: Any) -> int:
    """90 passages: "army" in most (some in the title, some twice), "zarqawi" in six of them
    and in two alone, "convoy" in twenty. Returns the workspace id."""
    ws, feed = await setup(store)
    for n in range(90):
        words = ["Reports from the front."]
        if n % 9 != 0:
            words.append("The army moved." * (1 + n % 2))
        if n % 15 == 0 or n in (7, 44):
            words.append("Zarqawi was named.")
        if n % 4 == 0:
            words.append("A convoy passed.")
        title = "Army update" if n % 5 == 0 else "Update"
        art = await save(store, feed, entry(n, title=title, text=" ".join(words)))
        await store.replace_passages(art.article_id, [passage(0, " ".join(words), title)], "m")
    return ws


QUERIES = (
    '"army" OR "zarqawi"',
    '"army" OR "convoy" OR "zarqawi"',
    '"convoy" OR "zarqawi" OR "front"',
    '"army" OR "zarq"*',
    '"army moved" OR "zarqawi"',
)


async def test_pruned_candidates_give_the_whole_querys_top(
    pg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = await _corpus(pg)
    whole = {}
    monkeypatch.setattr(textsearch, "ESSENTIAL_MIN", 10**9)  # every term essential: no pruning
    for query in QUERIES:
        for limit in (1, 3, 5, 12, 100):
            whole[query, limit] = await pg.text_search(query, limit, workspace_id=ws)
    monkeypatch.setattr(textsearch, "ESSENTIAL_MIN", 1)  # only the rarest term finds candidates
    monkeypatch.setattr(textsearch, "ESSENTIAL_SHARE", 0.0)
    for (query, limit), expected in whole.items():
        assert await pg.text_search(query, limit, workspace_id=ws) == expected, (query, limit)
        assert len(expected) == min(limit, len(whole[query, 100]))


async def test_the_rarest_terms_find_the_candidates_and_the_others_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(textsearch, "ESSENTIAL_MIN", 10)
    monkeypatch.setattr(textsearch, "ESSENTIAL_SHARE", 0.0)
    counts, idfs = [80, 3, 5, 40], [0.1, 3.0, 2.5, 0.4]
    picked, bound = textsearch.essential(counts, idfs, 100)
    assert picked == [1, 2]  # 3 + 5 passages; the next (40) would pass the budget of 10
    assert bound == pytest.approx(textsearch.TERM_BOUND * (0.1 + 0.4))
    assert textsearch.essential([500], [0.01], 100) == ([0], 0.0), "one term is always essential"
    monkeypatch.setattr(textsearch, "ESSENTIAL_MIN", 1000)
    assert textsearch.essential(counts, idfs, 100) == ([0, 1, 2, 3], 0.0)


async def test_no_passage_ranks_a_term_above_the_bound(pg: Any) -> None:
    """The bound holds for the passages that push ts_rank highest: one word, repeated, in the
    title and the text, short and long; and for a phrase."""
    texts = [("war", "war"), ("war war war", "war " * 40), ("War", "War."), ("x", "war " * 300)]
    for title, text in texts:
        for query in ("'war'", "('war' <-> 'war')"):
            rank = await pg.pool.fetchval(
                f"SELECT {textsearch.RANK.format(fts='v', query='to_tsquery($3, $4)')} FROM "
                f"(SELECT {textsearch.FTS_VECTOR.format(title='$1', text='$2')} AS v) s",
                title.lower(),
                text.lower(),
                "simple",
                query,
            )
            assert 0 < rank <= textsearch.TERM_BOUND, (title, text[:20], query, rank)
