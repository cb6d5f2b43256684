"""Stage: the cache's tables + place files -> the gazetteer's lookups: places by index, postings
by normalised name (GeoNames' and the place files'), `Place` objects, and the Aho-Corasick
automaton over every name. Side effects: none; the automaton is built on first use (about a
second)."""

from __future__ import annotations

import math
import threading
from array import array
from collections import defaultdict
from pathlib import Path
from typing import Any

import ahocorasick

from index.extract.places.files import PlaceAlias, PlaceFileError, PlaceNames
from index.extract.places.spelling import _keys, _name_key
from index.extract.places.types import _COUNTRY, _PRECISION, Place


class _Tables:
    """The tables a `Gazetteer` reads; the methods that read them by index, id or name."""

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
