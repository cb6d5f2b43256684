"""Stage: the places, groups and intent a question names -> the filters an answer is looked up
by (each a store article search), their `ask --json` document, and the sentence said when one
is dropped because nothing matched it.
Side effects: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.core.question import Intent
from index.extract.places import Place
from index.store.rows import PlaceFilter
from index.timeutil import to_iso


@dataclass(frozen=True, slots=True)
class _Filters:
    places: tuple[Place, ...]
    actors: tuple[tuple[str, str], ...]  # (actor key, name)
    intent: Intent

    def doc(self, active: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "places" in active and self.places:
            out["places"] = [
                {
                    "name": p.name,
                    "precision": p.precision,
                    "country_code": p.country_code,
                    "admin1": p.admin1,
                    "geonameid": p.geonameid,
                }
                for p in self.places
            ]
        if "actors" in active and self.actors:
            out["actors"] = [{"key": key, "name": name} for key, name in self.actors]
        if "event_types" in active and self.intent.event_types:
            out["event_types"] = list(self.intent.event_types)
        time = self.intent.time
        if "time" in active and time is not None:
            out["time"] = {
                "text": time.text,
                "since": to_iso(time.since) if time.since else None,
                "until": to_iso(time.until) if time.until else None,
            }
        if self.intent.latest:
            out["latest"] = True
        return out


def _relaxed_sentence(name: str, filters: _Filters) -> str:
    if name == "time" and filters.intent.time is not None:
        what = f"the time ({filters.intent.time.text})"
    elif name == "places":
        what = "the place (" + ", ".join(p.name for p in filters.places) + ")"
    elif name == "actors":
        what = "the group (" + ", ".join(n for _, n in filters.actors) + ")"
    else:
        what = "the kind of event (" + ", ".join(filters.intent.event_types) + ")"
    return f"Nothing matched {what}, so I looked without it."


def _region(place: Place) -> PlaceFilter:
    if place.precision == "country":
        return PlaceFilter(place.country_code)
    if place.precision == "admin1":
        return PlaceFilter(place.country_code, place.admin1_code)
    return PlaceFilter(place.country_code, geonameid=place.geonameid)


def _last_day(until: datetime) -> date:
    """`until` is exclusive; find_articles takes the last day included."""
    return (until - timedelta(microseconds=1)).date()
