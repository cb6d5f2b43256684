"""Stage: article text (+ title, country hints) -> [PlaceMention] (`Gazetteer.find`): the name
matches that pass the surface rules, resolved and given roles by `_Context`.
Side effects: the first call builds the name automaton (about a second).

How text is matched
  Text and names are normalised the same way (spelling.py). An Aho-Corasick automaton over the
  normalised text finds every name on word boundaries; the longest leftmost match wins. Names
  under three letters are skipped. A match must start with a capital letter, must not lie in a
  leading byline ("By Jane Doe and ..."), and is no place when followed by "-backed", "-led",
  ... (an actor: weak evidence instead) or when it names a feature ("Lake Chad", "Strait of
  Hormuz"). A multi-word match must have its main words capitalised and not be made of common
  words only ("North West"). A one-word match must not be a common word or a first name
  (`_STOP_WORDS`, `_PERSON_NAMES`), a short all-caps acronym away from the dateline ("IRNA"), a
  model ("Falcon 9"), nor, for towns and regions, a word the text also writes in lower case in
  its prose, nor part of a person's or an organisation's name: after a title ("President Aoun"),
  or next to a capitalised word that is no common word, modifier, demonym, preposition, country
  or region ("Tony Blair", "Billy Steinberg"; not in Title Case text); a surname found so is a
  surname throughout the article.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

from index.extract.places.context import _Context
from index.extract.places.reading import _Evidence, _Group, _Span, _Text
from index.extract.places.spelling import (
    _FEATURE_KEYS,
    _MODIFIER_KEYS,
    _OF_PLACE_KEYS,
    _PERSON_KEYS,
    _REGION_BEFORE_KEYS,
    _REGION_KEYS,
    _STOP_KEYS,
    _TOWN_KEYS,
    _capitalised,
    _name_key,
    _Token,
)
from index.extract.places.types import _ADMIN1, _COUNTRY, _TOWN, PlaceMention
from index.extract.places.words import (
    _ABBREVIATION_COUNTRY,
    _ACTOR_AFTER,
    _ACTOR_SUFFIXES,
    _ATTACK_VERBS,
    _CONNECTORS,
    _COUNTRY_ABBREVIATIONS,
    _DIRECTIONS,
    _LANGUAGE_END,
    _LIST_JOINERS,
    _LOCATIVES,
    _OUTLET_AFTER,
    _OUTLET_BEFORE,
    _OUTLET_BEFORE_OF,
    _PERSON_TITLES,
    _PLACE_CUES,
)


class _Finder(_Context):
    """`find` and the surface rules a name match must pass to be a place."""

    # -- text --
    def find(
        self,
        text: str,
        *,
        title: str = "",
        country_hints: Sequence[str] = (),
        outlets: Sequence[str] = (),
    ) -> list[PlaceMention]:
        """Places named in `text`, resolved, in text order; at most one has `main=True`.
        `outlets` are names that are no place here (the feed's outlet: "Tigris Daily").

        `title` adds evidence and votes for the main place; its own mentions are not returned.
        `country_hints` are ISO codes or country names (e.g. from the article's actors)."""
        body, head = _Text.read(text, self._is_name), _Text.read(title, self._is_name)
        lowercase = body.prose_lowercase() | head.prose_lowercase()
        hints = {code for code in map(self._hint_country, country_hints) if code}
        evidence: _Evidence = defaultdict(float)
        persons: set[str] = set()
        adjectives: list[tuple[int, int, str]] = []
        blocked = [key for key in map(_name_key, outlets) if key]
        body_spans = self._spans(body, lowercase, evidence, persons, adjectives, blocked)
        head_spans = self._spans(head, lowercase, evidence, persons, blocked=blocked)
        if persons:  # a surname once ("Jesse Jackson") is a surname throughout
            body_spans = [s for s in body_spans if not self._is_person(s, persons)]
            head_spans = [s for s in head_spans if not self._is_person(s, persons)]

        for doc, spans in ((body, body_spans), (head, head_spans)):
            for span, after in zip(spans, spans[1:], strict=False):
                if re.fullmatch(r"\s*,\s*", doc.text[span.end : after.start]):
                    self._narrow(span, after)  # "Tripoli, Lebanon", "Atlanta, Georgia"
        groups: dict[tuple[str, str, tuple[int, ...]], _Group] = {}
        for span in body_spans + head_spans:
            cands = self._filter_candidates(span)
            group = groups.setdefault((span.key, span.want, span.cands), _Group(cands, []))
            group.spans.append(span)
        self._resolve(list(groups.values()), evidence, hints)

        choice = {id(s): g.choice for g in groups.values() for s in g.spans}
        found = [(s, choice[id(s)]) for s in body_spans if choice[id(s)] >= 0]
        titled = [choice[id(s)] for s in head_spans if choice[id(s)] >= 0]
        title_end = len(title) if title and text.startswith(title) else 0
        roles = self._roles(body, found)
        dateline = self._dateline(body, found, title_end)
        main = self._main_place(body, found, titled, roles, dateline, title_end)
        told = {i for (_s, i), role in zip(found, roles, strict=True) if role == "event"}
        mentions: list[PlaceMention] = []
        for k, (span, i) in enumerate(found):
            is_main = i == main and (roles[k] == "event" or i not in told)
            main = -1 if is_main else main
            mentions.append(
                PlaceMention(
                    text[span.start : span.end],
                    span.start,
                    span.end,
                    self._place(i),
                    is_main,
                    roles[k],
                    k in dateline,
                )
            )
        if adjectives and all(m.role != "event" for m in mentions):
            # no event place: the demonyms' country ("Afghan Taleban kill 15 ...")
            mentions = [replace(m, main=False) for m in mentions]
            return sorted([*mentions, self._demonym_place(text, adjectives)], key=lambda m: m.start)
        return mentions

    def _demonym_place(self, text: str, adjectives: list[tuple[int, int, str]]) -> PlaceMention:
        """No place named: the country its demonyms name most ("Algerian forces"), first first."""
        counts = Counter(code for _s, _e, code in adjectives)
        start, end, code = max(adjectives, key=lambda a: (counts[a[2]], -a[0]))
        place = self._place(self._country_index[code])
        return PlaceMention(text[start:end], start, end, place, True, "demonym")

    def _is_name(self, key: str) -> bool:
        return key in _PERSON_KEYS or self._lookup((key,)) >= 0

    def _hint_country(self, hint: str) -> str | None:
        if len(hint) == 2 and hint.upper() in self._country_index:
            return hint.upper()
        if hint.strip() in _ABBREVIATION_COUNTRY:
            return _ABBREVIATION_COUNTRY[hint.strip()]
        posting = self._lookup(_name_key(hint))
        if posting >= 0:
            for i in self._posting(posting):
                if self._kind[i] == _COUNTRY:
                    return self._cc[i]
        return None

    def _is_person(self, span: _Span, persons: set[str]) -> bool:
        return (
            span.key in persons
            and span.first == span.last
            and all(self._kind[i] == _TOWN for i in span.cands)
        )

    def _spans(
        self,
        doc: _Text,
        lowercase: set[str],
        evidence: _Evidence,
        persons: set[str],
        adjectives: list[tuple[int, int, str]] | None = None,
        blocked: Sequence[tuple[str, ...]] = (),
    ) -> list[_Span]:
        """Accepted name matches (longest leftmost), after the surface rules in the docstring.
        Demonyms and actor adjectives add to `evidence`; surnames are added to `persons`."""
        tokens = doc.tokens
        seq = [i for i, t in enumerate(tokens) if not t.article]
        if not seq:
            return []
        # " w1 w2 ... ": a name " w2 w3 " matches on word boundaries only
        word_at_end: dict[int, int] = {}
        parts: list[str] = [" "]
        at = 1
        for k, i in enumerate(seq):
            parts.append(tokens[i].key + " ")
            at += len(tokens[i].key) + 1
            word_at_end[at - 1] = k
        found: list[tuple[int, int, int]] = []  # (first, last) in seq, posting (< 0: a country)
        automaton, lengths = self._text_matcher()
        for end, posting_id in automaton.iter("".join(parts)):
            last = word_at_end[end]
            found.append((last - lengths[posting_id] + 1, last, posting_id))
        starts = [tokens[i].start for i in seq]
        for match in _COUNTRY_ABBREVIATIONS.finditer(doc.text):
            lo = bisect.bisect_left(starts, match.start())
            hi = bisect.bisect_left(starts, match.end()) - 1
            country = self._country_index.get(_ABBREVIATION_COUNTRY[match.group()])
            if lo <= hi and country is not None:
                found.append((lo, hi, -1 - country))
        found.sort(key=lambda m: (m[0] - m[1], m[0]))
        taken = [False] * len(seq)
        seq_keys = [tokens[i].key for i in seq]
        for name in blocked:  # names that are no place in this text
            for k in range(len(seq_keys) - len(name) + 1):
                if tuple(seq_keys[k : k + len(name)]) == name:
                    taken[k : k + len(name)] = [True] * len(name)
        spans: list[_Span] = []
        for first, last, posting_id in found:
            if any(taken[first : last + 1]):
                continue
            if posting_id < 0:
                cands: tuple[int, ...] = (-1 - posting_id,)
                key = "#" + self._cc[cands[0]]
            else:
                cands = self._posting(posting_id)
                key = " ".join(tokens[seq[k]].key for k in range(first, last + 1))
            if not cands:  # a demonym or a blocked phrase
                taken[first : last + 1] = [True] * (last + 1 - first)
                if key in self._demonyms:
                    code = self._demonyms[key]
                    evidence[code] = max(evidence[code], 0.5)
                    start, end = tokens[seq[first]].lead, tokens[seq[last]].end
                    prev_word = tokens[seq[first] - 1].key if seq[first] else ""
                    language = prev_word == "in" and _LANGUAGE_END.match(doc.text, end)
                    if adjectives is not None and code in self._country_index and not language:
                        adjectives.append((start, end, code))
                continue
            t_first, t_last = seq[first], seq[last]
            if tokens[t_first].start < doc.byline_end:
                continue  # "By Laila Bassam and Tala Ramadan": names, not places
            span = _Span(t_first, t_last, tokens[t_first].lead, tokens[t_last].end, key, cands)
            surface = doc.text[span.start : span.end]
            if key.startswith("#") and "." in surface and doc.text[span.end : span.end + 1] == ".":
                span.end += 1  # "U.S." keeps its last period
            verdict = self._surface_verdict(doc, span, lowercase)
            if verdict == "actor":  # "Iran-backed", "US troops": evidence, not a place
                taken[first : last + 1] = [True] * (last + 1 - first)
                for code in {self._cc[i] for i in cands if self._kind[i] == _COUNTRY}:
                    evidence[code] = max(evidence[code], 0.5)
                    if adjectives is not None and _ACTOR_AFTER.match(doc.text, span.end):
                        adjectives.append((span.start, span.end, code))  # like a demonym
                continue
            if verdict == "outlet":  # nor is any name inside it ("Voice of the ... of Iran")
                taken[first : last + 1] = [True] * (last + 1 - first)
            if verdict == "person":
                persons.add(key)
            if verdict != "ok":
                continue
            taken[first : last + 1] = [True] * (last + 1 - first)
            self._read_context(doc, span)
            spans.append(span)
        spans.sort(key=lambda s: s.start)
        for n in range(1, len(spans)):
            before, span = spans[n - 1], spans[n]
            if _LIST_JOINERS.match(doc.text[before.end : span.start]):
                if not span.cue:
                    span.directional = before.directional
                span.locative = span.locative or before.locative
                span.cue = span.cue or before.cue
        return spans

    def _surface_verdict(self, doc: _Text, span: _Span, lowercase: set[str]) -> str:
        """Returns "ok", or why the match is not a place here."""
        tokens = doc.tokens
        word = tokens[span.first]
        if not _capitalised(doc.surface(word)):
            return "lowercase"
        follow = re.match(r"[-‐‑](\w+)", doc.text[span.end : span.end + 16])
        if follow and follow.group(1).casefold() in _ACTOR_SUFFIXES:
            return "actor"
        if follow and follow.group(1).casefold() == "based":
            return "based"  # "a London-based monitor": where an outlet sits, not an event
        surface = doc.text[span.start : span.end]
        if re.search(r"[a-z][A-Z]", surface) and not surface.startswith(("Mc", "Mac")):
            return "mixed case"  # "MoI", "LoC": acronyms, not the towns they spell
        if any(self._kind[i] == _COUNTRY for i in span.cands) and _ACTOR_AFTER.match(
            doc.text, span.end
        ):
            return "actor"  # "US troops", "Pakistan army": whose forces, not where
        prev1 = tokens[span.first - 1] if span.first >= 1 else None
        prev2 = tokens[span.first - 2] if span.first >= 2 else None
        if prev1 is not None and prev2 is not None and prev1.key == "the" and span.first >= 3:
            prev1, prev2 = prev2, tokens[span.first - 3]  # "Voice of the Islamic Republic"
        if _OUTLET_AFTER.match(doc.text, span.end) or (
            prev1 is not None
            and doc.text[prev1.end : tokens[span.first].lead].strip(" -") in ("", "the")
            and (
                doc.surface(prev1) in _OUTLET_BEFORE
                or (
                    prev1.key == "of"
                    and prev2 is not None
                    and doc.surface(prev2) in _OUTLET_BEFORE_OF
                )
            )
        ):
            return "outlet"  # "Sudan Tribune", "Radio Kabul", "Times of India"
        if span.key.startswith("#"):
            return "ok"
        if prev1 and prev2 and prev1.key == "of" and prev2.key in _FEATURE_KEYS:
            return "feature"  # "Strait of Malacca", "Sea of Azov"
        if prev1 and prev1.key in _FEATURE_KEYS and _capitalised(doc.surface(prev1)):
            return "feature"  # "Lake Chad", "Mount Hermon"
        if span.first != span.last:
            inner = tokens[span.first : span.last + 1]
            if all(t.key in _STOP_KEYS for t in inner):
                return "stop"  # "North West", "Central District"
            if not all(
                t.article or t.key in _CONNECTORS or _capitalised(doc.surface(t)) for t in inner
            ):
                return "lowercase"  # "The meeting", "Gaza by"
            return "ok"
        surface = doc.surface(word)
        if word.key in _STOP_KEYS:
            return "stop"
        opens_text = not doc.text[doc.byline_end : word.start].strip()
        if surface.isupper() and len(surface) <= 5 and not opens_text:
            return "acronym"  # "IRNA", "CAIR"; a dateline ("GOMA -") opens the text
        no_country = all(self._kind[i] != _COUNTRY for i in span.cands)
        towns_only = all(self._kind[i] == _TOWN for i in span.cands)
        if towns_only and word.key in lowercase:
            return "common word"  # the text also uses it in lower case
        if re.match(r"[ \t]+(?!(?:19|20)\d\d\b)\d", doc.text[span.end : span.end + 7]):
            return "model"  # "Falcon 9", "Boeing 737"; not "Syria 2015"
        sentence = doc.sentence_of(word.start)
        if span.first > 0:
            prev = tokens[span.first - 1]
            same_sentence = doc.sentence_of(prev.start) == sentence and prev.start >= doc.byline_end
            if doc.surface(prev).casefold() in _PERSON_TITLES and same_sentence:
                return "person"  # "President Aoun", "Gen. Haftar"
            if (
                no_country
                and same_sentence
                and self._name_like(doc, prev)
                and re.fullmatch(r"[ \t]+", doc.text[prev.end : word.lead]) is not None
            ):
                return "person"  # "Tony Blair": a capitalised word that is no place before it
        if span.last + 1 < len(tokens) and max(self._pop[i] for i in span.cands) < 200_000:
            nxt = tokens[span.last + 1]
            if (
                no_country
                and doc.sentence_of(nxt.start) == sentence
                and nxt.key not in _REGION_KEYS
                and self._name_like(doc, nxt)
                and re.fullmatch(r"[ \t]+", doc.text[span.end : nxt.start]) is not None
            ):
                return "person"  # "Billy Steinberg": a capitalised word that is no place after
        return "ok"

    def _name_like(self, doc: _Text, token: _Token) -> bool:
        """A capitalised word that may be part of a person's or an organisation's name: no
        common word, modifier, demonym, preposition, title, country or region."""
        if doc.title_case or token.article or not _capitalised(doc.surface(token)):
            return False
        if token.key in _PERSON_KEYS:
            return True
        surface = doc.surface(token).casefold()
        if (
            token.key in _STOP_KEYS
            or token.key in _MODIFIER_KEYS
            or token.key in self._demonyms
            or surface in _PLACE_CUES
            or surface in _PERSON_TITLES
        ):
            return False
        posting = self._lookup((token.key,))
        return posting < 0 or all(self._kind[i] == _TOWN for i in self._posting(posting))

    def _read_context(self, doc: _Text, span: _Span) -> None:
        """Region or town words around the name, and the preposition or verb before it."""
        tokens = doc.tokens
        if span.key.rsplit(" ", 1)[-1] in _REGION_KEYS:
            span.want = "admin1"  # the name itself ends in "Governorate", "Province", ...
        nxt = span.last + 1
        regions = any(self._kind[i] == _ADMIN1 for i in span.cands)
        if nxt < len(tokens) and re.fullmatch(r"[ \t]+", doc.text[span.end : tokens[nxt].start]):
            word = tokens[nxt].key
            if word in _REGION_KEYS and regions:
                span.want = "admin1"
                span.end = tokens[nxt].end
            elif word in _TOWN_KEYS:
                span.want = "town"
        if span.first >= 2:
            of, region = tokens[span.first - 1], tokens[span.first - 2]
            if of.key == "of" and region.key in _REGION_BEFORE_KEYS and regions:
                span.want = "admin1"
        sentence = doc.sentence_of(span.start)
        for back in range(span.first - 1, max(-1, span.first - 6), -1):
            token = tokens[back]
            if doc.sentence_of(token.start) != sentence:
                break
            if token.article:
                continue  # "in Al-Quneitra"
            surface = doc.surface(token).casefold()
            if surface in _LOCATIVES or surface in _ATTACK_VERBS:
                span.locative = span.cue = True
                break
            if surface == "of" and back > 0 and tokens[back - 1].key in _OF_PLACE_KEYS:
                span.cue = True  # "(in) the northern city of Mosul": look on for "in"
                continue
            if surface in _PLACE_CUES:
                span.cue = True
                span.directional = surface in _DIRECTIONS
                break
            if _capitalised(doc.surface(token)) and not doc.opens_sentence(token):
                break
