"""Event types: rules and meaning, with the real model."""

from __future__ import annotations

import pytest

from index.extract.eventtypes import (
    BATTLES,
    CIVILIANS,
    EXPLOSIONS,
    PROTESTS,
    RIOTS,
    STRATEGIC,
    EventTyper,
)
from index.retrieve.embed import Embedder


@pytest.fixture(scope="module")
def typer(real_embedder: Embedder) -> EventTyper:
    return EventTyper(real_embedder)


@pytest.mark.parametrize(
    ("lead", "expected"),
    [
        ("Warplanes bombed a market town, flattening two buildings.", EXPLOSIONS),
        ("A drone strike hit a pickup truck on the highway.", EXPLOSIONS),
        ("Rebels and army units fought street by street for the old city.", BATTLES),
        ("The two militias exchanged fire for hours near the bridge.", BATTLES),
        ("Gunmen stopped a bus and shot dead six passengers.", CIVILIANS),
        ("Militants kidnapped twenty schoolgirls from their dormitory.", CIVILIANS),
        ("Thousands marched through the capital demanding the minister resign.", PROTESTS),
        ("Youths torched a police station and looted shops after the verdict.", RIOTS),
        ("The brigade swore allegiance to the jihadist group's leader.", STRATEGIC),
        ("Government troops took control of the town after rebels withdrew.", STRATEGIC),
    ],
)
def test_each_type_is_recognised(typer: EventTyper, lead: str, expected: str) -> None:
    assert expected in typer.classify(lead).types


def test_meaning_alone_labels_a_paraphrase_without_rule_words(typer: EventTyper) -> None:
    scores = typer.classify("Jets pounded the outskirts overnight, flattening homes.")
    assert EXPLOSIONS in scores.types and EXPLOSIONS not in scores.rule_hits


def test_unrelated_news_gets_no_type(typer: EventTyper) -> None:
    for lead in (
        "The central bank held interest rates steady on Tuesday.",
        "The home side won the derby with a late goal.",
    ):
        assert typer.classify(lead).types == ()


def test_a_story_with_two_events_gets_both(typer: EventTyper) -> None:
    lead = (
        "Rebels pledged allegiance to the Islamic State on Monday; hours later an air "
        "strike on their base killed 12 people."
    )
    assert {STRATEGIC, EXPLOSIONS} <= set(typer.classify(lead).types)


def test_batches_match_single_calls(typer: EventTyper) -> None:
    leads = ["Protesters blocked the road.", "A car bomb exploded at a checkpoint."]
    assert [s.types for s in typer.classify_many(leads)] == [typer.classify(x).types for x in leads]
    assert typer.classify_many([]) == []
