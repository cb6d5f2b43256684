"""Stage: article (title, lead, text) -> event types (multi-label, ACLED-like taxonomy).
Side effects: none (the embedder is passed in).

Two signals, either of which labels an article:
- rules: phrases that name an event type outright ("air strike", "pledged allegiance",
  "protesters"), matched on word boundaries in the title and the first sentences;
- meaning: the cosine similarity between the embedded title and lead and a few plain-language
  descriptions of each type (with the same MiniLM model as the passages). A type is taken when
  its best description scores above an absolute floor and close to the best type's score, so a
  story that is clearly about one thing gets one label and a story about two gets both.
Neither signal was tuned on evaluation data; the descriptions paraphrase the taxonomy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.retrieve.embed import Embedder

LEAD_CHARS = 240  # what the model reads: the title and the opening words (speed: ~45 tokens)
BATTLES = "battles"
EXPLOSIONS = "explosions/remote violence"
CIVILIANS = "violence against civilians"
PROTESTS = "protests"
RIOTS = "riots"
STRATEGIC = "strategic developments"
EVENT_TYPES = (BATTLES, EXPLOSIONS, CIVILIANS, PROTESTS, RIOTS, STRATEGIC)

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    BATTLES: (
        "Armed clashes between two armed groups or between rebels and government troops.",
        "Fighters and soldiers exchanged fire in heavy fighting for control of a town.",
        "An armed group ambushed an army patrol and a gun battle followed.",
        "Government forces launched a ground offensive against militant positions.",
    ),
    EXPLOSIONS: (
        "An air strike or drone strike hit a building.",
        "Artillery shelling and rocket fire struck villages.",
        "A car bomb or roadside bomb exploded.",
        "A suicide bomber blew himself up in a crowded place.",
        "Missiles and mortar rounds landed on a neighbourhood.",
    ),
    CIVILIANS: (
        "Gunmen attacked unarmed civilians and killed villagers.",
        "Militants abducted and kidnapped civilians.",
        "Armed men executed civilians and left their bodies.",
        "A massacre of civilians by an armed group.",
        "Security forces shot dead unarmed people in their homes.",
    ),
    PROTESTS: (
        "Demonstrators marched and rallied peacefully to protest.",
        "Protesters gathered in the square chanting slogans against the government.",
        "Workers and residents held a sit-in demanding services.",
    ),
    RIOTS: (
        "Rioters set fire to buildings and clashed with police.",
        "An angry mob attacked a police station and looted shops.",
        "Prisoners rioted and took control of a prison wing.",
        "Violent demonstrators threw stones and burned tyres and vehicles.",
    ),
    STRATEGIC: (
        "An armed group pledged allegiance to another group.",
        "Two rebel factions merged into a new alliance.",
        "Troops captured a town and took control of territory without fighting.",
        "The warring parties signed a ceasefire agreement.",
        "Forces withdrew from their positions and handed over the area.",
        "Security forces arrested militant leaders in a raid.",
    ),
}

_RULES: dict[str, tuple[str, ...]] = {
    BATTLES: (
        r"clash(?:es|ed)?",
        r"gun ?battles?",
        r"firefights?",
        r"heavy fighting",
        r"fought",
        r"ambush(?:ed|es)?",
        r"offensive against",
        r"battles? for",
        r"exchanged? (?:heavy )?fire",
    ),
    EXPLOSIONS: (
        r"air ?strikes?",
        r"drone strikes?",
        r"airstrikes?",
        r"air raids?",
        r"shell(?:ing|ed)",
        r"artillery",
        r"mortars?",
        r"rockets?",
        r"missiles?",
        r"car bombs?",
        r"bomb(?:ing|ings|s)?",
        r"ieds?",
        r"roadside bombs?",
        r"explosions?",
        r"explod(?:ed|es)",
        r"blasts?",
        r"suicide (?:bomber|attack|bombing)s?",
        r"grenades?",
        r"landmines?",
    ),
    CIVILIANS: (
        r"abduct(?:ed|ion|ions)?",
        r"kidnap(?:ped|ping|pings)?",
        r"execut(?:ed|ion|ions)",
        r"massacres?",
        r"beheaded",
        r"mass graves?",
        r"(?:killed|shot dead|murdered) "
        r"(?:\w+ ){0,3}(?:civilians|villagers|farmers|worshippers|shoppers|passengers)",
        r"gunmen (?:killed|shot|attacked)",
    ),
    PROTESTS: (
        r"protest(?:s|ers|ed|ing)?",
        r"demonstrat(?:ors|ion|ions|ed)",
        r"rall(?:y|ies|ied)",
        r"sit-ins?",
        r"marched",
    ),
    RIOTS: (
        r"riot(?:s|ed|ing|ers)?",
        r"mobs?",
        r"loot(?:ed|ing)",
        r"torched",
        r"stormed",
        r"burn(?:ed|ing|t) tyres",
    ),
    STRATEGIC: (
        r"pledg(?:ed|es|ing)? (?:allegiance|loyalty)",
        r"swore allegiance",
        r"merg(?:ed|er)",
        r"(?:took|taken|seized?|captured?|regain(?:ed)?) (?:full )?control",
        r"captured? the (?:town|city|village)",
        r"ceasefire",
        r"truce",
        r"withdr(?:ew|awn)",
        r"defect(?:ed|ion|ions)",
        r"arrest(?:ed|s)",
        r"rebrand(?:ed)?",
        r"handed over",
    ),
}

_COMPILED = {
    kind: re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)
    for kind, patterns in _RULES.items()
}


@dataclass(frozen=True, slots=True)
class TypeScores:
    """What decided the labels: rule hits and similarities, for `why` lines and tuning."""

    types: tuple[str, ...]
    rule_hits: dict[str, str]
    similarity: dict[str, float]


class EventTyper:
    """Labels articles; embeds the type descriptions once."""

    def __init__(self, embedder: Embedder, *, floor: float = 0.4, margin: float = 0.05) -> None:
        self._embedder = embedder
        self.floor = floor
        self.margin = margin
        self._kinds: list[str] = []
        texts: list[str] = []
        for kind, descriptions in DESCRIPTIONS.items():
            self._kinds.extend([kind] * len(descriptions))
            texts.extend(descriptions)
        self._prototypes = embedder.embed_passages(texts)

    def classify_many(self, leads: Sequence[str]) -> list[TypeScores]:
        """Event types of each article, given `title + first sentences` of each."""
        if not leads:
            return []
        vectors = self._embedder.embed_passages([lead[:LEAD_CHARS] for lead in leads])
        sims = vectors @ self._prototypes.T
        return [self._decide(lead, row) for lead, row in zip(leads, sims, strict=True)]

    def classify(self, lead: str) -> TypeScores:
        return self.classify_many([lead])[0]

    def _decide(self, lead: str, row: np.ndarray) -> TypeScores:
        best: dict[str, float] = {}
        for kind, score in zip(self._kinds, row.tolist(), strict=True):
            best[kind] = max(best.get(kind, -1.0), score)
        top = max(best.values())
        by_meaning = {k for k, s in best.items() if s >= self.floor and s >= top - self.margin}
        hits = {}
        for kind, pattern in _COMPILED.items():
            match = pattern.search(lead)
            if match:
                hits[kind] = match.group(0)
        chosen = [k for k in EVENT_TYPES if k in hits or k in by_meaning]
        return TypeScores(tuple(chosen), hits, {k: round(v, 3) for k, v in best.items()})
