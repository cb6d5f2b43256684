"""Stage: a news question (+ the clock) -> Intent (time range, flags, event types, core words).
Side effects: none (pure stdlib; regexes compiled at import).

"What happened in Albu Kamal this week?" becomes `Intent(time=[now - 7 days, open), what_happened,
core="Albu Kamal")`. Rules, not a model: every cue below is a word pattern matched on word
boundaries, case-insensitively (curly apostrophes count as straight ones).

Time phrases are read by bot/core/timerange.py (the first one in the question wins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.core.timerange import (
    _MONTHS,
    _SPACES,
    _WEEKDAYS,
    MIN_YEAR,
    TimeRange,
    _first_time,
    _normalise,
    parse_time_range,
)
from index.extract.eventtypes import (
    BATTLES,
    CIVILIANS,
    EVENT_TYPES,
    EXPLOSIONS,
    PROTESTS,
    RIOTS,
    STRATEGIC,
)

__all__ = [
    "MIN_YEAR",
    "Intent",
    "TimeRange",
    "parse_intent",
    "parse_time_range",
    "proper_names",
]


@dataclass(frozen=True, slots=True)
class Intent:
    """What a question asks for; `core` is what to search for."""

    time: TimeRange | None
    latest: bool
    count_killed: bool
    what_happened: bool
    event_types: tuple[str, ...]
    core: str
    names: tuple[str, ...] = ()  # proper names the question uses ("Albu Kamal", "Torkham")


# ---- flags and event types ----------------------------------------------------------------------


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


_LATEST = _words(
    r"latest",
    r"most\s+recent",
    r"recent(?:ly)?",
    r"newest",
    r"what(?:'?s|\s+is)\s+new",
    r"last\s+(?:news|updates?|reports?)\s+(?:on|about|from|in|for|regarding)",
)
_COUNT_KILLED = _words(
    r"how\s+many(?:\s+\w+){0,4}?\s+(?:killed|kill|kills|died|dead|deaths|slain|casualties|victims"
    r"|fatalities|lives)",
    r"(?:death[\s-]*)?tolls?",
    r"casualt(?:y|ies)",
    r"fatalit(?:y|ies)",
    r"body\s+count",
    r"number\s+of(?:\s+\w+){0,2}?\s+(?:killed|dead|deaths|victims|casualties)",
)
_WHAT_HAPPENED = _words(
    r"what\s+(?:has\s+|had\s+|just\s+)?happen(?:ed|s)",
    r"what(?:'?s|\s+is|\s+was|\s+are|\s+were|\s+has|\s+have)?\s+(?:been\s+|currently\s+|now\s+)?"
    r"(?:happening|going\s+on)",
    r"what\s+went\s+on",
    r"any\s+(?:news|updates?|reports?)",
    r"(?:what|how)(?:'?s|\s+is|\s+was)\s+the\s+(?:\w+\s+)?situation",
)
_EVENT_CUES: dict[str, re.Pattern[str]] = {
    BATTLES: _words(
        r"clash(?:es|ed|ing)?",
        r"fighting",
        r"fought",
        r"(?:gun\s*)?battles?",
        r"firefights?",
        r"offensives?",
        r"ambush(?:es|ed)?",
    ),
    EXPLOSIONS: _words(
        r"bomb(?:s|ed|ing|ings|ers?)?",
        r"car\s+bombs?",
        r"ieds?",
        r"air\s*strikes?",
        r"drone\s+(?:strikes?|attacks?)",
        r"air\s+raids?",
        r"shell(?:ing|ed)",
        r"artillery",
        r"mortars?",
        r"missiles?",
        r"rockets?",
        r"explosions?",
        r"blasts?",
    ),
    CIVILIANS: _words(
        r"massacres?",
        r"massacred",
        r"execut(?:ed|ions?)",
        r"abduct(?:ed|ions?|s)?",
        r"kidnap(?:s|ped|pings?)?",
        r"civilians?\s+(?:were\s+|was\s+|have\s+been\s+|being\s+)?(?:killed|shot|murdered|targeted)",
        r"(?:killed|killing|killings\s+of|shot|murdered|targeted|attacks?\s+on)"
        r"(?:\s+\w+){0,2}?\s+civilians",
    ),
    PROTESTS: _words(
        r"protest(?:s|ers?|ed|ing)?",
        r"demonstrat(?:ions?|ors?|ed)",
        r"rall(?:y|ies|ied)",
        r"sit-ins?",
        r"march(?:es|ed|ers|ing)",
        # a bare "march" is the month unless an article or a kind of march comes first
        # (written in lower case: "the March offensive" is the month)
        r"(?:a|the|protest|peace|mass|street|funeral|big|large|huge)\s+(?-i:march)(?!\s+\d)",
    ),
    RIOTS: _words(r"riot(?:s|ed|ing|ers?)?"),
    STRATEGIC: _words(
        r"cease-?fires?",
        r"truces?",
        r"agreements?",
        r"peace\s+(?:deal|talks|accord)s?",
        r"withdrawals?",
        r"withdr(?:ew|awn|aw|awing)",
        r"(?:pledg(?:e|es|ed|ing)|swore|swear(?:s|ing)?)\s+(?:allegiance|loyalty)",
        r"arrests?",
        r"arrested",
    ),
}


# ---- core: the question without its scaffolding -------------------------------------------------

_AUX = r"(?:is|are|was|were|has|have|had|did|does|do)"
_PREP = (
    r"(?:in|on|at|from|for|with|to|near|of|around|across|inside|within|over|into|about|regarding"
    r"|concerning|involving|between|against)"
)
_LEADING = re.compile(
    r"^(?:"
    + "|".join(
        (
            r"(?:hey|hi|hello|ok|okay|so|and|but|please|pls)",
            r"(?:can|could|would|will)\s+you(?:\s+please)?",
            r"(?:tell|show|give|get|find|brief|update|fill)\s+me(?:\s+in)?",
            r"catch\s+me\s+up",
            r"(?:i\s+want|i'd\s+like|i\s+would\s+like|i\s+need)(?:\s+to\s+(?:know|see|hear|read))?",
            r"(?:do|does)\s+(?:you|anyone)\s+(?:know|have)",
            r"(?:summari[sz]e|list|find|search|check|give|show)",
            r"what(?:'?s|\s+is|\s+was|\s+are|\s+were|\s+has|\s+have)?"
            r"\s+(?:been\s+|currently\s+|just\s+|now\s+)?(?:happen(?:ed|ing|s)|going\s+on)",
            r"what\s+went\s+on",
            r"(?:what|how)(?:'?s|\s+is|\s+was|\s+are|\s+were)\s+the\s+(?:\w+\s+)?"
            r"(?:situation|status|state\s+of\s+play)",
            r"what(?:'?s|\s+is)\s+new",
            r"how\s+many(?:\s+(?:people|persons|civilians|soldiers|fighters|troops|militants"
            r"|police(?:men)?|officers|children|protesters|others))?"
            rf"(?:\s+(?:{_AUX}|been|got|reportedly|were|have))*"
            r"\s+(?:killed|died|dead|slain)",
            r"(?:what(?:'?s|\s+is|\s+was|\s+are|\s+were)\s+)?(?:the\s+)?"
            r"(?:death[\s-]*tolls?|tolls?|casualt(?:y|ies)(?:\s+(?:figures?|count|toll))?"
            r"|fatalities|body\s+count|number\s+of\s+(?:dead|deaths|killed|victims|casualties))",
            r"(?:what(?:'?s|\s+is|\s+are|\s+were)\s+)?(?:the\s+)?(?:very\s+)?"
            r"(?:latest|most\s+recent|newest|recent|last)"
            r"(?:\s+(?:news|updates?|reports?|headlines|developments|events|stories|info"
            r"|information))?",
            r"(?:any|some)\s+(?:news|updates?|reports?|developments|headlines|info|information)",
            r"(?:news|updates?|reports?|headlines|developments|events|happenings)"
            rf"(?=\s+{_PREP}\b)",
            rf"{_AUX}\s+there(?:\s+been)?",
            r"(?:who|what|where|when|why|how|which)(?:'?s|\s+" + _AUX + r")?",
            _AUX,
            _PREP,
            r"(?:the|a|an|any|some)",
        )
    )
    + r")\b[\s,:]*",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"[\s,]*\b(?:right\s+now|now|currently|lately|recently|so\s+far|please|at\s+the\s+moment"
    r"|at\s+present|these\s+days|news|updates?|latest|happening|going\s+on|"
    + _PREP
    + r"|the|and|or)$",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t\n\r?!.,;:\"'“”‘’()[]"
_PUNCT = re.compile(r"[^\w\s'-]+|(?<!\w)['-]|['-](?!\w)")


# ---- intent --------------------------------------------------------------------------------------


def _core(question: str, span: tuple[int, int] | None) -> str:
    text = question if span is None else question[: span[0]] + " " + question[span[1] :]
    text = _SPACES.sub(" ", _normalise(text)).strip(_EDGE_PUNCT)
    while True:
        stripped = _LEADING.sub("", text, count=1).strip(_EDGE_PUNCT)
        stripped = _TRAILING.sub("", stripped).strip(_EDGE_PUNCT)
        if stripped == text:
            break
        text = stripped
    text = _SPACES.sub(" ", re.sub(r"\s+([?!.,;:])", r"\1", text)).strip(_EDGE_PUNCT)
    if text:
        return text
    fallback = _SPACES.sub(" ", _PUNCT.sub(" ", question)).strip()
    return fallback or question


def parse_intent(question: str, now: datetime) -> Intent:
    """Time range, flags, event types and the words to search for, from one question."""
    found = _first_time(question, now)
    time = None
    if found is not None:
        time = TimeRange(found.since, found.until, question[found.start : found.end])
    text = _normalise(question)
    types = tuple(kind for kind in EVENT_TYPES if _EVENT_CUES[kind].search(text))
    return Intent(
        time=time,
        latest=_LATEST.search(text) is not None,
        count_killed=_COUNT_KILLED.search(text) is not None,
        what_happened=_WHAT_HAPPENED.search(text) is not None,
        event_types=types,
        core=_core(question, None if found is None else (found.start, found.end)),
        names=proper_names(question),
    )


# ---- proper names --------------------------------------------------------------------------------

_NAME_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
_PARTICLE_NAME = re.compile(r"[^\W\d_]{1,3}-[^\W\d_]*[A-Z]")  # ez-Zor, al-Nusra
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|[“\"‘(]\s*)$")
# Capitalised words that are not names where a question uses them.
_NOT_NAMES_TEXT = """what which who whom whose when where why how is are was were did does do
    has have had in on at of for to from by with and or but as after before during since despite
    though although while if a an the this that these those it he she they we i his her their its
    according last next latest multiple many several some one two three four five"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split()) | frozenset(_MONTHS) | frozenset(_WEEKDAYS)


def proper_names(question: str) -> tuple[str, ...]:
    """The names a question uses: runs of capitalised words that do not open a sentence,
    less question words, months and weekdays ("Who seized Albu Kamal?" -> ("Albu Kamal",));
    "ez-Zor" and "al-Nusra" count as capitalised. A possessive's "'s" is dropped."""
    names: list[str] = []
    run: list[str] = []
    for found in _NAME_WORD.finditer(question):
        word = found[0].rstrip(".")
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        opens = _SENTENCE_START.search(question[: found.start()]) is not None
        capitalised = word[0].isupper() or _PARTICLE_NAME.match(word) is not None
        if len(word) > 1 and capitalised and not opens and word.lower() not in _NOT_NAMES:
            run.append(word)
            continue
        if run:
            names.append(" ".join(run))
            run = []
    if run:
        names.append(" ".join(run))
    return tuple(dict.fromkeys(names))
