"""The store's contract for passages, on each engine: passages replaced per article, text
search (ranks compared by order only: BM25 against ts_rank), hits in the given order,
embeddings and counts, and vector search through the workspace's passages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.retrieve.passages import embed_text
from index.retrieve.vectors import VectorIndex
from index.store.sqlite.store import Store
from tests.index.store_contract_helpers import (
    DIM,
    MODEL,
    NOW,
    entry,
    passage,
    save,
    setup,
    store_fixture,  # noqa: F401
    unit,
    utc,
)


# ---- passages, text search, embeddings ------------------------------------------------------
async def test_replace_passages(store: Store) -> None:
    ws, feed_id = await setup(store)
    art = await save(store, feed_id, entry(1, title="Title"))
    first = [passage(0, "Alpha text."), passage(1, "Beta text."), passage(2, "Gamma text.")]
    change = await store.replace_passages(art.article_id, first, MODEL)
    assert (len(change.added), change.removed, change.pending) == (3, [], 3)
    ids = change.added
    assert sorted(int(i) for i in await store.article_passage_ids([art.article_id])) == ids
    vectors = np.stack([unit(n) for n in range(3)])
    await store.set_embeddings(ids, vectors, MODEL)

    same = await store.replace_passages(art.article_id, first, MODEL)
    assert (same.added, same.removed, same.pending) == ([], [], 0)

    # seq 0 unchanged (keeps its id and vector), seq 1 rewritten, seq 2 gone
    second = [passage(0, "Alpha text."), passage(1, "Beta text, corrected.")]
    change = await store.replace_passages(art.article_id, second, MODEL)
    assert (len(change.added), sorted(change.removed), change.pending) == (1, ids[1:], 1)
    [new_id] = change.added
    assert new_id not in ids
    assert sorted(int(i) for i in await store.article_passage_ids([art.article_id])) == [
        ids[0],
        new_id,
    ]
    assert [int(i) for i in await store.embedded_ids(MODEL)] == [ids[0]]
    assert [pid for pid, _ in await store.pending_passages(10)] == [new_id]

    # identical text elsewhere reuses the stored vector (of this model only)
    other = await save(store, feed_id, entry(2, title="Title"))
    reuse = await store.replace_passages(other.article_id, [passage(0, "Alpha text.")], MODEL)
    assert (len(reuse.added), reuse.pending) == (1, 0)
    batches = [b async for b in store.embeddings(np.asarray(reuse.added), MODEL, DIM)]
    [(got_ids, matrix)] = batches
    assert got_ids.tolist() == reuse.added
    np.testing.assert_array_equal(matrix[0], vectors[0])
    third = await save(store, feed_id, entry(3, title="Title"))
    fresh = await store.replace_passages(third.article_id, [passage(0, "Alpha text.")], "other")
    assert fresh.pending == 1

    # removed passages are gone from the text index too
    assert await store.text_search('"gamma"', 10, workspace_id=ws) == []
    assert [pid for pid, _ in await store.text_search('"corrected"', 10, workspace_id=ws)] == [
        new_id
    ]
    gone = await store.replace_passages(art.article_id, [], MODEL)
    assert (gone.added, sorted(gone.removed)) == ([], sorted([ids[0], new_id]))
    assert await store.text_search('"corrected"', 10, workspace_id=ws) == []
    assert len(await store.article_passage_ids([art.article_id])) == 0


async def _text_corpus(store: Store) -> dict[str, Any]:
    """Two workspaces; passages naming Mosul in a title, in a text, and in the other
    workspace."""
    ws, feed_a = await setup(store)
    ws2, feed_b = await setup(store, "discord:2", "https://b.example/feed")
    found: dict[str, Any] = {"ws": ws, "ws2": ws2}
    items = {
        "title": (feed_a, "Mosul offensive resumes", "Troops advanced on the old city at dawn."),
        "text": (feed_a, "Regional update", "Fighting near Mosul continued in the old city."),
        "other": (feed_b, "Mosul talks", "Delegates met in Geneva about Mosul."),
        "plain": (feed_a, "Ḥalab markets reopen", "Traders returned on Sunday, Олена said."),
    }
    for n, (name, (feed_id, title, text)) in enumerate(items.items()):
        art = await save(store, feed_id, entry(n, title=title, text=text))
        change = await store.replace_passages(art.article_id, [passage(0, text, title)], MODEL)
        found[name] = (art.article_id, change.added[0])
    return found


async def test_text_search(store: Store) -> None:
    c = await _text_corpus(store)
    ws, ws2 = c["ws"], c["ws2"]
    title_p, text_p, other_p = c["title"][1], c["text"][1], c["other"][1]

    ranked = [pid for pid, _ in await store.text_rank('"mosul"', 10)]
    assert sorted(ranked) == sorted([title_p, text_p, other_p])  # every workspace's
    assert ranked.index(title_p) < ranked.index(text_p)  # a title word ranks higher
    scores = [score for _, score in await store.text_rank('"mosul"', 10)]
    assert scores == sorted(scores, reverse=True)
    assert len(await store.text_rank('"mosul"', 2)) == 2

    mine = await store.text_search('"mosul"', 10, workspace_id=ws)
    assert [pid for pid, _ in mine] == [title_p, text_p]  # never another workspace's
    assert [pid for pid, _ in await store.text_search('"mosul"', 10, workspace_id=ws2)] == [other_p]
    only = await store.text_search('"mosul"', 10, workspace_id=ws, article_ids=[c["text"][0]])
    assert [pid for pid, _ in only] == [text_p]
    assert await store.text_search('"mosul"', 10, workspace_id=ws, article_ids=[]) == []
    not_theirs = [c["other"][0]]
    assert await store.text_search('"mosul"', 10, workspace_id=ws, article_ids=not_theirs) == []

    # words ORed; prefixes; folded words (diacritics); a phrase
    either = await store.text_search('"dawn" OR "geneva"', 10, workspace_id=ws)
    assert [pid for pid, _ in either] == [title_p]
    assert [pid for pid, _ in await store.text_search('"offens"*', 10, workspace_id=ws)] == [
        title_p
    ]
    for word in ('"halab"', '"олена"', '"ОЛЕНА"'):
        assert [pid for pid, _ in await store.text_search(word, 10, workspace_id=ws)] == [
            c["plain"][1]
        ], word
    phrase = await store.text_search('"old city"', 10, workspace_id=ws)
    assert sorted(pid for pid, _ in phrase) == sorted([title_p, text_p])
    assert await store.text_search('"city old"', 10, workspace_id=ws) == []
    assert await store.text_search('"kyiv"', 10, workspace_id=ws) == []

    # a query the engine cannot read finds nothing, without an error
    for unreadable in ("", '""', '"', '"mosul', "AND", "*", "(", '"mosul" OR'):
        assert await store.text_rank(unreadable, 10) == [], unreadable
        assert await store.text_search(unreadable, 10, workspace_id=ws) == [], unreadable
        assert not await store.mentions(unreadable, workspace_id=ws), unreadable

    assert await store.mentions('"mosul"', workspace_id=ws)
    assert await store.mentions('"geneva"', workspace_id=ws2)
    assert not await store.mentions('"geneva"', workspace_id=ws)  # the other workspace's
    assert await store.mentions('"offen"* OR "kyiv"', workspace_id=ws)
    assert not await store.mentions('"kyiv"', workspace_id=ws)

    asked = [title_p, other_p, text_p, 999_999]
    assert await store.passage_articles(asked, ws) == {
        title_p: c["title"][0],
        text_p: c["text"][0],
    }
    assert await store.passage_articles([], ws) == {}


async def test_hits_keep_the_given_order_and_the_workspace(store: Store) -> None:
    c = await _text_corpus(store)
    title_p, text_p, other_p = c["title"][1], c["text"][1], c["other"][1]
    hits = await store.hits([(other_p, 0.9), (text_p, 0.7), (title_p, 0.4)], c["ws"])
    assert [(h.passage_id, h.score) for h in hits] == [(text_p, 0.7), (title_p, 0.4)]
    hit = hits[0]
    assert (hit.article_id, hit.title, hit.url, hit.source, hit.text) == (
        c["text"][0],
        "Regional update",
        "https://outlet.example/1",
        "Outlet",
        "Fighting near Mosul continued in the old city.",
    )
    [article] = await store.articles_by_ids([hit.article_id])
    assert (hit.story_id, utc(hit.published_at)) == (article.story_id, NOW)
    assert await store.hits([], c["ws"]) == []
    assert [h.passage_id for h in await store.hits([(other_p, 1.0)], c["ws2"])] == [other_p]


async def test_embeddings_and_counts(store: Store) -> None:
    ws, feed_id = await setup(store)
    ws2, feed_b = await setup(store, "discord:2", "https://b.example/feed")
    one = await save(store, feed_id, entry(1, title="One"))
    two = await save(store, feed_id, entry(2, title="Two"))
    far = await save(store, feed_b, entry(3, title="Far"))
    ids: list[int] = []
    for art, title in ((one, "One"), (two, "Two"), (far, "Far")):
        texts = [f"{title} first passage.", f"{title} second passage."]
        change = await store.replace_passages(
            art.article_id, [passage(n, t, title) for n, t in enumerate(texts)], MODEL
        )
        ids.extend(change.added)
    assert await store.count_pending() == 6
    pending = await store.pending_passages(4)
    assert [pid for pid, _ in pending] == sorted(ids)[:4]
    assert pending[0][1] == embed_text("One", "One first passage.")
    assert await store.unembedded([one.article_id, two.article_id]) == {
        one.article_id,
        two.article_id,
    }

    vectors = {pid: unit(pid) for pid in ids}
    await store.set_embeddings(ids[:4], np.stack([vectors[p] for p in ids[:4]]), MODEL)
    await store.set_embeddings(ids[4:5], np.stack([vectors[ids[4]]]), "old-model")
    assert [int(i) for i in await store.embedded_ids(MODEL)] == ids[:4]
    assert (await store.count_embedded(MODEL), await store.count_embedded("old-model")) == (4, 1)
    assert (await store.count_pending(), [p for p, _ in await store.pending_passages(9)]) == (
        1,
        ids[5:],
    )
    assert await store.unembedded([one.article_id, two.article_id, far.article_id]) == {
        far.article_id
    }
    got: dict[int, np.ndarray] = {}
    async for batch_ids, matrix in store.embeddings(np.asarray(ids), MODEL, DIM, batch=3):
        assert matrix.dtype == np.float32 and matrix.shape == (len(batch_ids), DIM)
        got.update(zip(batch_ids.tolist(), matrix, strict=True))
    assert sorted(got) == ids[:4]  # only this model's
    for pid, vector in got.items():
        np.testing.assert_array_equal(vector, vectors[pid])

    by_article = await store.article_vectors([one.article_id, far.article_id], MODEL, DIM)
    assert sorted(by_article) == [one.article_id]  # far's vector is another model's
    np.testing.assert_array_equal(
        by_article[one.article_id], np.stack([vectors[p] for p in ids[:2]])
    )
    assert sorted(int(i) for i in await store.article_passage_ids([two.article_id])) == ids[2:4]
    assert sorted(int(i) for i in await store.workspace_passage_ids(ws)) == ids[:4]
    assert sorted(int(i) for i in await store.workspace_passage_ids(ws2)) == ids[4:]

    counts = await store.counts(ws)
    assert (counts.feeds, counts.articles, counts.stories, counts.passages, counts.embedded) == (
        1,
        2,
        2,
        4,
        4,
    )
    far_counts = await store.counts(ws2)
    assert (far_counts.articles, far_counts.passages, far_counts.embedded) == (1, 2, 1)

    assert await store.forget_other_models(MODEL) == 1
    assert (await store.count_embedded("old-model"), await store.count_pending()) == (0, 2)
    assert await store.forget_other_models(MODEL) == 0
    await store.clear_embeddings()
    assert (await store.count_embedded(MODEL), await store.count_pending()) == (0, 6)
    assert len(await store.embedded_ids(MODEL)) == 0
    assert (await store.counts(ws)).embedded == 0


# ---- vector search --------------------------------------------------------------------------
async def test_vector_search(store: Store, tmp_path: Path) -> None:
    ws, feed_id = await setup(store)
    ids: list[int] = []
    for n in range(6):
        art = await save(store, feed_id, entry(n))
        texts = [f"passage {n} {k}" for k in range(4)]
        change = await store.replace_passages(
            art.article_id, [passage(k, t) for k, t in enumerate(texts)], MODEL
        )
        ids.extend(change.added)
    if isinstance(store, Store):
        index: Any = VectorIndex.load(tmp_path / "passages.faiss", DIM, MODEL)
    else:
        from index.store.pg.vectors import PgVectorIndex

        index = await PgVectorIndex.open(store.pool, DIM, MODEL)  # type: ignore[attr-defined]
    assert len(index) == 0
    matrix = np.stack([unit(1000 + n) for n in range(len(ids))])
    await store.set_embeddings(ids, matrix, MODEL)
    await store.set_embeddings(ids[-2:], matrix[-2:], "another-model")  # not this index's
    report = await index.sync(
        lambda: store.embedded_ids(MODEL), lambda wanted: store.embeddings(wanted, MODEL, DIM)
    )
    assert len(index) == len(ids) - 2
    assert report.added == len(ids) - 2

    vectors = dict(zip(ids[:-2], matrix[:-2], strict=True))
    for seed in range(5):
        query = unit(seed)
        exact = sorted(vectors, key=lambda pid: -float(vectors[pid] @ query))
        found = await index.nearest(query, 5)
        assert [pid for pid, _ in found] == exact[:5]
        for pid, score in found:
            assert score == pytest.approx(float(vectors[pid] @ query), abs=1e-5)
        allowed = np.asarray(ids[4:12], dtype=np.int64)
        among = await index.nearest(query, 3, allowed)
        assert [pid for pid, _ in among] == [pid for pid in exact if pid in set(ids[4:12])][:3]
    assert await index.nearest(unit(0), 5, np.asarray([], dtype=np.int64)) == []
    assert await index.nearest(unit(0), 0) == []
    own = await index.nearest(matrix[3], 1)
    assert own[0][0] == ids[3] and own[0][1] == pytest.approx(1.0, abs=1e-5)
    # a workspace's passages as the allowed set
    allowed_ws = await store.workspace_passage_ids(ws)
    assert len(await index.nearest(unit(9), 50, allowed_ws)) == len(ids) - 2
