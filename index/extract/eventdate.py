"""Stage: article (title, text) + publication time -> the date the reported event happened.
Side effects: none (pure; no model, no network; regexes compiled once at import).

Dates are found by one regular expression and resolved with plain date arithmetic against the
publication date (`published.date()`, in published's own timezone: UTC for our Articles). That
covers every form we accept, so dateparser is not used: it costs ~0.3 ms a phrase, and it parts
from two of our rules (a same-day weekday is a week ago to it; "the 3rd" lands in March).
Only the title and the first MAX_SENTENCES body sentences are read (each up to 1,500 characters).

Forms and how they resolve ("base" is the publication date, or a recent dateline's date, below)
- weekdays "on Wednesday", "Wednesday's attack", "late Wednesday", "Wednesday night": the most
  recent such day on or before base ("on Thursday" in a Thursday story is that day);
  "last Wednesday": strictly before base. "next/coming/every/a Wednesday", "Wednesdays": ignored.
- "today", "tonight", "this morning/afternoon/evening": base. "yesterday": base - 1.
  "last night" and "overnight": base - 1 (the evening the night began; simplest rule, whatever
  the hour of publication). "the day before yesterday": base - 2. "3 days ago", "two weeks ago",
  "a week ago": base - n days/weeks.
- "this week", "earlier this week": base - 2, but not before the Monday of base's week.
  "last week": base - 7. ("last month", "last year": too vague, ignored.)
- "March 3", "Mar. 3rd", "3 March", "3rd of March": without a year, the most recent occurrence
  on or before publication (published Jan 3, "December 30" is the previous year), except that a
  day at most FUTURE_GRACE_DAYS ahead is a coming day and ignored ("November 25" in a November 19
  story is not last year's). "on the 3rd": this month, or last month when that is still ahead.
  "March 3, 2024", "3 March 2024", "2024-03-03": as written. "3/3/2024" is ambiguous: ignored.
- Datelines "MOSUL, Iraq, Nov 17 (Agency) -": the dispatch date, kept when it lies 0 to
  DATELINE_BASE_DAYS days before publication; it is then the base for relative words (a copy
  published two days later still means the dispatch's "Tuesday").

What is ignored
- Anything after publication (an event is not reported before it happens), and anything more
  than MAX_EVENT_AGE_DAYS before it (anniversaries, trials, earlier attacks).
- Future references: the date's clause has "will", "would", "shall", "'ll", "is/are due",
  "expected to/on/for", "scheduled", "plans to", "planned for/on", "set to/for", "slated",
  "upcoming" before it, "by/until/before/ahead of" right before it, or "will/would" in the
  words after a clause-opening date ("On Friday, leaders will meet"); in a title, "to <verb>"
  before it ("Talks to resume Monday").
- Background: the date's clause has "last month/year", "this year", "earlier this month/year",
  "a year ago", "anniversary", "a week after/before", "previous(ly)", "an earlier", "a similar",
  or "since" not right before the date.

Which date wins (lowest tier, then earliest sentence with the title first, then an exact date
before a vague one such as "overnight" or "this week", then position in the sentence)
  tier 0: a date in an event sentence (killing, attack, strike, clashes, ...) in the title or the
          first LEAD_SENTENCES body sentences;
  tier 1: a date in another of those lead sentences;
  tier 2: a date in an event sentence further on (up to MAX_SENTENCES);
  tier 3: a date tied to a reporting verb ("police said on Wednesday", "told Reuters Tuesday"),
          or right after "since" ("since Tuesday"): an upper bound, used only when nothing better;
  tier 4: the dateline's date.
  Nothing found: None (the caller then uses the publication date).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

LEAD_SENTENCES: Final = 3
MAX_SENTENCES: Final = 12
MAX_EVENT_AGE_DAYS: Final = 366
_NAMED_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
DATELINE_BASE_DAYS: Final = 7
FUTURE_GRACE_DAYS: Final = 31
_PREFIX_REACH = 300  # characters before a date read for its clause
_MAX_SENTENCE_CHARS = 1500  # of one sentence (news sentences are far shorter)

_MONTHS: Final = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_WEEKDAYS: Final = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
    "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_SMALL_NUMBERS: Final = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL = r"(?:st|nd|rd|th)?"
# a number after a month name is not a day when a count or unit follows: "in March 3 people died"
_NOT_A_DAY = (
    r"(?!\s+(?:people|persons|civilians|soldiers|children|men|women|of|more|others|were|are|"
    r"have|had|killed|dead|died|wounded|injured|percent|km|miles|hours|days|years|months|weeks|"
    r"times|million|thousand|hundred)\b)(?!\s*%)"
)
# "on the 3rd" is a day only before punctuation or one of these ("on the 10th anniversary" is not)
_ORD_NEXT = (
    r"(?:at|in|on|when|and|after|before|as|while|near|during|amid|following|this\s+month"
    r"|of\s+this\s+month|last\s+month)\b"
)
_YEAR = r"(?:,?\s+(?:(?P<{}>(?:19|20)\d\d))\b)?"
# on lower-cased text; the lookahead lets the engine skip positions no date can start at
_DATE = re.compile(
    rf"\b(?=[0-9adefjlmnostwy])(?:\b(?P<iso>(?P<iso_y>(?:19|20)\d\d)-(?P<iso_m>[01]\d)-(?P<iso_d>[0-3]\d))\b"
    rf"|\b(?P<md_m>{_MONTH})\.?\s+(?P<md_d>\d{{1,2}}){_ORDINAL}\b{_NOT_A_DAY}{_YEAR.format('md_y')}"
    rf"|\b(?P<dm_d>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<dm_m>{_MONTH})\b\.?{_YEAR.format('dm_y')}"
    rf"|\b(?:(?P<wd_mod>last|next|this\s+coming|coming|every|(?:on\s+)?a)\s+)?"
    rf"(?P<wd>{_WEEKDAY})(?P<wd_plural>s\b)?"
    rf"|\b(?P<rel>the\s+day\s+before\s+yesterday|yesterday|today|tonight"
    rf"|this\s+(?:morning|afternoon|evening)|last\s+night|overnight"
    rf"|earlier\s+(?:this|in\s+the)\s+week|this\s+week|last\s+week"
    rf"|(?P<ago_n>\d{{1,2}}|an?|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    rf"(?P<ago_unit>days?|weeks?)\s+ago)\b"
    rf"|\bon\s+the\s+(?P<ord>\d{{1,2}})(?:st|nd|rd|th)\b(?=\s*$|\s*[^\w\s]|\s+{_ORD_NEXT}))"
)
_DATELINE = re.compile(
    rf"^\s*[A-Z][A-Z'’.\- ]{{1,40}}(?:,\s*[A-Z][A-Za-z'’.\- ]{{0,40}}){{0,2}},\s*"
    rf"(?i:(?P<m1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}})|(?P<d2>\d{{1,2}})\s+(?P<m2>{_MONTH})\.?)"
    rf"(?:,?\s+(?P<y>(?:19|20)\d\d))?\s*(?:\([^)\n]{{1,40}}\)\s*)?[-–—]+\s*"
)
_SENTENCE_END = re.compile(
    r"[.!?](?<!\b(?i:jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec)\.)(?<!\b(?i:sept)\.)"  # Nov. 3
    r"[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n\s*"
)
_CLAUSE_BREAK = re.compile(r"[,;:()–—]|\s-\s")
_EVENT = re.compile(
    r"\b(?:kill|dead|died|dies|death|wound|injur|attack|strike|struck|bomb|blast|explo|shell"
    r"|fire[sd]?\b|firing|clash|fight|raid|ambush|storm|seiz|captur|abduct|kidnap|shot|shoot"
    r"|hit\b|hits\b|target|detonat|massacr|assault|offensive|protest|rall(?:y|ied)|march(?:ed|es)"
    r"|demonstrat|riot|erupt|happened|occurred|took\s+place|crash|arrest|execut|assassinat"
    r"|drone|missile|rocket|airstrike|gunm[ae]n|militant|overr[au]n|launch|down(?:ed|ing)"
    r"|intercept|torch|burn|loot|flee|fled|evacuat|invad|incursion|siege|besieg)"
)
_FUTURE_BEFORE = re.compile(
    r"\b(?:will|would|shall|scheduled|slated|upcoming|(?:is|are|was|were)\s+due"
    r"|expected\s+(?:to|on|for)|plans?\s+to|planned\s+(?:for|on)|set\s+(?:to|for))\b"
    r"|['’]ll\b|\b(?:by|until|till|before|ahead\s+of)\s+(?:on\s+)?$"
)
_FUTURE_AFTER = re.compile(r"\W*(?:\w+\s+){0,4}?(?:will|would|shall)\b")  # used with .match
_TITLE_FUTURE = re.compile(r"\bto\s+[a-z]+\s+(?:on\s+)?$")
_BACKGROUND = re.compile(
    r"\b(?:last\s+(?:month|year)|this\s+year|earlier\s+this\s+(?:month|year)|a\s+year\s+ago"
    r"|anniversary|(?:day|days|week|weeks|month|months|year|years)\s+(?:after|before)"
    r"|previous|previously|an\s+earlier|a\s+similar|since\b(?!\s*$))"
)
_SINCE_RIGHT_BEFORE = re.compile(r"\bsince\s+$")
_REPORTING = re.compile(
    r"\b(?:said|says|told|announced|reported|confirmed|stated|added|declared|warned"
    r"|tweeted|posted|wrote|statement|according\s+to)\b(?P<gap>(?:\s+[\w'’]+){0,4}?)\s*$"
)
_CLAUSE_OPENERS = re.compile(r"^\s*(?:(?:on|late|early|late\s+on|early\s+on|by)\s+)?$")


def resolve_event_date(text: str, published: datetime | None, *, title: str = "") -> date | None:
    """The date the reported event happened, or None (rules: module docstring). With no
    publication date (`published` None) only dates that name their year can be resolved."""
    explicit_only = published is None
    pub = datetime.now(UTC).date() if published is None else published.date()
    dateline = _DATELINE.match(text)
    dateline_date: date | None = None
    body_start = 0
    if dateline is not None:
        body_start = dateline.end()
        month = dateline.group("m1") or dateline.group("m2")
        day = dateline.group("d1") or dateline.group("d2")
        year = dateline.group("y")
        dateline_date = _month_day(month, int(day), int(year) if year else None, pub)
    if dateline_date is not None and not 0 <= (pub - dateline_date).days <= DATELINE_BASE_DAYS:
        dateline_date = None
    base = dateline_date or pub
    best: tuple[int, int, bool, int] | None = None
    best_date: date | None = None
    offset = 1 if title else 0
    for index, original in enumerate(_sentences(title, text, body_start)):
        sentence = original[:_MAX_SENTENCE_CHARS].lower()
        event = _EVENT.search(sentence) is not None
        is_title = offset == 1 and index == 0
        lead = is_title or index - offset < LEAD_SENTENCES
        for match in _DATE.finditer(sentence):
            resolved = _resolve(match, base, pub)
            if resolved is None:
                continue
            day_found, vague = resolved
            if explicit_only:
                if vague or not _NAMED_YEAR.search(match.group(0)) or day_found > pub:
                    continue
            elif day_found > pub or (pub - day_found).days > MAX_EVENT_AGE_DAYS:
                continue
            tier = _tier(sentence, match, event=event, lead=lead, is_title=is_title)
            if tier is None:
                continue
            key = (tier, index, vague, match.start())
            if best is None or key < best:
                best, best_date = key, day_found
    return best_date if best_date is not None else dateline_date


def _sentences(title: str, text: str, start: int) -> list[str]:
    """The title (if any), then up to MAX_SENTENCES body sentences."""
    out = [title] if title else []
    limit = len(out) + MAX_SENTENCES
    for end in _SENTENCE_END.finditer(text, start):
        if len(out) == limit:
            return out
        if end.start() > start:
            out.append(text[start : end.start() + 1])
        start = end.end()
    if len(out) < limit and start < len(text):
        out.append(text[start:])
    return out


def _tier(
    sentence: str, match: re.Match[str], *, event: bool, lead: bool, is_title: bool
) -> int | None:
    """How much a date mention says about the event (module docstring); None: ignore it."""
    before = sentence[max(0, match.start() - _PREFIX_REACH) : match.start()]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    prefix = before[breaks[-1].end() :] if breaks else before
    if _FUTURE_BEFORE.search(prefix) or (is_title and _TITLE_FUTURE.search(prefix)):
        return None
    if _CLAUSE_OPENERS.match(prefix) and _FUTURE_AFTER.match(sentence, match.end()):
        return None
    if _BACKGROUND.search(prefix):
        return None
    reporting = _REPORTING.search(prefix)
    if reporting and not _EVENT.search(reporting.group("gap")):
        return 3  # "police said on Wednesday": when it was told, not when it happened
    if _SINCE_RIGHT_BEFORE.search(prefix):
        return 3
    if lead:
        return 0 if event else 1
    return 2 if event else None


def _resolve(match: re.Match[str], base: date, pub: date) -> tuple[date, bool] | None:
    """(date, vague) of one mention; None when it names no single past day."""
    group = match.group
    try:
        if group("iso"):
            return date(int(group("iso_y")), int(group("iso_m")), int(group("iso_d"))), False
        if group("md_m"):
            year = group("md_y")
            found = _month_day(group("md_m"), int(group("md_d")), int(year) if year else None, pub)
            return (found, False) if found else None
        if group("dm_m"):
            year = group("dm_y")
            found = _month_day(group("dm_m"), int(group("dm_d")), int(year) if year else None, pub)
            return (found, False) if found else None
    except ValueError:
        return None
    if group("wd"):
        modifier = group("wd_mod") or ""
        if group("wd_plural") or modifier not in ("", "last"):
            return None  # "next Friday", "every Friday", "on Fridays"
        delta = (base.weekday() - _WEEKDAYS[group("wd")]) % 7
        if modifier == "last" and delta == 0:
            delta = 7
        return base - timedelta(days=delta), False
    if group("rel"):
        return _relative(match, base)
    if group("ord"):
        return _day_of_month(int(group("ord")), base)
    return None


def _relative(match: re.Match[str], base: date) -> tuple[date, bool] | None:
    phrase = " ".join(match.group("rel").split())
    if match.group("ago_unit"):
        amount = match.group("ago_n")
        n = int(amount) if amount.isdigit() else _SMALL_NUMBERS[amount]
        days = n * 7 if match.group("ago_unit").startswith("week") else n
        return base - timedelta(days=days), days > 7
    if phrase in ("today", "tonight", "this morning", "this afternoon", "this evening"):
        return base, phrase == "tonight"
    if phrase in ("yesterday",):
        return base - timedelta(days=1), False
    if phrase in ("last night", "overnight"):
        return base - timedelta(days=1), True
    if phrase == "the day before yesterday":
        return base - timedelta(days=2), False
    if phrase == "last week":
        return base - timedelta(days=7), True
    # "this week", "earlier this week", "earlier in the week"
    monday = base - timedelta(days=base.weekday())
    return max(base - timedelta(days=2), monday), True


def _month_day(month: str, day: int, year: int | None, pub: date) -> date | None:
    """A month and day; without a year, the most recent occurrence on or before pub."""
    number = _MONTHS[month.lower()[:3]]
    try:
        if year is not None:
            return date(year, number, day)
        found = date(pub.year, number, day)
        if found <= pub:
            return found
        if (found - pub).days <= FUTURE_GRACE_DAYS:
            return None  # "on November 25" in a November 19 story: a coming day, not last year's
        return date(pub.year - 1, number, day)
    except ValueError:
        return None  # "February 30"; Feb 29 in a year without it


def _day_of_month(day: int, base: date) -> tuple[date, bool] | None:
    """ "on the 3rd": this month, or last month when the 3rd is still ahead."""
    year, month = base.year, base.month
    for _ in range(2):
        try:
            found = date(year, month, day)
        except ValueError:
            found = None
        if found is not None and found <= base:
            return found, False
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None
