"""Plain retrieval baselines over a data dir's stored articles: questions -> the 10 best articles
each, by the plainest searches one could write, to measure `ask` against.

Side effects: reads the data dir's SQLite database read-only; loads the embedding model (fp32,
through `index.retrieve.embed.load_embedder`, as the product loads it) and embeds on the CPU.

* `dense_article`: each article's title and text (`title\\ntext`; the model reads its first 256
  word pieces) embedded with sentence-transformers fp32, unit length; the question embedded
  the same way; articles by cosine.
* `dense_passage`: each stored passage embedded as the product embeds it (the article title as
  context, then the passage: `index.retrieve.passages.embed_text`), with plain fp32, or the stored
  vectors when the data dir's passages were embedded by plain fp32 already (`passage_vectors` says
  which); an article scores by its best passage.
* `bm25`: SQLite FTS5 `bm25(passages_fts)` (title and text columns weighted alike) over the
  stored passages, the question's distinct words (`\\w+`, case-folded, no stopword list)
  each quoted and ORed; an article scores by its best passage.

Every baseline sees exactly the articles the workspace sees (its subscriptions' feed entries)
and nothing else limits it: no time, place or group filter, no re-ranking. The "top passage"
of a question (what "answer contains gold" reads) is the best passage of the first article:
by fp32 cosine for both dense baselines, by BM25 for `bm25`.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.retrieve.embed import load_embedder
from index.retrieve.passages import embed_text

TOP = 10
BASELINES = ("dense_article", "dense_passage", "bm25")
_TOKEN = re.compile(r"\w+")

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Ranking:
    """One question's result: the first `TOP` article ids, best first, and the text of the
    top passage (the best passage of the first article; "" when nothing matched)."""

    articles: tuple[int, ...]
    top_passage: str


def _connect(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)


def visible_articles(db: sqlite3.Connection, workspace: str = "console") -> set[int]:
    """The articles a workspace sees: those its subscribed feeds carried (as `ask` does)."""
    rows = db.execute(
        "SELECT DISTINCT fe.article_id FROM feed_entries fe "
        "JOIN subscriptions s ON s.feed_id = fe.feed_id "
        "JOIN workspaces w ON w.workspace_id = s.workspace_id WHERE w.name = ?",
        (workspace,),
    )
    return {int(r[0]) for r in rows}


def fts_or_query(question: str) -> str:
    """The question's distinct words, each quoted, ORed: `"who" OR "won" OR ...`."""
    words = dict.fromkeys(_TOKEN.findall(question.casefold()))
    return " OR ".join(f'"{w}"' for w in words)


def best_per_article(
    ranked: Sequence[tuple[int, int]], n: int = TOP
) -> tuple[tuple[int, ...], int | None]:
    """(the first `n` distinct articles of (passage_id, article_id) pairs, best first; the
    first pair's passage_id, None when there is none)."""
    seen: dict[int, None] = {}
    for _, article_id in ranked:
        seen.setdefault(article_id, None)
        if len(seen) == n:
            break
    return tuple(seen), (ranked[0][0] if ranked else None)


def bm25_rankings(
    db_path: Path, questions: Sequence[str], workspace: str = "console"
) -> list[Ranking]:
    """The `bm25` baseline for each question."""
    with _connect(db_path) as db:
        visible = visible_articles(db, workspace)
        owner = {
            int(pid): int(aid)
            for pid, aid in db.execute("SELECT passage_id, article_id FROM passages")
            if int(aid) in visible
        }
        text = dict(db.execute("SELECT passage_id, text FROM passages"))
        out = []
        for question in questions:
            expression = fts_or_query(question)
            rows = (
                db.execute(
                    "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? "
                    "ORDER BY bm25(passages_fts)",
                    (expression,),
                ).fetchall()
                if expression
                else []
            )
            ranked = [(int(r[0]), owner[int(r[0])]) for r in rows if int(r[0]) in owner]
            articles, top = best_per_article(ranked)
            out.append(Ranking(articles, str(text[top]) if top is not None else ""))
    return out


def _stored_fp32(
    db: sqlite3.Connection, model: str, passage_ids: Sequence[int]
) -> np.ndarray | None:
    """The stored vectors of these passages when every one was embedded by plain fp32 `model`
    (its bare id), in that order; None otherwise."""
    rows = dict(
        db.execute("SELECT passage_id, embedding FROM passages WHERE embed_model = ?", (model,))
    )
    if any(rows.get(pid) is None for pid in passage_ids):
        return None
    return np.stack([np.frombuffer(rows[pid], dtype=np.float32) for pid in passage_ids])


def dense_rankings(
    db_path: Path,
    questions: Sequence[str],
    *,
    model: str,
    workspace: str = "console",
    log: Log = lambda _: None,
) -> tuple[dict[str, list[Ranking]], str]:
    """The `dense_article` and `dense_passage` baselines for each question, and where the
    passage vectors came from ("stored fp32" or "embedded fp32")."""
    with _connect(db_path) as db:
        visible = visible_articles(db, workspace)
        articles = [
            (int(aid), str(title), str(text))
            for aid, title, text in db.execute(
                "SELECT article_id, title, text FROM articles ORDER BY article_id"
            )
            if int(aid) in visible
        ]
        passages = [
            (int(pid), int(aid), str(title), str(text))
            for pid, aid, title, text in db.execute(
                "SELECT p.passage_id, p.article_id, a.title, p.text FROM passages p "
                "JOIN articles a ON a.article_id = p.article_id "
                "ORDER BY p.article_id, p.seq"
            )
            if int(aid) in visible
        ]
        stored = _stored_fp32(db, model, [p[0] for p in passages])
    with tempfile.TemporaryDirectory() as cache:
        embedder = load_embedder(model, "fp32", cache_dir=Path(cache))
    queries = embedder.embed_passages([" ".join(q.split()) for q in questions])
    log(f"plain baselines: embedding {len(articles)} articles (fp32)…")
    article_vectors = embedder.embed_passages([embed_text(t, x) for _, t, x in articles])
    if stored is None:
        log(f"plain baselines: embedding {len(passages)} passages (fp32)…")
        passage_vectors = embedder.embed_passages([embed_text(t, x) for _, _, t, x in passages])
        source = "embedded fp32"
    else:
        passage_vectors, source = stored, "stored fp32"
    article_ids = np.array([a[0] for a in articles])
    # passages are ordered by article: each article's passages are one slice
    owners = np.array([p[1] for p in passages])
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else owners
    slice_owner = owners[starts] if len(owners) else owners
    by_article: list[Ranking] = []
    by_passage: list[Ranking] = []
    for query in queries:
        passage_scores = passage_vectors @ query

        def best_passage(article_id: int, scores: np.ndarray = passage_scores) -> str:
            where = np.flatnonzero(owners == article_id)
            return passages[int(where[np.argmax(scores[where])])][3] if len(where) else ""

        order = np.argsort(-(article_vectors @ query), kind="stable")[:TOP]
        top = tuple(int(article_ids[i]) for i in order)
        by_article.append(Ranking(top, best_passage(top[0]) if top else ""))
        if len(owners):
            best = np.maximum.reduceat(passage_scores, starts)
            order = np.argsort(-best, kind="stable")[:TOP]
            top = tuple(int(slice_owner[i]) for i in order)
        else:
            top = ()
        by_passage.append(Ranking(top, best_passage(top[0]) if top else ""))
    return {"dense_article": by_article, "dense_passage": by_passage}, source


def rankings(
    db_path: Path, questions: Sequence[str], *, model: str, log: Log = lambda _: None
) -> tuple[dict[str, list[Ranking]], str]:
    """Every baseline's rankings for the questions, and where the passage vectors came from."""
    dense, source = dense_rankings(db_path, questions, model=model, log=log)
    log("plain baselines: BM25…")
    return {**dense, "bm25": bm25_rankings(db_path, questions)}, source
