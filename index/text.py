"""Stage: text -> its folded words, the one form every matcher compares (keyword watches, the
full-text index and its queries, actor and place names, story shingles). Side effects: none
visible; an in-memory SQLite FTS5 table, opened on first use, tells how the index's tokenizer
folds each character not seen before.

The fold works character by character, so every folded character maps back to one character of
the input (`fold_with_offsets`):
- NFKC first: width forms, ligatures and compatibility digits become plain ("ＩＳＩＳ" -> "isis",
  "ﬁ" -> "fi", "①" -> "1");
- then what the full-text index's tokenizer does (`unicode61 remove_diacritics 2`, see
  index/store/sqlite/migrations/0005_fts.sql): letters, digits and private-use characters are word
  characters, lower-cased and with the diacritics of Latin letters removed ("Ḥalab" -> "halab",
  "Łódź" -> "łodz"; "ß", "ł", "ø" and Cyrillic or Greek letters are kept as they are); anything
  else, "_" and every hyphen and dash included, separates words;
- apostrophes separate words, the transliteration marks for hamza and ayn as well ("Sana'a",
  "Sana’a" and "Sanaʿa" are all `sana a`), where the tokenizer would keep the modifier letters
  (ʼ ʻ ʾ ʿ) inside a word;
- invisible characters inside a word are dropped: the soft hyphen, zero widths, the word
  joiner, the byte-order mark and the Arabic tatweel ("Bakh\\u00admut" -> "bakhmut").

The index stores `fold(title)` and `fold(text)` (index/store/sqlite/store.py), so a passage's
indexed words are exactly `words(text)`, and FTS5 re-tokenizing folded words changes nothing (a test
checks every character). A keyword watch and a search therefore agree on every word. Domain rules
(actor aliases' Arabic article and transliteration digraphs, place-name variants) live with their
matchers, on top of this fold.
"""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterable

FOLD_VERSION = 1  # raise it when the fold changes: caches of folded names are then rebuilt
_TOKENIZER = "unicode61 remove_diacritics 2"  # as index/store/sqlite/migrations/0005_fts.sql
# Apostrophes the tokenizer counts as letters (modifier letters): made separators, as "'" and "’".
_APOSTROPHE_LETTERS = "\u02bc\u02bb\u02be\u02bf"
# Soft hyphen, tatweel, zero width space / non-joiner / joiner, word joiner, byte-order mark.
_INVISIBLE = "\u00ad\u0640\u200b\u200c\u200d\u2060\ufeff"


class _Tokenizer:
    """The full-text index's tokenizer, asked about single characters: for each, its folded
    form, "" when dropped (a combining diacritic) or None when it separates words."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def fold(self, chars: Iterable[str]) -> dict[str, str | None]:
        wanted = list(dict.fromkeys(chars))
        with self._lock:
            db = self._db or self._open()
            # "a" on both sides: the character joins them, vanishes or splits them.
            db.executemany(
                "INSERT INTO chars (rowid, x) VALUES (?, ?)",
                [(n, f"a{c}a") for n, c in enumerate(wanted)],
            )
            found: dict[int, list[str]] = {}
            for term, doc in db.execute("SELECT term, doc FROM chars_terms"):
                found.setdefault(doc, []).append(term)
            db.execute("DELETE FROM chars")
        out: dict[str, str | None] = {}
        for n, c in enumerate(wanted):
            terms = found.get(n, [])
            out[c] = terms[0][1:-1] if len(terms) == 1 else None
        return out

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        db.execute(f"CREATE VIRTUAL TABLE chars USING fts5(x, tokenize = '{_TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE chars_terms USING fts5vocab(chars, 'instance')")
        self._db = db
        return db


_TOKENIZER_CHARS = _Tokenizer()


def _fold_code_points(code_points: Iterable[int]) -> dict[int, str]:
    """Each code point's fold: its NFKC form, each character of that as the tokenizer folds it
    (a separator as one space), but the apostrophe letters as spaces and invisible ones as ""."""
    forms = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in code_points}
    tokenized = _TOKENIZER_CHARS.fold(c for form in forms.values() for c in form if c > "\x7f")

    def one(char: str) -> str:
        if char in _INVISIBLE:
            return ""
        if char in _APOSTROPHE_LETTERS:
            return " "
        if char <= "\x7f":
            return _ascii_fold(char)
        folded = tokenized[char]
        return " " if folded is None else folded

    return {cp: "".join(map(one, form)) for cp, form in forms.items()}


def _ascii_fold(char: str) -> str:
    return char.lower() if char.isalnum() else " "


class _FoldTable(dict[int, str]):
    """code point -> its fold, for `str.translate`; filled as characters are first seen."""

    def __missing__(self, code_point: int) -> str:
        self.update(_fold_code_points([code_point]))
        return self[code_point]

    def learn(self, text: str) -> None:
        """Fold every new character of `text` at once (one question to the tokenizer)."""
        new = [ord(c) for c in set(text) if ord(c) not in self]
        if new:
            self.update(_fold_code_points(new))


_FOLD = _FoldTable({cp: _ascii_fold(chr(cp)) for cp in range(128)})


def _fold_chars(text: str) -> str:
    """The text folded character by character, each separator one space (not collapsed)."""
    if not text.isascii():
        _FOLD.learn(text)
    return text.translate(_FOLD)


def words(text: str) -> list[str]:
    """The folded words of the text, in order: "Al-Qā’ida's fighters" ->
    ["al", "qa", "ida", "s", "fighters"]. The full-text index holds exactly these words."""
    return _fold_chars(text).split()


def fold(text: str) -> str:
    """The text's words joined by single spaces: the key for comparing names and terms
    ("Deir ez-Zor" -> "deir ez zor", "ＢＡＫＨＭＵＴ" -> "bakhmut", "Ḥalab" -> "halab")."""
    return " ".join(_fold_chars(text).split())


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """The text folded character by character (each separator one space, runs not collapsed)
    and, for each folded character, the index in `text` of the character it came from, then a
    last entry `len(text)`. `folded.split() == words(text)`."""
    folded = _fold_chars(text)
    if text.isascii():
        return folded, list(range(len(text) + 1))
    offsets: list[int] = []
    for i, char in enumerate(text):
        offsets.extend([i] * len(_FOLD[ord(char)]))
    offsets.append(len(text))
    return folded, offsets
