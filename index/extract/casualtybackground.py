"""Stage: a mention's clause (tokens) -> whether it speaks of the reported event or of
background: earlier, cumulative or war-long tolls ("since March", "this year", "bringing the
toll to", "the war has killed"; the full list is in index/extract/casualties.py's docstring).
Side effects: none (pure)."""

from __future__ import annotations

from typing import Final

from index.extract.casualtycount import _BOUNDARY, _MONTHS, _WEEKDAYS, _at, _words

_MAX_CLAUSE = 40  # tokens read either side of a mention for background markers

# background markers
_SUPERLATIVES: Final = _words(
    "deadliest worst bloodiest biggest largest heaviest highest first most fiercest strongest "
    "single major"
)
_WAR_NOUNS: Final = _words(
    "war wars conflict insurgency invasion occupation uprising revolution hostilities"
)
_BG_WORDS: Final = frozenset(
    {"overall", "cumulative", "previous", "previously", "ago", "anniversary"}
)
_BG_PAIRS: Final = frozenset(
    {
        ("this", "year"), ("last", "year"), ("last", "month"), ("last", "week"),
        ("this", "month"), ("past", "year"), ("past", "month"), ("past", "decade"),
        ("past", "years"), ("past", "months"), ("an", "earlier"), ("the", "earlier"),
        ("previous", "year"),
    }
)  # fmt: skip
_BG_AFTER_UNITS: Final = _words("day days week weeks month months year years")
_BG_TIME_PREPS: Final = frozenset({"in", "since", "during", "throughout", "last", "of", "early"})
_BG_PUSH: Final = _words("bringing brings raising raises taking takes pushing pushes")
_BG_PUSH_TARGETS: Final = frozenset({"toll", "total", "number", "tally", "figure", "count"})
_SINCE_RECENT: Final = _WEEKDAYS | frozenset({"yesterday", "dawn", "morning", "overnight"})
_SINCE_THE_EVENT: Final = _words(
    "morning afternoon evening weekend attack attacks blast explosion explosions bombing strike "
    "strikes assault raid shelling fighting clashes incident ambush"
)


def _is_background(toks: list[str], start: int, end: int) -> bool:
    """Does the clause around toks[start:end] speak of earlier or cumulative tolls?"""
    left, stop = start, max(0, start - _MAX_CLAUSE)
    while left > stop and toks[left - 1] not in _BOUNDARY:
        left -= 1
    right, stop = end, min(len(toks), end + _MAX_CLAUSE)
    while right < stop and toks[right] not in _BOUNDARY:
        right += 1
    clause = toks[left:right]
    if _has_marker(clause):
        return True
    if left > 1 and clause[0] in ("which", "that", "when", "where"):
        # "the conflict, which has killed ...", "the worst since March, when 60 were killed"
        before, stop = left - 1, max(0, left - 1 - _MAX_CLAUSE)
        while before > stop and toks[before - 1] not in _BOUNDARY:
            before -= 1
        previous = toks[before : left - 1]
        if _has_marker(previous, strict_since=True) or (
            previous[-1:] and previous[-1] in _WAR_NOUNS and _at(clause, 1) in ("has", "have")
        ):
            return True
    # a short opening adverbial sets the time of the whole sentence: "Since October, ..."
    comma = toks.index(",", 0, 8) if "," in toks[:8] else -1
    return 0 < comma < left and comma <= 6 and _has_marker(toks[:comma])


def _is_year(tok: str) -> bool:
    return len(tok) == 4 and tok.isdigit() and 1900 <= int(tok) <= 2100


def _has_marker(clause: list[str], *, strict_since: bool = False) -> bool:
    perfect = "have" in clause or "has" in clause
    for x, tok in enumerate(clause):
        prev = clause[x - 1] if x else ""
        nxt = _at(clause, x + 1)
        if tok in _BG_WORDS or (prev, tok) in _BG_PAIRS:
            return True
        if tok == "total" and prev != "a":
            return True
        if tok == "since":
            recent = nxt in _SINCE_RECENT or (
                nxt == "the" and _at(clause, x + 2) in _SINCE_THE_EVENT
            )
            superlative = any(w in _SUPERLATIVES for w in clause[max(0, x - 5) : x])
            if recent or (superlative and not strict_since):
                continue  # "since Tuesday", "the deadliest attack since 2019"
            return True
        if tok in _BG_TIME_PREPS and (
            (nxt in _MONTHS and not _at(clause, x + 2)[:1].isdigit())
            or _is_year(nxt)
            or (nxt == "the" and _is_year(_at(clause, x + 2)))  # "in the 2019 attack"
        ):
            return True
        if tok in ("after", "before") and prev in _BG_AFTER_UNITS:
            return True
        if tok in _BG_PUSH and any(w in _BG_PUSH_TARGETS for w in clause[x + 1 : x + 4]):
            return True
        if tok in _WAR_NOUNS and (
            nxt in ("has", "have")
            or (perfect and prev in ("the", "this") and _at(clause, x - 2) in ("in", "during"))
        ):
            return True
    return False
