"""Synthetic news for bench/search.py: news-like articles and questions generated from word
lists with a seeded random generator, and the scale run's base passages cut from such articles
by `chunk_article`. No side effects.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from index.retrieve.passages import chunk_article


def _words(text: str) -> list[str]:
    """A word list written as one "|"-separated string."""
    return text.split("|")


# Slots are filled from these lists; templates keep fixed words few and rarely adjacent, so
# unrelated synthetic articles share few word bigrams (as unrelated news does) and the
# near-duplicate story matching does not see them as related.
ACTORS = _words(
    "government forces|rebel fighters|the army|police|militants|protesters|an armed group|"
    "security forces|opposition supporters|border guards|a militia|peacekeepers|insurgents|"
    "tribal fighters|the navy|striking workers|paramilitary units|special forces|gunmen|"
    "separatists|coalition aircraft|jihadist fighters|riot police|the coast guard|"
    "self-defence groups|smugglers|pirates|mercenaries|veterans|student groups"
)
ACTIONS = _words(
    "attacked|shelled|stormed|besieged|raided|bombed|surrounded|captured|blockaded|"
    "ambushed|occupied|abandoned|evacuated|set fire to|fired on|sealed off|looted|mined|"
    "patrolled|retook"
)
EVENTS = _words(
    "an air strike|a car bomb|heavy shelling|a drone attack|an ambush|street clashes|"
    "a suicide bombing|a rocket attack|a night raid|a mass protest|an explosion|"
    "a kidnapping|flash floods|an earthquake|a landslide|a prison break|a cholera outbreak|"
    "a grenade attack|sniper fire|a mortar barrage|a fuel shortage|a cyber attack|"
    "a hostage crisis|a coup attempt|an assassination"
)
OBJECTS = _words(
    "a checkpoint|a market|a hospital|a school|an oil field|a bridge|the airport|"
    "a power station|a refugee camp|a police station|a mosque|a church|a bus station|"
    "the port|a military base|a water plant|a courthouse|a prison|a border crossing|"
    "a university|a fuel depot|a mobile phone mast|a grain silo|a television station|"
    "the central bank"
)
PLACES = _words(
    "Aleppo|Mosul|Raqqa|Goma|Khartoum|Kabul|Mogadishu|Gaza|Kharkiv|Tripoli|Sanaa|Idlib|"
    "Kirkuk|Bamako|Niamey|Maiduguri|Beni|Juba|Port-au-Prince|Lahore|Quetta|Marawi|"
    "Cabo Delgado|Tigray|Darfur|Deir ez-Zor|Homs|Hodeidah|Taiz|Benghazi|Misrata|Ouagadougou|"
    "Gao|Timbuktu|Mopti|Bunia|Bukavu|Kismayo|Baidoa|Garissa|Mekelle|Gondar|El Fasher|Nyala|"
    "Kandahar|Herat|Jalalabad|Peshawar|Karachi|Cotabato|Zamboanga|Mandalay|Sittwe|Lashio|"
    "Donetsk|Zaporizhzhia|Kherson|Odesa|Basra|Fallujah|Ramadi|Tikrit|Daraa|Latakia"
)
OFFICIALS = _words(
    "a military spokesman|the interior ministry|a local health official|the UN envoy|"
    "a hospital director|witnesses|the provincial governor|a rights group|state media|"
    "an aid agency|the prime minister's office|residents|a police commander|the Red Cross|"
    "a tribal elder|the defence ministry|a local journalist|an army colonel|a UN monitor|"
    "the mayor|an opposition leader|a senior diplomat|a security source|a doctor|"
    "the foreign minister"
)
SAY = _words(
    "said|reported|told reporters|confirmed|claimed|warned|denied|announced|estimated|"
    "insisted|acknowledged|alleged"
)
TOPICS = _words(
    "ceasefire|prisoner exchange|humanitarian corridor|election|peace|border|"
    "reconstruction|disarmament|aid delivery|evacuation|security|trade|power-sharing|"
    "grain export|demining|refugee return|water rights|amnesty|constitutional|debt relief"
)
OUTCOMES = _words(
    "killed|wounded|displaced|arrested|missing|evacuated|detained|abducted|rescued|injured"
)
VICTIMS = _words(
    "civilians|soldiers|children|aid workers|police officers|students|fishermen|farmers|"
    "journalists|pilgrims|miners|migrants|shoppers|worshippers|nurses"
)
TIMES = _words(
    "on Monday|on Tuesday|on Wednesday|on Thursday|overnight|at dawn|late on Friday|"
    "on Saturday|early on Sunday|this week|last month|before noon|after midnight|"
    "during evening prayers|at rush hour"
)
MOODS = _words(
    "Tensions remained high|Calm returned|Fighting resumed|Talks stalled|"
    "Aid convoys were halted|Schools stayed closed|Roads were blocked|Shops reopened|"
    "Power cuts continued|Prices soared|Curfews were imposed|Funerals were held|"
    "Queues formed outside bakeries|Thousands marched|Flights were cancelled"
)
FIRST = _words(
    "Ahmed|Fatima|Omar|Amina|Yusuf|Leila|Ibrahim|Mariam|Hassan|Aisha|Olena|Taras|Jean|"
    "Grace|Moussa|Aminata|Abdi|Hodan|Rahim|Zainab|Samuel|Esther|Khalid|Nour|Dmytro|Iryna|"
    "Patrice|Chantal|Ali|Sara|Musa|Halima|Tariq|Rania|Kofi|Ama|Bilal|Huda|Pierre|Noor"
)
LAST = _words(
    "Haddad|Mansour|Diallo|Traore|Kone|Abdullahi|Hussein|Khan|Rahman|Shevchenko|Bondarenko|"
    "Mukendi|Kabila|Nkurunziza|Okafor|Mensah|Farah|Warsame|Qureshi|Yousafzai|Barzani|Saleh|"
    "Al-Amin|Idris|Osman|Tesfaye|Gebre|Mohammed|Karimi|Azimi|Ndiaye|Sow|Cisse|Keita|"
    "Lukashenko|Petrenko|Nasser|Darwish|Hamdan|Suleiman"
)
ROLES = _words(
    "a shopkeeper|a teacher|a local councillor|a nurse|a taxi driver|a farmer|a student|"
    "an engineer|a fisherman|a pharmacist|a community leader|a volunteer medic"
)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _sentence(rng: random.Random, place: str, kinds: Sequence[int]) -> str:
    """One sentence about `place` (sometimes another), of one of the `kinds` of template."""
    near = rng.choice(PLACES) if rng.random() < 0.3 else place
    forms: list[Callable[[], str]] = [
        lambda: (
            f"{rng.choice(EVENTS).capitalize()} hit {rng.choice(OBJECTS)} in {near} "
            f"{rng.choice(TIMES)}, {rng.choice(OFFICIALS)} {rng.choice(SAY)}."
        ),
        lambda: (
            f"{rng.randint(2, 120)} {rng.choice(VICTIMS)} were {rng.choice(OUTCOMES)} when "
            f"{rng.choice(ACTORS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} near {near}."
        ),
        lambda: (
            f"{rng.choice(OFFICIALS).capitalize()} {rng.choice(SAY)} {rng.choice(TOPICS)} "
            f"talks with {rng.choice(ACTORS)} could resume in {near} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{rng.choice(ACTORS).capitalize()} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} "
            f"outside {near} after {rng.choice(EVENTS)}."
        ),
        lambda: (
            f"{rng.choice(MOODS)} in {near} {rng.choice(TIMES)}, {_person(rng)}, "
            f"{rng.choice(ROLES)}, {rng.choice(SAY)}."
        ),
        lambda: (
            f"{_person(rng)}, {rng.choice(ROLES)} from {near}, {rng.choice(SAY)} "
            f"{rng.randint(3, 9000)} {rng.choice(VICTIMS)} had fled since {rng.choice(EVENTS)}."
        ),
        lambda: (
            f"{rng.choice(ACTORS).capitalize()} and {rng.choice(ACTORS)} traded fire across "
            f"{rng.choice(OBJECTS)} in {near} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{_person(rng)} {rng.choice(SAY)} the {rng.choice(TOPICS)} deal was at risk "
            f"after {rng.choice(EVENTS)} in {near}."
        ),
        lambda: (
            f"Footage from {near} showed {rng.choice(OBJECTS)} {rng.choice(ACTIONS)} by "
            f"{rng.choice(ACTORS)} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{rng.choice(OFFICIALS).capitalize()} urged {rng.choice(ACTORS)} to spare "
            f"{rng.choice(VICTIMS)} in {near}, where {rng.choice(MOODS).lower()}."
        ),
    ]
    return forms[rng.choice(kinds)]()


TEMPLATES = 10  # kinds of sentence in `_sentence`
TEMPLATES_PER_ARTICLE = 4  # fewer shared phrasings between articles, as with real outlets


def synthetic_article(rng: random.Random, n: int) -> tuple[str, str]:
    """(title, text) of a news-like article of 6 to 30 sentences about one place."""
    place = rng.choice(PLACES)
    title = (
        f"{rng.choice(EVENTS).capitalize()} in {place}: {rng.randint(2, 90)} "
        f"{rng.choice(VICTIMS)} {rng.choice(OUTCOMES)} ({n})"
    )
    kinds = rng.sample(range(TEMPLATES), TEMPLATES_PER_ARTICLE)
    sentences = [_sentence(rng, place, kinds) for _ in range(rng.randint(6, 30))]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return title, "\n\n".join(paragraphs)


def synthetic_queries(rng: random.Random, n: int) -> list[str]:
    forms: list[Callable[[], str]] = [
        lambda: f"{rng.choice(EVENTS)} in {rng.choice(PLACES)}",
        lambda: (
            f"how many {rng.choice(VICTIMS)} were {rng.choice(OUTCOMES)} in {rng.choice(PLACES)}"
        ),
        lambda: (
            f"{rng.choice(ACTORS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} near "
            f"{rng.choice(PLACES)}"
        ),
        lambda: f"{rng.choice(TOPICS)} talks in {rng.choice(PLACES)}",
        lambda: f"{rng.choice(VICTIMS)} fleeing {rng.choice(PLACES)} after {rng.choice(EVENTS)}",
        lambda: f"who controls {rng.choice(OBJECTS)} in {rng.choice(PLACES)}?",
    ]
    return [rng.choice(forms)() for _ in range(n)]


def synthetic_base(rng: random.Random, count: int) -> list[str]:
    """`count` passages (the text the model reads) of synthetic articles, by chunk_article."""
    texts: list[str] = []
    n = 0
    while len(texts) < count:
        title, text = synthetic_article(rng, n)
        texts.extend(p.embed_text for p in chunk_article(title, text))
        n += 1
    return texts[:count]
