"""The actor catalogue and its matcher: normalisation rules, matching, lineage, user files,
validation, and the bundled catalogue's own sanity. Sentences are written for these tests."""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from index.extract.actors import KINDS, ActorCatalogue, CatalogueError, LineageStep, normalise


@pytest.fixture(scope="module")
def catalogue() -> ActorCatalogue:
    return ActorCatalogue.load()


def ids(catalogue: ActorCatalogue, text: str) -> list[str]:
    return [m.actor_id for m in catalogue.find(text)]


def only(catalogue: ActorCatalogue, text: str) -> tuple[str, str]:
    mentions = catalogue.find(text)
    assert len(mentions) == 1, [(m.actor_id, m.text) for m in mentions]
    return mentions[0].actor_id, mentions[0].text


# ---- required aliases ---------------------------------------------------------------------------
REQUIRED = {
    "isis": [
        "ISIS", "ISIL", "IS", "Islamic State", "Daesh", "Da'esh",
        "Islamic State of Iraq and the Levant", "Islamic State of Iraq and Syria",
    ],
    "nusra_front": ["Nusra Front", "Jabhat al-Nusra", "Al-Nusra", "al-Nusra Front"],
    "jabhat_fateh_al_sham": ["Jabhat Fateh al-Sham", "JFS"],
    "hts": ["Hayat Tahrir al-Sham", "HTS", "Tahrir al-Sham"],
    "fsa": ["Free Syrian Army", "FSA"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("actor_id", "alias"), [(a, alias) for a, aliases in REQUIRED.items() for alias in aliases]
)
def test_required_alias_resolves_and_is_found(
    catalogue: ActorCatalogue, actor_id: str, alias: str
) -> None:
    assert [a.id for a in catalogue.resolve(alias)] == [actor_id]
    sentence = f"Witnesses said {alias} fighters entered the village at dawn."
    assert only(catalogue, sentence) == (actor_id, alias)


@pytest.mark.parametrize(
    ("sentence", "actor_id"),
    [
        ("Shelling by the Syrian Arab Army hit Maarat al-Numan.", "syrian_government"),
        ("SAA units and regime forces moved on Khan Sheikhoun.", "syrian_government"),
        ("The Assad regime denied the report.", "syrian_government"),
        ("MONUSCO peacekeepers patrolled near Beni.", "monusco"),
        ("A MINUSMA convoy struck a mine near Kidal.", "minusma"),
        ("UNIFIL said its position was hit.", "unifil"),
        ("AMISOM troops handed over the base.", "amisom"),
        ("ATMIS withdrew from the town.", "atmis"),
        ("Wagner mercenaries were seen in Moura.", "wagner"),
        ("Russia's Africa Corps replaced the contractors.", "africa_corps"),
        ("The Rapid Support Forces shelled El Fasher.", "rsf"),
        ("The RSF said it had taken the town.", "rsf"),
        ("The SAF launched air strikes on Nyala.", "saf"),
        ("M23 rebels seized Goma airport.", "m23"),
        ("ADF rebels attacked a village near Oicha.", "adf"),
        ("CODECO militiamen raided a displacement camp.", "codeco"),
        ("The Tatmadaw bombed a school in Sagaing.", "myanmar_military"),
        ("Local PDF units ambushed a column.", "pdf_myanmar"),
        ("The Arakan Army captured Paletwa.", "arakan_army"),
        ("The TNLA took control of Lashio's outskirts.", "tnla"),
        ("KIA fighters clashed with soldiers near Bhamo.", "kia"),
        ("Hamas said the talks had stalled.", "hamas"),
        ("The Qassam Brigades released a video.", "qassam_brigades"),
        ("PIJ fired rockets at Sderot.", "pij"),
        ("Hezbollah launched drones at the Galilee.", "hezbollah"),
        ("Ansar Allah claimed the strike on the tanker.", "houthis"),
        ("The Houthi movement said it shot down a drone.", "houthis"),
        ("AQAP gunmen attacked a checkpoint in Abyan.", "aqap"),
        ("Al-Shabaab fighters stormed the hotel.", "al_shabaab"),
        ("JNIM claimed the ambush near Djibo.", "jnim"),
        ("ISGS fighters raided a market in Menaka.", "is_sahel"),
        ("IS Sahel claimed the attack.", "is_sahel"),
        ("ISWAP overran a military base in Borno.", "iswap"),
        ("Boko Haram abducted schoolgirls.", "boko_haram"),
        ("Taliban fighters entered Kabul.", "taliban"),
        ("IS-K claimed the airport bombing.", "isk"),
        ("The TTP attacked a police post in Bannu.", "ttp"),
        ("PKK militants attacked a border post.", "pkk"),
        ("The YPG withdrew from Manbij.", "ypg"),
        ("The SDF detained suspects in al-Hol.", "sdf"),
        ("TFSA fighters looted homes in Afrin.", "sna_syria"),
        ("Ahrar al-Sham and Jaysh al-Islam agreed a truce.", "ahrar_al_sham"),
        ("The Popular Mobilization Forces entered Tikrit.", "pmf"),
        ("Hashd al-Shaabi fighters held the road.", "pmf"),
        ("Kataib Hezbollah denied involvement.", "kataib_hezbollah"),
        ("Asaib Ahl al-Haq threatened US forces.", "asaib_ahl_al_haq"),
        ("Peshmerga forces retook the town.", "peshmerga"),
        ("The US-led coalition struck an oil refinery.", "us_led_coalition"),
        ("Russian forces advanced near Pokrovsk.", "russian_forces"),
        ("Turkish forces shelled villages near Kobani.", "turkish_forces"),
    ],
)
def test_main_actors_are_found(catalogue: ActorCatalogue, sentence: str, actor_id: str) -> None:
    assert ids(catalogue, sentence)[0] == actor_id


# ---- normalisation rules ------------------------------------------------------------------------
def test_possessives_are_dropped(catalogue: ActorCatalogue) -> None:
    assert only(catalogue, "ISIS's fighters fled.") == ("isis", "ISIS")
    assert only(catalogue, "The Houthis’ drones flew north.") == ("houthis", "Houthis")
    assert only(catalogue, "HEZBOLLAH’S leader spoke.") == ("hezbollah", "HEZBOLLAH")
    assert only(catalogue, "IS-K's claim came late.") == ("isk", "IS-K")


def test_diacritics_and_transliteration(catalogue: ActorCatalogue) -> None:
    assert only(catalogue, "Ǧabhat an-Nuṣra took the hill.") == ("nusra_front", "Ǧabhat an-Nuṣra")
    assert only(catalogue, "Hayʾat Taḥrīr aš-Šām said.") == ("hts", "Hayʾat Taḥrīr aš-Šām")
    assert only(catalogue, "Koglwéogo men patrolled.") == ("koglweogo", "Koglwéogo")


def test_decomposed_diacritics_stay_in_the_mention(catalogue: ActorCatalogue) -> None:
    text = unicodedata.normalize("NFD", "Fighters of Hayat Tahrir al-Shām moved.")
    (mention,) = catalogue.find(text)
    assert mention.actor_id == "hts"
    assert text[mention.start : mention.end] == mention.text
    assert mention.text.endswith("m") and unicodedata.normalize("NFC", mention.text).endswith("ām")


@pytest.mark.parametrize("spelling", ["Da’esh", "Da'esh", "Daʼesh", "Da`esh", "Daesh", "DAESH"])
def test_apostrophes_are_dropped(catalogue: ActorCatalogue, spelling: str) -> None:
    assert only(catalogue, f"Fighters of {spelling} retreated.") == ("isis", spelling)


@pytest.mark.parametrize(
    "spelling", ["IS-K", "IS‑K", "IS–K", "IS K", "IS - K", "IS\u2010K"]
)  # hyphen, non-breaking hyphen, en dash, space, spaced hyphen, Unicode hyphen
def test_hyphen_variants(catalogue: ActorCatalogue, spelling: str) -> None:
    assert only(catalogue, f"A claim by {spelling} followed.") == ("isk", spelling)


@pytest.mark.parametrize(
    "spelling", ["al-Nusra", "Al-Nusra", "an-Nusra", "al Nusra", "Nusra", "AL-NUSRA", "al‑Nusra"]
)
def test_arabic_article_is_optional_and_kept_in_the_mention(
    catalogue: ActorCatalogue, spelling: str
) -> None:
    assert only(catalogue, f"Commanders of {spelling} met.") == ("nusra_front", spelling)


def test_arabic_article_inside_names(catalogue: ActorCatalogue) -> None:
    for text in ("Jabhat an-Nusra", "Jabhat el-Nusra", "Jabhat Nusra", "Jabhat al Nusra"):
        assert only(catalogue, f"{text} denied it.") == ("nusra_front", text)
    assert only(catalogue, "Ash-Shabaab fighters") == ("al_shabaab", "Ash-Shabaab")


def test_whitespace_is_collapsed(catalogue: ActorCatalogue) -> None:
    text = "The Hayat   Tahrir\nal-Sham\u00a0offensive"
    assert only(catalogue, text) == ("hts", "Hayat   Tahrir\nal-Sham")


# ---- word boundaries, case, shouting ------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "This island is lovely, and this is it.",
        "THIS ISLAND IS NOT FOR SALE",
        "The crisis in the region is deepening.",
        "it is what it is",
        "Is it true? It is.",
        "THIS IS WAR, SAYS THE MINISTER",
        "The Sea of Azov froze early.",
        "Download the report as a pdf.",
    ],
)
def test_no_actor_in_plain_words(catalogue: ActorCatalogue, text: str) -> None:
    assert catalogue.find(text) == []


def test_case_sensitive_short_aliases(catalogue: ActorCatalogue) -> None:
    assert only(catalogue, "IS fighters attacked.") == ("isis", "IS")
    assert only(catalogue, "The killing was claimed by IS.") == ("isis", "IS")
    assert ids(catalogue, "is fighters attacked") == []
    assert ids(catalogue, "Is fighters attacked") == []


def test_acronyms_are_still_found_in_capitals(catalogue: ActorCatalogue) -> None:
    assert ids(catalogue, "HTS TAKES ALEPPO IN LIGHTNING OFFENSIVE") == ["hts"]


def test_weak_aliases_are_flagged(catalogue: ActorCatalogue) -> None:
    (mention,) = catalogue.find("Fighting in Rakhine (Photo: AA)")
    assert (mention.actor_id, mention.weak) == ("arakan_army", True)
    (mention,) = catalogue.find("The Arakan Army said")
    assert not mention.weak


# ---- longest match and offsets ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "actor_id", "matched"),
    [
        ("an Islamic State of Iraq and the Levant", "isis", "Islamic State of Iraq and the Levant"),
        ("the Islamic State of Iraq claimed in 2008", "isi", "Islamic State of Iraq"),
        ("the Nusra Front said", "nusra_front", "Nusra Front"),
        ("the Free Syrian Army said", "fsa", "Free Syrian Army"),
        ("Turkish-backed Free Syrian Army units", "sna_syria", "Turkish-backed Free Syrian Army"),
        ("Kataib Hezbollah said", "kataib_hezbollah", "Kataib Hezbollah"),
        ("the Pakistani Taliban said", "ttp", "Pakistani Taliban"),
        ("ISIS-K said", "isk", "ISIS-K"),
        ("pro-Russian forces shelled", "dpr_forces", "pro-Russian forces"),
    ],
)  # fmt: skip
def test_longest_match_wins(
    catalogue: ActorCatalogue, text: str, actor_id: str, matched: str
) -> None:
    assert only(catalogue, text) == (actor_id, matched)


def test_offsets_map_back_to_the_original(catalogue: ActorCatalogue) -> None:
    text = (
        "“Da’esh” — and Ǧabhat an‑Nuṣra’s men — fought the  SDF;\n"
        "Ḥayʾat Taḥrīr aš-Šām (HTS) and ISIS’s cells, IS-K and Hezbollah’s Radwan Force."
    )
    mentions = catalogue.find(text)
    assert [(m.actor_id, m.text) for m in mentions] == [
        ("isis", "Da’esh"),
        ("nusra_front", "Ǧabhat an‑Nuṣra"),
        ("sdf", "SDF"),
        ("hts", "Ḥayʾat Taḥrīr aš-Šām"),
        ("hts", "HTS"),
        ("isis", "ISIS"),
        ("isk", "IS-K"),
        ("hezbollah", "Hezbollah"),
        ("radwan_force", "Radwan Force"),
    ]
    for m in mentions:
        assert text[m.start : m.end] == m.text
    assert [m.start for m in mentions] == sorted(m.start for m in mentions)


def test_mention_fields(catalogue: ActorCatalogue) -> None:
    (mention,) = catalogue.find("Troops of the SAA advanced.")
    assert mention.actor_id == "syrian_government"
    assert mention.canonical == "Syrian government forces"
    assert mention.kind == "state_forces"
    assert mention.alias == "SAA"
    assert (mention.start, mention.end) == (14, 17)


def test_normalise_and_its_offset_map() -> None:
    text = "Ǧabhat  an-Nuṣra’s Da’esh—ISIS"
    norm, offsets = normalise(text)
    assert norm == "jabhat nusra daesh isis"
    assert len(offsets) == len(norm) + 1 and offsets[-1] == len(text)
    assert offsets == sorted(offsets)
    for i, char in enumerate(norm):
        source = text[offsets[i]]
        assert char == " " or normalise(source)[0] == char or not source.isascii()
    assert text[offsets[norm.index("nusra")]] == "N"
    assert normalise("Hay'at Tahrir AL-SHAM", casefold=False)[0] == "Hayat Tahrir SHAM"


def test_empty_text(catalogue: ActorCatalogue) -> None:
    assert catalogue.find("") == []
    assert normalise("") == ("", [0])


# ---- shared aliases -----------------------------------------------------------------------------
def test_shared_alias_follows_the_other_actors_in_the_text(catalogue: ActorCatalogue) -> None:
    assert ids(catalogue, "SNA troops pushed al-Shabaab out of the town.") == [
        "somali_government",
        "al_shabaab",
    ]
    assert ids(catalogue, "The SNA and the SDF clashed near Manbij.") == ["sna_syria", "sdf"]
    assert ids(catalogue, "pro-government forces fought the Houthis") == [
        "yemen_government",
        "houthis",
    ]
    # no context: catalogue order decides
    assert ids(catalogue, "The SNA said.") == ["sna_syria"]


# ---- resolve, get, lineage ----------------------------------------------------------------------
def test_resolve_terms(catalogue: ActorCatalogue) -> None:
    isis = catalogue.get("isis")
    assert isis is not None
    assert catalogue.resolve("ISIL") == catalogue.resolve("Daesh") == [isis]
    assert catalogue.resolve("  daesh ") == catalogue.resolve("Islamic State") == [isis]
    assert [a.id for a in catalogue.resolve("SNA")] == ["sna_syria", "somali_government"]
    assert [a.id for a in catalogue.resolve("aa")] == ["arakan_army"]  # a user typing lower case
    assert [a.id for a in catalogue.resolve("nusra_front")] == ["nusra_front"]  # an id
    assert catalogue.resolve("the weather") == []
    assert catalogue.get("no_such_actor") is None
    assert isis.name == "Islamic State" and isis.aliases[0] == "Islamic State"


def test_lineage_nusra_to_hts(catalogue: ActorCatalogue) -> None:
    steps = catalogue.successors("nusra_front")
    assert steps[:2] == [
        LineageStep("nusra_front", "rebranded_as", "jabhat_fateh_al_sham", "2016-07"),
        LineageStep("jabhat_fateh_al_sham", "merged_into", "hts", "2017-01"),
    ]
    back = catalogue.predecessors("hts")
    assert {(s.earlier, s.later, s.date) for s in back} >= {
        ("jabhat_fateh_al_sham", "hts", "2017-01"),
        ("nusra_front", "jabhat_fateh_al_sham", "2016-07"),
        ("isi", "nusra_front", "2013-04"),
    }
    assert [s.date for s in back] == sorted((s.date for s in back), reverse=True)


def test_lineage_isi_to_isis_and_splits(catalogue: ActorCatalogue) -> None:
    assert catalogue.successors("isi")[0] == LineageStep("isi", "rebranded_as", "isis", "2013-04")
    later = {s.later for s in catalogue.successors("boko_haram")}
    assert "iswap" in later  # ISWAP split from Boko Haram: a successor...
    assert "isis" not in later  # ...but a pledge of allegiance is not
    (split,) = [s for s in catalogue.predecessors("iswap") if s.relation == "split_from"]
    assert (split.earlier, split.later, split.date) == ("boko_haram", "iswap", "2016-08")


def test_children(catalogue: ActorCatalogue) -> None:
    assert {"kataib_hezbollah", "asaib_ahl_al_haq"} <= {a.id for a in catalogue.children("pmf")}


# ---- user files and validation ------------------------------------------------------------------
def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_file_adds_an_actor_and_extends_another(
    catalogue: ActorCatalogue, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        """
- id: northern_lions
  name: Northern Lions Brigade
  kind: militia
  countries: [SY]
  aliases: [Usud al-Shamal, {text: NLB, case_sensitive: true}]
  parent: sna_syria
- id: isis
  aliases: [Tanzim al-Dawla]
  countries: [TJ]
""",
    )
    mine = ActorCatalogue.load([path])
    assert len(mine) == len(catalogue) + 1
    assert ids(mine, "Usud al-Shamal and NLB fighters met Tanzim al-Dawla envoys.") == [
        "northern_lions",
        "northern_lions",
        "isis",
    ]
    isis = mine.get("isis")
    assert isis is not None and "Tanzim al-Dawla" in isis.aliases and "ISIL" in isis.aliases
    assert isis.name == "Islamic State" and isis.countries.count("TJ") == 1
    assert [a.id for a in mine.resolve("northern lions brigade")] == ["northern_lions"]
    assert catalogue.get("northern_lions") is None  # the bundled catalogue is untouched


@pytest.mark.parametrize(
    ("text", "entry", "reason"),
    [
        ("- {id: a_one, name: A, kind: militia}\n- {id: a_one, name: B, kind: militia}\n",
         "entry 2 (id 'a_one')", "duplicate id"),
        ("- {id: a_one, name: A, kind: militia, lineage: [{to: nowhere, date: '2020-01', "
         "relation: rebranded_as}]}\n", "entry 1 (id 'a_one')", "'nowhere' is not an actor id"),
        ("- {id: a_one, name: A, kind: militia}\n- {id: b_two, name: B, kind: gang}\n",
         "entry 2 (id 'b_two')", "kind 'gang'"),
        ("- {id: a_one, name: A, kind: militia, aliases: [XY]}\n",
         "entry 1 (id 'a_one')", "case_sensitive"),
        ("- {id: a_one, name: A, kind: militia, colour: red}\n",
         "entry 1 (id 'a_one')", "unknown field"),
        ("- {id: a_one, kind: militia}\n", "entry 1 (id 'a_one')", "name and a kind"),
        ("- {id: A-One, name: A, kind: militia}\n", "entry 1 (id 'A-One')", "slug"),
        ("- {id: a_one, name: A, kind: militia, countries: [Syria]}\n",
         "entry 1 (id 'a_one')", "alpha-2"),
        ("- {id: a_one, name: A, kind: militia, parent: nobody}\n",
         "entry 1 (id 'a_one')", "parent 'nobody'"),
        ("- {id: a_one, name: A, kind: militia, lineage: [{to: isis, date: '2020', "
         "relation: rebranded_as}]}\n", "entry 1 (id 'a_one')", "YYYY-MM"),
        ("- {id: a_one, name: A, kind: militia, lineage: [{to: isis, date: '2020-01', "
         "relation: became}]}\n", "entry 1 (id 'a_one')", "relation 'became'"),
        ("- {id: a_one, name: A, kind: militia, aliases: [{text: Lone Wolves, shared: true}]}\n",
         "entry 1 (id 'a_one')", "shared"),
        ("- id: [broken\n", "file", "not valid YAML"),
        ("id: a_one\n", "file", "list of entries"),
    ],
)  # fmt: skip
def test_validation_errors_name_file_and_entry(
    tmp_path: Path, text: str, entry: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogueError) as caught:
        ActorCatalogue.load([path])
    error = caught.value
    assert error.source == str(path) and error.entry == entry
    assert reason in error.reason
    assert str(path) in str(error) and entry in str(error)


def test_missing_extra_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        ActorCatalogue.load([tmp_path / "absent.yaml"])


def test_lineage_dates_may_be_unquoted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "- {id: a_one, name: A, kind: militia, "
        "lineage: [{to: isis, date: 2020-01-05, relation: pledged_to}]}\n",
    )
    actor = ActorCatalogue.load([path]).get("a_one")
    assert actor is not None and actor.lineage[0].date == "2020-01-05"


# ---- the bundled catalogue ----------------------------------------------------------------------
CONFLICT_COUNTRIES = [
    "SY", "IQ", "YE", "AF", "SO", "ML", "BF", "NE", "NG", "TD", "CM",
    "SD", "CD", "MM", "UA", "RU", "IL", "PS", "LB",
]  # fmt: skip


def test_catalogue_size_kinds_and_countries(catalogue: ActorCatalogue) -> None:
    actors = list(catalogue)
    assert len(catalogue) == len(actors) >= 120
    assert len({a.id for a in actors}) == len(actors)
    assert all(a.kind in KINDS for a in actors)
    assert all(len(c) == 2 and c.isupper() for a in actors for c in a.countries)
    per_country = Counter(c for a in actors for c in a.countries)
    thin = {c: per_country[c] for c in CONFLICT_COUNTRIES if per_country[c] < 3}
    assert not thin, thin
    for country in ("SY", "IQ", "YE", "AF", "SO", "ML", "NG", "SD", "CD", "MM", "UA", "IL", "LB"):
        assert any(a.kind == "state_forces" and country in a.countries for a in actors), country


def test_every_alias_collision_is_declared(catalogue: ActorCatalogue) -> None:
    collisions = catalogue.collisions()
    undeclared = [c for c in collisions if not c.declared]
    assert not undeclared, undeclared
    assert {c.key for c in collisions} >= {"SNA", "regime forces", "shan state army"}


def test_every_alias_finds_its_own_actor(catalogue: ActorCatalogue) -> None:
    """Each alias, in a plain sentence, is matched whole and to its actor (or, for a deliberately
    shared alias, to one of the actors sharing it)."""
    sharing = {c.key.casefold(): set(c.actor_ids) for c in catalogue.collisions()}
    problems = []
    for actor in catalogue:
        for alias in actor.aliases:
            text = f"Reports on {alias} were confirmed on Tuesday."
            found = [(m.actor_id, m.text) for m in catalogue.find(text)]
            allowed = sharing.get(normalise(alias)[0].strip(), {actor.id})
            if len(found) != 1 or found[0][0] not in allowed | {actor.id} or found[0][1] != alias:
                problems.append((actor.id, alias, found))
            if actor.id not in {a.id for a in catalogue.resolve(alias)}:
                problems.append((actor.id, alias, "resolve"))
    assert not problems, problems


def test_short_aliases_are_case_sensitive(catalogue: ActorCatalogue) -> None:
    for actor in catalogue:
        for alias in actor.aliases:
            if len(normalise(alias)[0].strip()) <= 2:
                # a two-letter alias must not match the same letters in lower case
                assert catalogue.find(f"so {alias.lower()} then") == [], (actor.id, alias)


def test_tricky_text_never_breaks_offsets(catalogue: ActorCatalogue) -> None:
    """Seeded random mixes of alias fragments, dashes, apostrophes, accents and odd spaces."""
    rng = random.Random(20240601)
    pieces = [
        "al-", "an-", "Al ", "ISIS", "IS", "’s", "'", "—", "‑", "  ", "\n", "\u00a0", "é", "Ǧ",
        "\u0301", "Nusra", " Front", "Hayat", " Tahrir", " al-Sham", "HTS", " ", "ß", "“", "x",
        "Da’esh", "K", "-", "ʾ", "\u200b", "ﬁ", "İ",
    ]  # fmt: skip
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        norm, offsets = normalise(text)
        assert len(offsets) == len(norm) + 1 and offsets == sorted(offsets)
        previous_end = 0
        for m in catalogue.find(text):
            assert text[m.start : m.end] == m.text and m.start >= previous_end, (text, m)
            previous_end = m.end
