"""The labelled sets of bench/calibrate_topic.py: the RealTimeQA questions with their evidence
and the real feed captures' titles with their texts, chunked and embedded as the product does,
scored against their own article, their unrelated ones and a background sample."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BACKGROUND_MAX = 2000
MIN_WORDS = 40
REALTIMEQA = Path("realtimeqa_news") / "realtimeqa_dev.jsonl"
MANIFEST = Path("news_feeds") / "manifest.jsonl"


def shared_data_dir() -> Path | None:
    """`WIREWATCH_SHARED_DATA` when set (and only it), else `../shared/data` beside the
    project root; None when either labelled source is missing there."""
    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = Path(env) if env else ROOT.parent / "shared" / "data"
    return folder if (folder / REALTIMEQA).is_file() and (folder / MANIFEST).is_file() else None


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def calibration_half(key: str) -> bool:
    """Stable split: True for the calibration half, False for the held-out half."""
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0


def load_realtimeqa(path: Path) -> list[tuple[str, str, str]]:
    """(id, question, evidence_text) of every line, in file order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(str(r["id"]), r["question"], r["evidence_text"]) for r in rows]


def load_feed_entries(feeds_dir: Path) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """(title, text) of every entry of the manifest's feeds with at least MIN_WORDS words of
    text, first of each title and of each text kept; and counts of what was dropped."""
    from index.errors import FeedMalformed
    from index.fetch.parse import parse_feed

    now = datetime.now(UTC)
    seen_titles: set[str] = set()
    seen_texts: set[str] = set()
    kept: list[tuple[str, str]] = []
    dropped = {"malformed_feeds": 0, "short": 0, "duplicate": 0, "untitled": 0}
    for line in (feeds_dir / MANIFEST.name).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        path = (feeds_dir / json.loads(line)["file"]).resolve()
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=now)
        except FeedMalformed:
            dropped["malformed_feeds"] += 1
            continue
        for entry in parsed.entries:
            title, text = " ".join(entry.title.split()), entry.text.strip()
            if not title:
                dropped["untitled"] += 1
            elif len(text.split()) < MIN_WORDS:
                dropped["short"] += 1
            elif title.casefold() in seen_titles or text in seen_texts:
                dropped["duplicate"] += 1
            else:
                seen_titles.add(title.casefold())
                seen_texts.add(text)
                kept.append((title, text))
    return kept, dropped


@dataclass
class ArticlePool:
    """Passage vectors of a list of articles, and where each article's passages start."""

    vectors: np.ndarray  # (passages, dim) float32, unit rows
    starts: np.ndarray  # (articles,) first passage row of each article

    @property
    def size(self) -> int:
        return len(self.starts)

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(descriptions, articles): max cosine of each description over each article's
        passages."""
        return np.maximum.reduceat(queries @ self.vectors.T, self.starts, axis=1)


def embed_articles(embedder: Any, texts: list[str]) -> ArticlePool:
    """Chunk each text as the product does (no title) and embed the passages; every text must
    yield at least one passage."""
    from index.retrieve.passages import chunk_article

    passages = [[p.embed_text for p in chunk_article("", text)] for text in texts]
    counts = np.array([len(p) for p in passages])
    if counts.size and counts.min() == 0:
        raise ValueError("an article yielded no passage: reduceat needs at least one each")
    flat = [t for p in passages for t in p]
    vectors = embedder.embed_passages(flat)
    return ArticlePool(vectors, np.concatenate([[0], np.cumsum(counts)[:-1]]))


@dataclass
class Labelled:
    """Each description's score against its own article and against its unrelated ones, and
    the mean and standard deviation of its scores against the background sample."""

    keys: list[str]
    own: np.ndarray  # (descriptions,)
    unrelated: np.ndarray  # (descriptions, unrelated articles)
    mu: np.ndarray  # (descriptions,) float64
    sigma: np.ndarray  # (descriptions,) float64, positive

    def half(self, calibration: bool) -> Labelled:
        rows = np.array([calibration_half(k) == calibration for k in self.keys], dtype=bool)
        keys = [k for k, r in zip(self.keys, rows, strict=True) if r]
        return Labelled(keys, self.own[rows], self.unrelated[rows], self.mu[rows], self.sigma[rows])


def background_stats(scores: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 1) of each row of `scores` over the columns that
    `keep` (same shape) marks."""
    n = keep.sum(axis=1)
    if n.min() < 2:
        raise ValueError("the background needs at least two articles per description")
    values = scores.astype(np.float64)
    mu = np.where(keep, values, 0.0).sum(axis=1) / n
    sigma = np.sqrt(np.where(keep, (values - mu[:, None]) ** 2, 0.0).sum(axis=1) / (n - 1))
    if sigma.min() <= 0:
        raise ValueError("a description scores the same against every background article")
    return mu, sigma


def build_sets(
    embedder: Any, data: Path, feed_descriptions: int, seed: int
) -> tuple[dict[str, Labelled], dict[str, Any]]:
    """The two labelled sets, scored; and what went into them."""
    started = time.perf_counter()
    questions = load_realtimeqa(data / REALTIMEQA)
    entries, dropped = load_feed_entries(data / "news_feeds")
    progress(
        f"{len(questions)} RealTimeQA questions; {len(entries)} feed entries kept "
        f"(dropped: {dropped})"
    )
    pool = embed_articles(embedder, [text for _, text in entries])
    progress(
        f"feed pool: {pool.size} articles, {len(pool.vectors)} passages embedded "
        f"({time.perf_counter() - started:.0f} s)"
    )
    evidence = embed_articles(embedder, [text for _, _, text in questions])
    progress(f"RealTimeQA: {len(evidence.vectors)} evidence passages embedded")

    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(pool.size), min(feed_descriptions, pool.size)))
    # background for the per-description normalisation: a seeded sample of the feed pool
    background = np.array(sorted(rng.sample(range(pool.size), min(BACKGROUND_MAX, pool.size))))

    queries = np.stack([embedder.embed_query(q) for _, q, _ in questions])
    own_pool = evidence.scores(queries)
    feed_pool = pool.scores(queries)
    n = len(questions)
    off_diagonal = ~np.eye(n, dtype=bool)
    realtimeqa = Labelled(
        [key for key, _, _ in questions],
        np.diag(own_pool).copy(),
        np.hstack([own_pool[off_diagonal].reshape(n, n - 1), feed_pool]),
        *background_stats(feed_pool[:, background], np.ones((n, background.size), dtype=bool)),
    )

    titles = np.stack([embedder.embed_query(entries[i][0]) for i in chosen])
    all_scores = pool.scores(titles)
    others = np.ones_like(all_scores, dtype=bool)
    others[np.arange(len(chosen)), chosen] = False
    feeds = Labelled(
        [entries[i][0] for i in chosen],
        all_scores[np.arange(len(chosen)), chosen],
        all_scores[others].reshape(len(chosen), pool.size - 1),
        # the description's own article is left out of its background
        *background_stats(
            all_scores[:, background], background[None, :] != np.array(chosen)[:, None]
        ),
    )
    progress(f"descriptions embedded and scored ({time.perf_counter() - started:.0f} s)")
    inputs = {
        "realtimeqa": {
            "descriptions": n,
            "articles": n + pool.size,
            "passages": len(evidence.vectors) + len(pool.vectors),
            "background_articles": int(background.size),
        },
        "feeds": {
            "descriptions": len(chosen),
            "articles": pool.size,
            "passages": len(pool.vectors),
            "dropped_entries": dropped,
            "background_articles": int(background.size),
        },
    }
    return {"realtimeqa": realtimeqa, "feeds": feeds}, inputs
