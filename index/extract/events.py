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
3. Per event: the type and sub-type from its cues (the most specific wins: a suicide bomb over a
   bomb, an air strike over a blast; a territory change with fighting is a battle); the most
   specific place the gazetteer found within the event's words (a town over its province over its
   country; quoted and background mentions and the dateline excluded), else a place of the sentence
   that no other event holds, else the place of the event it depends on; the actors the catalogue
   found within its words, with their role where the parse gives one (subject: "actor"; object,
   passive subject, "against"/"on": "target"); the date (index/extract/eventdate.py on the
   sentence); killed and injured (index/extract/casualties.py on the event's own words).
4. Events of several sentences with the same type and place (or one inside the other) and
   no conflicting date are one event; the title's and the body's, or two of one sentence, at
   one place are one event when their types agree or one is only an attack or a toll. A
   sentence that only counts dead and names no place adds to the event before it. The main
   event is the title's first event, else the first of the body.

Steps 1 and 2 are here; steps 3 and 4 in index/extract/eventmerge.py; the values (`EventInput`,
`Event`) and the sentence splitter in index/extract/eventmodels.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from index.extract.casualties import Count
from index.extract.eventcues import (
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
from index.extract.eventmerge import _finish
from index.extract.eventmodels import (
    MAX_SENTENCES,
    Event,
    EventActor,
    EventInput,
    _Found,
    sentences_of,
)
from index.extract.places import PlaceMention

__all__ = [
    "MAX_SENTENCES",
    "PARSE_BATCH",
    "Event",
    "EventActor",
    "EventFinder",
    "EventInput",
    "count_doc",
    "describe",
    "event_doc",
    "place_doc",
    "sentences_of",
]

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
