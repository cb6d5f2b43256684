"""Stage: article (title, text) -> Casualties (killed and injured, each a low/best/high Count). Side
effects: none (pure; no model, no network; regexes compiled once at import). This module reads the
sentences and merges their mentions; the grammar is in index/extract/casualtymention.py, quantities
and Count in index/extract/casualtycount.py, background markers in
index/extract/casualtybackground.py.

How it reads an article
- Sentences: the title, then the body's first LEAD_SENTENCES sentences (the lead); after that,
  only when the lead lacks a category, the sentences around each later casualty cue word (kill,
  dead, died, wound, injur, hurt, toll, casualt, ...). Only sentences holding a cue are parsed.
- Mentions are found by a small hand-written grammar over lower-cased tokens:
  active   "killing at least 30", "killed 5 soldiers and 3 civilians" (a list joined by "and" is
           summed: 8; "3 soldiers, 2 policemen and a civilian": 6; "12 people, 5 children" is an
           apposition: 12), "wounding 11", "claimed the lives of 7", "the deaths of 4",
           "killing him" (1), "shot dead 3"; not after "to/will/could/..." ("threatened to
           kill 100");
  passive  "12 civilians, including a woman and a child, were killed" (12: counts after
           "including", "among them", "most of them", "of whom" are subsets and are skipped),
           "two people were killed and 11 injured", "left 4 dead", "5 people died",
           "3 lost their lives", "12 fatalities", "30 injuries", "stabbed to death";
           "one of the injured", "two of the dead", "among the dead" are subsets: no count;
           person nouns include officials ("Christian minister shot dead in ...": 1);
  singular "a man was killed", "an Israeli soldier has been wounded", "a child died",
           "Soldier killed in ..." (a person noun right before the verb), "and another
           wounded" -> 1;
  toll     "the death toll (from the attack) rose to 23", "a death toll of 23", "the number of
           dead reached 23", "rose from 10 to 15" (15), "rose by 5 to 23" (23); "injury toll",
           "number of injured" -> injured.
  Without an auxiliary ("were", "was", "have been") a participle ("12 killed") counts only when
  followed by a preposition, a conjunction, punctuation or the end, and never by a count: "3
  gunmen killed 12" counts 12, never 3; "40 wounded people" is no count. A count whose noun is a
  weapon or attacker ("two missiles killed ...", "3 gunmen ...") is never the victims.
- Quantities (digits "1,200", "1.2 million", words "twenty-three", "two hundred and fifty"):
  exact N                      -> N/N/N
  "at least N", "N or more"    -> N/N/open(N)          open(N) = ceil(1.5 * N)
  "more than N", "over N"      -> N+1/N+1/open(N)
  "nearly N", "almost N"       -> N - ceil(N/5) / N-1 / N     ("nearly 50" -> 40/49/50)
  "fewer than N", "under N"    -> 1 / ceil((N-1)/2) / N-1
  "about N", "some N"          -> floor(0.9N) / N / ceil(1.1N)  (low at least 1)
  "up to N", "as many as N"    -> ceil(N/1.5) / N / N           (mirror of "at least")
  "between X and Y", "X to Y", "X-Y", "X or Y" -> X / floor((X+Y)/2) / Y
  vague words (modifiers around them are ignored):
    a few 2/3/5, a handful 2/3/5, several 3/5/9, a couple 2/2/2, both 2, a dozen 12/12/12,
    dozens 24/36/99, scores 40/60/199, hundreds 200/300/999, thousands 2000/3000/9999,
    tens of thousands 20000/30000/99999, hundreds of thousands 200000/300000/999999;
    "several dozen", "a few hundred": the vague triple times the unit.
  Numbers followed by a unit (days, km, percent, a month name, ...) are not counts; a bare year
  (1900-2100) counts only before "people", "civilians" or "persons".
- "casualties", "killed or wounded", "dead or injured": killed and injured together, split
  unknown; such counts are recognised and deliberately dropped (neither killed nor injured).
- Negations give 0/0/0: "no one was killed" -> killed 0; "no one was hurt/injured/harmed" and
  "no casualties", "without casualties" -> killed 0 and injured 0 (nobody hurt, nobody dead);
  "no deaths/fatalities" -> killed 0; "no injuries" -> injured 0. Hedged ones ("no immediate
  reports of casualties", "not immediately reported", "yet", "initial") mean unknown: None.
  A zero is used only when no positive count for that category was found.
- Background, not the reported event: a mention is dropped when its clause (the stretch between
  commas, semicolons, colons, dashes or brackets around it) holds a marker: "since" (not "since
  Tuesday", not "deadliest ... since"), "this year", "last month/year/week", "this month",
  "past year", "overall", "cumulative", "total" (not "a total of"), "previous(ly)", "ago",
  "anniversary", "an earlier", "in/since/during (the) 2014", "in/since March", "a week after",
  "bringing/raising/taking/pushing the toll/total/number to", "the war/conflict/insurgency has",
  or a perfect tense with "in/during the war/conflict/...". A relative clause ("which has
  killed", "when 60 were killed") inherits the clause before it ("the conflict, ...", "the
  worst attack since March, ..."), and a short opening adverbial ("Since October, ...", "In
  2014, ...", "Last year, ...") covers its whole sentence.
- Merging, per category: mentions from the title and the first LEAD_SENTENCES body sentences
  win; later sentences are used only when the lead has none. In reading order the first mention
  is taken; a later one with the same best widens the bounds (title "kills 12" + body "at least
  12" -> 12/12/18); a later exact count inside the first one's vague range replaces it ("dozens"
  then "at least 40" -> 40/40/60); a later toll update ("rose to", "climbed to", ...) replaces it
  when larger but at most UPDATE_MAX_FACTOR times larger (bigger jumps read as cumulative); a
  later sum that holds the first as one of its parts replaces it (title "40 militants killed" +
  body "40 militants and six soldiers were killed" -> 46). Separate clauses are never summed
  ("5 were killed in A and 3 were killed in B" -> 5), except
  a toll split by side within one sentence: the first count of state forces (soldiers, troops,
  police, ...) and the first of armed groups (militants, rebels, fighters, ...) are added ("12
  militants were killed, while three soldiers died" -> 15; "the army lost 9 soldiers" counts
  as 9 killed of one side; "lost 30 houses" is no toll).
- Civilians: a count is flagged `civilians` where its one victim noun phrase names civilians
  ("12 civilians", "civilian passengers", "a child", "4 villagers"); a list of several kinds
  ("5 soldiers and 3 civilians") or "people" is not. A toll told twice keeps the flag.
- Bounds always hold: 0 <= low <= best <= high (Count checks this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from index.extract.casualtycount import _ZERO
from index.extract.casualtycount import Count as Count
from index.extract.casualtymention import _Mention, _sentence_mentions

LEAD_SENTENCES: Final = 6
UPDATE_MAX_FACTOR: Final = 3


@dataclass(frozen=True, slots=True)
class Casualties:
    """Counts for the reported event; None where the article gives no count."""

    killed: Count | None
    injured: Count | None


# ---------------------------------------------------------------------------------------------
# Text -> sentences

# a sentence ends at . ! ? (and closing quotes) before a capital or digit, or at a line break
_SENTENCE_END = re.compile(
    r"[.!?](?<!\b(?i:jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec)\.)(?<!\b(?i:sept)\.)"  # Nov. 3
    r"[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n\s*"
)
# run on lower-cased text: only sentences holding a cue are parsed (a filter, so "skill" may match)
_CUE = re.compile(
    r"kill|d(?:ea[dt]|ie)|sla(?:in|ughter)|wound|injur|h(?:urt|arm)|fatalit|casualt"
    r"|li(?:ves|fe\b)|perish|toll|m(?:urder|assacr)|execut"
)
_FALLBACK_REACH = 600  # characters searched either side of a cue for its sentence's ends
_MARKS: Final = (". ", "? ", "! ", "\n")


# ---------------------------------------------------------------------------------------------
# Article -> Casualties


def extract_casualties(title: str, text: str) -> Casualties:
    """Killed and injured counts of the event an article reports (rules: module docstring)."""
    lead: dict[str, list[_Mention]] = {"killed": [], "injured": []}
    if title:
        _collect(title.lower(), lead)
    lowered = _lower_same_length(text)
    start, index = 0, 0
    for end in _SENTENCE_END.finditer(text):
        if index == LEAD_SENTENCES:
            break
        _collect(lowered[start : end.start() + 1], lead)
        start, index = end.end(), index + 1
    else:
        _collect(lowered[start:], lead)
        start = len(text)
    rest: dict[str, list[_Mention]] = {"killed": [], "injured": []}
    if not (lead["killed"] and lead["injured"]):
        # later sentences are a fallback, found from their cue words without splitting them all
        covered = start
        for hit in _CUE.finditer(lowered, start):
            if hit.start() >= covered:
                sentence_start, covered = _sentence_around(lowered, hit.start(), start)
                _collect(lowered[sentence_start:covered], rest)
    return Casualties(
        killed=_merge(lead["killed"] or rest["killed"]),
        injured=_merge(lead["injured"] or rest["injured"]),
    )


def _sentence_around(lowered: str, at: int, floor: int) -> tuple[int, int]:
    """The (start, end) of the sentence holding position `at`, at or after `floor`."""
    low, high = max(floor, at - _FALLBACK_REACH), min(len(lowered), at + _FALLBACK_REACH)
    start = max(lowered.rfind(mark, low, at) for mark in _MARKS)
    start = low if start < 0 else start + 1
    ends = [found for mark in _MARKS if (found := lowered.find(mark, at, high)) >= 0]
    return start, (min(ends) + 1 if ends else high)


def _lower_same_length(text: str) -> str:
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)  # "İ" -> "i̇"


def _collect(sentence: str, bucket: dict[str, list[_Mention]]) -> None:
    if not _CUE.search(sentence):
        return
    for mention in _sentence_mentions(sentence):
        if mention.kind in bucket:
            bucket[mention.kind].append(mention)


def _merge(mentions: list[_Mention]) -> Count | None:
    """One count from a category's mentions in reading order (rules: module docstring)."""
    positive = [m for m in mentions if m.count.high > 0]
    if not positive:
        return _ZERO if mentions else None
    current = positive[0]
    for other in positive[1:]:
        cur, new = current.count, other.count
        if new.best == cur.best:
            widened = Count(min(cur.low, new.low), cur.best, max(cur.high, new.high))
            current = _Mention(
                current.kind,
                widened,
                current.start,
                current.end,
                civilians=current.civilians or other.civilians,  # one toll, told twice
            )
        elif (
            (current.vague and not other.vague and cur.low <= new.best <= cur.high)
            or (other.update and cur.best < new.best <= UPDATE_MAX_FACTOR * cur.best)
            or (cur.best in other.parts and new.best > cur.best)  # one side's toll, then both
        ):
            current = other
    count = current.count
    return replace(count, civilians=True) if current.civilians else count
