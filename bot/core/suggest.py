"""Suggestions while a user types a watch term: catalogue actors (under any alias) and gazetteer
places whose names start with what was typed, best first.
Side effects: none; the sorted name lists are built once, on first use (about a second).

Chat-neutral: the Discord adapter turns these into autocomplete choices.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from bot.core.watches import place_label
from index.extract.actors import ActorCatalogue
from index.extract.places import Gazetteer
from index.text import fold

MAX_TYPED = 100


@dataclass(frozen=True, slots=True)
class Suggestion:
    label: str  # what the user reads: "ISIL (group; alias Daesh)", "Albu Kamal, Deir ez-Zor..."
    value: str  # what the command receives as the term


class TermSuggester:
    """Prefix search over actor aliases and place names, folded (case and diacritics)."""

    def __init__(self, catalogue: ActorCatalogue, gazetteer: Gazetteer) -> None:
        self._gazetteer = gazetteer
        actors: list[tuple[str, str, str]] = []  # (folded alias, alias, canonical name)
        for actor in catalogue:
            for alias in dict.fromkeys((actor.name, *actor.aliases)):
                actors.append((fold(alias), alias, actor.name))
        actors.sort()
        self._actors = actors
        self._actor_keys = [a[0] for a in actors]
        self._places = sorted({fold(name): name for name in gazetteer.names() if name}.items())
        self._place_keys = [p[0] for p in self._places]

    def suggest(self, typed: str, limit: int = 25) -> list[Suggestion]:
        """Up to `limit` terms starting with `typed`: actors first (each once, under the alias
        typed), then places (each entry once, labelled with its region and country)."""
        key = fold(" ".join(typed.split())[:MAX_TYPED])
        if not key:
            return []
        found: list[Suggestion] = []
        seen: set[str] = set()
        start = bisect.bisect_left(self._actor_keys, key)
        for folded, alias, name in self._actors[start:]:
            if not folded.startswith(key) or len(found) >= limit:
                break
            if name in seen:
                continue
            seen.add(name)
            said = "" if alias == name else f"; alias {alias}"
            found.append(Suggestion(f"{name} (group{said})", alias))
        start = bisect.bisect_left(self._place_keys, key)
        places: set[int] = set()
        for folded, name in self._places[start:]:
            if not folded.startswith(key) or len(found) >= limit:
                break
            candidates = self._gazetteer.resolve(name)[:3]
            kinds = {place.precision for place in candidates}
            for place in candidates:
                if place.geonameid in places or len(found) >= limit:
                    continue
                places.add(place.geonameid)
                term = place.name
                if len(kinds) > 1:  # "Raqqa" is a town and a region: say which
                    term += {"town": " city", "admin1": " province"}.get(place.precision, "")
                found.append(Suggestion(place_label(place), term))
        return found
