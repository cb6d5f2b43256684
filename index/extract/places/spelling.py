"""Stage: a text or name -> its matching keys, word by word (`normalise`), and a name's
spelling variants (`_keys`). Side effects: none.

How text and names are spelt for matching
  Text and names are normalised the same way, word by word (`normalise`): case folded,
  diacritics and ayn/hamza marks removed (ʿ ʾ ’ '), hyphens split words, doubled letters
  collapsed and a final "h" after a/e dropped ("Raqqah" ~ "Raqqa" ~ "Raqa"), transliteration
  variants folded (q = k, ai = ay = ei = ey = ae: "Qaem" ~ "Qa'im" ~ "Kaim", "Beiji" ~ "Bayji";
  "Albu"/"Abou" = "Abu"), and an Arabic article (al, el, ad, ar, as, ash, at, az, an, ed, es,
  ez, et) dropped before the next word ("Al-Bukamal" ~ "Bukamal"). Names get variants: "Abu X"
  is also "BuX", "AbuX" and "AlbuX" (and "AlbuX" is "Abu X"); a town "Al X" is also "Abu X"
  unless a town of that name exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from index.extract.places.words import (
    _ACCUSE_WORDS,
    _FEATURE_WORDS,
    _OF_PLACE_WORDS,
    _PERSON_NAMES,
    _PLACE_MODIFIERS,
    _REGION_BEFORE,
    _REGION_WORDS,
    _STOP_WORDS,
    _TOWN_WORDS,
    _words,
)
from index.text import words as folded_words

_ARTICLES = _words("al el ad ar as ash at az an ed es ez et")
# Articles that belong to the name's surface even when separated by a space ("al Bukamal").
_SURFACE_ARTICLES = _words("al el ar ash az ad ez ed")
# Letters the shared fold keeps (index/text.py) that news English writes as plain Latin.
_TRANSLIT = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
     "ə": "e", "ħ": "h"}
)  # fmt: skip
_WORD = re.compile(r"[^\W_](?:[^\W_]|['’ʼʾʿ‘`´](?=[^\W_]))*")
_DOUBLED = re.compile(r"(.)\1+")
# Transliteration variants folded to one spelling: ai/ay/ei/ey/ae ("Beiji" = "Bayji", "Qaem" =
# "Qa'im"), q/k ("Kaim" = "Qaim"); "Albu"/"Abou" = "Abu" as a word (see `_prefix_variants`).
_DIPHTHONG = re.compile(r"[ae][iy]|ae")
_ABU_WORDS = frozenset({"albu", "abou", "abo", "abu"})
_DIGIT = re.compile(r"\d")
_ARTICLE_GAP = re.compile(r"\A[ \t\-‐‑–]*\Z")


@lru_cache(maxsize=200_000)
def _fold(word: str) -> str:
    """One word's matching key: its folded words (index/text.py) run together, so apostrophes
    and ayn/hamza marks vanish; transliterated, doubles collapsed."""
    kept = "".join(folded_words(word)).translate(_TRANSLIT)
    if not kept.isascii():  # modifier letters (stress, palatalisation marks) go too
        kept = "".join(ch for ch in kept if unicodedata.category(ch) != "Lm")
    key = _DIPHTHONG.sub("ay", _DOUBLED.sub(r"\1", kept).replace("q", "k"))
    key = _DOUBLED.sub(r"\1", key)
    if len(key) > 3 and key[-1] == "h" and key[-2] in "ae":
        key = key[:-1]
    return "abu" if key in _ABU_WORDS else key


@dataclass(frozen=True, slots=True)
class _Token:
    key: str
    start: int  # the word, in the original text
    end: int
    lead: int  # where the word's surface begins: before an attached article ("al-")
    article: bool  # an article dropped before the next word


def _raw_words(text: str) -> list[tuple[str, int, int, bool]]:
    """(key, start, end, is_article) per word; an article is dropped before the next word."""
    raw: list[tuple[str, int, int]] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        if end - start > 3 and text[end - 2] in "'’" and text[end - 1] in "sS":
            end -= 2  # a possessive "'s"
        key = _fold(text[start:end])
        if key:
            raw.append((key, start, end))
    last = len(raw) - 1
    return [
        (
            key,
            start,
            end,
            key in _ARTICLES
            and i < last
            and _ARTICLE_GAP.match(text[end : raw[i + 1][1]]) is not None,
        )
        for i, (key, start, end) in enumerate(raw)
    ]


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    lead: int | None = None
    for key, start, end, is_article in _raw_words(text):
        tokens.append(_Token(key, start, end, start if lead is None else lead, is_article))
        lead = None
        if is_article:
            gap = text[end : end + 3]
            attached = gap[:1] in ("-", "‐", "‑") or key in _SURFACE_ARTICLES
            lead = start if attached else None
    return tokens


def _name_key(name: str) -> tuple[str, ...]:
    return tuple(key for key, _start, _end, is_article in _raw_words(name) if not is_article)


def normalise(text: str) -> str:
    """The matching form of a text or name: what `Gazetteer.names()` yields for names."""
    return " ".join(_name_key(text))


def _is_latin(name: str) -> bool:
    for ch in name:
        if ch.isalpha() and not unicodedata.name(ch, "").startswith(("LATIN", "MODIFIER")):
            return False
    return True


def _usable_alternate(name: str) -> bool:
    if len(name) > 60 or name.islower() or _DIGIT.search(name):
        return False  # GeoNames' lowercase alternates are machine transliterations
    if name.isupper() and sum(ch.isalpha() for ch in name) <= 4:
        return False  # airport and other codes
    return name.isascii() or _is_latin(name)


def _capitalised(word: str) -> bool:
    for ch in word:
        if ch.isalpha() and unicodedata.category(ch) != "Lm":
            return ch.isupper()
    return False


def _prefix_variants(key: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """ "Abu Kamal" is also written "Bukamal" and "Abukamal"; "Albukamal" also "Abu Kamal"."""
    first = key[0] if key else ""
    if first == "abu" and len(key) > 1:
        rest = key[1]
    else:
        prefix = next((p for p in ("albu", "abu") if first.startswith(p)), "")
        if not prefix or len(first) < len(prefix) + 3:
            return ()
        rest, key = first[len(prefix) :], ("abu", first[len(prefix) :], *key[1:])
    return tuple((p + rest, *key[2:]) for p in ("bu", "abu", "albu")) + (key,)


def _abu_keys(names: Iterable[str]) -> set[tuple[str, ...]]:
    """ "Abu X" for names written "Al X": the press writes Al-, Albu and Abu for one another."""
    out: set[tuple[str, ...]] = set()
    for name in names:
        words = _raw_words(name)
        if len(words) > 1 and words[0][3] and words[0][0] in ("al", "el"):
            key = tuple(w[0] for w in words[1:] if not w[3])
            if sum(map(len, key)) >= 3:
                out.add(("abu", *key))
    return out


def _keys(names: Iterable[str]) -> set[tuple[str, ...]]:
    keys = {key for key in map(_name_key, names) if sum(len(word) for word in key) >= 3}
    return keys | {v for key in keys for v in _prefix_variants(key)}


_PERSON_KEYS = frozenset(_fold(w) for w in _PERSON_NAMES)
_STOP_KEYS = frozenset(_fold(w) for w in _STOP_WORDS) | _PERSON_KEYS
_MODIFIER_KEYS = frozenset(_fold(w) for w in _PLACE_MODIFIERS)
_REGION_KEYS = frozenset(_fold(w) for w in _REGION_WORDS)
_REGION_BEFORE_KEYS = frozenset(_fold(w) for w in _REGION_BEFORE)
_TOWN_KEYS = frozenset(_fold(w) for w in _TOWN_WORDS)
_OF_PLACE_KEYS = frozenset(_fold(w) for w in _OF_PLACE_WORDS)
_FEATURE_KEYS = frozenset(_fold(w) for w in _FEATURE_WORDS)
_ACCUSE_KEYS = frozenset(_fold(w) for w in _ACCUSE_WORDS)
