"""Stage: text -> [ActorMention] (the armed groups, forces and bodies it names); a user's term ->
[Actor]. Side effects: reads the bundled catalogue (index/data/actors.yaml) and any extra YAML
files once, in `ActorCatalogue.load`.

The catalogue's format is documented at the top of index/data/actors.yaml. Matching is exact on
normalised text, not fuzzy: one Aho-Corasick automaton holds every case-insensitive alias and a
second the case-sensitive ones ("IS", "AA", "SAA"), so a text is scanned twice whatever the size
of the catalogue. Both sides go through the same `normalise`: case folded (except for the
case-sensitive automaton), diacritics stripped (the shared fold of index/text.py), apostrophes
dropped, dashes made spaces, runs of space collapsed, the Arabic article dropped at word starts
("al-Nusra" == "Nusra" == "an-Nusra") and the English possessive "'s" dropped. A match must
start and end on word boundaries; where matches overlap the longest wins. Offsets are mapped back
to the original text.

A case-sensitive alias of one or two letters, or one marked weak, is ignored inside shouting (an
all-caps headline: "THIS IS WAR"). An alias that several actors deliberately share ("SNA": the
Syrian or the Somali National Army) goes to the actor whose countries best agree with the other
actors named in the same text; catalogue order breaks ties.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from index.errors import DataFileError
from index.text import fold, fold_with_offsets

KINDS = frozenset(
    {
        "armed_group",
        "state_forces",
        "militia",
        "international_force",
        "organisation",
        "political_party",
    }
)
RELATIONS = frozenset({"rebranded_as", "merged_into", "split_from", "pledged_to"})
FORWARD = frozenset({"rebranded_as", "merged_into"})  # the declaring actor is the earlier one
BACKWARD = frozenset({"split_from"})  # the declaring actor is the later one
BUNDLED = "index/data/actors.yaml"

_ID = re.compile(r"^[a-z0-9_]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
_ENTRY_KEYS = frozenset(
    {"id", "name", "kind", "countries", "aliases", "lineage", "parent", "notes"}
)
_ALIAS_KEYS = frozenset({"text", "case_sensitive", "weak", "shared"})
_LINEAGE_KEYS = frozenset({"to", "date", "relation"})


class CatalogueError(DataFileError):
    """An actor catalogue file is unreadable or has an invalid entry."""


def actor_key(actor_id: str | None, name: str) -> str:
    """An actor's stable identity wherever it is stored or matched: its catalogue id, else its
    folded name ("name:free euphrates movement")."""
    return actor_id or "name:" + fold(name)


@dataclass(frozen=True, slots=True)
class Lineage:
    """A dated change of identity, as declared on an actor: `relation` to actor `to`."""

    to: str
    date: str  # YYYY-MM or YYYY-MM-DD
    relation: str  # rebranded_as | merged_into | split_from | pledged_to


@dataclass(frozen=True, slots=True)
class Actor:
    """One catalogue entry. `aliases` are as written in the catalogue, canonical name first."""

    id: str
    name: str
    kind: str
    countries: tuple[str, ...]
    aliases: tuple[str, ...]
    lineage: tuple[Lineage, ...] = ()
    parent: str | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class ActorMention:
    """An actor named in a text. `text == original[start:end]`; `alias` is the catalogue alias
    that matched; `weak` when that alias is also a common non-actor term (AA, KIA, RSF)."""

    text: str
    start: int
    end: int
    actor_id: str
    canonical: str
    kind: str
    alias: str
    weak: bool = False


@dataclass(frozen=True, slots=True)
class LineageStep:
    """One link of a lineage walk, as declared: `source` `relation` `target` on `date`."""

    source: str
    relation: str
    target: str
    date: str

    @property
    def earlier(self) -> str:
        return self.target if self.relation in BACKWARD else self.source

    @property
    def later(self) -> str:
        return self.source if self.relation in BACKWARD else self.target


@dataclass(frozen=True, slots=True)
class AliasCollision:
    """A normalised alias used by more than one actor; `declared` when all mark it `shared`."""

    key: str
    case_sensitive: bool
    actor_ids: tuple[str, ...]
    declared: bool


# ---- normalisation ------------------------------------------------------------------------------
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


# ---- matching -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _AliasSpec:
    text: str
    case_sensitive: bool = False
    weak: bool = False
    shared: bool = False


@dataclass(frozen=True, slots=True)
class _Ref:
    """What an automaton key stands for: an alias of one actor."""

    actor: int  # index into the catalogue's actor list
    alias: str
    weak: bool
    guarded: bool  # case-sensitive and short or weak: ignored inside all-caps text


class _Automaton:
    """Typed edge of pyahocorasick: normalised key -> indexes into the catalogue's refs."""

    def __init__(self, keys: dict[str, list[int]]) -> None:
        self._automaton: Any = None
        if keys:
            automaton: Any = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for key, refs in keys.items():
                automaton.add_word(key, (len(key), tuple(refs)))
            automaton.make_automaton()
            self._automaton = automaton

    def iter(self, text: str) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        """(start, end, refs) of every key occurrence, overlapping ones included."""
        if self._automaton is None:
            return
        for last, (length, refs) in self._automaton.iter(text):
            yield last - length + 1, last + 1, refs


def _bounded(text: str, start: int, end: int) -> bool:
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum()
    )


def _shouting(text: str, start: int, end: int) -> bool:
    """True when the words around text[start:end] are in capitals too (a headline in caps)."""
    neighbours = text[max(0, start - 40) : start].split()[-1:] + text[end : end + 40].split()[:1]
    words = [w.strip("\"'()[]{},.;:!?") for w in neighbours]
    words = [w for w in words if w]
    return bool(words) and all(len(w) > 1 and w.isalpha() and w.isupper() for w in words)


class ActorCatalogue:
    """The actor catalogue and its matcher. Build with `load`; immutable afterwards."""

    def __init__(self, actors: Sequence[Actor], aliases: Sequence[Sequence[_AliasSpec]]) -> None:
        self._actors = tuple(actors)
        self._by_id = {actor.id: i for i, actor in enumerate(self._actors)}
        self._refs: list[_Ref] = []
        folded: dict[str, list[int]] = {}
        cased: dict[str, list[int]] = {}
        self._alias_users: dict[tuple[str, bool], dict[int, bool]] = {}
        for index, specs in enumerate(aliases):
            # spellings of one actor that normalise alike are one key; any flag set on one holds
            grouped: dict[tuple[str, bool], list[_AliasSpec]] = {}
            for spec in specs:
                key = _alias_key(spec.text, spec.case_sensitive)
                grouped.setdefault((key, spec.case_sensitive), []).append(spec)
            for (key, case_sensitive), same in grouped.items():
                weak = any(spec.weak for spec in same)
                self._alias_users.setdefault((key, case_sensitive), {})[index] = any(
                    spec.shared for spec in same
                )
                (cased if case_sensitive else folded).setdefault(key, []).append(len(self._refs))
                guarded = case_sensitive and (len(key) <= 2 or weak)
                self._refs.append(_Ref(index, same[0].text, weak, guarded))
        self._folded = _Automaton(folded)
        self._cased = _Automaton(cased)
        self._folded_keys = {k: [self._refs[r].actor for r in refs] for k, refs in folded.items()}
        self._cased_keys = {k: [self._refs[r].actor for r in refs] for k, refs in cased.items()}
        self._cased_loose: dict[str, list[int]] = {}
        for key, actor_indexes in self._cased_keys.items():
            self._cased_loose.setdefault(key.lower(), []).extend(actor_indexes)
        self._later: dict[str, list[LineageStep]] = {}
        self._earlier: dict[str, list[LineageStep]] = {}
        for actor in self._actors:
            for link in actor.lineage:
                if link.relation in FORWARD or link.relation in BACKWARD:
                    step = LineageStep(actor.id, link.relation, link.to, link.date)
                    self._later.setdefault(step.earlier, []).append(step)
                    self._earlier.setdefault(step.later, []).append(step)

    @classmethod
    def load(cls, extra_files: Sequence[Path] = ()) -> ActorCatalogue:
        """The bundled catalogue, then each extra file in order (new ids add actors; existing ids
        are extended). Raises CatalogueError naming the file and entry of the first problem."""
        drafts: dict[str, _Draft] = {}
        bundled = resources.files("index").joinpath("data/actors.yaml").read_text("utf-8")
        _merge(drafts, _parse(bundled, BUNDLED))
        for path in extra_files:
            try:
                text = Path(path).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CatalogueError(str(path), "file", f"cannot read: {exc}") from exc
            _merge(drafts, _parse(text, str(path)))
        actors, aliases = _finish(drafts)
        return cls(actors, aliases)

    def __len__(self) -> int:
        return len(self._actors)

    def __iter__(self) -> Iterator[Actor]:
        return iter(self._actors)

    def get(self, actor_id: str) -> Actor | None:
        index = self._by_id.get(actor_id)
        return None if index is None else self._actors[index]

    def find(self, text: str) -> list[ActorMention]:
        """Actors named in `text`, in text order, not overlapping (the longest match wins)."""
        if not text:
            return []
        norm = _normalise(text)
        cased = norm.text
        folded = cased.lower()
        spans: dict[tuple[int, int], list[int]] = {}
        for start, end, refs in self._folded.iter(folded):
            if _bounded(folded, start, end):
                spans.setdefault((start, end), []).extend(refs)
        for start, end, refs in self._cased.iter(cased):
            if not _bounded(folded, start, end):
                continue
            if any(self._refs[r].guarded for r in refs) and _shouting(cased, start, end):
                continue  # "THIS IS WAR": in capitals, "IS" or "AA" may be a plain word
            spans.setdefault((start, end), []).extend(refs)
        if not spans:
            return []
        taken: list[tuple[int, int]] = []  # sorted, never overlapping
        for span in sorted(spans, key=lambda span: (span[0] - span[1], span[0])):
            i = bisect_right(taken, span)
            if (i == 0 or taken[i - 1][1] <= span[0]) and (
                i == len(taken) or span[1] <= taken[i][0]
            ):
                taken.insert(i, span)
        votes: Counter[str] = Counter()
        for span in taken:
            actor_indexes = {self._refs[r].actor for r in spans[span]}
            if len(actor_indexes) == 1:
                votes.update(self._actors[actor_indexes.pop()].countries)
        mentions = []
        for span in taken:
            ref = self._pick(spans[span], votes)
            actor = self._actors[ref.actor]
            start, end = norm.original_span(*span)
            mentions.append(
                ActorMention(
                    text[start:end],
                    start,
                    end,
                    actor.id,
                    actor.name,
                    actor.kind,
                    ref.alias,
                    ref.weak,
                )
            )
        return mentions

    def _pick(self, refs: list[int], votes: Counter[str]) -> _Ref:
        """The ref whose actor the rest of the text supports best; catalogue order breaks ties."""
        if len(refs) == 1:
            return self._refs[refs[0]]

        def support(r: int) -> tuple[int, int]:
            actor = self._refs[r].actor
            return sum(votes[c] for c in self._actors[actor].countries), -actor

        return self._refs[max(refs, key=support)]

    def resolve(self, term: str) -> list[Actor]:
        """The actors a user's term names: an alias or name after normalisation (several when it
        is ambiguous), else a case-sensitive alias in any case ("isis", "aa"), else an id."""
        key = " ".join(_normalise(term).text.split())
        found = set(self._folded_keys.get(key.lower(), ())) | set(self._cased_keys.get(key, ()))
        if not found:
            found = set(self._cased_loose.get(key.lower(), ()))
        if not found and term.strip() in self._by_id:
            found = {self._by_id[term.strip()]}
        return [self._actors[i] for i in sorted(found)]

    def successors(self, actor_id: str) -> list[LineageStep]:
        """Every later identity (rebrands, mergers, groups that split off), oldest link first."""
        return sorted(self._walk(actor_id, self._later, lambda s: s.later), key=lambda s: s.date)

    def predecessors(self, actor_id: str) -> list[LineageStep]:
        """Every earlier identity, the most recent link first."""
        steps = self._walk(actor_id, self._earlier, lambda s: s.earlier)
        return sorted(steps, key=lambda s: s.date, reverse=True)

    @staticmethod
    def _walk(
        actor_id: str, links: dict[str, list[LineageStep]], onward: Callable[[LineageStep], str]
    ) -> list[LineageStep]:
        steps: list[LineageStep] = []
        seen, queue = {actor_id}, deque([actor_id])
        while queue:
            for step in links.get(queue.popleft(), ()):
                steps.append(step)
                if onward(step) not in seen:
                    seen.add(onward(step))
                    queue.append(onward(step))
        return steps

    def children(self, actor_id: str) -> list[Actor]:
        """Actors whose parent is `actor_id` (wings, factions, affiliates, provinces)."""
        return [actor for actor in self._actors if actor.parent == actor_id]

    def collisions(self) -> list[AliasCollision]:
        """Normalised aliases used by several actors, with whether every use is marked shared."""
        out = []
        for (key, case_sensitive), users in sorted(self._alias_users.items()):
            if len(users) > 1:
                ids = tuple(self._actors[i].id for i in users)
                out.append(AliasCollision(key, case_sensitive, ids, all(users.values())))
        return out


# ---- loading and validation ---------------------------------------------------------------------
@dataclass(slots=True)
class _Draft:
    """An actor while files are merged; `where` names the file and entry of each declaration."""

    id: str
    where: tuple[str, str]  # (file, entry)
    name: str | None = None
    kind: str | None = None
    countries: list[str] = field(default_factory=list)
    aliases: list[tuple[_AliasSpec, tuple[str, str]]] = field(default_factory=list)
    lineage: list[tuple[Lineage, tuple[str, str]]] = field(default_factory=list)
    parent: tuple[str, tuple[str, str]] | None = None
    notes: str = ""


def _parse(text: str, source: str) -> list[_Draft]:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        raise CatalogueError(source, "file", f"not valid YAML: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise CatalogueError(source, "file", "the top level must be a list of entries")
    drafts = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data, start=1):
        draft = _parse_entry(raw, source, number)
        if draft.id in seen:
            raise CatalogueError(
                source, _label(number, draft.id), f"duplicate id (also entry {seen[draft.id]})"
            )
        seen[draft.id] = number
        drafts.append(draft)
    return drafts


def _label(number: int, actor_id: object) -> str:
    return f"entry {number} (id {actor_id!r})" if actor_id is not None else f"entry {number}"


def _parse_entry(raw: object, source: str, number: int) -> _Draft:
    if not isinstance(raw, dict):
        raise CatalogueError(source, _label(number, None), "an entry must be a mapping")
    where = _label(number, raw.get("id"))

    def fail(reason: str) -> CatalogueError:
        return CatalogueError(source, where, reason)

    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise fail(f"unknown field(s) {sorted(map(str, unknown))}; allowed: {sorted(_ENTRY_KEYS)}")
    actor_id = raw.get("id")
    if not isinstance(actor_id, str) or not _ID.match(actor_id):
        raise fail("id must be a slug of a-z, 0-9 and _")
    draft = _Draft(id=actor_id, where=(source, where))
    for name in ("name", "notes"):
        value = raw.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(f"{name} must be a non-empty string")
    draft.name = raw.get("name")
    draft.notes = raw.get("notes") or ""
    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        raise fail(f"kind {kind!r} is not one of {sorted(KINDS)}")
    draft.kind = kind
    for country in _as_list(raw.get("countries"), "countries", fail):
        if not isinstance(country, str) or not _COUNTRY.match(country):
            raise fail(f"country {country!r} is not an upper-case ISO 3166 alpha-2 code")
        draft.countries.append(country)
    for alias in _as_list(raw.get("aliases"), "aliases", fail):
        draft.aliases.append((_parse_alias(alias, fail), draft.where))
    for link in _as_list(raw.get("lineage"), "lineage", fail):
        draft.lineage.append((_parse_lineage(link, fail), draft.where))
    parent = raw.get("parent")
    if parent is not None:
        if not isinstance(parent, str):
            raise fail("parent must be an actor id")
        draft.parent = (parent, draft.where)
    return draft


def _as_list(value: object, name: str, fail: Callable[[str], CatalogueError]) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(f"{name} must be a list")
    return value


def _parse_alias(raw: object, fail: Callable[[str], CatalogueError]) -> _AliasSpec:
    if isinstance(raw, str):
        spec = _AliasSpec(raw)
    elif isinstance(raw, dict):
        unknown = set(raw) - _ALIAS_KEYS
        if unknown:
            raise fail(f"alias {raw!r}: unknown field(s) {sorted(map(str, unknown))}")
        flags = {k: raw.get(k, False) for k in ("case_sensitive", "weak", "shared")}
        if not isinstance(raw.get("text"), str) or not all(
            isinstance(v, bool) for v in flags.values()
        ):
            raise fail(f"alias {raw!r}: needs text (a string) and true/false flags")
        spec = _AliasSpec(raw["text"], **flags)
    else:
        raise fail(f"alias {raw!r} must be a string or a mapping with text")
    key = " ".join(_normalise(spec.text).text.split())
    if not key:
        raise fail(f"alias {spec.text!r} is empty once normalised")
    if len(key) <= 2 and not spec.case_sensitive:
        raise fail(f"alias {spec.text!r} is two characters or less: mark it case_sensitive")
    return spec


def _parse_lineage(raw: object, fail: Callable[[str], CatalogueError]) -> Lineage:
    if not isinstance(raw, dict) or set(raw) - _LINEAGE_KEYS:
        raise fail(f"lineage item {raw!r} must be a mapping of to, date and relation")
    when = raw.get("date")
    when = when.isoformat() if isinstance(when, date) else when
    to, relation = raw.get("to"), raw.get("relation")
    if not isinstance(to, str) or not isinstance(when, str) or not _DATE.match(when):
        raise fail(f"lineage item {raw!r} needs to (an id) and date (YYYY-MM or YYYY-MM-DD)")
    if relation not in RELATIONS:
        raise fail(f"lineage relation {relation!r} is not one of {sorted(RELATIONS)}")
    return Lineage(to, when, relation)


def _merge(drafts: dict[str, _Draft], entries: Iterable[_Draft]) -> None:
    for entry in entries:
        known = drafts.get(entry.id)
        if known is None:
            if entry.name is None or entry.kind is None:
                raise CatalogueError(*entry.where, "a new actor needs a name and a kind")
            drafts[entry.id] = entry
            continue
        known.name = entry.name or known.name
        known.kind = entry.kind or known.kind
        known.notes = entry.notes or known.notes
        known.parent = entry.parent or known.parent
        known.countries.extend(c for c in entry.countries if c not in known.countries)
        known.aliases.extend(entry.aliases)
        known.lineage.extend(entry.lineage)


def _finish(drafts: dict[str, _Draft]) -> tuple[list[Actor], list[list[_AliasSpec]]]:
    actors: list[Actor] = []
    aliases: list[list[_AliasSpec]] = []
    shared_uses: dict[tuple[str, bool], list[tuple[str, bool, tuple[str, str]]]] = {}
    for draft in drafts.values():
        for link, where in draft.lineage:
            if link.to not in drafts:
                raise CatalogueError(*where, f"lineage target {link.to!r} is not an actor id")
            if link.to == draft.id:
                raise CatalogueError(*where, "lineage points at the actor itself")
        if draft.parent is not None and draft.parent[0] not in drafts:
            parent, where = draft.parent
            raise CatalogueError(*where, f"parent {parent!r} is not an actor id")
        specs = [_AliasSpec(draft.name or draft.id)] + [spec for spec, _ in draft.aliases]
        for spec, where in draft.aliases:
            key = (_alias_key(spec.text, spec.case_sensitive), spec.case_sensitive)
            shared_uses.setdefault(key, []).append((draft.id, spec.shared, where))
        names = dict.fromkeys(spec.text for spec in specs)
        actors.append(
            Actor(
                id=draft.id,
                name=draft.name or draft.id,
                kind=draft.kind or "",
                countries=tuple(draft.countries),
                aliases=tuple(names),
                lineage=tuple(link for link, _ in draft.lineage),
                parent=draft.parent[0] if draft.parent else None,
                notes=draft.notes.strip(),
            )
        )
        aliases.append(specs)
    for (alias_key, _), uses in shared_uses.items():
        if any(shared for _, shared, _ in uses) and len({actor for actor, _, _ in uses}) < 2:
            actor_id, _, where = uses[0]
            raise CatalogueError(
                *where, f"alias {alias_key!r} is marked shared but only {actor_id!r} uses it"
            )
    return actors, aliases
