"""Stage: a question (+ the clock) -> TimeRange (the first time phrase, placed in UTC).
Side effects: none (pure stdlib; regexes compiled at import).

Every cue is a word pattern matched on word boundaries, case-insensitively (curly apostrophes
count as straight ones); bot/core/question.py reads the rest of a question's intent.

Time phrases (the first one in the question wins; day boundaries are UTC midnights; `since` is
inclusive, `until` exclusive; a month is 30 days and a year 365 in "past N months/years"):
- today, this morning/afternoon/evening, tonight; yesterday
- this/past week, last/past N hours|days|weeks|months|years (N: digits, one..twelve, a few = 3,
  a couple = 2): a rolling window ending now. "this month"/"this year": from the 1st / Jan 1.
- "last week": [now - 14 days, now - 7 days); "last month"/"last year": the previous calendar
  month/year. With "the" ("in the last week/month/year") the phrase means the rolling window, as
  in ordinary English; "since last week/month/year" keeps the start and leaves the end open.
- in/during <year | month [year] | date>, on <date | weekday>, last <weekday | month>,
  since/before/until/till <year | month [year] | date | weekday | today | yesterday>,
  between <period> and <period>. Dates: "3 March", "3rd of March", "March 3", "March 3, 2024",
  "2024-03-03"; months in full or as 3-letter abbreviations ("Sept" too).
- A period without a year is the most recent one that has begun (not after now); a weekday is the
  most recent one before today; "last <month>" is the most recent one before this month. A bare
  year counts only after one of those prepositions and within 1900..now.year, so "Resolution 2254"
  and "the 2014 offensive" set no time.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MIN_YEAR = 1900


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A half-open UTC window; None leaves that side open."""

    since: datetime | None  # aware UTC, inclusive
    until: datetime | None  # aware UTC, exclusive
    text: str  # the words that set it, as written in the question


# ---- words ---------------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_FULL_MONTHS = frozenset(name.lower() for name in calendar.month_name[1:])
_WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        ("one", "two", "three", "four", "five", "six")
        + ("seven", "eight", "nine", "ten", "eleven", "twelve"),
        start=1,
    )
}

_MONTH = (
    r"(?:(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december)\b|(?:jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?)"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"\d{4}"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"

# One period (a year, a month, a day, a weekday, today/yesterday), matched where a preposition ends.
# Alternatives run in order: the longer forms of a date come first.
_PERIOD = re.compile(
    rf"(?P<iso_y>{_YEAR})-(?P<iso_m>\d{{2}})-(?P<iso_d>\d{{2}})\b"
    rf"|(?P<dm_d>{_DAY})\s+(?:of\s+)?(?P<dm_m>{_MONTH})(?:,?\s+(?P<dm_y>{_YEAR})\b)?"
    rf"|(?P<md_m>{_MONTH})\s+(?P<md_d>{_DAY})\b(?:,?\s+(?P<md_y>{_YEAR})\b)?"
    rf"|(?P<my_m>{_MONTH})(?:,?\s+(?P<my_y>{_YEAR})\b)?"
    rf"|(?P<y_y>{_YEAR})\b(?!-\d)"
    rf"|(?P<wd>{_WEEKDAY})\b"
    rf"|(?P<dw>today|yesterday)\b",
    re.IGNORECASE,
)
_PREPOSITION = re.compile(
    r"\b(?P<prep>in|during|on|since|before|until|till|between|last)\s+(?:(?<=\bon\s)last\s+)?",
    re.IGNORECASE,
)
_AND = re.compile(r"\s+(?:and|to)\s+", re.IGNORECASE)
_THE = re.compile(r"the\s+", re.IGNORECASE)

# Which kinds of period each preposition takes.
_KINDS_AFTER = {
    "in": frozenset({"year", "month", "day"}),
    "during": frozenset({"year", "month", "day"}),
    "on": frozenset({"day", "weekday"}),
    "last": frozenset({"weekday", "month"}),
    "since": frozenset({"year", "month", "day", "weekday", "dayword"}),
    "before": frozenset({"year", "month", "day", "weekday", "dayword"}),
    "until": frozenset({"year", "month", "day", "weekday", "dayword"}),
    "till": frozenset({"year", "month", "day", "weekday", "dayword"}),
    "between": frozenset({"year", "month", "day", "weekday", "dayword"}),
}

_N = (
    r"\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|(?:a\s+)?few|(?:a\s+)?couple(?:\s+of)?"
)
_RELATIVE = re.compile(
    r"\b(?:(?:in|over|during|for|within|throughout)\s+)?(?P<the>the\s+)?"
    r"(?P<which>this\s+past|this|past|last|previous)\s+"
    rf"(?:(?P<n>{_N})\s+)?"
    r"(?P<unit>hour|day|week|month|year)s?\b(?!\s+of\b)",  # not "the last week of October"
    re.IGNORECASE,
)
_TODAY = re.compile(
    r"\b(?:(?:earlier\s+)?today|this\s+(?:morning|afternoon|evening)|tonight)\b", re.IGNORECASE
)
_YESTERDAY = re.compile(r"\byesterday\b", re.IGNORECASE)
_SINCE_JUST_BEFORE = re.compile(r"\bsince\s+$", re.IGNORECASE)

_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0, "hour": 1 / 24}
_SPACES = re.compile(r"\s+")


# ---- time ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    """One period as written: a year, a month, a day, a weekday, or today/yesterday."""

    kind: str  # year | month | day | weekday | dayword
    year: int | None = None
    month: int = 1
    day: int = 1
    weekday: int = 0
    word: str = ""
    abbreviated: bool = False


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    since: datetime | None
    until: datetime | None


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return _month_start(start.year + start.month // 12, start.month % 12 + 1)


def _spec_from(match: re.Match[str]) -> _Spec | None:
    """The period a `_PERIOD` match names, before it is placed in time."""
    groups = match.groupdict()

    def year(name: str) -> int | None:
        return int(groups[name]) if groups[name] else None

    def month(name: str) -> tuple[int, bool]:
        word = groups[name].rstrip(".").lower()
        return _MONTHS[word], word not in _FULL_MONTHS

    if groups["iso_y"]:
        return _Spec("day", int(groups["iso_y"]), int(groups["iso_m"]), int(groups["iso_d"]))
    if groups["dm_d"]:
        number, short = month("dm_m")
        return _Spec("day", year("dm_y"), number, _day_number(groups["dm_d"]), abbreviated=short)
    if groups["md_m"]:
        number, short = month("md_m")
        return _Spec("day", year("md_y"), number, _day_number(groups["md_d"]), abbreviated=short)
    if groups["my_m"]:
        number, short = month("my_m")
        return _Spec("month", year("my_y"), number, abbreviated=short)
    if groups["y_y"]:
        return _Spec("year", int(groups["y_y"]))
    if groups["wd"]:
        return _Spec("weekday", weekday=_WEEKDAYS[groups["wd"].lower()])
    if groups["dw"]:
        return _Spec("dayword", word=groups["dw"].lower())
    return None


def _day_number(text: str) -> int:
    return int("".join(char for char in text if char.isdigit()))  # "3rd" -> 3


def _place(spec: _Spec, now: datetime) -> tuple[datetime, datetime] | None:
    """[start, end) of a period; without a year, the most recent one that has begun by `now`."""
    today = _midnight(now)
    if spec.kind == "dayword":
        start = today if spec.word == "today" else today - timedelta(days=1)
        return start, start + timedelta(days=1)
    if spec.kind == "weekday":
        back = (now.weekday() - spec.weekday) % 7 or 7
        start = today - timedelta(days=back)
        return start, start + timedelta(days=1)
    if spec.year is not None and not MIN_YEAR <= spec.year <= now.year:
        return None
    if spec.kind == "year":
        assert spec.year is not None
        return datetime(spec.year, 1, 1, tzinfo=UTC), datetime(spec.year + 1, 1, 1, tzinfo=UTC)
    if spec.kind == "month":
        year = spec.year
        if year is None:
            year = now.year if spec.month <= now.month else now.year - 1
        start = _month_start(year, spec.month)
        return start, _next_month(start)
    # a day: Feb 29 without a year may need to look back several years
    years = [spec.year] if spec.year is not None else range(now.year, now.year - 9, -1)
    for year in years:
        try:
            start = datetime(year, spec.month, spec.day, tzinfo=UTC)
        except ValueError:
            continue
        if spec.year is not None or start <= now:
            return start, start + timedelta(days=1)
    return None


def _read_period(question: str, pos: int, kinds: frozenset[str]) -> tuple[_Spec, int] | None:
    """The period that starts at `pos` ("the 3rd of March" may start with "the"), and its end."""
    match = _PERIOD.match(question, pos)
    spec = _spec_from(match) if match else None
    if match is None or spec is None:
        the = _THE.match(question, pos)
        if the is None:
            return None
        match = _PERIOD.match(question, the.end())
        spec = _spec_from(match) if match else None
        if match is None or spec is None or spec.kind != "day":
            return None
    if spec.kind not in kinds:
        return None
    # "in Mar Elias", "on Jan Smuts Avenue": an abbreviation followed by a name is not a month
    rest = question[match.end() :]
    if spec.abbreviated and spec.kind == "month" and re.match(r"\s+[A-Z]", rest):
        return None
    return spec, match.end()


def _prepositional(question: str, now: datetime) -> list[_Candidate]:
    found: list[_Candidate] = []
    for prep_match in _PREPOSITION.finditer(question):
        prep = prep_match["prep"].lower()
        read = _read_period(question, prep_match.end(), _KINDS_AFTER[prep])
        if read is None:
            continue
        spec, end = read
        if prep == "last":
            placed = _place_last(spec, now)
        elif prep == "between":
            between = _read_between(question, end, spec, now)
            if between is None:
                continue
            placed, end = between
        else:
            placed = _place(spec, now)
        if placed is None:
            continue
        start, stop = placed
        since: datetime | None = start
        until: datetime | None = stop
        if prep == "since":
            until = None
        elif prep == "before":
            since, until = None, start
        elif prep in {"until", "till"}:
            since = None
        found.append(_Candidate(prep_match.start(), end, since, until))
    return found


def _place_last(spec: _Spec, now: datetime) -> tuple[datetime, datetime] | None:
    """ "last Monday": the most recent one before today; "last June": the most recent before this
    month."""
    if spec.kind == "weekday" or spec.year is not None:
        return _place(spec, now)
    year = now.year if spec.month < now.month else now.year - 1
    start = _month_start(year, spec.month)
    return start, _next_month(start)


def _read_between(
    question: str, pos: int, first: _Spec, now: datetime
) -> tuple[tuple[datetime, datetime], int] | None:
    """ "between June and August 2024": the first period takes the second's year if it has none."""
    joiner = _AND.match(question, pos)
    if joiner is None:
        return None
    read = _read_period(question, joiner.end(), _KINDS_AFTER["between"])
    if read is None:
        return None
    second, end = read
    if first.year is None and second.year is not None and first.kind in {"month", "day"}:
        first = _Spec(
            first.kind, second.year, first.month, first.day, abbreviated=first.abbreviated
        )
    left, right = _place(first, now), _place(second, now)
    if left is None or right is None:
        return None
    if left[0] >= right[1] and first.year is None and first.kind in {"month", "day"}:
        # "between November and February" in December: last November
        left = _place(_Spec(first.kind, left[0].year - 1, first.month, first.day), now)
        if left is None:
            return None
    if left[0] >= right[1]:
        return None
    return (left[0], right[1]), end


def _relative(question: str, now: datetime) -> list[_Candidate]:
    found: list[_Candidate] = []
    for match in _RELATIVE.finditer(question):
        window = _relative_window(match, now)
        if window is None:
            continue
        since, until = window
        start = match.start()
        before = _SINCE_JUST_BEFORE.search(question, 0, start)
        if before is not None:
            start, until = before.start(), None  # "since last week": from then on
        found.append(_Candidate(start, match.end(), since, until))
    return found


def _relative_window(
    match: re.Match[str], now: datetime
) -> tuple[datetime | None, datetime | None] | None:
    which = _SPACES.sub(" ", match["which"].lower())
    unit = match["unit"].lower()
    count = match["n"]
    if count is not None:
        if which == "this":
            return None
        number = _count(count)
        if number is None:
            return None
        try:
            return now - timedelta(days=number * _UNIT_DAYS[unit]), None
        except OverflowError:
            return None
    rolling = which in {"past", "this past"} or (which != "this" and match["the"] is not None)
    if rolling:
        return now - timedelta(days=_UNIT_DAYS[unit]), None
    if which == "this":
        if unit == "week":
            return now - timedelta(days=7), None
        if unit == "month":
            return _month_start(now.year, now.month), None
        if unit == "year":
            return datetime(now.year, 1, 1, tzinfo=UTC), None
        return None
    # last / previous, no "the": the previous calendar period
    if unit == "week":
        return now - timedelta(days=14), now - timedelta(days=7)
    if unit == "month":
        this_month = _month_start(now.year, now.month)
        previous = this_month - timedelta(days=1)
        return _month_start(previous.year, previous.month), this_month
    if unit == "year":
        return datetime(now.year - 1, 1, 1, tzinfo=UTC), datetime(now.year, 1, 1, tzinfo=UTC)
    if unit == "hour":
        return now - timedelta(hours=1), None
    return None  # "last day" is too often "the last day of ..."


def _count(text: str) -> int | None:
    word = _SPACES.sub(" ", text.lower())
    if word.isdigit():
        return int(word) or None
    if "few" in word:
        return 3
    if "couple" in word:
        return 2
    return _NUMBER_WORDS.get(word)


def _day_words(question: str, now: datetime) -> list[_Candidate]:
    today = _midnight(now)
    found = [_Candidate(m.start(), m.end(), today, None) for m in _TODAY.finditer(question)]
    yesterday = today - timedelta(days=1)
    found += [
        _Candidate(m.start(), m.end(), yesterday, today) for m in _YESTERDAY.finditer(question)
    ]
    return found


def _normalise(question: str) -> str:
    """Curly apostrophes to straight ones; the length (so every span) stays the same."""
    return question.replace("’", "'").replace("‘", "'")


def _first_time(question: str, now: datetime) -> _Candidate | None:
    text = _normalise(question)
    now = _utc(now)
    candidates = _prepositional(text, now) + _relative(text, now) + _day_words(text, now)
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.start, -c.end))


def parse_time_range(question: str, now: datetime) -> TimeRange | None:
    """The first time phrase of `question`, placed relative to `now` (a naive `now` is UTC)."""
    found = _first_time(question, now)
    if found is None:
        return None
    return TimeRange(found.since, found.until, question[found.start : found.end])
