"""Event dates: one case per rule of index/extract/eventdate.py, our own sentences throughout.

Published Thursday 2026-11-19 10:00 UTC unless a test says otherwise.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from index.extract.eventdate import resolve_event_date

PUBLISHED = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
FILLER = "Residents described the scene in detail."


def _on(day: int, month: int = 11, year: int = 2026) -> date:
    return date(year, month, day)


CASES = {
    # weekdays: the most recent such day on or before publication
    "monday": ("Gunmen killed 12 people on Monday.", _on(16)),
    "tuesday": ("Gunmen killed 12 people on Tuesday.", _on(17)),
    "wednesday": ("Gunmen killed 12 people on Wednesday.", _on(18)),
    "same weekday is today": ("Gunmen killed 12 people on Thursday.", _on(19)),
    "friday is last week": ("Gunmen killed 12 people on Friday.", _on(13)),
    "saturday": ("Gunmen killed 12 people on Saturday.", _on(14)),
    "sunday": ("Gunmen killed 12 people on Sunday.", _on(15)),
    "no on": ("Gunmen killed 12 people Wednesday in Mosul.", _on(18)),
    "possessive": ("Wednesday's attack killed 12 people.", _on(18)),
    "curly possessive": ("Wednesday’s attack killed 12 people.", _on(18)),
    "late": ("Gunmen killed 12 people late Wednesday.", _on(18)),
    "night": ("Gunmen stormed the village on Wednesday night.", _on(18)),
    "early on": ("The blast struck early on Tuesday.", _on(17)),
    "lower case": ("gunmen killed 12 people on wednesday.", _on(18)),
    "last weekday": ("Gunmen killed 12 people last Wednesday.", _on(18)),
    "last same weekday": ("Gunmen killed 12 people last Thursday.", _on(12)),
    "next weekday ignored": ("Gunmen killed 12 people, and talks open next Friday.", None),
    "every weekday ignored": ("Protesters march every Friday.", None),
    "plural weekday ignored": ("Protesters march on Fridays.", None),
    "a weekday ignored": ("Protests follow a Friday sermon in the city.", None),
    # relative words
    "yesterday": ("Gunmen killed 12 people yesterday.", _on(18)),
    "today": ("Gunmen killed 12 people today.", _on(19)),
    "tonight": ("Rockets hit the city tonight.", _on(19)),
    "this morning": ("The blast struck this morning.", _on(19)),
    "last night": ("Gunmen killed 12 people last night.", _on(18)),
    "overnight": ("Russia launched 40 drones overnight.", _on(18)),
    "day before yesterday": ("The strike hit the day before yesterday.", _on(17)),
    "days ago": ("The strike hit the town 3 days ago.", _on(16)),
    "words ago": ("The strike hit the town two days ago.", _on(17)),
    "a week ago": ("The strike hit the town a week ago.", _on(12)),
    "weeks ago": ("The strike hit the town two weeks ago.", _on(5)),
    "earlier this week": ("Gunmen killed 12 people earlier this week.", _on(17)),
    "this week": ("Clashes erupted this week.", _on(17)),
    "earlier in the week": ("Clashes erupted earlier in the week.", _on(17)),
    "last week": ("Gunmen killed 12 people last week.", _on(12)),
    "last month ignored": ("Gunmen killed 12 people last month.", None),
    # month and day
    "month day": ("Gunmen killed 12 people on November 3.", _on(3)),
    "abbreviated": ("Gunmen killed 12 people on Nov. 3.", _on(3)),
    "ordinal suffix": ("Gunmen killed 12 people on Nov 3rd.", _on(3)),
    "day month": ("Gunmen killed 12 people on 3 November.", _on(3)),
    "day of month": ("Gunmen killed 12 people on the 3rd of November.", _on(3)),
    "earlier month": ("Gunmen killed 12 people on March 3.", _on(3, 3)),
    "sept": ("Gunmen killed 12 people on Sept. 30.", _on(30, 9)),
    "may needs a day": ("Officials said talks may resume.", None),
    "with year": ("Gunmen killed 12 people on November 3, 2026.", _on(3)),
    "day month year": ("Gunmen killed 12 people on 3 November 2026.", _on(3)),
    "earlier year": ("The attack on March 3, 2026 killed 12.", _on(3, 3)),
    "iso": ("Gunmen killed 12 people on 2026-11-03.", _on(3)),
    "the 3rd": ("Gunmen killed 12 people on the 3rd.", _on(3)),
    "the 25th is last month": ("Gunmen killed 12 people on the 25th.", _on(25, 10)),
    "the 10th anniversary is no day": ("The attack on the 10th anniversary killed 5.", None),
    "count after month is no day": ("In March 3 people died.", None),
    "slash dates ignored": ("Gunmen killed 12 people on 11/03/2026.", None),
    "invalid day": ("Gunmen killed 12 people on February 30.", None),
    "no feb 29 in 2026": ("Gunmen killed 12 people on February 29, 2026.", None),
    # never after publication, never long before it
    "explicit future": ("Gunmen killed 12 people on November 25, 2026.", None),
    "coming day without year": ("Gunmen killed 12 people on November 25.", None),
    "older than a year": ("Gunmen killed 12 people on March 3, 2020.", None),
    # future tense
    "will": ("Leaders will hold talks on Friday.", None),
    "would": ("Officials said the funeral would be held on Saturday.", None),
    "due": ("The envoys are due to arrive on Monday.", None),
    "scheduled": ("A vote is scheduled for Monday.", None),
    "set for": ("The hearing is set for Monday.", None),
    "expected": ("A ruling is expected on Monday.", None),
    "by": ("The army must withdraw by Monday.", None),
    "until": ("The curfew stays in place until Monday.", None),
    "ll": ("They'll meet on Monday.", None),
    "clause opening future": ("On Friday, leaders will meet in Doha.", None),
    "due to is causal": ("He died due to his wounds on Monday.", _on(16)),
    # background
    "a day after": ("The attack came a day after a bombing on Monday killed 5.", None),
    "last month's": ("It follows last month's attack on November 3.", None),
    "anniversary": ("Crowds marked the anniversary of the November 3 bombing.", None),
    "similar": ("In a similar attack on Monday, 5 people died.", None),
    "previous": ("A previous attack on Monday killed 5.", None),
    # none at all
    "none": ("No date is given here at all.", None),
    "empty": ("", None),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES)
def test_rules(text: str, expected: date | None) -> None:
    assert resolve_event_date(text, PUBLISHED) == expected


def test_year_rollover() -> None:
    published = datetime(2027, 1, 3, 9, 0, tzinfo=UTC)  # a Sunday
    assert resolve_event_date("Gunmen killed 12 on December 30.", published) == _on(30, 12)
    assert resolve_event_date("Gunmen killed 12 on Tuesday.", published) == _on(29, 12)
    assert resolve_event_date("Gunmen killed 12 yesterday.", published) == _on(2, 1, 2027)
    assert resolve_event_date("Gunmen killed 12 on the 30th.", published) == _on(30, 12)
    assert resolve_event_date("Gunmen killed 12 on January 2.", published) == _on(2, 1, 2027)


def test_this_week_is_clamped_to_monday() -> None:
    monday = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    tuesday = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    assert resolve_event_date("Clashes erupted earlier this week.", monday) == _on(16)
    assert resolve_event_date("Clashes erupted earlier this week.", tuesday) == _on(16)


def test_dateline_is_the_base_for_relative_words() -> None:
    text = "MOSUL, Iraq, Nov 17 (Reuters) - Gunmen killed 12 people on Monday, police said."
    assert resolve_event_date(text, PUBLISHED) == _on(16)
    text = "MOSUL, Iraq, Nov 17 (Reuters) - Gunmen killed 12 people yesterday."
    assert resolve_event_date(text, PUBLISHED) == _on(16)


def test_dateline_alone_gives_its_date() -> None:
    text = "MOSUL, Iraq, Nov 17 (Reuters) - Gunmen killed 12 people, police said."
    assert resolve_event_date(text, PUBLISHED) == _on(17)


@pytest.mark.parametrize(
    "dateline",
    [
        "KYIV, Nov. 17 (AP) — ",
        "BAGHDAD, 17 November 2026 (AFP) - ",
        "GOMA, Democratic Republic of Congo, November 17 (Reuters) – ",
        "ADEN, Nov 17 - ",
    ],
)
def test_dateline_forms(dateline: str) -> None:
    assert resolve_event_date(dateline + "Clashes went on.", PUBLISHED) == _on(17)


def test_dateline_too_old_or_ahead_is_ignored() -> None:
    old = "MOSUL, Iraq, Nov 1 (Reuters) - Gunmen killed 12 people on Monday."
    assert resolve_event_date(old, PUBLISHED) == _on(16)  # base is publication, not Nov 1
    ahead = "MOSUL, Iraq, Nov 20 (Reuters) - Gunmen killed 12 people."
    assert resolve_event_date(ahead, PUBLISHED) is None


def test_dateline_without_date_is_plain_text() -> None:
    text = "BEIRUT (Reuters) - Gunmen killed 12 people on Monday."
    assert resolve_event_date(text, PUBLISHED) == _on(16)


def test_reporting_date_is_a_fallback() -> None:
    said = "Gunmen killed 12 people in Mosul, police said on Wednesday."
    assert resolve_event_date(said, PUBLISHED) == _on(18)
    both = "Police said on Wednesday that gunmen had killed 12 people on Tuesday."
    assert resolve_event_date(both, PUBLISHED) == _on(17)
    told = "A commander told Reuters on Wednesday that gunmen killed 12 people on Monday."
    assert resolve_event_date(told, PUBLISHED) == _on(16)
    statement = "The ministry said in a statement on Wednesday. Gunmen attacked a post on Monday."
    assert resolve_event_date(statement, PUBLISHED) == _on(16)


def test_said_then_event_verb_is_the_event_date() -> None:
    text = "Police said gunmen killed 12 on Tuesday."
    assert resolve_event_date(text, PUBLISHED) == _on(17)


def test_since_right_before_is_a_fallback() -> None:
    assert resolve_event_date("Fighting since Tuesday has killed 30.", PUBLISHED) == _on(17)
    text = "Fighting since Tuesday has killed 30. Gunmen stormed a village on Wednesday."
    assert resolve_event_date(text, PUBLISHED) == _on(18)


def test_event_sentence_beats_other_lead_sentence() -> None:
    text = "Officials met on Monday. Gunmen killed 12 people on Tuesday."
    assert resolve_event_date(text, PUBLISHED) == _on(17)
    assert resolve_event_date("The ceremony was held on Monday.", PUBLISHED) == _on(16)


def test_first_event_date_wins_among_several() -> None:
    text = "Gunmen killed 12 on Tuesday and 3 more on Wednesday. A strike hit on Monday."
    assert resolve_event_date(text, PUBLISHED) == _on(17)


def test_event_date_beside_background_in_one_sentence() -> None:
    text = "Gunmen killed 12 on Tuesday, a day after a bombing on Monday killed 5."
    assert resolve_event_date(text, PUBLISHED) == _on(17)


def test_exact_beats_vague_in_one_sentence() -> None:
    text = "Russia launched drones overnight into Tuesday, killing 3."
    assert resolve_event_date(text, PUBLISHED) == _on(17)


def test_future_and_past_in_two_sentences() -> None:
    text = "Gunmen killed 12 on Tuesday. Leaders will hold talks on Friday."
    assert resolve_event_date(text, PUBLISHED) == _on(17)


def test_later_sentences() -> None:
    lead = " ".join([FILLER] * 3)
    # an event sentence after the lead still counts; any other sentence there does not
    assert resolve_event_date(f"{lead} Gunmen attacked on Monday.", PUBLISHED) == _on(16)
    assert resolve_event_date(f"{lead} Officials met on Monday.", PUBLISHED) is None
    # beyond MAX_SENTENCES nothing is read
    far = " ".join([FILLER] * 12)
    assert resolve_event_date(f"{far} Gunmen attacked on Monday.", PUBLISHED) is None


def test_title() -> None:
    assert resolve_event_date("", PUBLISHED, title="Wednesday's attack kills 12") == _on(18)
    body = "Gunmen killed 12 people on Tuesday."
    assert resolve_event_date(body, PUBLISHED, title="Mosul attack kills 12") == _on(17)
    assert resolve_event_date("", PUBLISHED, title="Talks to resume Monday") is None
    assert resolve_event_date("", PUBLISHED, title="Talks resumed Monday") == _on(16)


def test_published_timezone_and_naive() -> None:
    east = datetime(2026, 11, 19, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert resolve_event_date("It happened yesterday.", east) == _on(18)
    naive = datetime(2026, 11, 19, 10, 0)
    assert resolve_event_date("It happened on Wednesday.", naive) == _on(18)


@pytest.mark.parametrize(
    "phrase",
    [
        "Wednesday",
        "yesterday",
        "March 3",
        "3 March",
        "March 3, 2026",
        "2026-03-03",
        "Nov 17",
        "3 days ago",
        "last week",
    ],
)
def test_agrees_with_dateparser(phrase: str) -> None:
    """Where our rules and dateparser's (relative to the publication, preferring the past)
    meet, they agree.
    They part on purpose on a same-day weekday ("Thursday" in a Thursday story: dateparser
    says a week ago) and on "the 3rd" (dateparser gives a day in March)."""
    dateparser = pytest.importorskip("dateparser")
    settings = {
        "RELATIVE_BASE": PUBLISHED.replace(tzinfo=None),
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    theirs = dateparser.parse(phrase, languages=["en"], settings=settings)
    ours = resolve_event_date(f"Gunmen killed 12 people {phrase}.", PUBLISHED)
    assert theirs is not None and ours == theirs.date()


def test_random_text_never_after_publication() -> None:
    vocabulary = (
        "on the 3rd 31st Monday Friday Thursday's yesterday today last next week night overnight "
        "March 3 Nov 30 December 2026 2025-12-01 killed will said , . since ago two days a after"
    )
    words = vocabulary.split()
    rng = random.Random(5)
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
        found = resolve_event_date(text, PUBLISHED, title=text[:20])
        assert found is None or found <= PUBLISHED.date()


@pytest.mark.parametrize(
    "unit", ["A, ", "on Monday ", "killed on Monday, ", "said on Monday ", "at least "]
)
def test_pathological_input_stays_linear(unit: str) -> None:
    text = "MOSUL, " + unit * (100_000 // len(unit))
    # a regex with catastrophic backtracking would hang here; speed is measured in bench/
    resolve_event_date(text, PUBLISHED, title=text[:200])


def test_without_a_publication_date_only_dates_naming_their_year_resolve() -> None:
    assert resolve_event_date("Agency, 1 November 2004: troops killed two rebels.", None) == date(
        2004, 11, 1
    )
    assert resolve_event_date("Clashes on March 3, 2024 killed five.", None) == date(2024, 3, 3)
    assert resolve_event_date("Troops clashed with rebels on Wednesday.", None) is None
    assert resolve_event_date("Troops clashed with rebels yesterday.", None) is None
