"""Values: what the event stage reads (`EventInput`, and its sentences) and returns (`Event`,
`EventActor`), and an event while it is built (`_Found`). Side effects: none."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from index.extract.actors import ActorMention
from index.extract.casualties import Count
from index.extract.places import PlaceMention

MAX_SENTENCES: Final = 15  # body sentences read: later ones are mostly background
_SENTENCE_END: Final = re.compile(
    r"(?<=[.!?])(?<!\b[A-Z][a-z]\.)(?<!\b[A-Z]\.)[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\s*\n\s*"
)


@dataclass(frozen=True, slots=True)
class EventActor:
    canonical: str
    role: str | None  # "actor", "target", or None where the sentence does not say
    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One event an article reports."""

    type: str
    sub_type: str | None
    actors: tuple[EventActor, ...]
    place: PlaceMention | None
    date: date | None
    killed: Count | None
    injured: Count | None
    sentences: tuple[str, ...]
    main: bool = False


@dataclass(frozen=True, slots=True)
class EventInput:
    """What events are found from: the article and what the catalogue and gazetteer found in
    `full` (the title, a line break, then the text: the offsets of `actors` and `places`)."""

    title: str
    text: str
    published: datetime | None
    actors: Sequence[ActorMention] = ()
    places: Sequence[PlaceMention] = ()

    @property
    def full(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(slots=True)
class _Found:
    """An event while it is being built."""

    cues: list[str]
    words: set[str]  # its words, lower-cased
    spans: list[tuple[int, int]]  # character spans of its words in `full`
    text: str  # its own words, sub-clauses of other events left out
    sentence: int  # index of its first sentence; 0 is the title when there is one
    sentence_texts: list[str]
    title: bool
    place: PlaceMention | None = None
    actors: dict[str, EventActor] = field(default_factory=dict)
    date: date | None = None
    killed: Count | None = None
    injured: Count | None = None
    counts_from_title: bool = False
    sub_type: str | None = None
    kind: str = ""


def sentences_of(item: EventInput) -> list[tuple[int, int, bool]]:
    """(start, end, is_title) of the title and the first MAX_SENTENCES body sentences."""
    out: list[tuple[int, int, bool]] = []
    offset = 0
    full = item.full
    if item.title:
        out.append((0, len(item.title), True))
        offset = len(item.title) + 1
    start = offset
    for end in _SENTENCE_END.finditer(full, offset):
        if len(out) > MAX_SENTENCES:
            return out
        if end.start() > start:
            out.append((start, end.start(), False))
        start = end.end()
    if start < len(full) and len(out) <= MAX_SENTENCES:
        out.append((start, len(full), False))
    return out


def _sentence_bounds(full: str, at: int) -> tuple[int, int]:
    start = 0
    for end in _SENTENCE_END.finditer(full):
        if end.start() >= at:
            return start, end.start()
        start = end.end()
    return start, len(full)
