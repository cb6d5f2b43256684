"""Values: what the place stage returns (`Place`, `PlaceMention`), what containment
reads of a place (`Located`), the kinds of place and the great-circle distance between two."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

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
