"""Text search on PostgreSQL: the passages' `fts` column and the queries over it.

A passage's `fts` is its article's folded title (weight A) and its own folded text (weight B),
the words `index.text.fold` gives, as SQLite's FTS5 table holds them. Queries arrive in the
small FTS5 dialect `index.search` writes (quoted strings ORed, a `*` after a prefix) and become a
tsquery of the same words: a quoted string of several words is a phrase, as in FTS5, its last
word a prefix when starred. Anything else in an expression (bare words, AND, NOT, brackets, a
string left open) makes it unreadable: no hits, as FTS5 finds nothing for a query it cannot
parse. The rank weights the title twice the text and divides by the log of the passage's
length, as BM25 (title weight 2.0, text 1.0) favours short passages that repeat a word. It has
no inverse document frequency and its own length normalisation, so scores differ from SQLite's
in value and the order of close hits can differ, the more so where several words are asked for
(a rare word counts no more than a common one).
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

_STRING = r'"((?:[^"]|"")*)"(\*?)'  # FTS5 doubles a quote inside a string
_TERM = re.compile(_STRING)
_EXPRESSION = re.compile(rf"\s*{_STRING}(?:\s*\bOR\b\s*{_STRING})*\s*")


def tsquery(expression: str) -> str:
    """An FTS5 expression of `index.search` (`"word" OR "pre"* ...`) -> the text of a tsquery
    ('word' | 'pre':*), to pass to `to_tsquery('simple', ...)`. Empty when no word is left or
    the expression is not of that dialect."""
    if _EXPRESSION.fullmatch(expression) is None:
        return ""
    terms = []
    for quoted, star in _TERM.findall(expression):
        words = fold(quoted).split()
        if not words:
            continue  # an empty string matches nothing
        lexemes = ["'" + word.replace("'", "''") + "'" for word in words]
        lexemes[-1] += ":*" if star else ""
        terms.append(lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")")
    return " | ".join(dict.fromkeys(terms))


def fts_values(title: str, text: str) -> tuple[str, str]:
    """The parameters of FTS_VECTOR for a passage of an article titled `title`."""
    return fold(title), fold(text)
