"""Stage: a sentence's lower-cased tokens -> quantities: "at least 30", "between 10 and 15", "dozens
of", "two hundred and fifty", each read as a Count (a low/best/high range; the rules are in
index/extract/casualties.py's docstring). Also the tokenizer and the token helpers that the casualty
modules share. Side effects: none (pure; regexes compiled once at import)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True, slots=True)
class Count:
    """A casualty figure as a range: low <= best <= high. `civilians`: the text says the
    victims were civilians ("killing 12 civilians", "a child was killed"); not part of the
    figure, so it takes no part in comparing counts."""

    low: int
    best: int
    high: int
    civilians: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.best <= self.high:
            raise ValueError(f"need 0 <= low <= best <= high: {self.low}/{self.best}/{self.high}")


_ZERO: Final = Count(0, 0, 0)

# ---------------------------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(
    r"[a-z0-9]+(?:[-–][a-z0-9]+)+"  # compounds: twenty-three, 12-year-old, no-one, 10-15
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 1,200
    r"|\d+\.\d+"  # 1.2 (million)
    r"|[a-z0-9]+"
    r"|[,;:()\[\].!?–—%-]"
)
_BOUNDARY: Final = frozenset(",;:()[].!?–—-")
_HARD_STOP: Final = frozenset(".;!?")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _at(toks: list[str], i: int) -> str:
    return toks[i] if 0 <= i < len(toks) else ""


# ---------------------------------------------------------------------------------------------
# Number words

_UNITS: Final = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES: Final = {"thousand": 1_000, "million": 1_000_000}
_VAGUE: Final = {
    "dozens": (24, 36, 99),
    "scores": (40, 60, 199),
    "hundreds": (200, 300, 999),
    "thousands": (2_000, 3_000, 9_999),
    "several": (3, 5, 9),
}
_VAGUE_AFTER_A: Final = {"few": (2, 3, 5), "handful": (2, 3, 5)}
_VAGUE_UNIT: Final = {"dozen": 12, "hundred": 100, "thousand": 1_000}
_MONTHS: Final = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_WEEKDAYS: Final = _words("monday tuesday wednesday thursday friday saturday sunday")
_NOT_VICTIMS: Final = (
    _words(
        "years year months month weeks week days day hours hour minutes minute seconds km "
        "kilometres kilometers kilometre kilometer miles mile metres meters metre meter feet "
        "foot percent per times am pm gmt utc bn billion dollars euros kg tonnes tons acres mm "
        "rd th st nd %"
    )
    | _MONTHS
)
_YEAR_VICTIMS: Final = frozenset({"people", "civilians", "persons"})

# modifier phrases -> kind; matched longest first
_MODIFIERS: Final = {
    ("at", "least"): "atleast", ("no", "fewer", "than"): "atleast",
    ("no", "less", "than"): "atleast",
    ("a", "minimum", "of"): "atleast", ("at", "the", "very", "least"): "atleast",
    ("more", "than"): "more", ("over",): "more", ("upwards", "of"): "more",
    ("in", "excess", "of"): "more", ("above",): "more", ("well", "over"): "more",
    ("nearly",): "nearly", ("almost",): "nearly", ("close", "to"): "nearly",
    ("just", "under"): "nearly", ("just", "shy", "of"): "nearly",
    ("fewer", "than"): "fewer", ("less", "than"): "fewer", ("under",): "fewer",
    ("about",): "about", ("around",): "about", ("approximately",): "about",
    ("roughly",): "about", ("some",): "about", ("an", "estimated"): "about",
    ("estimated",): "about", ("approx",): "about",
    ("up", "to"): "upto", ("as", "many", "as"): "upto", ("at", "most"): "upto",
    ("no", "more", "than"): "upto", ("a", "maximum", "of"): "upto",
    ("a", "total", "of"): "plain", ("another",): "plain", ("an", "additional"): "plain",
    ("a", "further"): "plain", ("additional",): "plain", ("further",): "plain",
    ("all",): "plain", ("the",): "plain", ("between",): "between",
}  # fmt: skip
_MODIFIERS_BY_FIRST: Final[dict[str, list[tuple[tuple[str, ...], str]]]] = {}
for _phrase, _kind in sorted(_MODIFIERS.items(), key=lambda item: -len(item[0])):
    _MODIFIERS_BY_FIRST.setdefault(_phrase[0], []).append((_phrase, _kind))

_NUMBER_START: Final = frozenset(_UNITS) | frozenset(_VAGUE) | {"a", "an", "half", "both", "tens"}
_AFTER_A: Final = frozenset({"dozen", "hundred", "thousand", "couple"}) | frozenset(_VAGUE_AFTER_A)


@dataclass(frozen=True, slots=True)
class _Quantity:
    count: Count
    vague: bool
    end: int


# ---------------------------------------------------------------------------------------------
# Quantities


def _quantity(toks: list[str], i: int) -> _Quantity | None:
    """A number with its modifier ("at least 30", "between 10 and 15", "dozens of")."""
    kind, j = "plain", i
    for phrase, phrase_kind in _MODIFIERS_BY_FIRST.get(_at(toks, i), ()):
        if tuple(toks[i : i + len(phrase)]) == phrase:
            kind, j = phrase_kind, i + len(phrase)
            break
    base = _number(toks, j)
    if base is None:
        return None
    count, k, vague = base
    nxt = _at(toks, k)
    if nxt in _NOT_VICTIMS:
        return None  # "3 days", "5 km", "12 March"
    if kind == "between":
        upper = _number(toks, k + 1) if nxt == "and" and count.low == count.high else None
        if upper is None or upper[2] or upper[0].low <= count.low:
            return None
        low, high = count.low, upper[0].low
        return _Quantity(Count(low, (low + high) // 2, high), False, upper[1])
    if vague or count.low != count.high:
        return _Quantity(count, vague, k)
    if nxt == "or" and _at(toks, k + 1) in ("more", "so"):
        kind, k = ("atleast" if _at(toks, k + 1) == "more" else "about"), k + 2
    elif nxt == "plus":
        kind, k = "atleast", k + 1
    return _Quantity(_modified(kind, count.low), False, k)


def _modified(kind: str, n: int) -> Count:
    open_high = max(n, (3 * n + 1) // 2)  # ceil(1.5 * n)
    if kind == "atleast":
        return Count(n, n, open_high)
    if kind == "more":
        return Count(n + 1, n + 1, max(n + 1, open_high))
    if kind == "nearly":
        low = max(0, n - (n + 4) // 5)
        return Count(low, max(low, n - 1), n)
    if kind == "fewer":
        top = n - 1
        return Count(1, (top + 1) // 2, top) if top >= 1 else _ZERO
    if kind == "about":
        return Count(max(1, 9 * n // 10) if n else 0, n, -(-11 * n // 10))
    if kind == "upto":
        return Count(-(-2 * n // 3), n, n)  # ceil(n / 1.5)
    return Count(n, n, n)


def _number(toks: list[str], j: int) -> tuple[Count, int, bool] | None:
    """(count, end, vague) of the number at j: digits, words, vague words and ranges."""
    tok = _at(toks, j)
    if not tok:
        return None
    k = j + 1
    if tok[0].isdigit():
        parsed = _digits(toks, j)
        if parsed is None:
            return None
        if isinstance(parsed[0], Count):
            return parsed[0], parsed[1], False
        value, k = parsed
    elif tok in _UNITS or ("-" in tok and tok.split("-", 1)[0] in _UNITS):
        words = _number_words(toks, j)
        if words is None:
            return None
        value, k = words
    elif tok in ("a", "an", "half"):
        return _number_after_article(toks, j)
    elif tok == "both":
        return Count(2, 2, 2), k, False
    elif tok in ("tens", "hundreds") and toks[k : k + 2] == ["of", "thousands"]:
        low, best, high = (20_000, 30_000, 99_999) if tok == "tens" else (200_000, 300_000, 999_999)
        return _vague(toks, k + 2, low, best, high)
    elif tok in _VAGUE:
        return _vague(toks, k, *_VAGUE[tok])
    else:
        return None
    if _at(toks, k) == "dozen":
        value, k = value * 12, k + 1
    if _at(toks, k) in ("to", "or", "-", "–") and _at(toks, k + 1) not in ("more", "so"):
        upper = _number(toks, k + 1)  # "10 to 15", "two or three"
        if upper is not None and not upper[2] and upper[0].low == upper[0].high > value:
            high = upper[0].low
            return Count(value, (value + high) // 2, high), upper[1], False
    return Count(value, value, value), k, False


def _digits(toks: list[str], j: int) -> tuple[int, int] | tuple[Count, int] | None:
    tok, k = toks[j], j + 1
    if "-" in tok or "–" in tok:  # "10-15"; "12-year-old" is no count
        low_text, _, high_text = tok.replace("–", "-").partition("-")
        if low_text.isdigit() and high_text.isdigit() and int(low_text) < int(high_text):
            low, high = int(low_text), int(high_text)
            return Count(low, (low + high) // 2, high), k
        return None
    scale = _SCALES.get(_at(toks, k))
    if "." in tok:  # "1.2 million"; a bare decimal is no count
        return (int(float(tok.replace(",", "")) * scale), k + 1) if scale else None
    if not tok.replace(",", "").isdigit():
        return None  # "3rd", "5km"
    value = int(tok.replace(",", ""))
    if scale is not None:
        return value * scale, k + 1
    if 1900 <= value <= 2100 and "," not in tok and _at(toks, k) not in _YEAR_VICTIMS:
        return None  # a year
    return value, k


def _number_after_article(toks: list[str], j: int) -> tuple[Count, int, bool] | None:
    """ "a dozen", "half a dozen", "a hundred", "a couple of", "a few", "a handful of"."""
    tok, nxt, k = toks[j], _at(toks, j + 1), j + 1
    if tok == "half":
        if nxt == "a" and _at(toks, k + 1) == "dozen":
            return Count(6, 6, 6), k + 2, False
        return None
    if nxt == "dozen":
        return Count(12, 12, 12), k + 1, False
    if nxt in ("hundred", "thousand"):
        words = _number_words(toks, k, start=1)
        return (Count(words[0], words[0], words[0]), words[1], False) if words else None
    if nxt == "couple":
        k += 1
        return Count(2, 2, 2), k + 1 if _at(toks, k) == "of" else k, False
    if nxt in _VAGUE_AFTER_A:
        return _vague(toks, k + 1, *_VAGUE_AFTER_A[nxt])
    return None


def _vague(toks: list[str], k: int, low: int, best: int, high: int) -> tuple[Count, int, bool]:
    unit = _VAGUE_UNIT.get(_at(toks, k))  # "several dozen", "a few hundred"
    if unit is not None:
        low, best, high, k = low * unit, best * unit, high * unit, k + 1
    if _at(toks, k) == "of":
        k += 1
    return Count(low, best, high), k, True


def _number_words(toks: list[str], j: int, start: int = 0) -> tuple[int, int] | None:
    """ "twenty-three" -> 23, "two hundred and fifty" -> 250, "a thousand" (start=1) -> 1000."""
    total, current, k, seen, after_scale = 0, start, j, start > 0, False
    while k < len(toks):
        tok = toks[k]
        if tok in _UNITS:
            current += _UNITS[tok]
            after_scale = False
        elif "-" in tok and all(part in _UNITS for part in tok.split("-")):
            current += sum(_UNITS[part] for part in tok.split("-"))
            after_scale = False
        elif tok == "hundred" and seen:
            current, after_scale = max(current, 1) * 100, True
        elif tok in _SCALES and seen:
            total += max(current, 1) * _SCALES[tok]
            current, after_scale = 0, True
        elif not (tok == "and" and after_scale and _at(toks, k + 1) in _UNITS):
            break
        seen = True
        k += 1
    return (total + current, k) if seen else None
