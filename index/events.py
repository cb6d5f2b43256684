"""Stage: article (title, text, published, its catalogue actors and gazetteer places) -> the
events it reports. Side effects: none (the spaCy pipeline is passed in, loaded once elsewhere).

How an article becomes events
1. The title and the first MAX_SENTENCES body sentences are split; only those holding an event
   cue word (strike, shelled, clashes, arrested, protesters, pledged, killed, ...) are parsed,
   in one batch, by spaCy's tagger and dependency parser.
2. In a parsed sentence each cue word belongs to a clause: the subtree of the nearest verb that
   opens a clause (the root, a conjoined verb, an adverbial or complement clause), less the
   sub-clauses under it. A clause with an event cue is an event; a clause with only an outcome
   cue ("killing 12", "were wounded") belongs to the event that governs it, or the event it
   governs ("were killed when their vehicle struck a bomb"), and is an event of its own only
   when the sentence has no other. A clause without a cue belongs to the clause above it.
   Cues in a quotation, in a future clause ("will strike"), under an intent ("planning
   attacks", "threats to seize"), nouns that refer back ("the attack", "this blast") and
   clauses told as background ("in 2014", "last year") make none. Instruments ("warplanes",
   "rockets") and weak verbs ("hit", "fired", "landed") make a strike only together or beside
   another cue; "strike" alone needs another cue or fighters in its sentence (not a labour
   strike or "strike a deal"). A clause with only a toll and nobody counted is no event,
   nor is an event with no place, no actor and no count.
3. Per event: the type and sub-type from its cues (the most specific wins: a suicide bomb over
   a bomb, an air strike over a blast; a territory change with fighting is a battle);
   the most specific place the gazetteer found within the event's words (a town over its
   province over its country; quoted and background mentions and the dateline excluded),
   else a place of the sentence that no other event holds, else the place of the event it
   depends on; the actors the catalogue found within its words, with their role where the
   parse gives one (subject: "actor"; object, passive subject, "against"/"on": "target");
   the date (index/eventdate.py on the sentence); killed and injured (index/casualties.py on
   the event's own words).
4. Events of several sentences with the same type and place (or one inside the other) and
   no conflicting date are one event; the title's and the body's, or two of one sentence, at
   one place are one event when their types agree or one is only an attack or a toll. A
   sentence that only counts dead and names no place adds to the event before it. The main
   event is the title's first event, else the first of the body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from index.actors import ActorMention
from index.casualties import Count, extract_casualties
from index.eventcues import (
    COMBATANTS,
    CUE_PAIRS,
    CUE_WORDS,
    INTENT,
    NOT_VIOLENT,
    OUTCOME,
    REFERRING,
    WEAK,
    armed,
    event_type,
    words_of,
)
from index.eventdate import resolve_event_date
from index.places import PlaceMention

MAX_SENTENCES: Final = 15  # body sentences read: later ones are mostly background
PARSE_BATCH: Final = 64
_MAX_SENTENCE_CHARS: Final = 600
_PIPES: Final = ("tok2vec", "tagger", "parser", "attribute_ruler")

_FUTURE: Final = words_of("will would shall 'll could might may")
_CLAUSE_DEPS: Final = words_of("ROOT conj advcl ccomp parataxis csubj")
_ACTOR_DEPS: Final = words_of("nsubj csubj agent")
_TARGET_DEPS: Final = words_of("nsubjpass dobj")
_TARGET_PREPS: Final = words_of("against on at targeting")
_BACKGROUND: Final = re.compile(
    r"\b(?:since (?:19|20)\d\d|last (?:week|month|year)|earlier this (?:month|year)"
    r"|a year ago|previous(?:ly)?|anniversary|a similar|an earlier)\b",
    re.IGNORECASE,
)
_PAST_YEAR: Final = re.compile(
    r"\b(?:in|of|during) (?:the )?(?:\w+ )?((?:19|20)\d\d)\b", re.IGNORECASE
)
_CUE_TEXT: Final = re.compile(
    r"\b(?:"
    + "|".join(
        sorted({re.escape(w) for w in [*CUE_WORDS, *(a for a, _ in CUE_PAIRS)]}, key=len)[::-1]
    )
    + r")\b",
    re.IGNORECASE,
)
_SENTENCE_END: Final = re.compile(
    r"(?<=[.!?])(?<!\b[A-Z][a-z]\.)(?<!\b[A-Z]\.)[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\s*\n\s*"
)
_QUOTED: Final = re.compile(r"\"[^\"]*\"|“[^”]*”")
_PRECISION_RANK: Final = {"town": 0, "admin1": 1, "country": 2}


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


class EventFinder:
    """Finds the events of articles; one caller at a time (the Extractor's thread)."""

    def __init__(self, nlp: Any) -> None:
        self._nlp = nlp
        self._pipes = [nlp.get_pipe(name) for name in _PIPES if name in nlp.pipe_names]

    def find_many(self, items: Sequence[EventInput]) -> list[list[Event]]:
        if "parser" not in self._nlp.pipe_names:
            return [[] for _ in items]  # a pipeline without the parser finds no events
        jobs: list[tuple[int, int, int, bool, int]] = []  # (item, start, end, title, sentence)
        for n, item in enumerate(items):
            full = item.full
            for k, (start, end, is_title) in enumerate(sentences_of(item)):
                if end - start <= _MAX_SENTENCE_CHARS and _CUE_TEXT.search(full, start, end):
                    jobs.append((n, start, end, is_title, k))
        docs: Any = self._nlp.tokenizer.pipe(items[n].full[s:e] for n, s, e, _, _ in jobs)
        for pipe in self._pipes:
            docs = pipe.pipe(docs, batch_size=PARSE_BATCH)
        found: list[list[_Found]] = [[] for _ in items]
        for (n, start, _, is_title, k), doc in zip(jobs, docs, strict=True):
            found[n].extend(_sentence_events(doc, items[n], start, is_title, k))
        return [_finish(item, events) for item, events in zip(items, found, strict=True)]


# ---- one sentence ------------------------------------------------------------------------------
def _cue(doc: Any, i: int) -> str | None:
    token = doc[i]
    word = token.lower_
    if i + 1 < len(doc) and (pair := CUE_PAIRS.get((word, doc[i + 1].lower_))):
        return pair
    if i > 0 and (doc[i - 1].lower_, word) in CUE_PAIRS:
        return None  # the pair's second word: the pair was read at its first
    cue = CUE_WORDS.get(word)
    if cue is None or (word in ("die", "dies") and token.pos_ != "VERB"):
        return None  # "Die" opens many a German sentence
    if cue == "pledge" and word in ("swore", "pledged", "pledge"):
        nxt = doc[i + 1].lower_ if i + 1 < len(doc) else ""
        if nxt not in ("allegiance", "loyalty", "support"):
            return None
    if cue != OUTCOME and token.dep_ == "amod":
        return None  # "detained children", "looted shops": a description, not the event
    kids = {c.lower_ for c in token.children}
    if cue in ("strike", "attack", "armed_clash") and kids & NOT_VIOLENT:
        return None  # "a bird strike", "a ransomware attack", "strike a deal"
    if any(a.lower_ in INTENT for a in _up_to_clause(token)):
        return None  # "on suspicion of planning attacks", "threatened to strike": not done
    if token.pos_ in ("NOUN", "PROPN") and cue != OUTCOME:
        dets = {c.lower_ for c in token.children if c.dep_ in ("det", "poss")}
        if dets & REFERRING and not any(c.dep_ in ("compound", "amod") for c in token.children):
            return None  # "the attack", "this blast": a reference to an event already told
    return cue


def _up_to_clause(token: Any) -> list[Any]:
    """The words from a token up to its clause's head, the token left out."""
    out = []
    while not _opens_clause(token) and token.head.i != token.i:
        token = token.head
        out.append(token)
    return out


def _opens_clause(token: Any) -> bool:
    return token.dep_ in _CLAUSE_DEPS and (token.dep_ != "conj" or token.pos_ in ("VERB", "AUX"))


def _clause_head(token: Any) -> Any:
    while not _opens_clause(token) and token.head.i != token.i:
        token = token.head
    return token


def _in_quote(doc: Any, i: int) -> bool:
    before: str = doc[:i].text
    return (before.count('"') % 2 == 1) or before.count("“") > before.count("”")


def _future(head: Any) -> bool:
    return any(c.dep_ == "aux" and c.lower_ in _FUTURE for c in head.children)


def _sentence_events(
    doc: Any, item: EventInput, offset: int, is_title: bool, index: int
) -> list[_Found]:
    heads: dict[int, Any] = {}  # clause head index -> head token
    cues: dict[int, list[str]] = {}
    for i in range(len(doc)):
        cue = _cue(doc, i)
        if cue is None or _in_quote(doc, i):
            continue
        head = _clause_head(doc[i])
        if _future(head):
            continue
        heads[head.i] = head
        cues.setdefault(head.i, []).append(cue)
    told = [c for found in cues.values() for c in found if c not in ("strike", WEAK)]
    if not told and not {t.lower_ for t in doc} & COMBATANTS:
        # "strike" alone: a labour strike, "strike a balance", a carrier strike group
        cues = {h: [c for c in found if c != "strike"] for h, found in cues.items()}
    for h in list(cues):
        cues[h] = armed(cues[h])
        if not cues[h]:
            del cues[h]
    if not cues:
        return []
    events = [h for h, c in cues.items() if any(x != OUTCOME for x in c)]
    if not events:  # only outcomes ("six were killed and two died"): one event, the topmost
        events = [min(cues, key=lambda h: len(list(heads[h].ancestors)))]
    owner: dict[int, int] = {h: h for h in events}
    for h in cues:
        if h not in owner:
            owner[h] = _owner_of(heads[h], events)
    clause_of = [_clause_head(t).i for t in doc]
    assigned: list[int | None] = []
    for t in doc:
        h = clause_of[t.i]
        assigned.append(_assign(doc, h, owner, clause_of))
    out: list[_Found] = []
    sentence_text = doc.text
    for event_head in sorted(set(owner.values())):
        idx = [t.i for t in doc if assigned[t.i] == event_head]
        if not idx:
            continue
        words = _pieces(doc, idx)
        if _background(words, item.published):
            continue
        spans = [(offset + doc[i].idx, offset + doc[i].idx + len(doc[i].text)) for i in idx]
        all_cues = [
            cue for h, found_cues in cues.items() if owner[h] == event_head for cue in found_cues
        ]
        found = _Found(
            cues=all_cues,
            words={doc[i].lower_ for i in idx},
            spans=spans,
            text=words,
            sentence=index,
            sentence_texts=[sentence_text],
            title=is_title,
        )
        found.sub_type, found.kind = event_type(found.cues, found.words)
        found.actors = _actors(doc, item, offset, idx)
        out.append(found)
    return out


def _background(words: str, published: datetime | None) -> bool:
    """Whether an event's words tell it as background: "last year", "in 2019" (a year before
    the publication's), "since 2014"."""
    if _BACKGROUND.search(words):
        return True
    this_year = published.year if published is not None else None
    return any(this_year is None or int(year) < this_year for year in _PAST_YEAR.findall(words))


def _owner_of(head: Any, events: list[int]) -> int:
    """The event clause an outcome-only clause belongs to: one above it, else one below it,
    else the nearest in the sentence."""
    token = head
    while token.head.i != token.i:
        token = token.head
        if token.i in events:
            return int(token.i)
    below = [e for e in events if head.doc[e].is_ancestor(head)]
    if below:
        return below[0]
    return min(events, key=lambda e: abs(e - head.i))


def _assign(doc: Any, head: int, owner: dict[int, int], clause_of: list[int]) -> int | None:
    """The event a clause's words belong to: its own, else that of the clause above it."""
    token = doc[head]
    while True:
        if token.i in owner:
            return owner[token.i]
        if token.head.i == token.i:
            return None
        token = doc[clause_of[token.head.i]]


def _pieces(doc: Any, idx: list[int]) -> str:
    parts: list[str] = []
    last = -2
    for i in idx:
        if i != last + 1 and parts:
            parts.append(" ")
        parts.append(doc[i].text_with_ws)
        last = i
    return "".join(parts).strip()


def _actors(doc: Any, item: EventInput, offset: int, idx: list[int]) -> dict[str, EventActor]:
    if not item.actors:
        return {}
    lo, hi = offset + doc[idx[0]].idx, offset + doc[idx[-1]].idx + len(doc[idx[-1]].text)
    mine = set(idx)
    out: dict[str, EventActor] = {}
    for mention in item.actors:
        if not lo <= mention.start < hi:
            continue
        token = doc.char_span(mention.start - offset, mention.end - offset, alignment_mode="expand")
        if token is None or token.root.i not in mine:
            continue
        role = _role(token.root)
        known = out.get(mention.actor_id)
        if known is None or (known.role is None and role is not None):
            out[mention.actor_id] = EventActor(mention.canonical, role, mention.actor_id)
    return out


def _role(token: Any) -> str | None:
    while True:
        dep = token.dep_
        if dep in _ACTOR_DEPS:
            return "actor"
        if dep == "pobj" and token.head.dep_ == "agent":
            return "actor"
        if dep in _TARGET_DEPS:
            return "target"
        if dep == "pobj" and token.head.lower_ in _TARGET_PREPS:
            return "target"
        if dep in _CLAUSE_DEPS or token.head.i == token.i or dep == "pobj":
            return None
        token = token.head


# ---- the article -------------------------------------------------------------------------------
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


def _sentence_bounds(full: str, at: int) -> tuple[int, int]:
    start = 0
    for end in _SENTENCE_END.finditer(full):
        if end.start() >= at:
            return start, end.start()
        start = end.end()
    return start, len(full)


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


def describe(
    type_: str,
    sub_type: str | None,
    place: str | None,
    killed: int | None,
    injured: int | None,
    *,
    civilians_killed: bool = False,
    civilians_injured: bool = False,
) -> str:
    """An event in words: "air strike in Raqqa, 12 killed" ("12 civilians killed" where the
    text says the dead were civilians)."""
    text = "explosive device" if sub_type == "ied" else (sub_type or type_).replace("_", " ")
    if place:
        text += f" in {place}"
    if killed:
        text += f", {killed} {'civilians ' if civilians_killed else ''}killed"
    if injured:
        text += f", {injured} {'civilians ' if civilians_injured else ''}injured"
    return text


# ---- documents ---------------------------------------------------------------------------------
def place_doc(mention: PlaceMention) -> dict[str, Any]:
    """One entry of the extract document's `places` (and an event's `place`)."""
    place = mention.place
    return {
        "text": mention.text,
        "canonical": place.name,
        "country": place.country,
        "country_code": place.country_code,
        "admin1": place.admin1,
        "lat": place.lat,
        "lon": place.lon,
        "geonameid": place.geonameid,
        "precision": place.precision,
        "main": mention.main,
        "role": mention.role,
        "dateline": mention.dateline,
    }


def event_doc(event: Event) -> dict[str, Any]:
    """One entry of the extract document's `events`."""
    return {
        "type": event.type,
        "sub_type": event.sub_type,
        "actors": [
            {"canonical": a.canonical, "role": a.role, "actor_id": a.actor_id} for a in event.actors
        ],
        "place": place_doc(event.place) if event.place is not None else None,
        "date": event.date.isoformat() if event.date else None,
        "killed": count_doc(event.killed),
        "injured": count_doc(event.injured),
        "sentences": list(event.sentences),
        "main": event.main,
    }


def count_doc(count: Count | None) -> dict[str, int | bool] | None:
    if count is None:
        return None
    return {"low": count.low, "best": count.best, "high": count.high, "civilians": count.civilians}
