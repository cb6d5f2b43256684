"""Stage: place files (index/extract/data/places.yaml, WIREWATCH_PLACE_FILES) -> PlaceNames: aliases
of gazetteer places, and names that are never places (news agencies and outlets).
Side effects: reads the bundled file and the caller's files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from index.errors import DataFileError

BUNDLED_PLACES = "index/extract/data/places.yaml"


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
        """The bundled index/extract/data/places.yaml, then each of `extra_files`, in order."""
        bundled = resources.files("index.extract").joinpath("data/places.yaml").read_text("utf-8")
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
        """One file's entries (format: the comment at the top of index/extract/data/places.yaml)."""
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
