"""Stage: text -> [ActorMention] (the armed groups, forces and bodies it names); a user's term ->
[Actor]. Side effects: reads the bundled catalogue (index/extract/data/actors.yaml) and any extra
YAML files once, in `ActorCatalogue.load`.

The catalogue's format is documented at the top of index/extract/data/actors.yaml. Matching is exact
on normalised text, not fuzzy: one Aho-Corasick automaton holds every case-insensitive alias and a
second the case-sensitive ones ("IS", "AA", "SAA"), so a text is scanned twice whatever the size of
the catalogue. Both sides go through the same `normalise`: case folded (except for the
case-sensitive automaton), diacritics stripped (the shared fold of index/text.py), apostrophes
dropped, dashes made spaces, runs of space collapsed, the Arabic article dropped at word starts
("al-Nusra" == "Nusra" == "an-Nusra") and the English possessive "'s" dropped. A match must start
and end on word boundaries; where matches overlap the longest wins. Offsets are mapped back to the
original text.

A case-sensitive alias of one or two letters, or one marked weak, is ignored inside shouting (an
all-caps headline: "THIS IS WAR"). An alias that several actors deliberately share ("SNA": the
Syrian or the Somali National Army) goes to the actor whose countries best agree with the other
actors named in the same text; catalogue order breaks ties.

The stage in three modules: index/extract/actortext.py (the normalisation and the way back to the
original offsets), index/extract/actorfile.py (catalogue entries, as YAML loads them, checked and
merged into `Actor`s), and this one (the YAML itself, the automata and `ActorCatalogue`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from index.extract.actorfile import (
    KINDS,
    RELATIONS,
    Actor,
    CatalogueError,
    Lineage,
    _AliasSpec,
    _Draft,
    _finish,
    _merge,
    _parse_entries,
)
from index.extract.actortext import _alias_key, _normalise, normalise
from index.text import fold

__all__ = [
    "BACKWARD",
    "BUNDLED",
    "FORWARD",
    "KINDS",
    "RELATIONS",
    "Actor",
    "ActorCatalogue",
    "ActorMention",
    "AliasCollision",
    "CatalogueError",
    "Lineage",
    "LineageStep",
    "actor_key",
    "normalise",
]

FORWARD = frozenset({"rebranded_as", "merged_into"})  # the declaring actor is the earlier one
BACKWARD = frozenset({"split_from"})  # the declaring actor is the later one
BUNDLED = "index/extract/data/actors.yaml"


def actor_key(actor_id: str | None, name: str) -> str:
    """An actor's stable identity wherever it is stored or matched: its catalogue id, else its
    folded name ("name:free euphrates movement")."""
    return actor_id or "name:" + fold(name)


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


# ---- matching -----------------------------------------------------------------------------------
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
        bundled = resources.files("index.extract").joinpath("data/actors.yaml").read_text("utf-8")
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


# ---- loading ------------------------------------------------------------------------------------
def _parse(text: str, source: str) -> list[_Draft]:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        raise CatalogueError(source, "file", f"not valid YAML: {exc}") from exc
    return _parse_entries(data, source)
