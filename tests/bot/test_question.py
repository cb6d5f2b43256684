"""Question intent: time phrases against a fixed clock, the flags, event-type cues and `core`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.question import Intent, TimeRange, parse_intent, parse_time_range, proper_names
from index.extract.eventtypes import BATTLES, CIVILIANS, EXPLOSIONS, PROTESTS, RIOTS, STRATEGIC

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday afternoon
TODAY = datetime(2026, 11, 25, tzinfo=UTC)


def d(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def window(question: str, now: datetime = NOW) -> tuple[datetime | None, datetime | None]:
    found = parse_time_range(question, now)
    assert found is not None, question
    return found.since, found.until


# ---- time: relative phrases ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("what happened in Goma today?", TODAY, None),
        ("any clashes earlier today", TODAY, None),
        ("what happened this morning in Kabul", TODAY, None),
        ("what happened in Goma yesterday?", d(2026, 11, 24), TODAY),
        ("news from Aleppo this week", NOW - timedelta(days=7), None),
        ("news from Aleppo in the past week", NOW - timedelta(days=7), None),
        ("news from Aleppo this past week", NOW - timedelta(days=7), None),
        ("news from Aleppo over the last 7 days", NOW - timedelta(days=7), None),
        ("what happened last week in Gao", NOW - timedelta(days=14), NOW - timedelta(days=7)),
        ("what happened the previous week", NOW - timedelta(days=7), None),
        ("what happened this month", d(2026, 11, 1), None),
        ("what happened last month", d(2026, 10, 1), d(2026, 11, 1)),
        ("what happened in the past month", NOW - timedelta(days=30), None),
        ("what happened in the last 30 days", NOW - timedelta(days=30), None),
        ("what happened this year", d(2026, 1, 1), None),
        ("what happened last year", d(2025, 1, 1), d(2026, 1, 1)),
        ("strikes in the past 24 hours", NOW - timedelta(hours=24), None),
        ("strikes in the last three days", NOW - timedelta(days=3), None),
        ("strikes in the past two weeks", NOW - timedelta(days=14), None),
        ("strikes over the last 6 months", NOW - timedelta(days=180), None),
        ("strikes in the past twelve months", NOW - timedelta(days=360), None),
        ("strikes in the past 2 years", NOW - timedelta(days=730), None),
        ("strikes in the last hour", NOW - timedelta(hours=1), None),
    ],
)
def test_relative_phrases(question: str, since: datetime | None, until: datetime | None) -> None:
    assert window(question) == (since, until)


def test_text_is_the_phrase_as_written() -> None:
    assert parse_time_range("what happened in Albu Kamal this week?", NOW) == TimeRange(
        NOW - timedelta(days=7), None, "this week"
    )
    assert parse_time_range("Clashes SINCE June?", NOW) == TimeRange(
        d(2026, 6, 1), None, "SINCE June"
    )
    found = parse_time_range("raids in the last 3 days in Idlib", NOW)
    assert found is not None and found.text == "in the last 3 days"


def test_the_last_week_month_year_are_rolling_windows() -> None:
    # "last week" is the week before this one; "in the last week" is the past seven days
    assert window("in the last week") == (NOW - timedelta(days=7), None)
    assert window("during the last month") == (NOW - timedelta(days=30), None)
    assert window("over the last year") == (NOW - timedelta(days=365), None)


def test_last_month_and_last_year_in_january_reach_into_the_previous_year() -> None:
    january = d(2026, 1, 10, 8)
    assert window("last month", january) == (d(2025, 12, 1), d(2026, 1, 1))
    assert window("this month", january) == (d(2026, 1, 1), None)
    assert window("last year", january) == (d(2025, 1, 1), d(2026, 1, 1))


def test_since_last_week_or_month_leaves_the_end_open() -> None:
    assert parse_time_range("what happened since last month", NOW) == TimeRange(
        d(2026, 10, 1), None, "since last month"
    )
    assert window("since last week") == (NOW - timedelta(days=14), None)


def test_few_and_couple() -> None:
    assert window("in the last few days") == (NOW - timedelta(days=3), None)
    assert window("over the past couple of days") == (NOW - timedelta(days=2), None)


@pytest.mark.parametrize(
    "question",
    ["this day in history", "the last day of Ramadan", "the last week of October", "last 0 days"],
)
def test_relative_phrases_that_set_no_time(question: str) -> None:
    assert parse_time_range(question, NOW) is None


# ---- time: years and months ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("what happened in Raqqa in 2014?", d(2014, 1, 1), d(2015, 1, 1)),
        ("attacks during 2019", d(2019, 1, 1), d(2020, 1, 1)),
        ("what happened in June", d(2026, 6, 1), d(2026, 7, 1)),
        ("what happened in June 2024", d(2024, 6, 1), d(2024, 7, 1)),
        ("what happened in Jun 2024", d(2024, 6, 1), d(2024, 7, 1)),
        ("what happened in november", d(2026, 11, 1), d(2026, 12, 1)),
        ("what happened in December", d(2025, 12, 1), d(2026, 1, 1)),
        ("what happened in Dec", d(2025, 12, 1), d(2026, 1, 1)),
        ("what happened in Sept 2025", d(2025, 9, 1), d(2025, 10, 1)),
        ("what happened last June", d(2026, 6, 1), d(2026, 7, 1)),
        ("what happened last November", d(2025, 11, 1), d(2025, 12, 1)),
    ],
)
def test_years_and_months(question: str, since: datetime, until: datetime) -> None:
    assert window(question) == (since, until)


def test_a_month_without_a_year_is_the_most_recent_that_has_begun() -> None:
    march = d(2026, 3, 2, 9)
    assert window("since June", march) == (d(2025, 6, 1), None)
    assert window("in June", march) == (d(2025, 6, 1), d(2025, 7, 1))
    assert window("since March", march) == (d(2026, 3, 1), None)
    assert window("in December", d(2026, 1, 3)) == (d(2025, 12, 1), d(2026, 1, 1))
    assert window("in June", d(2026, 6, 1)) == (d(2026, 6, 1), d(2026, 7, 1))


@pytest.mark.parametrize(
    "question",
    [
        "in 2027",  # after now.year
        "in 1899",
        "Resolution 2254 on Syria",
        "the 2014 offensive on Mosul",
        "in the 2014 offensive",
        "what happened in Mayotte",  # a place, not "in May"
        "protests in Mar Elias camp",  # an abbreviation followed by a name
        "in Augusta",
        "1,200 people killed in 3 days",
        "what happened in Albu Kamal",
    ],
)
def test_numbers_and_names_set_no_time(question: str) -> None:
    assert parse_time_range(question, NOW) is None


# ---- time: since / before / until / between ------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("clashes since June", d(2026, 6, 1), None),
        ("clashes since June 2024", d(2024, 6, 1), None),
        ("clashes since 3 March", d(2026, 3, 3), None),
        ("clashes since the 3rd of March", d(2026, 3, 3), None),
        ("clashes since March 3", d(2026, 3, 3), None),
        ("clashes since March 3, 2024", d(2024, 3, 3), None),
        ("clashes since 3 March 2024", d(2024, 3, 3), None),
        ("clashes since Sept. 11", d(2026, 9, 11), None),
        ("clashes since 2020", d(2020, 1, 1), None),
        ("clashes since 2024-03-03", d(2024, 3, 3), None),
        ("clashes since Monday", d(2026, 11, 23), None),
        ("clashes since yesterday", d(2026, 11, 24), None),
        ("clashes before 2020", None, d(2020, 1, 1)),
        ("clashes before June 2024", None, d(2024, 6, 1)),
        ("clashes until June 2024", None, d(2024, 7, 1)),
        ("clashes until 2020", None, d(2021, 1, 1)),
        ("clashes till 3 March 2024", None, d(2024, 3, 4)),
        ("clashes until yesterday", None, TODAY),
        ("clashes between June and August 2024", d(2024, 6, 1), d(2024, 9, 1)),
        ("clashes between 2014 and 2016", d(2014, 1, 1), d(2017, 1, 1)),
    ],
)
def test_since_before_until_between(
    question: str, since: datetime | None, until: datetime | None
) -> None:
    assert window(question) == (since, until)


def test_a_date_without_a_year_is_the_most_recent_not_after_now() -> None:
    march = d(2026, 3, 2, 9)
    assert window("since 3 March", march) == (d(2025, 3, 3), None)
    assert window("since March 2", march) == (d(2026, 3, 2), None)
    assert window("since 29 Feb") == (d(2024, 2, 29), None)  # the last leap day


def test_between_months_across_new_year() -> None:
    december = d(2026, 12, 5)
    assert window("between November and February", december) == (d(2025, 11, 1), d(2026, 3, 1))


def test_an_impossible_date_sets_no_time() -> None:
    assert parse_time_range("since 31 June", NOW) is None
    assert parse_time_range("since 2024-02-30", NOW) is None


# ---- time: days and weekdays ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "day"),
    [
        ("what happened on Monday", d(2026, 11, 23)),
        ("what happened on Tuesday", d(2026, 11, 24)),
        ("what happened on Wednesday", d(2026, 11, 18)),  # today is Wednesday: last week's
        ("what happened on Thursday", d(2026, 11, 19)),
        ("what happened on Sunday", d(2026, 11, 22)),
        ("what happened last Friday", d(2026, 11, 20)),
        ("what happened last Wednesday", d(2026, 11, 18)),
        ("what happened on last Saturday", d(2026, 11, 21)),
        ("what happened on 3 March", d(2026, 3, 3)),
        ("what happened on the 3rd of March", d(2026, 3, 3)),
        ("what happened on March 3", d(2026, 3, 3)),
        ("what happened on March 3, 2024", d(2024, 3, 3)),
        ("what happened on 2024-03-03", d(2024, 3, 3)),
        ("what happened on 30 November", d(2025, 11, 30)),  # not yet this year
    ],
)
def test_one_whole_day(question: str, day: datetime) -> None:
    assert window(question) == (day, day + timedelta(days=1))


def test_weekday_from_a_monday() -> None:
    monday = d(2026, 11, 23, 10)
    assert window("on Sunday", monday) == (d(2026, 11, 22), d(2026, 11, 23))
    assert window("on Monday", monday) == (d(2026, 11, 16), d(2026, 11, 17))


def test_on_takes_no_bare_year_or_month() -> None:
    assert parse_time_range("vote on 2254", NOW) is None
    assert parse_time_range("a report on June", NOW) is None


# ---- time: the clock and the first phrase --------------------------------------------------------


def test_the_first_phrase_wins() -> None:
    found = parse_time_range("in 2014 and again since June", NOW)
    assert found == TimeRange(d(2014, 1, 1), d(2015, 1, 1), "in 2014")
    found = parse_time_range("yesterday, or this week?", NOW)
    assert found is not None and found.text == "yesterday"


def test_day_boundaries_are_utc() -> None:
    plus_three = datetime(2026, 11, 26, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert window("today", plus_three) == (TODAY, None)  # 22:00 UTC on the 25th
    assert window("today", datetime(2026, 11, 25, 15, 0)) == (TODAY, None)  # naive is UTC


def test_no_time_phrase() -> None:
    assert parse_time_range("what happened in Albu Kamal?", NOW) is None
    assert parse_time_range("", NOW) is None
    assert parse_intent("who controls Tal Abyad?", NOW).time is None


def test_results_are_aware_utc() -> None:
    for question in ("this week", "last month", "in June", "on Monday", "before 2020"):
        found = parse_time_range(question, NOW)
        assert found is not None
        for moment in (found.since, found.until):
            assert moment is None or moment.utcoffset() == timedelta(0)


# ---- flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "latest", "count_killed", "what_happened"),
    [
        ("what's the latest on Boko Haram?", True, False, False),
        ("most recent attacks in Borno", True, False, False),
        ("recent drone strikes in Yemen", True, False, False),
        ("newest reports from Darfur", True, False, False),
        ("last news on Goma", True, False, False),
        ("last update about the siege", True, False, False),
        ("what’s new in Tigray?", True, False, False),
        ("how many people were killed in Mogadishu?", False, True, False),
        ("how many died in the blast?", False, True, False),
        ("how many dead in Khartoum", False, True, False),
        ("how many killed in the raid", False, True, False),
        ("how many did Islamic State kill in Raqqa?", False, True, False),
        ("how many civilians did the strikes kill", False, True, False),
        ("what is the death toll in Gaza", False, True, False),
        ("casualties from the Mosul offensive", False, True, False),
        ("what happened in Albu Kamal this week?", False, False, True),
        ("what is happening in Sudan", False, False, True),
        ("what's going on in Goma?", False, False, True),
        ("any news from Kidal?", False, False, True),
        ("what's the situation in Tigray?", False, False, True),
        ("how many were killed and what happened after?", False, True, True),
        ("clashes in Deir ez-Zor", False, False, False),
        ("how many fighters joined the group", False, False, False),
    ],
)
def test_flags(question: str, latest: bool, count_killed: bool, what_happened: bool) -> None:
    intent = parse_intent(question, NOW)
    assert (intent.latest, intent.count_killed, intent.what_happened) == (
        latest,
        count_killed,
        what_happened,
    )


# ---- event types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "types"),
    [
        ("clashes near Kidal", (BATTLES,)),
        ("heavy fighting in El Fasher", (BATTLES,)),
        ("the battle for Bakhmut", (BATTLES,)),
        ("a firefight at the border", (BATTLES,)),
        ("the army offensive in Idlib", (BATTLES,)),
        ("the Mosul car bombing", (EXPLOSIONS,)),
        ("an IED on the road to Gao", (EXPLOSIONS,)),
        ("air strikes on Sanaa", (EXPLOSIONS,)),
        ("an airstrike in Marib", (EXPLOSIONS,)),
        ("drone strike in Waziristan", (EXPLOSIONS,)),
        ("shelling of Kharkiv", (EXPLOSIONS,)),
        ("missile and rocket fire", (EXPLOSIONS,)),
        ("an explosion in the market", (EXPLOSIONS,)),
        ("the massacre in Bucha", (CIVILIANS,)),
        ("prisoners executed by the group", (CIVILIANS,)),
        ("students abducted in Kaduna", (CIVILIANS,)),
        ("aid workers kidnapped in Mali", (CIVILIANS,)),
        ("how many civilians were killed in Darfur", (CIVILIANS,)),
        ("protests in Tehran", (PROTESTS,)),
        ("a demonstration outside parliament", (PROTESTS,)),
        ("a rally in Dhaka", (PROTESTS,)),
        ("the march on the capital", (PROTESTS,)),
        ("riots in Nouméa", (RIOTS,)),
        ("a ceasefire in Gaza", (STRATEGIC,)),
        ("the truce in Yemen", (STRATEGIC,)),
        ("the Doha agreement", (STRATEGIC,)),
        ("the withdrawal from Kidal", (STRATEGIC,)),
        ("did they pledge allegiance to ISIS", (STRATEGIC,)),
        ("arrests in Istanbul", (STRATEGIC,)),
        ("any news from Goma", ()),
    ],
)
def test_event_type_cues(question: str, types: tuple[str, ...]) -> None:
    assert parse_intent(question, NOW).event_types == types


def test_event_types_in_taxonomy_order_without_repeats() -> None:
    question = "ceasefire broken by shelling, clashes, more shelling and a protest riot"
    assert parse_intent(question, NOW).event_types == (
        BATTLES,
        EXPLOSIONS,
        PROTESTS,
        RIOTS,
        STRATEGIC,
    )


def test_march_the_month_is_not_a_protest() -> None:
    assert parse_intent("what happened in March", NOW).event_types == ()
    assert parse_intent("since March 3", NOW).event_types == ()
    assert parse_intent("the March offensive", NOW).event_types == (BATTLES,)
    assert parse_intent("protesters marched on the ministry", NOW).event_types == (PROTESTS,)


# ---- core ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "core"),
    [
        ("what happened in Albu Kamal this week?", "Albu Kamal"),
        ("how many were killed in the Mosul car bombing?", "Mosul car bombing"),
        ("any news on Goma today?", "Goma"),
        ("What's the latest on Boko Haram?", "Boko Haram"),
        ("What is happening in Sudan right now?", "Sudan"),
        ("death toll from the Kabul airport attack", "Kabul airport attack"),
        ("Were there any protests in Tehran yesterday?", "protests in Tehran"),
        ("Tell me about the ceasefire in Gaza", "ceasefire in Gaza"),
        ("How is the situation in Tigray?", "Tigray"),
        ("what’s new with al-Shabaab?", "al-Shabaab"),
        ("Show me recent drone strikes in Yemen", "drone strikes in Yemen"),
        ("hey, can you tell me what's going on in Khartoum?", "Khartoum"),
        ("How many civilians have been killed in Darfur since June?", "Darfur"),
        ("what happened in Raqqa in 2014?", "Raqqa"),
        ("air strikes in Marib between June and August 2024", "air strikes in Marib"),
        ("Deir ez-Zor", "Deir ez-Zor"),
    ],
)
def test_core(question: str, core: str) -> None:
    assert parse_intent(question, NOW).core == core


@pytest.mark.parametrize(
    ("question", "core"),
    [
        ("latest news", "latest news"),
        ("What happened this week?", "What happened this week"),
        ("what is going on?!", "what is going on"),
    ],
)
def test_core_falls_back_to_the_question_without_punctuation(question: str, core: str) -> None:
    assert parse_intent(question, NOW).core == core


def test_parse_intent_whole() -> None:
    assert parse_intent("What happened in Albu Kamal this week?", NOW) == Intent(
        time=TimeRange(NOW - timedelta(days=7), None, "this week"),
        latest=False,
        count_killed=False,
        what_happened=True,
        event_types=(),
        core="Albu Kamal",
        names=("Albu Kamal",),
    )
    intent = parse_intent("How many were killed in the Mosul car bombing last month?", NOW)
    assert intent.time == TimeRange(d(2026, 10, 1), d(2026, 11, 1), "last month")
    assert intent.count_killed and not intent.what_happened
    assert intent.event_types == (EXPLOSIONS,)
    assert intent.core == "Mosul car bombing"


def test_values_are_frozen() -> None:
    intent = parse_intent("clashes in Kidal", NOW)
    with pytest.raises(AttributeError):
        intent.core = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Who seized Albu Kamal this week?", ("Albu Kamal",)),
        ("What happened in Deir ez-Zor on Monday?", ("Deir ez-Zor",)),
        ("Who leads al-Nusra now?", ("al-Nusra",)),
        ("How many were killed in Ghana's Ashanti region in March?", ("Ghana Ashanti",)),
        ("Which militia shot down a helicopter over Benghazi?", ("Benghazi",)),
        ("Attacks rose. Which group did it in Raqqa and Idlib?", ("Raqqa", "Idlib")),
        ("what happened this week?", ()),
        ("“Who won?” asked the Times of London.", ("Times", "London")),
    ],
)
def test_proper_names_are_capitalised_runs_that_do_not_open_a_sentence(
    question: str, names: tuple[str, ...]
) -> None:
    assert proper_names(question) == names
    assert parse_intent(question, NOW).names == names
