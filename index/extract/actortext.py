"""Stage: text -> the text as the actor matcher sees it (`normalise`), with the way back to the
original offsets. Side effects: none.

Case folded (kept for the case-sensitive automaton), diacritics stripped (the shared fold of
index/text.py, plus the transliterations news English spells with two letters), apostrophes
dropped, dashes made spaces, runs of space collapsed, the Arabic article dropped at word starts
and the English possessive "'s" dropped. Catalogue aliases and the texts searched go through the
same function, so both sides agree.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from index.text import fold_with_offsets

# ' ’ ‘ ʼ ʻ ` ´ ′ and the transliteration marks for hamza and ayn (ʾ ʿ): dropped.
_APOSTROPHES = "'\u2019\u2018\u02bc\u02bb`\u00b4\u2032\u02be\u02bf"
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
# Whitespace other than the plain space (str.isspace), and dashes: a run of them is one space.
_BREAKS = (
    "\t\n\r\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000" + _DASHES
)
_SPACE_CHARS = frozenset(c for c in map(chr, range(0x3100)) if c.isspace()) | frozenset(
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
)
# Every edit starts at an apostrophe, a break or a non-ASCII character, so the scan can skip the
# plain ASCII between them (a pattern that opens with a character set is searched quickly).
_RUN = re.compile(
    rf"['`{_BREAKS}\x80-\U0010ffff](?:"
    rf"(?<=[{_APOSTROPHES}])(?P<apostrophe>)"
    rf"|(?<=[{_BREAKS}])(?P<space>)[ {_BREAKS}]*"
    rf"|(?P<other>)[^\x00-\x7f{_APOSTROPHES}{_BREAKS}]*)"
)
# The Arabic article at a word start: al-/el- (or "al "/"el " before a word), and the
# sun-letter forms an-, ad-, ar-, as-, ash-, at-, ath-, az-, adh- (also aš-, aṣ-, aḍ-, aṭ-, aẓ-).
_ARTICLE = re.compile(
    rf"[AaEe](?<!\w[AaEe])(?:[Ll](?:[{_DASHES}]\s*|\s+)(?=\w)"
    rf"|(?<=[Aa])(?:[Ss][Hh]|[Tt][Hh]|[Dd][Hh]|[DdNnRrSsTtZz\u0161\u0160\u1e63\u1e62\u1e0d\u1e0c"
    rf"\u1e6d\u1e6c\u1e93\u1e92\u1e6f\u1e6e\u1e0f\u1e0e])[{_DASHES}](?=\w))"
)
_DOUBLE_SPACE = re.compile(" {2,}")
# Letters the shared fold keeps (ß, ł, ø); letters of scholarly Arabic (DIN 31635, ISO 233) and
# Slavic transliteration that news English spells with two letters (Ǧabhat = Jabhat, aš-Šām =
# ash-Sham, Žytomyr = Zhytomyr); invisible characters inside words (soft hyphen, zero widths).
_SPECIAL = {
    "ß": "ss", "ẞ": "SS", "ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
    "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ħ": "h", "Ħ": "H", "ǧ": "j", "Ǧ": "J", "š": "sh", "Š": "Sh", "č": "ch", "Č": "Ch",
    "ž": "zh", "Ž": "Zh", "ṯ": "th", "Ṯ": "Th", "ḏ": "dh", "Ḏ": "Dh", "ḫ": "kh", "Ḫ": "Kh",
    "ġ": "gh", "Ġ": "Gh", "\u0640": "", "\u00ad": "", "\u200b": "", "\u200c": "",
    "\u200d": "", "\u2060": "", "\ufeff": "",
}  # fmt: skip


def _fold_char(char: str) -> str:
    """One non-ASCII character as the shared fold has it (index/text.py: no diacritics, a
    separator as a space), in its own case, unless it is transliterated (`_SPECIAL`). No
    character of the result lower-cases to several, so `str.lower` keeps string lengths."""
    if char in _SPECIAL:
        return _SPECIAL[char]
    folded = fold_with_offsets(char)[0]
    upper = folded.upper()
    return upper if char.isupper() and len(upper) == len(folded) else folded


@lru_cache(maxsize=65536)
def _fold_run(run: str) -> tuple[str, tuple[int, ...]]:
    """A run of non-ASCII characters folded, and the cumulative length of the replacement after
    each character (for mapping a position inside the replacement back to its character)."""
    pieces = [_fold_char(c) for c in run]
    ends, total = [], 0
    for piece in pieces:
        total += len(piece)
        ends.append(total)
    return "".join(pieces), tuple(ends)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


@dataclass(slots=True)
class _Normalised:
    """A text with case kept but the other normalisations applied, and the way back.

    The normalised text is a sequence of segments: verbatim copies of plain ASCII stretches of
    the original (one character each way) and replacements of an edited original span
    (`orig_ends`; `runs` holds per-character detail for a replaced run of several characters).
    Removed spans leave no segment; `article_ends` maps the end of a dropped article to its start,
    so a match that begins right after "al-" can take the article in."""

    source: str
    text: str
    norm_starts: list[int]
    orig_starts: list[int]
    orig_ends: list[int]
    verbatim: list[bool]
    runs: dict[int, tuple[int, ...]] = field(default_factory=dict)
    article_ends: dict[int, int] = field(default_factory=dict)

    def _original(self, n: int, after: bool) -> int:
        """Where normalised character n came from (its end in the original when `after`)."""
        i = bisect_right(self.norm_starts, n) - 1
        offset = n - self.norm_starts[i]
        if self.verbatim[i]:
            return self.orig_starts[i] + offset + after
        ends = self.runs.get(i)
        if ends is None:
            return self.orig_ends[i] if after else self.orig_starts[i]
        return self.orig_starts[i] + bisect_right(ends, offset) + after

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that produced normalised text[start:end]."""
        first = self._original(start, after=False)
        first = self.article_ends.get(first, first)
        last = self._original(end - 1, after=True)
        while last < len(self.source) and unicodedata.combining(self.source[last]):
            last += 1  # a decomposed diacritic on the last letter belongs to the mention
        return first, last

    def offsets(self) -> list[int]:
        """For each normalised character, where it came from in the original; then len(original)."""
        return [self._original(n, after=False) for n in range(len(self.text))] + [len(self.source)]


def _normalise(text: str) -> _Normalised:
    size = len(text)
    events = [(m.start(), m.end(), m.lastgroup) for m in _RUN.finditer(text)]
    extra: list[tuple[int, int, str | None]] = [
        (m.start(), m.end(), "article") for m in _ARTICLE.finditer(text)
    ]
    if "  " in text:
        extra += [(m.start(), m.end(), "space") for m in _DOUBLE_SPACE.finditer(text)]
    if extra:
        events = sorted(events + extra)
    norm = _Normalised(text, "", [], [], [], [])
    parts: list[str] = []
    n = pos = 0

    def add(part: str, start: int, end: int, verbatim: bool) -> None:
        nonlocal n
        parts.append(part)
        norm.norm_starts.append(n)
        norm.orig_starts.append(start)
        norm.orig_ends.append(end)
        norm.verbatim.append(verbatim)
        n += len(part)

    for start, end, kind in events:
        if end <= pos:
            continue  # inside an edit already made (the dash of "al-", a space run's tail)
        start = max(start, pos)
        if kind == "space":
            first = start
            while first > pos and text[first - 1] == " ":
                first -= 1
            while end < size and text[end] in _SPACE_CHARS:
                end += 1
            if first > pos:
                add(text[pos:first], pos, first, True)
            add(" ", first, end, False)
        elif kind == "apostrophe":
            if start > pos:
                add(text[pos:start], pos, start, True)
            possessive = (
                start > 0
                and _is_word(text[start - 1])
                and end < size
                and text[end] in "sS"
                and (end + 1 == size or not _is_word(text[end + 1]))
            )
            end += possessive
        else:
            if start > pos:
                add(text[pos:start], pos, start, True)
            if kind == "article":
                norm.article_ends[end] = start
            else:
                replacement, ends = _fold_run(text[start:end])
                if replacement:
                    if len(ends) > 1:
                        norm.runs[len(parts)] = ends
                    add(replacement, start, end, False)
        pos = end
    if pos < size or not parts:
        add(text[pos:], pos, size, True)
    norm.text = "".join(parts)
    return norm


def normalise(text: str, *, casefold: bool = True) -> tuple[str, list[int]]:
    """The text as the matcher sees it, and for each of its characters the index in `text` of
    the character it came from (plus a last entry, `len(text)`).

    Case folded (unless `casefold=False`), diacritics stripped, apostrophes dropped, hyphens and
    dashes made spaces, runs of space collapsed, the Arabic article dropped at word starts (al-,
    el-, "al ", an-, ad-, ar-, as-, ash-, at-, ath-, az-, adh-) and the possessive "'s" dropped."""
    norm = _normalise(text)
    out = norm.text.lower() if casefold else norm.text
    return out, norm.offsets()


def _alias_key(alias: str, case_sensitive: bool) -> str:
    key = " ".join(_normalise(alias).text.split())
    return key if case_sensitive else key.lower()
