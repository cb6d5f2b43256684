"""Stage: a text -> `_Text`, read once (words, sentence starts, byline, event sentences); the
name matches found in it (`_Span`) and the mentions that resolve together (`_Group`).
Side effects: none."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from index.extract.places.spelling import _capitalised, _Token, _tokenize
from index.extract.places.words import _BYLINE, _EVENT_WORDS, _SENTENCE_END

_Evidence = defaultdict[str, float]  # country code or "CC.admin1" -> weight of the text's evidence


@dataclass(slots=True)
class _Span:
    first: int  # token indexes (inclusive) in the full token list
    last: int
    start: int  # original character offsets of the surface
    end: int
    key: str  # the normalised name: mentions sharing it (and `want`) resolve together
    cands: tuple[int, ...]
    want: str = ""  # "admin1" or "town" when the text says which
    locative: bool = False  # after "in", "near", "at", ...
    cue: bool = False  # after a locative, "from", "to", "of" (the city of), an attack verb
    directional: bool = False  # after "from", "to", "towards", ... and no locative


@dataclass(slots=True)
class _Group:
    cands: tuple[int, ...]
    spans: list[_Span]
    choice: int = -1


@dataclass(frozen=True, slots=True)
class _Text:
    """A text with its words and sentence starts, read once."""

    text: str
    tokens: list[_Token]
    starts: list[int]
    title_case: bool  # most words capitalised: capitals say nothing about names
    byline_end: int  # where a leading "By Jane Doe and John Roe" ends (0 if none)
    event_sentences: frozenset[int]  # sentences holding an event word (killed, shelled, ...)

    @classmethod
    def read(cls, text: str, is_name: Callable[[str], bool]) -> _Text:
        """`is_name(key)` says a word may be a name: those do not count for `title_case`."""
        tokens = _tokenize(text)
        long_words = [t for t in tokens if t.end - t.start > 3 and not is_name(t.key)]
        capitals = sum(1 for t in long_words if _capitalised(text[t.start : t.end]))
        title_case = bool(long_words) and capitals > 0.6 * len(long_words)
        byline = _BYLINE.match(text)
        starts = _sentence_starts(text)
        events = frozenset(
            bisect.bisect_right(starts, t.start) - 1
            for t in tokens
            if text[t.start : t.end].casefold() in _EVENT_WORDS
        )
        return cls(text, tokens, starts, title_case, byline.end() if byline else 0, events)

    def sentence_text(self, n: int) -> str:
        end = self.starts[n + 1] if n + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[n] : end]

    def surface(self, token: _Token) -> str:
        return self.text[token.start : token.end]

    def prose_lowercase(self) -> set[str]:
        """Words written in lower case in running prose (not in a URL, path or handle)."""
        if self.title_case:
            return set()
        text, out = self.text, set()
        for t in self.tokens:
            before = text[t.start - 1 : t.start] if t.start else " "
            after = text[t.end : t.end + 1] or " "
            if (
                not _capitalised(self.surface(t))
                and (before.isspace() or before in "(\"'“‘")
                and (after.isspace() or after in ".,;:!?)\"'”’")
            ):
                out.add(t.key)
        return out

    def sentence_of(self, at: int) -> int:
        return bisect.bisect_right(self.starts, at) - 1

    def opens_sentence(self, token: _Token) -> bool:
        floor = self.starts[self.sentence_of(token.start)]
        return not self.text[floor : token.start].strip(" \t\"'“‘([")


def _sentence_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _SENTENCE_END.finditer(text))]
