"""The scoring of bench/eval_qa.py: evidence recall, citations, gold answers and refusals per
`ask` mode, the plain baselines' figures, the unanswerable questions' rates, and where the
points go against the whole-article baseline (`diagnose`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import qa_baselines
from bench.eval_qa_items import evidence_url
from bot.core.answer import NOTHING, UNMENTIONED

MODES = ("bm25", "dense", "hybrid")
K = 5
DEEP = 10  # recall@10


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _first_articles(retrieved: Sequence[dict[str, Any]], n: int) -> list[int]:
    out: list[int] = []
    for hit in retrieved:
        if hit["article_id"] not in out:
            out.append(hit["article_id"])
            if len(out) == n:
                break
    return out


def _rank(articles: Sequence[int], wanted: int | None) -> int | None:
    """1-based rank of `wanted` among `articles`, None when absent."""
    return articles.index(wanted) + 1 if wanted in articles else None


def refused(doc: dict[str, Any]) -> bool:
    """The answer says nothing relevant was found (`bot.core.answer.NOTHING`)."""
    return NOTHING in doc["answer"]


_UNMENTIONED = UNMENTIONED.partition("{")[0]


def unmentioned(doc: dict[str, Any]) -> bool:
    """The answer says no stored report names something the question names."""
    return _UNMENTIONED in doc["answer"]


def caveated(doc: dict[str, Any]) -> bool:
    """The answer says none of its citations names something the question names."""
    return bool(doc.get("not_cited"))


def declined(doc: dict[str, Any]) -> bool:
    """The answer does not present stored news as covering the question: refused, cited
    nothing, or said the stored reports never name what it asks about."""
    return refused(doc) or not doc["citations"] or unmentioned(doc)


def score(
    items: Sequence[dict[str, Any]], docs: Sequence[dict[str, Any]], ids: dict[str, int]
) -> dict[str, Any]:
    """The figures of one mode: `docs` are its `ask` documents, in the items' order."""
    if len(docs) != len(items):
        raise RuntimeError(f"{len(docs)} answers for {len(items)} questions")
    at_1 = at_5 = at_10 = short = gold = timed = cited = uncited = refusals = lost = unnamed = 0
    uncited_names = 0
    ranks: list[int | None] = []
    for item, doc in zip(items, docs, strict=True):
        wanted = ids.get(evidence_url(item))
        first = _first_articles(doc["retrieved"], DEEP)
        rank = _rank(first, wanted)
        ranks.append(rank)
        at_1 += rank == 1
        at_5 += rank is not None and rank <= K
        at_10 += rank is not None
        short += len(first) < DEEP
        gold += normalise(item["answer_text"]) in normalise(doc["answer"])
        timed += "time" in doc["filters"]
        cited += any(c["article_id"] == wanted for c in doc["citations"])
        uncited += not doc["citations"]
        refusals += refused(doc)
        unnamed += unmentioned(doc)
        uncited_names += caveated(doc)
        lost += refused(doc) and rank is not None and rank <= K
    n = len(items)
    return {
        "recall_at_1": at_1 / n,
        "recall_at_5": at_5 / n,
        "answer_contains_gold": gold / n,
        "time_filters": timed,
        "recall_at_10": at_10 / n,
        "short_of_10": short,
        "cited": cited / n,
        "no_citation": uncited / n,
        "refused": refusals / n,
        "unmentioned": unnamed / n,
        "not_cited": uncited_names / n,
        "refused_evidence_at_5": lost,
        "ranks": ranks,
    }


def score_plain(
    items: Sequence[dict[str, Any]],
    found: Sequence[qa_baselines.Ranking],
    ids: dict[str, int],
) -> dict[str, Any]:
    """The figures of one plain baseline (no answer: "cited" and the rates are not defined;
    "answer contains gold" reads the top passage, pasted whole)."""
    at_1 = at_5 = at_10 = gold = 0
    ranks: list[int | None] = []
    for item, ranking in zip(items, found, strict=True):
        rank = _rank(ranking.articles, ids.get(evidence_url(item)))
        ranks.append(rank)
        at_1 += rank == 1
        at_5 += rank is not None and rank <= K
        at_10 += rank is not None
        gold += normalise(item["answer_text"]) in normalise(ranking.top_passage)
    n = len(items)
    return {
        "recall_at_1": at_1 / n,
        "recall_at_5": at_5 / n,
        "recall_at_10": at_10 / n,
        "answer_contains_gold": gold / n,
        "ranks": ranks,
    }


def score_unanswerable(
    docs: Sequence[dict[str, Any]], kinds: Sequence[str] | None = None
) -> dict[str, Any]:
    """One mode's answers to the questions the corpus cannot answer; with `kinds` (each
    question's), the same rates per kind under "kinds"."""
    n = max(len(docs), 1)
    rates: dict[str, Any] = {
        "n": len(docs),
        "refused": sum(map(refused, docs)) / n,
        "no_citation": sum(not d["citations"] for d in docs) / n,
        "refused_or_uncited": sum(refused(d) or not d["citations"] for d in docs) / n,
        "unmentioned": sum(map(unmentioned, docs)) / n,
        "declined": sum(map(declined, docs)) / n,
        "not_cited": sum(map(caveated, docs)) / n,
        "declined_or_caveated": sum(declined(d) or caveated(d) for d in docs) / n,
        "relaxed": sum(bool(d["relaxed"]) for d in docs),
    }
    if kinds is not None:
        rates["kinds"] = {
            kind: score_unanswerable([d for d, k in zip(docs, kinds, strict=True) if k == kind])
            for kind in dict.fromkeys(kinds)
        }
    return rates


def _within(filters: dict[str, Any], published_at: str | None) -> bool:
    """Whether an article published at `published_at` passes the answer's time filter (by
    day, as the store filters: since's day to the day before until)."""
    time = filters.get("time")
    if time is None or published_at is None:
        return True
    day = datetime.fromisoformat(published_at).astimezone(UTC).date()
    since, until = time.get("since"), time.get("until")
    if since and day < datetime.fromisoformat(since).astimezone(UTC).date():
        return False
    return not (until and day > (datetime.fromisoformat(until) - timedelta(microseconds=1)).date())


SOFT = ("places", "actors", "event_types")


def diagnose(
    items: Sequence[dict[str, Any]],
    plain: dict[str, Any],
    modes: dict[str, Any],
    docs: dict[str, list[dict[str, Any]]],
    ids: dict[str, int],
    published: dict[int, str],
    against: str = "hybrid",
) -> dict[str, Any]:
    """Where the points go: the questions the plain whole-article baseline has at 5 and
    `against` does not, counted by what `ask` did on them (first cause that applies):

    - time_excluded: a time filter was kept and the evidence's date is outside it;
    - not_retrieved: the evidence is not among the passages `ask` retrieved (30);
    - ranked_below_10 / ranked_6_to_10: it is, but its article comes after the first 10
      distinct articles there, or 6th to 10th;
    each of the last three with `_soft` when places, groups or kinds of event were in the
    filters (they rank the articles naming them first);
    and beside them how many had each kind of filter (`with_filter`), how many the other `ask`
    modes have at 5 and how many answers relaxed a filter. Also the reverse (`gained`): the
    questions `against` has at 5 and the baseline does not; and over every dev question, per
    kind of filter in the answer (`by_filter`): how many questions, and how many of them the
    baseline and `against` have at 5."""
    base = plain["dense_article"]["ranks"]
    mine = modes[against]["ranks"]
    causes: dict[str, int] = {}
    kinds: dict[str, int] = {}
    others = {mode: 0 for mode in MODES if mode != against}
    relaxed = 0
    lost: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not (base[i] is not None and base[i] <= K) or (mine[i] is not None and mine[i] <= K):
            continue
        doc = docs[against][i]
        filters = doc["filters"]
        soft = [name for name in SOFT if name in filters]
        wanted = ids.get(evidence_url(item))
        if not _within(filters, published.get(wanted) if wanted is not None else None):
            cause = "time_excluded"
        else:
            if mine[i] is not None:
                cause = "ranked_6_to_10"
            elif any(h["article_id"] == wanted for h in doc["retrieved"]):
                cause = "ranked_below_10"
            else:
                cause = "not_retrieved"
            cause += "_soft" if soft else ""
        causes[cause] = causes.get(cause, 0) + 1
        for kind in [*SOFT, "time"] if filters else ["none"]:
            if kind in filters or kind == "none":
                kinds[kind] = kinds.get(kind, 0) + 1
        relaxed += bool(doc["relaxed"])
        for mode in others:
            rank = modes[mode]["ranks"][i]
            others[mode] += rank is not None and rank <= K
        lost.append(
            {
                "id": item["id"],
                "cause": cause,
                "plain_rank": base[i],
                "rank": mine[i],
                "filters": sorted(filters),
                "relaxed": doc["relaxed"],
                "as_of": doc["as_of"],
            }
        )
    by_filter: dict[str, dict[str, int]] = {}
    for i, doc in enumerate(docs[against]):
        present = [k for k in (*SOFT, "time") if k in doc["filters"]] or ["none"]
        for kind in present:
            row = by_filter.setdefault(kind, {"n": 0, "plain_at_5": 0, "at_5": 0})
            row["n"] += 1
            row["plain_at_5"] += base[i] is not None and base[i] <= K
            row["at_5"] += mine[i] is not None and mine[i] <= K
    gained = sum(
        (mine[i] is not None and mine[i] <= K) and not (base[i] is not None and base[i] <= K)
        for i in range(len(items))
    )
    return {
        "against": against,
        "lost": len(lost),
        "causes": dict(sorted(causes.items(), key=lambda kv: -kv[1])),
        "with_filter": kinds,
        "by_filter": by_filter,
        "relaxed": relaxed,
        "other_modes_at_5": others,
        "gained": gained,
        "questions": lost,
    }
