"""Stage: cache dir (+ place files) -> Gazetteer: GeoNames towns, admin-1 regions and
countries, loaded from the JSON cache (built first if absent or unusable); a user's term ->
[Place] (`resolve`); text -> [PlaceMention] (`find`, finder.py).
Side effects: `Gazetteer.load` may build and write the cache file, removing stale ones."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from index.extract.places.build import _build_tables, _tables_from_json, _tables_to_json, cache_path
from index.extract.places.files import PlaceNames
from index.extract.places.finder import _Finder
from index.extract.places.spelling import _REGION_KEYS, _TOWN_KEYS, _name_key
from index.extract.places.types import _ADMIN1, _COUNTRY, _TOWN, Located, Place, great_circle_km
from index.extract.places.words import _ABBREVIATION_COUNTRY


class Gazetteer(_Finder):
    """GeoNames towns, admin-1 regions and countries, matched in text and resolved in context."""

    # -- loading --
    @classmethod
    def load(cls, cache_dir: Path, place_files: Sequence[Path] = ()) -> Gazetteer:
        """Read the cache in `cache_dir`, building it from the packages' data first if absent
        or unusable; add the names of index/extract/data/places.yaml and of `place_files`."""
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
