"""Stage: the events found in an article's sentences -> its `Event`s: each one's place, date and
counts; reports of one event merged; the main event marked. Side effects: none.

Steps 3 and 4 of index/extract/events.py's description.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from index.extract.casualties import extract_casualties
from index.extract.eventcues import OUTCOME, event_type
from index.extract.eventdate import resolve_event_date
from index.extract.eventmodels import Event, EventInput, _Found, _sentence_bounds
from index.extract.places import PlaceMention

_QUOTED: Final = re.compile(r"\"[^\"]*\"|“[^”]*”")
_PRECISION_RANK: Final = {"town": 0, "admin1": 1, "country": 2}


def _place_in(spans: list[tuple[int, int]], places: Sequence[PlaceMention]) -> PlaceMention | None:
    return _most_specific([p for p in places if _held(p, spans)])


def _finish(item: EventInput, found: list[_Found]) -> list[Event]:
    if not found:
        return []
    named = [(a.start, a.end) for a in item.actors]
    places = [  # a place inside an actor's name ("Hayat Tahrir al-Sham") is no event place
        p for p in item.places if p.role == "event" and not p.dateline and not _held(p, named)
    ]
    by_sentence: dict[int, list[_Found]] = {}
    for f in found:
        by_sentence.setdefault(f.sentence, []).append(f)
        f.place = _place_in(f.spans, places)
    for f in found:
        if f.place is None:  # a place of its sentence that no other event holds
            held = [s for g in by_sentence[f.sentence] for s in g.spans]
            start, end = _sentence_bounds(item.full, min(s[0] for s in f.spans))
            free = [p for p in places if start <= p.start < end and not _held(p, held)]
            f.place = _most_specific(free)
    out: list[_Found] = []
    for f in found:
        sentence = f.sentence_texts[0]
        f.date = (
            resolve_event_date("", item.published, title=sentence)
            if f.title
            else resolve_event_date(sentence, item.published)
        )
        casualties = extract_casualties("", _QUOTED.sub(" ", f.text))
        f.killed, f.injured, f.counts_from_title = casualties.killed, casualties.injured, f.title
        outcome_only = all(c == OUTCOME for c in f.cues)
        if outcome_only and f.killed is None and f.injured is None:
            continue  # "the digital age has killed off newspapers": nobody counted, no event
        if f.place is None:
            same = [g for g in by_sentence[f.sentence] if g is not f and g.place is not None]
            if same:
                f.place = same[0].place
            elif out and not f.title and outcome_only:
                _absorb(out[-1], f)  # a sentence that only counts the dead of the last event
                continue
            elif out and not f.title:
                f.place = out[-1].place
        twin = next((g for g in out if _same(g, f)), None)
        if twin is not None:
            _absorb(twin, f)
        elif f.place is not None or f.actors or f.killed is not None or f.injured is not None:
            out.append(f)  # an event with no place, actor or count is no event to report
    main = next((k for k, f in enumerate(out) if f.title), 0)
    return [
        Event(
            type=f.kind,
            sub_type=f.sub_type,
            actors=tuple(f.actors.values()),
            place=f.place,
            date=f.date,
            killed=f.killed,
            injured=f.injured,
            sentences=tuple(dict.fromkeys(f.sentence_texts)),
            main=k == main,
        )
        for k, f in enumerate(out)
    ]


def _rank(place: PlaceMention) -> int:
    return _PRECISION_RANK.get(place.place.precision, 3)


def _most_specific(places: Sequence[PlaceMention]) -> PlaceMention | None:
    """A town over its province over its country; the first named among equals."""
    return min(places, key=lambda p: (_rank(p), p.start)) if places else None


def _within(inner: PlaceMention, outer: PlaceMention) -> bool:
    """Whether `inner` is `outer` or lies inside it (a town in its province or country)."""
    a, b = inner.place, outer.place
    if a.geonameid == b.geonameid:
        return True
    if a.country_code != b.country_code or _rank(inner) >= _rank(outer):
        return False
    return b.precision == "country" or a.admin1_code == b.admin1_code


def _same(a: _Found, b: _Found) -> bool:
    """Whether `b` reports the event `a` is: in the same sentence or in the title and the body,
    at the same place (or one inside the other); in two body sentences, also of the same type
    on no conflicting date."""
    if a.place is None or b.place is None:
        return a.title and not b.title and a.place is None and a.kind == b.kind
    if not (_within(a.place, b.place) or _within(b.place, a.place)):
        return False
    if a.sentence == b.sentence or a.title != b.title:
        return _alike(a, b)
    return a.kind == b.kind and (a.date is None or b.date is None or a.date == b.date)


def _alike(a: _Found, b: _Found) -> bool:
    """Whether two reports at one place may be one event: of one type or sub-type, or one of
    them only an attack or a toll ("strike kills four" and "a missile hit ...")."""
    loose = ("attack", "armed_clash")
    return (
        a.kind == b.kind
        or a.sub_type == b.sub_type
        or any(all(c == OUTCOME for c in f.cues) or f.sub_type in loose for f in (a, b))
    )


def _held(place: PlaceMention, spans: list[tuple[int, int]]) -> bool:
    return any(lo <= place.start < hi for lo, hi in spans)


def _absorb(into: _Found, other: _Found) -> None:
    """Merge `other` (a later report of the same event) into `into`."""
    into.sentence_texts.extend(other.sentence_texts)
    into.spans.extend(other.spans)
    into.date = into.date or other.date
    for key, actor in other.actors.items():
        if key not in into.actors or into.actors[key].role is None:
            into.actors[key] = actor
    if into.counts_from_title and not other.title:
        # the body tells a count more exactly than the title
        into.killed = other.killed or into.killed
        into.injured = other.injured or into.injured
        into.counts_from_title = False
    else:
        into.killed = into.killed or other.killed
        into.injured = into.injured or other.injured
    if other.place is not None and (into.place is None or _rank(other.place) < _rank(into.place)):
        into.place = other.place  # the more specific of the two
    into.cues.extend(other.cues)
    into.words |= other.words
    into.sub_type, into.kind = event_type(into.cues, into.words)
