"""Casualty counts: one case per rule of index/extract/casualties.py, our own sentences
throughout."""

from __future__ import annotations

import random

import pytest

from index.extract.casualties import Casualties, Count, extract_casualties

Triple = tuple[int, int, int] | None


def _triple(count: Count | None) -> Triple:
    return None if count is None else (count.low, count.best, count.high)


def _check(title: str, text: str, killed: Triple, injured: Triple) -> None:
    got = extract_casualties(title, text)
    assert (_triple(got.killed), _triple(got.injured)) == (killed, injured)


# (text, killed, injured); the title is empty
BODY_CASES = {
    # exact numbers, in digits and words
    "digits passive": ("Four soldiers were killed in the ambush.", (4, 4, 4), None),
    # a toll split by side, in one sentence, is summed; other splits are not
    "sides summed": (
        "Nine rebels were killed, while two soldiers died when their vehicle was hit.",
        (11, 11, 11),
        None,
    ),
    "a side's losses": ("The army lost 6 soldiers and the rebels 3 fighters.", (6, 6, 6), None),
    "losses then the other side": (
        "The garrison lost 4 policemen as 10 insurgents were killed.",
        (14, 14, 14),
        None,
    ),
    "lost homes are no toll": ("The villagers lost 30 houses in the shelling.", None, None),
    "places are no sides": (
        "Three soldiers were killed in Homs and six civilians were killed in Hama.",
        (3, 3, 3),
        None,
    ),
    "sides in two sentences": (
        "Five troops were killed on Monday. Eight militants were killed in a later raid.",
        (5, 5, 5),
        None,
    ),
    "an official shot dead": ("A provincial governor shot dead in his car.", (1, 1, 1), None),
    "and his driver": ("The blast killed a judge and his driver.", (2, 2, 2), None),
    "subset skipped": (
        "12 civilians, including a woman and a child, were killed in the strike.",
        (12, 12, 12),
        None,
    ),
    "number words": ("Twenty-three people were killed.", (23, 23, 23), None),
    "spaced number words": ("Twenty three people were killed.", (23, 23, 23), None),
    "hundreds in words": ("Two hundred and fifty people died.", (250, 250, 250), None),
    "a hundred": ("A hundred people died.", (100, 100, 100), None),
    "thousands separator": ("The floods killed 1,200 people.", (1200, 1200, 1200), None),
    "decimal million": ("The famine killed 1.2 million people.", (1_200_000,) * 3, None),
    "a dozen": ("A dozen soldiers died.", (12, 12, 12), None),
    "two dozen": ("Two dozen people were wounded.", None, (24, 24, 24)),
    "half a dozen": ("Half a dozen civilians were wounded.", None, (6, 6, 6)),
    "both": ("Both drivers were killed.", (2, 2, 2), None),
    "a couple of": ("A couple of people were injured.", None, (2, 2, 2)),
    # modifiers
    "at least": (
        "The blast tore through the market, killing at least 30 people.",
        (30, 30, 45),
        None,
    ),
    "or more": ("Ten or more people were killed.", (10, 10, 15), None),
    "more than": ("More than 100 people were wounded.", None, (101, 101, 150)),
    "over": ("Over 20 people were hurt.", None, (21, 21, 30)),
    "more than a dozen": ("More than a dozen people were killed.", (13, 13, 18), None),
    "nearly": ("Nearly 50 people died.", (40, 49, 50), None),
    "almost": ("Almost 10 soldiers were killed.", (8, 9, 10), None),
    "fewer than": ("Fewer than 10 people were injured.", None, (1, 5, 9)),
    "about": ("About 20 people were killed.", (18, 20, 22), None),
    "some": ("Some 300 people have been killed in the fighting.", (270, 300, 330), None),
    "up to": ("Up to 15 people were killed.", (10, 15, 15), None),
    "as many as": ("As many as 30 people died.", (20, 30, 30), None),
    "between": ("Between 10 and 15 people were killed.", (10, 12, 15), None),
    "x to y": ("Residents said 10 to 15 people had died.", (10, 12, 15), None),
    "x-y": ("Witnesses said 10-15 people had died.", (10, 12, 15), None),
    "x or y": ("The shelling killed two or three people.", (2, 2, 3), None),
    # vague words
    "dozens": ("Dozens of people were killed.", (24, 36, 99), None),
    "scores": ("Scores were injured.", None, (40, 60, 199)),
    "hundreds": ("Hundreds were killed.", (200, 300, 999), None),
    "thousands": ("Thousands of people have died.", (2000, 3000, 9999), None),
    "several": ("Several civilians were wounded.", None, (3, 5, 9)),
    "a few": ("A few soldiers were hurt.", None, (2, 3, 5)),
    "a handful": ("A handful of soldiers were hurt.", None, (2, 3, 5)),
    "several dozen": ("Several dozen people were killed.", (36, 60, 108), None),
    "a few hundred": ("A few hundred people were killed.", (200, 300, 500), None),
    "vague ignores modifier": ("At least dozens of people were killed.", (24, 36, 99), None),
    # active voice
    "active list summed": ("Gunmen killed 5 soldiers and 3 civilians.", (8, 8, 8), None),
    "comma list summed": (
        "The attack killed 3 soldiers, 2 policemen and a civilian.",
        (6, 6, 6),
        None,
    ),
    "apposition not summed": ("Twelve people were killed, 5 of them children.", (12, 12, 12), None),
    "active subset": (
        "The attack killed at least 12 people, including 3 children.",
        (12, 12, 18),
        None,
    ),
    "active both kinds": (
        "A car bomb killed 4 people and wounded 20 others.",
        (4, 4, 4),
        (20, 20, 20),
    ),
    "killing and wounding": (
        "Russian shelling killed three civilians and wounded 12 more in Kherson.",
        (3, 3, 3),
        (12, 12, 12),
    ),
    "object people": ("Security forces killed 12 militants in a raid.", (12, 12, 12), None),
    "a and numbers": ("Two rockets killed a child and two women.", (3, 3, 3), None),
    "killing him": ("A sniper shot the driver, killing him.", (1, 1, 1), None),
    "claimed the lives": ("The attack claimed the lives of 7 soldiers.", (7, 7, 7), None),
    "deaths of": ("Police are investigating the deaths of 4 men.", (4, 4, 4), None),
    "killing of": ("The killing of 3 journalists was condemned.", (3, 3, 3), None),
    "shot dead active": ("Police shot dead two suspects.", (2, 2, 2), None),
    "list stops at new clause": (
        "The strike killed 5 soldiers and 3 civilians were wounded.",
        (5, 5, 5),
        (3, 3, 3),
    ),
    # passive voice and nouns
    "killed and injured": ("Two people were killed and 11 injured.", (2, 2, 2), (11, 11, 11)),
    "left dead": ("The explosion left 4 dead.", (4, 4, 4), None),
    "left dead and wounded": (
        "The attack left 20 people dead and 40 wounded.",
        (20, 20, 20),
        (40, 40, 40),
    ),
    "left injured": ("The clashes left more than 20 people injured.", None, (21, 21, 30)),
    "died": ("Five people died.", (5, 5, 5), None),
    "lost their lives": ("At least 3 people lost their lives.", (3, 3, 5), None),
    "fatalities": ("There were 12 fatalities.", (12, 12, 12), None),
    "deaths": ("Officials confirmed 9 deaths.", (9, 9, 9), None),
    "hurt": ("Three people were hurt.", None, (3, 3, 3)),
    "injuries": ("Doctors treated 30 injuries.", None, (30, 30, 30)),
    "shot dead passive": ("Police said 4 people were shot dead.", (4, 4, 4), None),
    "stabbed to death": ("Two people were stabbed to death.", (2, 2, 2), None),
    "passive list": ("5 soldiers and 3 civilians were killed.", (8, 8, 8), None),
    "passive list with a": ("Two policemen and a civilian were killed.", (3, 3, 3), None),
    "subset most of them": ("12 people, most of them women, were killed.", (12, 12, 12), None),
    "subset including no commas": (
        "At least 7 people including two children died.",
        (7, 7, 11),
        None,
    ),
    "headline participle": ("Two Killed, 5 Wounded In Attack", (2, 2, 2), (5, 5, 5)),
    "who were": ("Six soldiers who were wounded were flown out.", None, (6, 6, 6)),
    "family members": (
        "Five members of the same family were killed when a missile hit their home.",
        (5, 5, 5),
        None,
    ),
    "another wounded": ("One soldier was killed and another wounded.", (1, 1, 1), (1, 1, 1)),
    # one victim
    "a man": ("A man was killed in the raid.", (1, 1, 1), None),
    "an adjective noun": ("An Israeli soldier was wounded.", None, (1, 1, 1)),
    "a 12-year-old": ("A 12-year-old boy was killed by a stray bullet.", (1, 1, 1), None),
    "a child died": ("A child died in the fire.", (1, 1, 1), None),
    "singular headline": ("Israeli soldier killed in Gaza", (1, 1, 1), None),
    "his wife": ("His wife was killed.", (1, 1, 1), None),
    "a third person": ("A third person died.", (1, 1, 1), None),
    # the toll
    "toll rose": ("The death toll rose to 23.", (23, 23, 23), None),
    "toll from": (
        "The death toll from Tuesday's bombing in Kabul has risen to 23, officials said.",
        (23, 23, 23),
        None,
    ),
    "toll of": ("The blast had a death toll of at least 40.", (40, 40, 60), None),
    "toll from x to y": ("The toll rose from 10 to 15.", (15, 15, 15), None),
    "toll by x to y": ("The death toll rose by 5 to 23.", (23, 23, 23), None),
    "number of dead": ("The number of dead reached 31.", (31, 31, 31), None),
    "number of injured": ("The number of injured rose to 80.", None, (80, 80, 80)),
    "injury toll": ("The injury toll stood at 44.", None, (44, 44, 44)),
    # killed and injured together: dropped
    "casualties": ("There were 12 casualties.", None, None),
    "killed or wounded": ("Three people were killed or wounded.", None, None),
    "killing or wounding": ("The blast went off, killing or wounding 40.", None, None),
    "casualty toll": ("The casualty toll rose to 40.", None, None),
    # negations
    "no one killed": ("No one was killed in the attack.", (0, 0, 0), None),
    "nobody injured": ("Nobody was injured in the blast.", (0, 0, 0), (0, 0, 0)),
    "no one hurt": ("No one was hurt.", (0, 0, 0), (0, 0, 0)),
    "none of": ("None of the passengers were hurt.", (0, 0, 0), (0, 0, 0)),
    "no casualties": ("There were no casualties.", (0, 0, 0), (0, 0, 0)),
    "no civilian casualties": (
        "The army said there were no civilian casualties.",
        (0,) * 3,
        (0,) * 3,
    ),
    "no reports of": ("There were no reports of casualties.", (0, 0, 0), (0, 0, 0)),
    "without casualties": ("The raid ended without casualties.", (0, 0, 0), (0, 0, 0)),
    "no deaths": ("There were no deaths.", (0, 0, 0), None),
    "no injuries": ("No injuries were reported.", None, (0, 0, 0)),
    "hedged immediate": ("There were no immediate reports of casualties.", None, None),
    "hedged immediately": ("No casualties were immediately reported.", None, None),
    "hedged yet": ("No deaths have yet been confirmed.", None, None),
    "positive beats zero": (
        "No one was killed, but 5 people were wounded.",
        (0, 0, 0),
        (5, 5, 5),
    ),
    "zero does not beat positive": (
        "Three people were injured, but no one was hurt badly.",
        (0, 0, 0),
        (3, 3, 3),
    ),
    # not counts
    "days": ("Five people were killed 3 km from the border.", (5, 5, 5), None),
    "percent": ("The strike killed 40% of the unit.", None, None),
    "year": ("He was killed 2019 in Aleppo.", None, None),
    "weapons are not victims": ("3 gunmen killed 12 villagers.", (12, 12, 12), None),
    "agents are not victims": ("Two missiles killed at least 5 people.", (5, 5, 8), None),
    "adjective participle": ("Officials said 40 wounded people were brought in.", None, None),
    "among the dead": ("Two children were among the dead.", None, None),
    "one of the injured": ("One of the injured later died in hospital.", None, None),
    "displaced": ("Over 2 million people have been displaced.", None, None),
    "no casualty words": ("Talks resumed in Doha on Tuesday.", None, None),
    "intent": ("The militants threatened to kill 100 hostages.", None, None),
    "could": ("Officials warned the floods could kill thousands.", None, None),
    "vague after and": (
        "At least 12 people have been killed and dozens wounded.",
        (12, 12, 18),
        (24, 36, 99),
    ),
    "the 12 dead": ("The 12 dead included 4 children.", (12, 12, 12), None),
    "with a dated clause": ("Gunmen killed 5 people on March 3, 2024.", (5, 5, 5), None),
    "empty": ("", None, None),
}

BACKGROUND_CASES = {
    "war has killed": "The war has killed more than 500,000 people since 2011.",
    "since the conflict began": "More than 500,000 people have died since the conflict began.",
    "since a month": "More than 1,000 people have been killed in Sudan's war since April.",
    "last month": "The bombing came after last month's attack that killed 40.",
    "this year": "Militants have killed 340 people this year.",
    "bringing the toll": "The shelling continued, bringing the death toll to 340.",
    "in a year": "Islamic State claimed the attack, which killed 35 people in 2016.",
    "opening adverbial": "Since October, 400 soldiers have died.",
    "opening year": "In 2014, a similar attack killed 40.",
    "opening last year": "Last year, a similar attack killed 40.",
    "relative clause": "The conflict, which has killed more than 40,000 people, goes on.",
    "when clause": "It was the worst attack since March, when 60 people were killed.",
    "perfect in the war": "More than 9,000 soldiers have been killed in the war.",
    "ago": "Five people were killed there two years ago.",
    "a week after": "The raid came a week after gunmen killed 9 people nearby.",
    "previous": "A previous attack on the base killed 14.",
    "overall": "Overall, 12,000 people have been killed.",
    "total": "The total number killed is now 5,000.",
    "in the year": "More than 200 were injured in the 2019 attack.",
    "during the war": "Israel says it has killed 17,000 militants during the war.",
}


@pytest.mark.parametrize(("text", "killed", "injured"), BODY_CASES.values(), ids=BODY_CASES)
def test_body_rules(text: str, killed: Triple, injured: Triple) -> None:
    _check("", text, killed, injured)


@pytest.mark.parametrize("text", BACKGROUND_CASES.values(), ids=BACKGROUND_CASES)
def test_background_tolls_are_not_the_event(text: str) -> None:
    _check("", text, None, None)


def test_event_kept_beside_background_in_one_sentence() -> None:
    _check(
        "",
        "At least 12 people were killed on Tuesday, bringing the death toll this year to 340.",
        (12, 12, 18),
        None,
    )
    _check("", "Gunmen killed 12 on Monday, a week after a bombing killed 40.", (12, 12, 12), None)


def test_deadliest_since_is_not_background() -> None:
    text = "At least 12 people were killed in the deadliest attack since 2019."
    _check("", text, (12, 12, 18), None)


def test_since_recent_day_is_not_background() -> None:
    _check("", "Since Tuesday, 30 people have been killed in the clashes.", (30, 30, 30), None)
    _check("", "Four people have died since the attack.", (4, 4, 4), None)


def test_title_and_body_with_the_same_best_widen() -> None:
    _check("Strike kills 12 in Gaza", "An airstrike killed at least 12 people.", (12, 12, 18), None)


def test_title_vague_refined_by_body_number() -> None:
    _check("Dozens killed in Mali attack", "At least 40 people were killed.", (40, 40, 60), None)


def test_one_sides_toll_in_the_title_then_both_sides_in_the_body() -> None:
    title, body = "Army says 30 rebels killed", "30 rebels and 4 soldiers were killed in the raid."
    _check(title, body, (34, 34, 34), None)
    _check(title, "Four soldiers were killed in the raid.", (30, 30, 30), None)


def test_vague_not_refined_by_number_outside_its_range() -> None:
    _check("Dozens killed", "A ministry said 150 people were killed.", (24, 36, 99), None)


def test_first_mention_wins_over_later_different_counts() -> None:
    text = "The raid killed five, officials said. Earlier, a strike killed 3 people."
    _check("", text, (5, 5, 5), None)


def test_toll_update_replaces_smaller_count() -> None:
    text = "A blast killed 12 people on Monday. The death toll later rose to 15."
    _check("Blast kills 12", text, (15, 15, 15), None)


def test_toll_update_too_large_is_cumulative() -> None:
    text = (
        "A blast killed 12 people on Monday. Officials said the death toll had risen to 40,000 "
        "across the region."
    )
    _check("Blast kills 12", text, (12, 12, 12), None)


def test_separate_clauses_are_not_summed() -> None:
    text = "Five people were killed in Homs and 3 people were killed in Hama."
    _check("", text, (5, 5, 5), None)


def test_lead_beats_later_sentences() -> None:
    filler = " ".join(f"Residents described scene number {n} in detail." for n in range(8))
    text = f"A bombing killed 7 people. {filler} Another bombing killed 30 people."
    _check("", text, (7, 7, 7), None)


def test_later_sentences_are_a_fallback() -> None:
    filler = " ".join(f"Residents described scene number {n} in detail." for n in range(8))
    text = f"A bombing hit the market on Tuesday. {filler} Officials said 30 people were hurt."
    _check("", text, None, (30, 30, 30))


def test_fallback_finds_sentence_around_cue_in_last_paragraph() -> None:
    filler = "\n\n".join(f"Paragraph {n} talks about politics and talks." for n in range(10))
    _check("", f"{filler}\n\nNine people were killed", (9, 9, 9), None)


def test_title_only() -> None:
    _check("Russian attack kills 3, wounds 10", "", (3, 3, 3), (10, 10, 10))
    _check("Gunmen kill 3 in Nigeria", "", (3, 3, 3), None)
    _check("Six Palestinians killed in West Bank raid", "", (6, 6, 6), None)


def test_count_checks_its_bounds() -> None:
    assert Count(1, 2, 3) == Count(low=1, best=2, high=3)
    for bad in [(3, 2, 4), (1, 5, 4), (-1, 0, 0)]:
        with pytest.raises(ValueError):
            Count(*bad)


def test_values_are_frozen_and_slotted() -> None:
    result = extract_casualties("", "Two people died.")
    assert isinstance(result, Casualties)
    with pytest.raises(AttributeError):
        result.killed = None  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_unicode_and_odd_input_do_not_break() -> None:
    # "İ" lower-cases to two characters; offsets must still line up
    text = "İstanbul: İ " * 50 + "Three people were killed. Ünal said 4 were hurt."
    _check("", text, (3, 3, 3), (4, 4, 4))
    _check("", "…—–-,,;;::!!??", None, None)
    _check("“Two killed”", "‘No one was hurt,’ he said.", (2, 2, 2), (0, 0, 0))


def test_random_text_keeps_bounds_and_never_raises() -> None:
    vocabulary = (
        "at least more than nearly up to between and or killed wounded dead died injured hurt "
        "people soldiers a an the dozens several 12 1,200 twenty-three two three hundred thousand "
        "no one was were , . ; including of them toll rose to since 2019 last month killing"
    )
    words = vocabulary.split()
    rng = random.Random(7)
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        got = extract_casualties(text[:30], text)
        for count in (got.killed, got.injured):
            assert count is None or 0 <= count.low <= count.best <= count.high


@pytest.mark.parametrize(
    "unit",
    [
        "1 and ",
        "1, ",
        "killed 1 ",
        "at least ",
        "the death toll ",
        "a man ",
        "no one ",
        "killed 1. ",
    ],
)
def test_pathological_input_stays_linear(unit: str) -> None:
    text = unit * (100_000 // len(unit)) + "were killed"
    # a regex with catastrophic backtracking would hang here; speed is measured in bench/
    assert extract_casualties(text[:200], text) is not None


@pytest.mark.parametrize(
    ("title", "text", "civilians"),
    [
        ("", "An air strike on Raqqa killed 12 civilians, including a woman and a child.", True),
        ("", "Twelve civilian passengers were killed when the bus hit a mine.", True),
        ("", "A child was killed in the shelling of the village.", True),
        ("Shelling kills 4 villagers in Donetsk", "", True),
        ("", "Five soldiers and three civilians were killed.", False),  # 8 of two kinds
        ("", "Gunmen killed 4 soldiers at a checkpoint.", False),
        ("", "Clashes killed nine people on Sunday.", False),  # people: not said
    ],
)
def test_the_dead_are_civilians_only_where_the_text_says_so(
    title: str, text: str, civilians: bool
) -> None:
    killed = extract_casualties(title, text).killed
    assert killed is not None and killed.civilians is civilians


def test_a_toll_told_twice_keeps_the_civilians_it_names() -> None:
    killed = extract_casualties(
        "Air strike kills 12 in Raqqa", "The strike killed at least 12 civilians, medics said."
    ).killed
    assert killed == Count(12, 12, 18) and killed.civilians
    assert Count(1, 1, 1, civilians=True) == Count(1, 1, 1)  # not part of the figure
