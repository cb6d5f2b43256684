"""Stage: article (title, text) -> Casualties (killed and injured, each a low/best/high Count).
Side effects: none (pure; no model, no network; regexes compiled once at import).

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
from dataclasses import dataclass, field, replace
from typing import Final

LEAD_SENTENCES: Final = 6
UPDATE_MAX_FACTOR: Final = 3
_MAX_NP = 6  # words of a victim noun phrase ("members of the same family")
_MAX_AUX = 5
_MAX_LIST = 12  # items of a victim list; bounds keep long odd sentences linear
_MAX_CLAUSE = 40  # tokens read either side of a mention for background markers
_MAX_TOKENS = 200  # of one sentence (news sentences are far shorter)
_MAX_TOLL_GAP = 10


@dataclass(frozen=True, slots=True)
class Count:
    """A casualty figure as a range: low <= best <= high. `civilians`: the text says the
    victims were civilians ("killing 12 civilians", "a child was killed"); not part of the
    figure, so it takes no part in comparing counts."""

    low: int
    best: int
    high: int
    civilians: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.best <= self.high:
            raise ValueError(f"need 0 <= low <= best <= high: {self.low}/{self.best}/{self.high}")


@dataclass(frozen=True, slots=True)
class Casualties:
    """Counts for the reported event; None where the article gives no count."""

    killed: Count | None
    injured: Count | None


_ZERO: Final = Count(0, 0, 0)

# ---------------------------------------------------------------------------------------------
# Text -> sentences -> tokens

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
_TOKEN = re.compile(
    r"[a-z0-9]+(?:[-–][a-z0-9]+)+"  # compounds: twenty-three, 12-year-old, no-one, 10-15
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 1,200
    r"|\d+\.\d+"  # 1.2 (million)
    r"|[a-z0-9]+"
    r"|[,;:()\[\].!?–—%-]"
)
_BOUNDARY: Final = frozenset(",;:()[].!?–—-")
_HARD_STOP: Final = frozenset(".;!?")

# ---------------------------------------------------------------------------------------------
# Word classes


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UNITS: Final = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES: Final = {"thousand": 1_000, "million": 1_000_000}
_VAGUE: Final = {
    "dozens": (24, 36, 99),
    "scores": (40, 60, 199),
    "hundreds": (200, 300, 999),
    "thousands": (2_000, 3_000, 9_999),
    "several": (3, 5, 9),
}
_VAGUE_AFTER_A: Final = {"few": (2, 3, 5), "handful": (2, 3, 5)}
_VAGUE_UNIT: Final = {"dozen": 12, "hundred": 100, "thousand": 1_000}
_MONTHS: Final = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_WEEKDAYS: Final = _words("monday tuesday wednesday thursday friday saturday sunday")
_NOT_VICTIMS: Final = (
    _words(
        "years year months month weeks week days day hours hour minutes minute seconds km "
        "kilometres kilometers kilometre kilometer miles mile metres meters metre meter feet "
        "foot percent per times am pm gmt utc bn billion dollars euros kg tonnes tons acres mm "
        "rd th st nd %"
    )
    | _MONTHS
)
_YEAR_VICTIMS: Final = frozenset({"people", "civilians", "persons"})

# modifier phrases -> kind; matched longest first
_MODIFIERS: Final = {
    ("at", "least"): "atleast", ("no", "fewer", "than"): "atleast",
    ("no", "less", "than"): "atleast",
    ("a", "minimum", "of"): "atleast", ("at", "the", "very", "least"): "atleast",
    ("more", "than"): "more", ("over",): "more", ("upwards", "of"): "more",
    ("in", "excess", "of"): "more", ("above",): "more", ("well", "over"): "more",
    ("nearly",): "nearly", ("almost",): "nearly", ("close", "to"): "nearly",
    ("just", "under"): "nearly", ("just", "shy", "of"): "nearly",
    ("fewer", "than"): "fewer", ("less", "than"): "fewer", ("under",): "fewer",
    ("about",): "about", ("around",): "about", ("approximately",): "about",
    ("roughly",): "about", ("some",): "about", ("an", "estimated"): "about",
    ("estimated",): "about", ("approx",): "about",
    ("up", "to"): "upto", ("as", "many", "as"): "upto", ("at", "most"): "upto",
    ("no", "more", "than"): "upto", ("a", "maximum", "of"): "upto",
    ("a", "total", "of"): "plain", ("another",): "plain", ("an", "additional"): "plain",
    ("a", "further"): "plain", ("additional",): "plain", ("further",): "plain",
    ("all",): "plain", ("the",): "plain", ("between",): "between",
}  # fmt: skip
_MODIFIERS_BY_FIRST: Final[dict[str, list[tuple[tuple[str, ...], str]]]] = {}
for _phrase, _kind in sorted(_MODIFIERS.items(), key=lambda item: -len(item[0])):
    _MODIFIERS_BY_FIRST.setdefault(_phrase[0], []).append((_phrase, _kind))

_KILL_ACTIVE: Final = _words(
    "killed killing kills kill murdered murdering massacred massacring slaughtered slaughtering "
    "executed executing"
)
_INJURE_ACTIVE: Final = _words(
    "wounded wounding wounds wound injured injuring injures injure hurting"
)
_BASE_VERBS: Final = _words("kill injure wound hurt murder execute massacre slaughter")
_NOT_DONE: Final = _words("to will would could can may might shall not never")
_LIVES_VERBS: Final = _words("claimed claiming claims claim took taking cost costing")
_KILLED_WORDS: Final = _words(
    "killed dead died die dies slain perished deaths death fatalities fatality murdered "
    "executed massacred"
)
_INJURED_WORDS: Final = _words("wounded injured hurt injuries injury harmed")
_COMBINED_WORDS: Final = frozenset({"casualties", "casualty"})
_PARTICIPLES: Final = _words("killed wounded injured hurt murdered executed massacred slain harmed")
_TO_DEATH: Final = _words(
    "stabbed burned burnt beaten crushed hacked bludgeoned shot tortured starved"
)
_AUX: Final = _words(
    "were was are is have has had been being be who that which reportedly also all later "
    "confirmed reported feared believed presumed found said to now already each allegedly "
    "apparently initially subsequently eventually left both"
)
_SINGULAR_AUX: Final = frozenset({"was", "is", "has"})
_FOLLOW_OK: Final = (
    _words(
        "in on at by when after during while as near and or but following amid across inside "
        "outside overnight yesterday today tonight since from with including last this early "
        "late earlier so over around throughout within between among along close north south "
        "east west says say said according"
    )
    | _WEEKDAYS
    | _BOUNDARY
)
_NP_BREAK: Final = (
    _AUX
    | _KILLED_WORDS
    | _INJURED_WORDS
    | _COMBINED_WORDS
    | _KILL_ACTIVE
    | _INJURE_ACTIVE
    | _BOUNDARY
    | _words(
        "and or but including among after before when while since during because as than then "
        "if says told according amid following until by lost lose losing shot stabbed burned "
        "burnt beaten crushed hacked"
    )
)
_SUBSET_START: Final = frozenset({"including", "among", "incl", "mostly", "mainly", "most"})
_AGENTS: Final = _words(
    "attack attacks strike strikes airstrike airstrikes missile missiles rocket rockets drone "
    "drones bomb bombs blast blasts explosion explosions shell shells gunmen gunman assailants "
    "attackers raids raid shots bullets bombers bombings"
)
_PERSONS: Final = _words(
    "man woman child boy girl baby infant toddler teenager teen person civilian soldier officer "
    "policeman policewoman journalist reporter photographer cameraman worker farmer fighter "
    "militant member resident student doctor nurse medic paramedic pilot driver shepherd "
    "fisherman guard commander leader official trooper peacekeeper contractor volunteer "
    "villager passerby pedestrian youth mother father son daughter wife husband brother sister "
    "policeman gendarme marine sailor sergeant captain colonel general lieutenant major private "
    "militiaman rebel insurgent jihadist gunman bystander protester demonstrator activist "
    "teacher imam priest pupil grandmother grandfather settler minister politician lawmaker "
    "legislator mp judge governor mayor chief cleric preacher elder diplomat ambassador envoy "
    "lawyer businessman businesswoman engineer bodyguard hostage prisoner detainee candidate "
    "blogger refugee migrant pilgrim worshipper tourist policeman"
)
_SIDE_STATE: Final = _words(
    "soldier soldiers troops trooper troopers policeman policemen police officers servicemen "
    "personnel guards gendarmes marines sailors pilots conscripts"
)
_SIDE_ARMED: Final = _words(
    "militant militants rebel rebels insurgent insurgents fighters jihadists militiamen "
    "combatants extremists terrorists"
)
_CIVILIANS: Final = _words(
    "civilian civilians child children boy boys girl girls woman women villager villagers "
    "resident residents worshipper worshippers student students pupil pupils passenger "
    "passengers shopper shoppers farmer farmers journalist journalists refugee refugees "
    "pilgrim pilgrims tourist tourists bystander bystanders teacher teachers"
)
_NO_WORDS: Final = frozenset({"no", "nobody", "none", "no-one"})
_HEDGES: Final = frozenset({"immediate", "immediately", "yet", "initial", "further", "other"})
_NEG_KILLED: Final = frozenset({"deaths", "fatalities", "dead", "death", "fatality"})
_NEG_INJURED: Final = frozenset({"injuries", "injury"})
_NEG_BOTH: Final = frozenset({"casualties", "casualty", "victims"})
_TOLL_LINK: Final = _words(
    "to at of reached reaches hit hits is was now passed topped exceeded surpassed stands stood "
    "about around nearly over"
)
_UPDATE_WORDS: Final = _words(
    "rose risen rises rising climbed climbs climbing increased increases jumped jumps grew "
    "mounted reached reaches updated revised"
)

# background markers
_SUPERLATIVES: Final = _words(
    "deadliest worst bloodiest biggest largest heaviest highest first most fiercest strongest "
    "single major"
)
_WAR_NOUNS: Final = _words(
    "war wars conflict insurgency invasion occupation uprising revolution hostilities"
)
_BG_WORDS: Final = frozenset(
    {"overall", "cumulative", "previous", "previously", "ago", "anniversary"}
)
_BG_PAIRS: Final = frozenset(
    {
        ("this", "year"), ("last", "year"), ("last", "month"), ("last", "week"),
        ("this", "month"), ("past", "year"), ("past", "month"), ("past", "decade"),
        ("past", "years"), ("past", "months"), ("an", "earlier"), ("the", "earlier"),
        ("previous", "year"),
    }
)  # fmt: skip
_BG_AFTER_UNITS: Final = _words("day days week weeks month months year years")
_BG_TIME_PREPS: Final = frozenset({"in", "since", "during", "throughout", "last", "of", "early"})
_BG_PUSH: Final = _words("bringing brings raising raises taking takes pushing pushes")
_BG_PUSH_TARGETS: Final = frozenset({"toll", "total", "number", "tally", "figure", "count"})
_SINCE_RECENT: Final = _WEEKDAYS | frozenset({"yesterday", "dawn", "morning", "overnight"})
_SINCE_THE_EVENT: Final = _words(
    "morning afternoon evening weekend attack attacks blast explosion explosions bombing strike "
    "strikes assault raid shelling fighting clashes incident ambush"
)
_DETERMINERS: Final = frozenset({"a", "an", "the", "his", "her", "their"})
_PREPOSITIONS: Final = frozenset({"of", "in", "at", "on", "from", "near"})


_NUMBER_START: Final = frozenset(_UNITS) | frozenset(_VAGUE) | {"a", "an", "half", "both", "tens"}
_AFTER_A: Final = frozenset({"dozen", "hundred", "thousand", "couple"}) | frozenset(_VAGUE_AFTER_A)
_PASSIVE_HEADS: Final = (
    _KILLED_WORDS
    | _INJURED_WORDS
    | _COMBINED_WORDS
    | _TO_DEATH
    | {"lost", "lose", "losing", "shot"}
)


@dataclass(frozen=True, slots=True)
class _Quantity:
    count: Count
    vague: bool
    end: int


@dataclass(frozen=True, slots=True)
class _Mention:
    kind: str  # "killed" | "injured" | "combined" (recognised, then dropped)
    count: Count
    start: int
    end: int
    update: bool = False
    vague: bool = False
    side: str = ""  # "state" or "armed" when the victims are one side's ("12 soldiers")
    civilians: bool = False  # the victims are said to be civilians ("12 civilians", "a child")
    parts: tuple[int, ...] = ()  # the summed counts' bests ("40 militants and 6 soldiers")


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


# ---------------------------------------------------------------------------------------------
# Sentence -> mentions


def _sentence_mentions(sentence: str) -> list[_Mention]:
    """Mentions in one lower-cased sentence, background ones dropped."""
    toks: list[str] = _TOKEN.findall(sentence)[:_MAX_TOKENS]
    found: list[_Mention] = []
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        got: list[_Mention] | None = None
        if tok in ("deaths", "death", "killing", "killings") and _at(toks, i + 1) == "of":
            got = _object_list(toks, i, i + 2, "killed")  # "the deaths of 4 soldiers"
        elif tok in _KILL_ACTIVE or tok in _INJURE_ACTIVE or tok in _LIVES_VERBS or tok == "shot":
            got = _active(toks, i)
        elif tok in ("lost", "lose", "losing") and (lost := _active(toks, i)) and lost[0].side:
            got = lost  # "the army lost 9 soldiers"; not "lost 3 homes"
        elif tok in ("toll", "tolls", "number"):
            got = _toll(toks, i)
        elif tok in _NO_WORDS or tok == "without":
            got = _negation(toks, i)
        if got is None and _may_start_passive(toks, i):
            got = _passive(toks, i)
        if got:
            found.extend(m for m in got if not _is_background(toks, m.start, m.end))
            i = max(m.end for m in got)
        else:
            i += 1
    return _sum_sides(found)


def _may_start_passive(toks: list[str], i: int) -> bool:
    """A cheap gate before _passive: most words start no quantity and no singular victim."""
    tok = toks[i]
    if _starts_number(tok):
        return tok not in ("a", "an") or _at(toks, i + 1) in _AFTER_A or _head_near(toks, i)
    if tok in _MODIFIERS_BY_FIRST:
        return tok == "another" or any(_starts_number(t) for t in toks[i + 1 : i + 5])
    return (tok in _DETERMINERS or tok in _PERSONS) and _head_near(toks, i)


def _starts_number(tok: str) -> bool:
    return tok[0].isdigit() or tok in _NUMBER_START or tok.split("-", 1)[0] in _UNITS


def _head_near(toks: list[str], i: int) -> bool:
    return any(t in _PASSIVE_HEADS for t in toks[i + 1 : i + 10])


def _at(toks: list[str], i: int) -> str:
    return toks[i] if 0 <= i < len(toks) else ""


def _active(toks: list[str], i: int) -> list[_Mention] | None:
    """Verb, then victims: "killing at least 30", "wounded 5 soldiers and 3 civilians"."""
    tok = toks[i]
    if tok == "shot":
        return _object_list(toks, i, i + 2, "killed") if _at(toks, i + 1) == "dead" else None
    if tok in ("lost", "lose", "losing"):  # "the army lost 9 soldiers": one side's dead
        return _object_list(toks, i, i + 1, "killed")
    if tok in _LIVES_VERBS:
        if toks[i + 1 : i + 4] != ["the", "lives", "of"]:
            return None
        return _object_list(toks, i, i + 4, "killed")
    if tok in _BASE_VERBS and _at(toks, i - 1) in _NOT_DONE:
        return None  # "threatened to kill 100 hostages", "could kill thousands"
    kind = "killed" if tok in _KILL_ACTIVE else "injured"
    nxt = _at(toks, i + 1)
    other_verbs = _INJURE_ACTIVE if kind == "killed" else _KILL_ACTIVE
    if nxt in ("or", "and") and _at(toks, i + 2) in other_verbs:
        return _object_list(toks, i, i + 3, "combined")  # "killing or wounding 12"
    if nxt in ("him", "her"):
        return [_Mention(kind, Count(1, 1, 1), i, i + 2)]
    return _object_list(toks, i, i + 1, kind)


def _object_list(toks: list[str], start: int, j: int, kind: str) -> list[_Mention] | None:
    first = _victims(toks, j)
    if first is None:
        return None
    count, vague, end, parts = _victim_list(toks, first, active=True)
    side = _side(toks, first.end, end)
    civilians = _civilians(toks, first.end, end)
    return [
        _Mention(kind, count, start, end, vague=vague, side=side, parts=parts, civilians=civilians)
    ]


def _side(toks: list[str], start: int, end: int) -> str:
    """The side one victim noun phrase toks[start:end] belongs to, if it names one."""
    if _skip_np(toks, start) != end:
        return ""  # a list ("5 soldiers and 3 civilians"), already summed
    head = _np_head(toks, start, end)
    return "state" if head in _SIDE_STATE else "armed" if head in _SIDE_ARMED else ""


def _civilians(toks: list[str], start: int, end: int) -> bool:
    """Whether one victim noun phrase toks[start:end] names civilians ("civilians", "civilian
    passengers", "children"); a list of several kinds of victims does not."""
    return _skip_np(toks, start) == end and _np_head(toks, start, end) in _CIVILIANS


def _sum_sides(found: list[_Mention]) -> list[_Mention]:
    """A toll split by side in one sentence is summed: "12 militants were killed, while three
    soldiers died" -> 15 (the first count of each side)."""
    firsts: dict[str, _Mention] = {}
    for m in found:
        if m.kind == "killed" and m.side and not m.update:
            firsts.setdefault(m.side, m)
    if len(firsts) < 2:
        return found
    a, b = sorted(firsts.values(), key=lambda m: m.start)
    total = Count(
        a.count.low + b.count.low, a.count.best + b.count.best, a.count.high + b.count.high
    )
    parts = (a.count.best, b.count.best)
    merged = _Mention("killed", total, a.start, b.end, vague=a.vague or b.vague, parts=parts)
    return [merged if m is a else m for m in found if m is not b]


def _victim_list(
    toks: list[str], first: _Quantity, *, active: bool
) -> tuple[Count, bool, int, tuple[int, ...]]:
    """Sum "5 soldiers and 3 civilians", "3 soldiers, 2 policemen and a civilian"; a comma list
    must end with "and" ("12 people, 5 children" is an apposition). In the active voice an item
    followed by its own verb starts a new clause ("killed 5 and 3 were wounded")."""
    items, seps = [first], []
    ends = [_skip_np(toks, first.end)]
    while (sep := _at(toks, ends[-1])) in ("and", ",") and len(items) < _MAX_LIST:
        following = _victims(toks, ends[-1] + 1)
        if following is None:
            break
        after = _skip_np(toks, following.end)
        if active and (_at(toks, after) in _AUX or _kill_word(toks, after) is not None):
            break
        items.append(following)
        seps.append(sep)
        ends.append(after)
    if "," in seps and seps[-1] != "and":
        cut = seps.index(",") + 1
        items, ends = items[:cut], ends[:cut]
    total = items[0].count
    for item in items[1:]:
        total = Count(
            total.low + item.count.low, total.best + item.count.best, total.high + item.count.high
        )
    parts = tuple(item.count.best for item in items) if len(items) > 1 else ()
    return total, any(item.vague for item in items), ends[-1], parts


def _passive(toks: list[str], i: int) -> list[_Mention] | None:
    """Victims, then verb: "12 civilians, including a child, were killed", "4 dead"."""
    tok = toks[i]
    if tok == "another" and (found := _kill_word(toks, i + 1)) is not None:
        return [_Mention(found[0], Count(1, 1, 1), i, found[1])]  # "... and another wounded"
    quantity = None if tok in _PERSONS else _quantity(toks, i)
    if quantity is None:
        return _singular(toks, i) if tok in _DETERMINERS or tok in _PERSONS else None
    np_end = _skip_np(toks, quantity.end)
    if _np_head(toks, quantity.end, np_end) in _AGENTS:
        return None  # "3 rockets killed ...": the count is of weapons, not victims
    count, vague, k, parts = _victim_list(toks, quantity, active=False)
    k_list = k
    if _at(toks, k - 1) in _PREPOSITIONS or _at(toks, k - 1) == "the":
        return None  # "one of the injured (died)", "two of the dead": a subset
    k = _skip_subset(toks, k)
    k, has_aux = _skip_aux(toks, k)
    found = _kill_word(toks, k)
    if found is None:
        return None
    kind, end = found
    if not has_aux and not _participle_ok(toks, end):
        return None
    side = _side(toks, quantity.end, np_end) if np_end >= k_list else ""
    civilians = np_end >= k_list and _civilians(toks, quantity.end, np_end)
    return [_Mention(kind, count, i, end, vague=vague, side=side, parts=parts, civilians=civilians)]


def _singular(toks: list[str], i: int) -> list[_Mention] | None:
    """One victim: "a man was killed", "an Israeli has been wounded", "Soldier killed in"."""
    det = toks[i] if toks[i] in _DETERMINERS else ""
    k = i + 1 if det else i
    np_start, head = k, ""
    while k < len(toks) and k - np_start < 4 and not _breaks_np(toks[k]):
        head = toks[k]
        k += 1
    if not head:
        return None
    after_aux, has_aux = _skip_aux(toks, k)
    if has_aux and toks[k] not in _SINGULAR_AUX:
        return None  # "were": not one person
    found = _kill_word(toks, after_aux)
    if found is None:
        return None
    kind, end = found
    person = head in _PERSONS
    if has_aux:
        if det not in ("a", "an") and not person:
            return None  # "the attack was deadly"; "his wife was killed" passes
    elif not person or det not in ("", "a", "an") or not _participle_ok(toks, end):
        return None
    return [_Mention(kind, Count(1, 1, 1), i, end, civilians=head in _CIVILIANS)]


def _kill_word(toks: list[str], k: int) -> tuple[str, int] | None:
    """The casualty word at k as (kind, index after it), or None."""
    tok = _at(toks, k)
    if tok in _KILLED_WORDS:
        kind = "killed"
    elif tok in _INJURED_WORDS:
        kind = "injured"
    elif tok in _COMBINED_WORDS:
        return "combined", k + 1
    elif tok in ("lost", "lose", "losing") and _at(toks, k + 2) in ("lives", "life"):
        return "killed", k + 3
    elif tok == "shot" and _at(toks, k + 1) == "dead":
        return "killed", k + 2
    elif toks[k : k + 3] == ["shot", "and", "killed"] or (
        tok in _TO_DEATH and toks[k + 1 : k + 3] == ["to", "death"]
    ):
        return "killed", k + 3
    else:
        return None
    if _at(toks, k + 1) in ("or", "and"):
        other = _at(toks, k + 2)
        if other in (_INJURED_WORDS if kind == "killed" else _KILLED_WORDS):
            return "combined", k + 3  # "killed or wounded", "dead and injured"
    return kind, k + 1


def _participle_ok(toks: list[str], end: int) -> bool:
    """Without an auxiliary, "killed"/"wounded" must not take an object ("3 gunmen killed 12")."""
    if toks[end - 1] not in _PARTICIPLES:
        return True
    nxt = _at(toks, end)
    return (not nxt or nxt in _FOLLOW_OK) and _victims(toks, end) is None


def _breaks_np(tok: str) -> bool:
    return tok in _NP_BREAK or (tok[0].isdigit() and "-" not in tok)


def _skip_np(toks: list[str], k: int) -> int:
    start = k
    while k < len(toks) and k - start < _MAX_NP and not _breaks_np(toks[k]):
        k += 1
    return k


def _np_head(toks: list[str], start: int, end: int) -> str:
    """The noun a phrase is about: "people" in "people in air strikes"."""
    head = ""
    for k in range(start, end):
        if toks[k] in _PREPOSITIONS:
            break
        head = toks[k]
    return head


def _skip_subset(toks: list[str], k: int) -> int:
    """Skip ", including a woman and a child," / ", most of them children," and the like."""
    j = k + 1 if _at(toks, k) == "," else k
    window = toks[j : j + 16]
    if not window:
        return k
    is_subset = window[0] in _SUBSET_START or any(
        window[x] == "of" and window[x + 1] in ("them", "whom")
        for x in range(min(4, len(window) - 1))
    )
    if not is_subset:
        return k
    for x, tok in enumerate(window):
        if tok == ",":
            return j + x + 1
        if x and (tok in _AUX or tok in _HARD_STOP or _kill_word(toks, j + x) is not None):
            return j + x
    return k


def _skip_aux(toks: list[str], k: int) -> tuple[int, bool]:
    start = k
    while k < len(toks) and k - start < _MAX_AUX and toks[k] in _AUX:
        k += 1
    return k, k > start


def _toll(toks: list[str], i: int) -> list[_Mention] | None:
    """ "the death toll (from the attack) rose to 23", "the number of dead reached 23"."""
    kind = "killed"
    j = i + 1
    if toks[i] == "number":
        if _at(toks, j) != "of":
            return None
        j += 2 if _at(toks, j + 1) == "people" else 1
        if _at(toks, j) in _KILLED_WORDS:
            kind = "killed"
        elif _at(toks, j) in _INJURED_WORDS:
            kind = "injured"
        else:
            return None
        j += 1
    elif _at(toks, i - 1) in ("injury", "injuries"):
        kind = "injured"
    elif _at(toks, i - 1) in ("casualty", "casualties"):
        kind = "combined"
    update = False
    for k in range(j, min(len(toks), j + _MAX_TOLL_GAP)):
        tok = toks[k]
        if tok in _HARD_STOP:
            return None
        update = update or tok in _UPDATE_WORDS
        if toks[k - 1] in _TOLL_LINK and (quantity := _quantity(toks, k)) is not None:
            return [_Mention(kind, quantity.count, i, quantity.end, update, quantity.vague)]
    return None


def _negation(toks: list[str], i: int) -> list[_Mention] | None:
    """ "no one was killed" -> killed 0; "no casualties", "without casualties" -> both 0."""
    tok = toks[i]
    window_end = i + 1
    while window_end < len(toks) and window_end - i < 10 and toks[window_end] not in _BOUNDARY:
        window_end += 1
    if any(t in _HEDGES for t in toks[i:window_end]):
        return None  # "no immediate reports of casualties": unknown, not zero
    kinds: tuple[str, ...] = ()
    end = i + 1
    if tok in ("nobody", "no-one", "none") or (tok == "no" and _at(toks, i + 1) == "one"):
        k = i + 2 if tok == "no" else i + 1
        if _at(toks, k) == "of":  # "none of the passengers"
            k = _skip_np(toks, k + 1)
        k, _ = _skip_aux(toks, k)
        word = _at(toks, k)
        if word in _KILLED_WORDS:
            kinds = ("killed",)
        elif word in _INJURED_WORDS:
            kinds = ("killed", "injured")  # nobody hurt: nobody dead either
        end = k + 1
    else:  # "no (reports of) (civilian) casualties", "without casualties"
        for k in range(i + 1, min(window_end, i + 5)):
            word = toks[k]
            if word in _NEG_BOTH:
                kinds = ("killed", "injured")
            elif word in _NEG_KILLED:
                kinds = ("killed",)
            elif word in _NEG_INJURED:
                kinds = ("injured",)
            else:
                continue
            end = k + 1
            break
    return [_Mention(kind, _ZERO, i, end) for kind in kinds] or None


# ---------------------------------------------------------------------------------------------
# Quantities


def _victims(toks: list[str], j: int) -> _Quantity | None:
    """A quantity, or "a/an ... <person>" as one."""
    quantity = _quantity(toks, j)
    if quantity is not None or _at(toks, j) not in ("a", "an", "his", "her"):
        return quantity  # "a district official and his driver": 2
    for k in range(j + 1, min(len(toks), j + 5)):
        if toks[k] in _PERSONS:
            return _Quantity(Count(1, 1, 1), False, k + 1)
        if _breaks_np(toks[k]):
            return None
    return None


def _quantity(toks: list[str], i: int) -> _Quantity | None:
    """A number with its modifier ("at least 30", "between 10 and 15", "dozens of")."""
    kind, j = "plain", i
    for phrase, phrase_kind in _MODIFIERS_BY_FIRST.get(_at(toks, i), ()):
        if tuple(toks[i : i + len(phrase)]) == phrase:
            kind, j = phrase_kind, i + len(phrase)
            break
    base = _number(toks, j)
    if base is None:
        return None
    count, k, vague = base
    nxt = _at(toks, k)
    if nxt in _NOT_VICTIMS:
        return None  # "3 days", "5 km", "12 March"
    if kind == "between":
        upper = _number(toks, k + 1) if nxt == "and" and count.low == count.high else None
        if upper is None or upper[2] or upper[0].low <= count.low:
            return None
        low, high = count.low, upper[0].low
        return _Quantity(Count(low, (low + high) // 2, high), False, upper[1])
    if vague or count.low != count.high:
        return _Quantity(count, vague, k)
    if nxt == "or" and _at(toks, k + 1) in ("more", "so"):
        kind, k = ("atleast" if _at(toks, k + 1) == "more" else "about"), k + 2
    elif nxt == "plus":
        kind, k = "atleast", k + 1
    return _Quantity(_modified(kind, count.low), False, k)


def _modified(kind: str, n: int) -> Count:
    open_high = max(n, (3 * n + 1) // 2)  # ceil(1.5 * n)
    if kind == "atleast":
        return Count(n, n, open_high)
    if kind == "more":
        return Count(n + 1, n + 1, max(n + 1, open_high))
    if kind == "nearly":
        low = max(0, n - (n + 4) // 5)
        return Count(low, max(low, n - 1), n)
    if kind == "fewer":
        top = n - 1
        return Count(1, (top + 1) // 2, top) if top >= 1 else _ZERO
    if kind == "about":
        return Count(max(1, 9 * n // 10) if n else 0, n, -(-11 * n // 10))
    if kind == "upto":
        return Count(-(-2 * n // 3), n, n)  # ceil(n / 1.5)
    return Count(n, n, n)


def _number(toks: list[str], j: int) -> tuple[Count, int, bool] | None:
    """(count, end, vague) of the number at j: digits, words, vague words and ranges."""
    tok = _at(toks, j)
    if not tok:
        return None
    k = j + 1
    if tok[0].isdigit():
        parsed = _digits(toks, j)
        if parsed is None:
            return None
        if isinstance(parsed[0], Count):
            return parsed[0], parsed[1], False
        value, k = parsed
    elif tok in _UNITS or ("-" in tok and tok.split("-", 1)[0] in _UNITS):
        words = _number_words(toks, j)
        if words is None:
            return None
        value, k = words
    elif tok in ("a", "an", "half"):
        return _number_after_article(toks, j)
    elif tok == "both":
        return Count(2, 2, 2), k, False
    elif tok in ("tens", "hundreds") and toks[k : k + 2] == ["of", "thousands"]:
        low, best, high = (20_000, 30_000, 99_999) if tok == "tens" else (200_000, 300_000, 999_999)
        return _vague(toks, k + 2, low, best, high)
    elif tok in _VAGUE:
        return _vague(toks, k, *_VAGUE[tok])
    else:
        return None
    if _at(toks, k) == "dozen":
        value, k = value * 12, k + 1
    if _at(toks, k) in ("to", "or", "-", "–") and _at(toks, k + 1) not in ("more", "so"):
        upper = _number(toks, k + 1)  # "10 to 15", "two or three"
        if upper is not None and not upper[2] and upper[0].low == upper[0].high > value:
            high = upper[0].low
            return Count(value, (value + high) // 2, high), upper[1], False
    return Count(value, value, value), k, False


def _digits(toks: list[str], j: int) -> tuple[int, int] | tuple[Count, int] | None:
    tok, k = toks[j], j + 1
    if "-" in tok or "–" in tok:  # "10-15"; "12-year-old" is no count
        low_text, _, high_text = tok.replace("–", "-").partition("-")
        if low_text.isdigit() and high_text.isdigit() and int(low_text) < int(high_text):
            low, high = int(low_text), int(high_text)
            return Count(low, (low + high) // 2, high), k
        return None
    scale = _SCALES.get(_at(toks, k))
    if "." in tok:  # "1.2 million"; a bare decimal is no count
        return (int(float(tok.replace(",", "")) * scale), k + 1) if scale else None
    if not tok.replace(",", "").isdigit():
        return None  # "3rd", "5km"
    value = int(tok.replace(",", ""))
    if scale is not None:
        return value * scale, k + 1
    if 1900 <= value <= 2100 and "," not in tok and _at(toks, k) not in _YEAR_VICTIMS:
        return None  # a year
    return value, k


def _number_after_article(toks: list[str], j: int) -> tuple[Count, int, bool] | None:
    """ "a dozen", "half a dozen", "a hundred", "a couple of", "a few", "a handful of"."""
    tok, nxt, k = toks[j], _at(toks, j + 1), j + 1
    if tok == "half":
        if nxt == "a" and _at(toks, k + 1) == "dozen":
            return Count(6, 6, 6), k + 2, False
        return None
    if nxt == "dozen":
        return Count(12, 12, 12), k + 1, False
    if nxt in ("hundred", "thousand"):
        words = _number_words(toks, k, start=1)
        return (Count(words[0], words[0], words[0]), words[1], False) if words else None
    if nxt == "couple":
        k += 1
        return Count(2, 2, 2), k + 1 if _at(toks, k) == "of" else k, False
    if nxt in _VAGUE_AFTER_A:
        return _vague(toks, k + 1, *_VAGUE_AFTER_A[nxt])
    return None


def _vague(toks: list[str], k: int, low: int, best: int, high: int) -> tuple[Count, int, bool]:
    unit = _VAGUE_UNIT.get(_at(toks, k))  # "several dozen", "a few hundred"
    if unit is not None:
        low, best, high, k = low * unit, best * unit, high * unit, k + 1
    if _at(toks, k) == "of":
        k += 1
    return Count(low, best, high), k, True


def _number_words(toks: list[str], j: int, start: int = 0) -> tuple[int, int] | None:
    """ "twenty-three" -> 23, "two hundred and fifty" -> 250, "a thousand" (start=1) -> 1000."""
    total, current, k, seen, after_scale = 0, start, j, start > 0, False
    while k < len(toks):
        tok = toks[k]
        if tok in _UNITS:
            current += _UNITS[tok]
            after_scale = False
        elif "-" in tok and all(part in _UNITS for part in tok.split("-")):
            current += sum(_UNITS[part] for part in tok.split("-"))
            after_scale = False
        elif tok == "hundred" and seen:
            current, after_scale = max(current, 1) * 100, True
        elif tok in _SCALES and seen:
            total += max(current, 1) * _SCALES[tok]
            current, after_scale = 0, True
        elif not (tok == "and" and after_scale and _at(toks, k + 1) in _UNITS):
            break
        seen = True
        k += 1
    return (total + current, k) if seen else None


# ---------------------------------------------------------------------------------------------
# Background


def _is_background(toks: list[str], start: int, end: int) -> bool:
    """Does the clause around toks[start:end] speak of earlier or cumulative tolls?"""
    left, stop = start, max(0, start - _MAX_CLAUSE)
    while left > stop and toks[left - 1] not in _BOUNDARY:
        left -= 1
    right, stop = end, min(len(toks), end + _MAX_CLAUSE)
    while right < stop and toks[right] not in _BOUNDARY:
        right += 1
    clause = toks[left:right]
    if _has_marker(clause):
        return True
    if left > 1 and clause[0] in ("which", "that", "when", "where"):
        # "the conflict, which has killed ...", "the worst since March, when 60 were killed"
        before, stop = left - 1, max(0, left - 1 - _MAX_CLAUSE)
        while before > stop and toks[before - 1] not in _BOUNDARY:
            before -= 1
        previous = toks[before : left - 1]
        if _has_marker(previous, strict_since=True) or (
            previous[-1:] and previous[-1] in _WAR_NOUNS and _at(clause, 1) in ("has", "have")
        ):
            return True
    # a short opening adverbial sets the time of the whole sentence: "Since October, ..."
    comma = toks.index(",", 0, 8) if "," in toks[:8] else -1
    return 0 < comma < left and comma <= 6 and _has_marker(toks[:comma])


def _is_year(tok: str) -> bool:
    return len(tok) == 4 and tok.isdigit() and 1900 <= int(tok) <= 2100


def _has_marker(clause: list[str], *, strict_since: bool = False) -> bool:
    perfect = "have" in clause or "has" in clause
    for x, tok in enumerate(clause):
        prev = clause[x - 1] if x else ""
        nxt = _at(clause, x + 1)
        if tok in _BG_WORDS or (prev, tok) in _BG_PAIRS:
            return True
        if tok == "total" and prev != "a":
            return True
        if tok == "since":
            recent = nxt in _SINCE_RECENT or (
                nxt == "the" and _at(clause, x + 2) in _SINCE_THE_EVENT
            )
            superlative = any(w in _SUPERLATIVES for w in clause[max(0, x - 5) : x])
            if recent or (superlative and not strict_since):
                continue  # "since Tuesday", "the deadliest attack since 2019"
            return True
        if tok in _BG_TIME_PREPS and (
            (nxt in _MONTHS and not _at(clause, x + 2)[:1].isdigit())
            or _is_year(nxt)
            or (nxt == "the" and _is_year(_at(clause, x + 2)))  # "in the 2019 attack"
        ):
            return True
        if tok in ("after", "before") and prev in _BG_AFTER_UNITS:
            return True
        if tok in _BG_PUSH and any(w in _BG_PUSH_TARGETS for w in clause[x + 1 : x + 4]):
            return True
        if tok in _WAR_NOUNS and (
            nxt in ("has", "have")
            or (perfect and prev in ("the", "this") and _at(clause, x - 2) in ("in", "during"))
        ):
            return True
    return False
