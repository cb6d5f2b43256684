"""Text search on PostgreSQL: the passages' `fts` column and the queries over it.

A passage's `fts` is its article's folded title (weight A) and its own folded text (weight B),
the words `index.text.fold` gives, as SQLite's FTS5 table holds them. Queries arrive in the
small FTS5 dialect `index.search` writes (quoted words ORed, a `*` after a prefix) and become a
tsquery of the same words. The rank weights the title twice the text and divides by the log of
the passage's length, as BM25 (title weight 2.0, text 1.0) favours short passages that repeat a
word; it has no inverse document frequency.
"""

from __future__ import annotations

import re

from index.text import fold

# The `fts` value of (folded title, folded text) parameters: format with their placeholders.
FTS_VECTOR = (
    "setweight(to_tsvector('simple', {title}), 'A') || "
    "setweight(to_tsvector('simple', {text}), 'B')"
)
# The rank of a passage's `fts` against a tsquery: weights {D, C, B, A} (at most 1 each: the
# title twice the text); normalization 1 divides by 1 + log(length).
RANK = "ts_rank('{{0, 0, 0.5, 1.0}}', {fts}, {query}, 1)"

_TERM = re.compile(r'"([^"]*)"(\*?)')


def tsquery(expression: str) -> str:
    """An FTS5 expression of `index.search` (`"word" OR "pre"* ...`) -> the text of a tsquery
    ('word' | 'pre':*), to pass to `to_tsquery('simple', ...)`. Empty when no word is left."""
    terms = []
    for quoted, star in _TERM.findall(expression):
        for word in fold(quoted).split():
            lexeme = "'" + word.replace("'", "''") + "'"
            terms.append(lexeme + (":*" if star else ""))
    return " | ".join(dict.fromkeys(terms))


def fts_values(title: str, text: str) -> tuple[str, str]:
    """The parameters of FTS_VECTOR for a passage of an article titled `title`."""
    return fold(title), fold(text)
