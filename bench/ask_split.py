"""The split of bench/ask.py's timed asks into parts: wrappers put, in this process only and
for the duration of a `with instrumented(...)` block, around the question path's pieces
(filters, embeddings, retrieval, re-ranking, composition), and each ask's parts with their
derived sums. Changes no product code; the wrappers are removed on exit.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any

import numpy as np

import bot.core.answer as answer_stage
import index.retrieve.search as search_stage
from bot.app import App
from bot.core.answer import Answerer
from index.retrieve.vectors import VectorIndex

# (key, label, indent, top-level part of the sum); "other" is derived.
PARTS: tuple[tuple[str, str, int], ...] = (
    ("filters", "filters", 0),
    ("filters.parse", "parse: intent, catalogue, gazetteer", 1),
    ("filters.articles", "article lookup (SQL, relaxations)", 1),
    ("embed_query", "question embedding (model)", 0),
    ("retrieval", "retrieval (index.retrieve.search.retrieve_many)", 0),
    ("retrieval.bm25", "BM25 (FTS5 / tsvector, _bm25)", 1),
    ("retrieval.dense", "dense (_dense)", 1),
    ("retrieval.dense.faiss", "vector search (FAISS / HNSW)", 2),
    ("retrieval.dense.allowed", "allowed passage ids (SQL)", 2),
    ("retrieval.fuse_join", "fusion + final join (SQL)", 1),
    ("rerank", "re-ranking (_rerank)", 0),
    ("rerank.model", "sentence embedding (model)", 1),
    ("compose", "composition", 0),
    ("other", "other (answerer(), workspace, doc)", 0),
    ("total", "end to end (commands.ask)", 0),
)
TOP_LEVEL = ("filters", "embed_query", "retrieval", "rerank", "compose", "other")


class Split:
    """Seconds per part of the current ask, filled by the wrappers."""

    def __init__(self) -> None:
        self.now: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.in_query = False  # inside embed_query, which calls embed_passages

    def reset(self) -> None:
        self.now, self.counts = {}, {}

    def add(self, key: str, seconds: float) -> None:
        self.now[key] = self.now.get(key, 0.0) + seconds

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def timed(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - started)

        return wrapper

    def timed_async(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - started)

        return wrapper


@contextmanager
def instrumented(app: App, split: Split) -> Iterator[None]:
    """Wrap the question path's pieces (this process only); unwrap on exit."""
    pipeline = app.require_pipeline()
    embedder, store, vectors = pipeline.embedder, app.store, pipeline.vectors
    undo: list[Callable[[], None]] = []

    def put(
        owner: Any, name: str, wrapped: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        on_instance = not isinstance(owner, type | types.ModuleType)
        original = getattr(owner, name) if on_instance else vars(owner)[name]
        setattr(owner, name, wrapped(original))
        undo.append(lambda: delattr(owner, name) if on_instance else setattr(owner, name, original))

    def counted_passages(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed("rerank.model", fn)

        def wrapper(texts: Sequence[str]) -> Any:
            if split.in_query:  # embed_query calls embed_passages: counted as the question's
                return fn(texts)
            split.count("sentences", len(texts))
            split.count("words", sum(len(t.split()) for t in texts))
            return timed(texts)

        return wrapper

    def flagged_query(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed("embed_query", fn)

        def wrapper(text: str) -> Any:
            split.in_query = True
            try:
                return timed(text)
            finally:
                split.in_query = False

        return wrapper

    def counted_search(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed("retrieval.dense.faiss", fn)

        def wrapper(vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Any:
            if allowed is not None:
                split.count("restricted_faiss")
            return timed(vector, k, allowed)

        return wrapper

    def counted_nearest(fn: Callable[..., Any]) -> Callable[..., Any]:
        timed = split.timed_async("retrieval.dense.faiss", fn)

        async def wrapper(vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Any:
            if allowed is not None:
                split.count("restricted_faiss")
            return await timed(vector, k, allowed)

        return wrapper

    put(Answerer, "_filters", lambda f: split.timed("filters.parse", f))
    put(Answerer, "_articles", lambda f: split.timed_async("filters.articles", f))
    put(Answerer, "_rerank", lambda f: split.timed_async("rerank", f))
    put(Answerer, "_compose", lambda f: split.timed("compose._compose", f))
    put(answer_stage, "enrich_killed", lambda f: split.timed_async("compose.killed", f))
    put(answer_stage, "renumber", lambda f: split.timed("compose.renumber", f))
    put(answer_stage, "retrieve_many", lambda f: split.timed_async("retrieval", f))
    put(search_stage, "_dense", lambda f: split.timed_async("retrieval.dense", f))
    put(embedder, "embed_query", flagged_query)
    put(embedder, "embed_passages", counted_passages)
    put(search_stage, "_bm25", lambda f: split.timed_async("retrieval.bm25", f))
    put(store, "article_passage_ids", lambda f: split.timed_async("retrieval.dense.allowed", f))
    put(store, "workspace_passage_ids", lambda f: split.timed_async("retrieval.dense.allowed", f))
    if isinstance(vectors, VectorIndex):  # FAISS itself, without the thread hop of `nearest`
        put(vectors, "search", counted_search)
    else:  # pgvector: the query on the server
        put(vectors, "nearest", counted_nearest)
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def parts_of(raw: dict[str, float], total: float) -> dict[str, float]:
    """One ask's parts in seconds, derived sums included."""
    g = raw.get
    p = {key: g(key, 0.0) for key, _, _ in PARTS if key in raw}
    p["filters"] = g("filters.parse", 0.0) + g("filters.articles", 0.0)
    p["compose"] = (
        g("compose._compose", 0.0) + g("compose.killed", 0.0) + g("compose.renumber", 0.0)
    )
    for key in ("embed_query", "retrieval", "retrieval.bm25", "retrieval.dense", "rerank"):
        p.setdefault(key, 0.0)
    p.setdefault("retrieval.dense.faiss", 0.0)
    p.setdefault("retrieval.dense.allowed", 0.0)
    p.setdefault("filters.parse", 0.0)
    p.setdefault("filters.articles", 0.0)
    p.setdefault("rerank.model", 0.0)
    p["retrieval.fuse_join"] = p["retrieval"] - p["retrieval.bm25"] - p["retrieval.dense"]
    p["other"] = total - sum(p[k] for k in TOP_LEVEL if k != "other")
    p["total"] = total
    return p
