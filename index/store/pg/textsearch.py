"""Text search on PostgreSQL: the passages' `fts` column and the queries over it.

A passage's `fts` is its article's folded title (weight A) and its own folded text (weight B), the
words `index.text.fold` gives, as SQLite's FTS5 table holds them. Queries arrive in the small FTS5
dialect `index.retrieve.search` writes (quoted strings ORed, a `*` after a prefix) and become a
tsquery of the same words: a quoted string of several words is a phrase, as in FTS5, its last word a
prefix when starred. Anything else in an expression (bare words, AND, NOT, brackets, a string left
open) makes it unreadable: no hits, as FTS5 finds nothing for a query it cannot parse. The rank is
BM25's shape as FTS5 computes it, summed over the quoted strings of the query: each one's inverse
document frequency over every passage (`TermStats`: counted once, then cached for a while) times its
weight in the passage, where `ts_rank` gives a saturating term frequency (a title match weighted as
BM25 weights a title column of weight 2: see RANK) divided by 1 + the log of the passage's length.
Scores differ from SQLite's in value, and the order of close hits can differ.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from index.text import fold

# The `fts` value of (folded title, folded text) parameters: format with their placeholders.
FTS_VECTOR = (
    "setweight(to_tsvector('simple', {title}), 'A') || "
    "setweight(to_tsvector('simple', {text}), 'B')"
)
# The weight of one query term in a passage's `fts`: weights {D, C, B, A}; normalization 1
# divides by 1 + log(length). ts_rank counts a term by its best-weighted occurrence plus fast-
# shrinking shares of the others; with the title at 0.69 of the text's 0.5 a title match counts
# 1.375 times one text match and one of each 1.63 times, as FTS5's BM25 (k1 = 1.2, the title
# column weighted 2) counts them: 1.375 and 1.57.
RANK = "ts_rank('{{0, 0, 0.5, 0.69}}', {fts}, {query}, 1)"
DF_TTL_S = 600.0  # how long a term's document frequency is reused

_STRING = r'"((?:[^"]|"")*)"(\*?)'  # FTS5 doubles a quote inside a string
_TERM = re.compile(_STRING)
_EXPRESSION = re.compile(rf"\s*{_STRING}(?:\s*\bOR\b\s*{_STRING})*\s*")


def terms(expression: str) -> list[str]:
    """An FTS5 expression of `index.retrieve.search` (`"word" OR "pre"* ...`) -> the tsquery text of
    each of its quoted strings ('word', 'pre':*, ('old' <-> 'city')), each once. Empty when no word
    is left or the expression is not of that dialect."""
    if _EXPRESSION.fullmatch(expression) is None:
        return []
    found = []
    for quoted, star in _TERM.findall(expression):
        words = fold(quoted).split()
        if not words:
            continue  # an empty string matches nothing
        lexemes = ["'" + word.replace("'", "''") + "'" for word in words]
        lexemes[-1] += ":*" if star else ""
        found.append(lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")")
    return list(dict.fromkeys(found))


def tsquery(expression: str) -> str:
    """The whole expression as the text of one tsquery (its terms ORed), to pass to
    `to_tsquery('simple', ...)`; empty as `terms`."""
    return " | ".join(terms(expression))


def idf(passages: int, containing: int) -> float:
    """BM25's inverse document frequency as FTS5 computes it (never below 1e-6)."""
    value = math.log((passages - containing + 0.5) / (containing + 0.5))
    return value if value > 0 else 1e-6


class TermStats:
    """Document frequencies of query terms over every passage, each counted once and reused for
    DF_TTL_S, and the number of passages; for the inverse document frequencies of the rank."""

    def __init__(self, ttl_s: float = DF_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._df: dict[str, tuple[float, int]] = {}
        self._total: tuple[float, int] | None = None

    async def idfs(self, pool: Any, wanted: list[str]) -> list[float]:
        now = time.monotonic()
        if self._total is None or now - self._total[0] > self.ttl_s:
            total = await pool.fetchval("SELECT count(*) FROM passages")
            self._total = (now, int(total))
        missing = [t for t in wanted if t not in self._df or now - self._df[t][0] > self.ttl_s]
        if missing:
            rows = await pool.fetch(
                "SELECT t, (SELECT count(*) FROM passages WHERE fts @@ to_tsquery('simple', t)) "
                "FROM unnest($1::text[]) AS t",
                missing,
            )
            for term, count in rows:
                self._df[term] = (now, int(count))
            if len(self._df) > 50_000:  # forget the oldest half
                for term in sorted(self._df, key=lambda k: self._df[k][0])[:25_000]:
                    del self._df[term]
        passages = self._total[1]
        return [idf(passages, self._df[t][1]) for t in wanted]


def rank_sql(fts: str, first: int, count: int) -> str:
    """The BM25 score of `fts` for `count` terms whose (tsquery text, idf) parameters are
    numbered from `$first`: the sum over terms of idf x weight."""
    parts = []
    for n in range(count):
        term, weight = f"${first + 2 * n}", f"${first + 2 * n + 1}"
        query = f"to_tsquery('simple', {term})"
        parts.append(f"{weight}::float8 * {RANK.format(fts=fts, query=query)}")
    return " + ".join(parts)


def fts_values(title: str, text: str) -> tuple[str, str]:
    """The parameters of FTS_VECTOR for a passage of an article titled `title`."""
    return fold(title), fold(text)
