"""Stage: query text -> [Hit] best first, from one workspace's own articles.
Side effects: may reload the vector index when another process saved a newer one.

`search` is dense retrieval alone (what `wirewatch search` shows). `retrieve` is what questions
use: BM25 over the passages' words (SQLite FTS5) and dense retrieval, fused by score: a
passage's cosine similarity plus BM25_WEIGHT times its BM25 score over the best BM25 score of
the query (passages BM25 alone found start from the lowest cosine of the dense list),
optionally within a set of articles.

The query is embedded with the same model as the passages and looked up in FAISS by inner
product (cosine, since vectors are unit length). FAISS holds every workspace's passages, so we
ask it for a few times `k` and keep the workspace's own; when that is not enough (a small
workspace in a large shared index), FAISS searches only the workspace's passage ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import numpy as np

from index.models import Hit
from index.retrieve.embed import Embedder
from index.store.interfaces import Storage, Vectors
from index.text import words as folded_words


async def search(
    store: Storage,
    vectors: Vectors,
    embedder: Embedder,
    workspace_id: int,
    query: str,
    k: int = 10,
    *,
    per_story: int = 0,
) -> list[Hit]:
    """The k passages most similar to `query` among the workspace's articles, best first.
    With `per_story` > 0, at most that many passages of any one story are kept, so one
    event told at length (or by several outlets) does not fill every slot."""
    query = query.strip()
    if not query or k <= 0:
        return []
    await vectors.refresh()
    vector = await asyncio.to_thread(embedder.embed_query, query)
    # Most often the workspace's passages are among the nearest few: ask for a few times k.
    want = max(k * 4, 32) * (4 if per_story else 1)
    scored = await vectors.nearest(vector, want)
    hits = _limit_per_story(await store.hits(scored, workspace_id), per_story)
    if len(hits) >= k or len(scored) < want:
        return hits[:k]
    # Otherwise search only the workspace's own passages.
    allowed = await store.workspace_passage_ids(workspace_id)
    scored = await vectors.nearest(vector, want * 4, allowed)
    return _limit_per_story(await store.hits(scored, workspace_id), per_story)[:k]


def _limit_per_story(hits: list[Hit], per_story: int) -> list[Hit]:
    if per_story <= 0:
        return hits
    seen: dict[int, int] = {}
    kept = []
    for hit in hits:
        seen[hit.story_id] = seen.get(hit.story_id, 0) + 1
        if seen[hit.story_id] <= per_story:
            kept.append(hit)
    return kept


Mode = Literal["hybrid", "bm25", "dense"]
BM25_WEIGHT = 0.2  # of a passage's BM25 score (over the query's best) beside its cosine
# Words that carry no topic in a news question; kept out of the BM25 query.
_STOPWORDS_TEXT = """a about above after again against all am an and any are as at be because
    been before being below between both but by can could did do does doing down during each few
    for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself latest recent news update
    updates happened happening going tell know say said week weeks today yesterday month months
    year years day days ago since last past this many much"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def fts_query(text: str, *, max_terms: int = 24) -> str:
    """A question -> an FTS5 expression: its distinct content words, each quoted, ORed (BM25
    ranks passages with more of them, and rarer ones, higher). Empty when no word is left."""
    words = [w for w in folded_words(text) if w not in STOPWORDS and len(w) > 1]
    unique = list(dict.fromkeys(words))[:max_terms]
    return " OR ".join(f'"{w}"' for w in unique)


def name_query(name: str) -> str:
    """A proper name -> an FTS5 expression matching a passage with any of its words, by
    prefix, so "Syrian" finds "Syria" and "Ukraine's" finds "Ukraine". Empty when the name
    has no word of three letters or more."""
    return " OR ".join(f'"{prefix}"*' for prefix in _name_prefixes(name))


def names_in(name: str, texts: Sequence[str]) -> bool:
    """Whether any of the texts has a word of `name`, matched as `name_query` matches."""
    prefixes = _name_prefixes(name)
    if not prefixes:
        return True
    words = {word for text in texts for word in folded_words(text)}
    return any(word.startswith(prefix) for prefix in prefixes for word in words)


def _name_prefixes(name: str) -> tuple[str, ...]:
    words = [w for w in folded_words(name) if len(w) >= 3]
    return tuple(w[: max(4, len(w) - 3)] for w in words)


async def retrieve(
    store: Storage,
    vectors: Vectors,
    embedder: Embedder,
    workspace_id: int,
    query: str,
    k: int = 20,
    *,
    mode: Mode = "hybrid",
    article_ids: Sequence[int] | None = None,
    query_vector: np.ndarray | None = None,
) -> list[Hit]:
    """The k best passages for a question among the workspace's articles (and `article_ids`
    when given), by BM25, dense similarity, or both fused (`Hit.score`: the fused score, or the
    list's own score for a single mode)."""
    (hits,) = await retrieve_many(
        store,
        vectors,
        embedder,
        workspace_id,
        query,
        k,
        mode=mode,
        article_sets=[article_ids],
        query_vector=query_vector,
    )
    return hits


async def retrieve_many(
    store: Storage,
    vectors: Vectors,
    embedder: Embedder,
    workspace_id: int,
    query: str,
    k: int = 20,
    *,
    mode: Mode = "hybrid",
    article_sets: Sequence[Sequence[int] | None],
    query_vector: np.ndarray | None = None,
) -> list[list[Hit]]:
    """`retrieve` for several sets of articles at once (None: all the workspace's), one list of
    hits per set, in order. One BM25 ranking and one FAISS search serve every set; a set whose
    passages are too rare among their best is searched on its own."""
    query = query.strip()
    wanted = [i for i, ids in enumerate(article_sets) if ids is None or len(ids)]
    if not query or k <= 0 or not wanted:
        return [[] for _ in article_sets]
    sets = [article_sets[i] for i in wanted]
    depth = max(k * 3, 50)
    lookups = []
    expression = fts_query(query) if mode in ("hybrid", "bm25") else ""
    if expression:
        lookups.append(_bm25(store, expression, workspace_id, depth, sets))
    if mode in ("hybrid", "dense"):
        if query_vector is None:
            query_vector = await asyncio.to_thread(embedder.embed_query, query)
        lookups.append(_dense(store, vectors, query_vector, workspace_id, depth, sets))
    # BM25 runs in the database's thread, FAISS in another: side by side
    per_lookup: list[list[list[tuple[int, float]]]] = list(await asyncio.gather(*lookups))
    results: list[list[Hit]] = [[] for _ in article_sets]
    for n, i in enumerate(wanted):
        ranked = [lists[n] for lists in per_lookup]
        scored = _fuse(ranked) if ranked else []
        results[i] = (await store.hits(scored[: k * 2], workspace_id))[:k]
    return results


def _fuse(ranked: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    """The BM25 and dense rankings of passages as one, by score (see the module's docstring).
    Chosen on half of the QA development questions (bench/eval_qa.py) over reciprocal rank
    fusion, which let BM25's lexical near-misses push the dense evidence down."""
    if len(ranked) == 1:
        return ranked[0]
    bm25, dense = ranked
    top = max((score for _, score in bm25), default=0.0) or 1.0
    floor = min((score for _, score in dense), default=0.0)
    fused = dict(dense)
    for pid, score in bm25:
        fused[pid] = fused.get(pid, floor) + BM25_WEIGHT * score / top
    return sorted(fused.items(), key=lambda item: -item[1])


def _keep(
    scored: list[tuple[int, float]], owners: dict[int, int], ids: Sequence[int] | None
) -> list[tuple[int, float]]:
    """The scored passages the workspace sees (`owners`: passage -> article), within `ids`."""
    allowed = set(ids) if ids is not None else None
    return [
        (pid, score)
        for pid, score in scored
        if (owner := owners.get(pid)) is not None and (allowed is None or owner in allowed)
    ]


async def _bm25(
    store: Storage,
    expression: str,
    workspace_id: int,
    depth: int,
    sets: Sequence[Sequence[int] | None],
) -> list[list[tuple[int, float]]]:
    """The `depth` best passages by BM25 for each set of articles: the full-text index ranked
    alone, deep, and filtered; ranked again joined to the articles for a set short of hits."""
    cap = depth * (16 if any(ids is not None for ids in sets) else 4)
    ranked = await store.text_rank(expression, cap)

    async def again(ids: Sequence[int] | None) -> list[tuple[int, float]]:
        return await store.text_search(
            expression, depth, workspace_id=workspace_id, article_ids=ids
        )

    return await _per_set(store, ranked, len(ranked) < cap, workspace_id, depth, sets, again)


async def _dense(
    store: Storage,
    vectors: Vectors,
    vector: np.ndarray,
    workspace_id: int,
    depth: int,
    sets: Sequence[Sequence[int] | None],
) -> list[list[tuple[int, float]]]:
    """The `depth` nearest passages for each set of articles. FAISS searches everything first,
    deep enough that a set's own are usually among the results; only a set short of them is
    searched again restricted to its passage ids (which must be looked up first)."""
    await vectors.refresh()
    want = depth * (16 if any(ids is not None for ids in sets) else 2)
    scored = await vectors.nearest(vector, want)

    async def again(ids: Sequence[int] | None) -> list[tuple[int, float]]:
        if ids is not None:
            allowed = await store.article_passage_ids(ids)
        else:
            allowed = await store.workspace_passage_ids(workspace_id)
        return await vectors.nearest(vector, depth, allowed)

    return await _per_set(store, scored, len(scored) < want, workspace_id, depth, sets, again)


async def _per_set(
    store: Storage,
    ranked: list[tuple[int, float]],
    complete: bool,
    workspace_id: int,
    depth: int,
    sets: Sequence[Sequence[int] | None],
    again: Callable[[Sequence[int] | None], Awaitable[list[tuple[int, float]]]],
) -> list[list[tuple[int, float]]]:
    """Each set's `depth` best of one ranking over every workspace (`complete`: it holds every
    match), keeping the workspace's passages within the set; `again` ranks a set short of
    them on its own."""
    owners = await store.passage_articles([pid for pid, _ in ranked], workspace_id)
    out = []
    for ids in sets:
        kept = _keep(ranked, owners, ids)
        if len(kept) < depth and not complete:
            kept = await again(ids)
        out.append(kept[:depth])
    return out
