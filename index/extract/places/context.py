"""Stage: name matches and their candidates -> one place per name (in the article's context),
each mention's role, the dateline and the main place. Side effects: none.

How a name is disambiguated
  All mentions of one name in an article resolve to one place. A region and a town of the
  same name (its seat, or a town of 100,000+ in its country: "Kirkuk", "Raqqa", "Damascus")
  give the town, unless a region word follows ("Raqqa province", "Donetsk region") or precedes
  ("the governorate of Raqqa"); "Raqqa city" asks for the town. "Name, Region" or "Name,
  Country" keeps the candidates inside a candidate of the second name ("Lebanon,
  Pennsylvania"). Each candidate then scores
    1.5 log10(population) (-0.5 for a region, +1.5 for a country) + 0.5 in a conflict country
    + 2 if the caller hints its country
    + telling(country) * min(1.5, country evidence) + min(2, region evidence) (min(3, twice
      that) for the region itself) + 0.5 if a neighbouring country has evidence >= 1,
  where evidence comes from the article's other names: a country named adds 1 to it; a town
  or region adds 0.5 to its country and 1 to its region; a demonym or actor adjective 0.5.
  telling(country) = log10(0.7 / (0.02 sqrt(population / 10 M))) clipped to [0.3, 2]: naming
  the US says little about where a story is (it is named everywhere), naming Lebanon a lot.
  Pass 1 counts only names whose candidates share one country; passes 2 and 3 count every
  other name's choice. In pass 2 a one-word town under 50,000 people that follows no
  preposition or attack verb ("in", "near", "from", "shelled", ...) is dropped unless the
  caller hints its country or the other, not so doubtful names give its country and region a
  weight of at least 1 (a mention of Syria does; one of the US alone does not).

Which place is the main one (at most one per article; one whenever a place is found)
  Not places at all: news agencies and outlets (index/extract/data/places.yaml's `not_places`, the
  caller's `outlets`, and names of an outlet's shape: "Sudan Tribune", "Radio Kabul", "Times
  of India", "Agence France-Presse"), "London-based", a country followed by its forces or
  officials ("US troops", "Pakistan army": evidence for it, and a stand-in for a demonym) and
  words in mixed case ("MoI", "LoC"). Each mention gets a role: "mention" inside quoted speech
  (a quotation of four words or more next to "said", "told", ...), after "accused"/"blamed",
  as a broadcaster's place in a monitoring credit ("Peshawar, in Pashto 0611 gmt"), or in a
  background sentence ("in 2016", "last year", "since the war") other than the first event
  sentence; "event" otherwise. The dateline ("BEIRUT (Reuters) -",
  "Mosul, Iraq —", opening the body after the title line) is recorded (`dateline=True`).
  Candidates are the places with an "event" mention (all places when none has one). The main
  event sentences are the title and the body's first sentence with an event word (killed,
  clashes, exploded, seized, ...; the body's first sentence when none has one). Per candidate,
  the best of its mentions: 3 in a main sentence after a locative preposition or attack verb
  ("in", "near", "at", "shelled"; lowercase words may lie between: "in the northern city
  of"), 0.5 there after "from", "to", "towards", ..., else 2; 1 (0.5) in another event
  sentence with (without) such a word; in other sentences 0.3 in the first and 0.5 after a
  locative. Dateline mentions score nothing themselves; the filing place gets 0.8, so it wins
  only where no event sentence names a place. Then +1 for a place inside another candidate
  that a main sentence also names (the town in "Diyala province, near Khanaqin"), +0.5 for
  the title's most specific place, +0.3 for a town and +0.15 for a region. The highest score
  wins, then the earliest; its first event mention has `main=True`. When the text names no
  event place, the country its demonyms name most ("Algerian forces"; not a language: "in
  Spanish 0130 gmt") is added as the main place, with role "demonym".
"""

from __future__ import annotations

import math
from collections import defaultdict

from index.extract.places.reading import _Evidence, _Group, _Span, _Text
from index.extract.places.spelling import _ACCUSE_KEYS
from index.extract.places.tables import _Tables
from index.extract.places.types import _ADMIN1, _COUNTRY, _TOWN
from index.extract.places.words import (
    _BACKGROUND,
    _DATELINE,
    _IN_LANGUAGE,
    _KIND_PRIOR,
    _QUOTATION,
    _SAID_AFTER,
    _SAID_BEFORE,
    CONFLICT_COUNTRIES,
)


class _Context(_Tables):
    """Choosing among a name's candidates, and the roles and main place of the mentions."""

    # -- candidates --
    def _narrow(self, span: _Span, within: _Span) -> None:
        """Keep the candidates of `span` that lie in a candidate of the name after its comma."""
        inside = tuple(
            i
            for i in span.cands
            if any(
                i != j
                and self._kind[j] > self._kind[i]
                and self._cc[i] == self._cc[j]
                and (self._kind[j] == _COUNTRY or self._a1[i] == self._a1[j])
                for j in within.cands
            )
        )
        if inside:
            span.cands = inside

    def _filter_candidates(self, span: _Span) -> tuple[int, ...]:
        cands = span.cands
        if span.want == "admin1":
            return tuple(i for i in cands if self._kind[i] == _ADMIN1) or cands
        if span.want == "town":
            return tuple(i for i in cands if self._kind[i] == _TOWN) or cands
        # A region and a town of its name: the town (its seat, or any large town of its country).
        towns = [i for i in cands if self._kind[i] == _TOWN]
        return tuple(
            i
            for i in cands
            if not (
                self._kind[i] == _ADMIN1
                and any(
                    self._seat_of.get(i) == t
                    or (self._cc[t] == self._cc[i] and self._pop[t] >= 100_000)
                    for t in towns
                )
            )
        )

    # -- disambiguation --
    def _contributions(self, i: int) -> dict[str, float]:
        """What choosing place `i` adds to the evidence for its country and region."""
        code = self._cc[i]
        if self._kind[i] == _COUNTRY:
            return {code: 1.0}
        out = {code: 0.5}
        if self._a1[i]:
            out[f"{code}.{self._a1[i]}"] = 1.0
        return out

    def _country_weight(self, code: str, evidence: _Evidence) -> float:
        """Evidence for a country, scaled by how telling a mention of it is (`_telling`)."""
        return self._telling.get(code, 1.0) * min(1.5, evidence.get(code, 0.0))

    def _score(self, i: int, evidence: _Evidence, hints: set[str]) -> float:
        code = self._cc[i]
        score = 1.5 * math.log10(max(self._pop[i], 100)) + _KIND_PRIOR[self._kind[i]]
        if code in CONFLICT_COUNTRIES:
            score += 0.5
        if code in hints:
            score += 2.0
        score += self._country_weight(code, evidence)
        if self._a1[i]:  # a region that holds other named places is likely the one meant
            region = evidence.get(f"{code}.{self._a1[i]}", 0.0)
            score += min(3.0, 2.0 * region) if self._kind[i] == _ADMIN1 else min(2.0, region)
        if any(evidence.get(n, 0.0) >= 1.0 for n in self._neighbours.get(code, ())):
            score += 0.5
        return score

    def _best(self, group: _Group, evidence: _Evidence, hints: set[str]) -> int:
        return max(group.cands, key=lambda i: (self._score(i, evidence, hints), -i))

    def _resolve(self, groups: list[_Group], base: _Evidence, hints: set[str]) -> None:
        live = [g for g in groups if g.cands]
        # pass 1: names whose candidates all lie in one country are evidence for that country
        first = _Evidence(float, base)
        for group in live:
            if len({self._cc[i] for i in group.cands}) == 1:
                _add(first, self._contributions(self._best(group, base, hints)))
        for group in live:
            group.choice = self._best(group, first, hints)
        # pass 2: every other name's choice, and weak one-word towns dropped; pass 3: again
        for drop_weak in (True, False):
            totals = _Evidence(float, base)
            strong = _Evidence(float, base)
            for group in live:
                if group.choice >= 0:
                    _add(totals, self._contributions(group.choice))
                    if not self._weak_shaped(group):
                        _add(strong, self._contributions(group.choice))
            for group in live:
                if group.choice < 0:
                    continue
                own = self._contributions(group.choice)
                others = _Evidence(float, totals)
                _add(others, own, sign=-1.0)
                support = _Evidence(float, strong)
                if not self._weak_shaped(group):
                    _add(support, own, sign=-1.0)
                group.choice = self._best(group, others, hints)
                if drop_weak and self._weak_shaped(group):
                    code = self._cc[group.choice]
                    region = support.get(f"{code}.{self._a1[group.choice]}", 0.0)
                    if code not in hints and self._country_weight(code, support) + region < 1.0:
                        group.choice = -1

    def _weak_shaped(self, group: _Group) -> bool:
        """A one-word small town with no preposition or verb before it: maybe a false hit."""
        i = group.choice
        return (
            self._kind[i] == _TOWN
            and self._pop[i] < 50_000
            and not any(s.first != s.last or s.key.startswith("#") or s.cue for s in group.spans)
        )

    # -- main place --
    def _roles(self, doc: _Text, found: list[tuple[_Span, int]]) -> list[str]:
        """ "event" or "mention" per found span (see `PlaceMention.role`)."""
        claims = _claim_ranges(doc.text)
        first_event = min(doc.event_sentences, default=-1)
        roles = []
        for span, _i in found:
            sentence = doc.sentence_of(span.start)
            claimed = (
                any(lo <= span.start < hi for lo, hi in claims)
                or self._accused(doc, span)
                or _IN_LANGUAGE.match(doc.text, span.end) is not None
            )
            background = sentence != first_event and _BACKGROUND.search(doc.sentence_text(sentence))
            roles.append("mention" if claimed or background else "event")
        return roles

    def _accused(self, doc: _Text, span: _Span) -> bool:
        """ "accused Israel of ...", "blamed the United States for ...": named, not the place."""
        sentence = doc.sentence_of(doc.tokens[span.first].start)
        for back in range(span.first - 1, max(-1, span.first - 4), -1):
            token = doc.tokens[back]
            if doc.sentence_of(token.start) != sentence:
                return False
            if token.key in _ACCUSE_KEYS:
                return True
        return False

    def _dateline(self, doc: _Text, found: list[tuple[_Span, int]], title_end: int) -> list[int]:
        """The indexes in `found` of a dateline's places, the filing place first, or []:
        "BEIRUT (Reuters) -", "Mosul, Iraq —" opening the body (after the title line, if any)."""
        at = doc.byline_end
        if title_end:
            newline = doc.text.find("\n", title_end)
            if newline < 0:
                return []
            at = newline
        match = _DATELINE.match(doc.text, at)
        if match is None:
            return []
        head_start, head_end = match.span("head")
        head = match.group("head")
        credited = "(" in doc.text[head_end : match.end()]
        dashed = doc.text[head_end : match.end()].strip().strip("()") != ":"
        if not (credited or head.isupper() or ("," in head and dashed)):
            return []
        for k, (span, _i) in enumerate(found):
            if span.start >= head_start:
                rest = doc.text[span.end : head_end].lstrip()
                if span.start != head_start or (rest and not rest.startswith(",")):
                    return []
                return [n for n in range(k, len(found)) if found[n][0].start < head_end]
        return []

    def _main_place(
        self,
        doc: _Text,
        found: list[tuple[_Span, int]],
        titled: list[int],
        roles: list[str],
        dateline: list[int],
        title_end: int,
    ) -> int:
        """The place the main event happened in: the most specific place named in the main
        event sentences (the title and the first sentence with an event word, else the body's
        first sentence), told after "in", "near", "shelled", ... if any is; places in quoted
        claims, accusations and background are not candidates while others are."""
        if not found:
            return -1
        main_sentences = {n for n, at in enumerate(doc.starts) if at < title_end}
        body_events = sorted(n for n in doc.event_sentences if n >= len(main_sentences))
        main_sentences.add(body_events[0] if body_events else len(main_sentences))
        eventful = {i for (_s, i), role in zip(found, roles, strict=True) if role == "event"}
        first_at: dict[int, int] = {}
        base: dict[int, float] = defaultdict(float)
        for k, (span, i) in enumerate(found):
            if eventful and i not in eventful:
                continue
            first_at.setdefault(i, span.start)
            if k in dateline or (eventful and roles[k] != "event"):
                continue
            sentence = doc.sentence_of(span.start)
            if sentence in main_sentences:
                value = 3.0 if span.locative else 0.5 if span.directional else 2.0
            elif sentence in doc.event_sentences:
                value = 1.0 if span.locative else 0.5
            else:  # no event word: where the text says "in" still counts a little
                value = (0.3 if sentence == 0 else 0.0) + (0.5 if span.locative else 0.0)
            base[i] = max(base[i], value)
        score = {i: base[i] + (0.3, 0.15, 0.0)[self._kind[i]] for i in first_at}
        if dateline and found[dateline[0]][1] in score:
            score[found[dateline[0]][1]] += 0.8
        titled = [i for i in titled if i in first_at]
        if titled:
            score[min(titled, key=lambda i: self._kind[i])] += 0.5
        told = [i for i in first_at if base[i] >= 2.0]
        for i in told:  # a town inside a region or country the main sentence also names
            if any(j != i and self._inside(i, j) for j in told):
                score[i] += 1.0
        return max(first_at, key=lambda i: (score[i], -first_at[i]))

    def _inside(self, i: int, j: int) -> bool:
        """Place `i` lies in place `j`: a town in its region or country, a region in its country."""
        if self._cc[i] != self._cc[j] or self._kind[i] >= self._kind[j]:
            return False
        return self._kind[j] == _COUNTRY or (bool(self._a1[i]) and self._a1[i] == self._a1[j])


def _add(evidence: _Evidence, more: dict[str, float], sign: float = 1.0) -> None:
    for key, weight in more.items():
        evidence[key] += sign * weight


def _claim_ranges(text: str) -> list[tuple[int, int]]:
    """Spans of quoted speech: a quotation of four words or more said by someone ("...," the
    minister said; he said: "...")."""
    out = []
    for match in _QUOTATION.finditer(text):
        inner = match.group()[1:-1]
        if len(inner.split()) < 4:
            continue  # scare quotes: "scores"
        before = text[max(0, match.start() - 60) : match.start()]
        if _SAID_AFTER.match(text, match.end()) or _SAID_BEFORE.search(before):
            out.append(match.span())
    return out
