"""Stage: a user's term -> a Watch (a resolved actor, place, keyword query or topic); the
watch list. Side effects: reads and writes the `watches` table (through bot/store/watchrows.py).

A watch belongs to a channel ("console", "discord:<guild_id>:<channel_id>") and sees only the
articles of that channel's workspace (the console, or the Discord guild). Terms are resolved
once, when the watch is added, so matching new articles is set lookups and arithmetic:
- group: an actor of the catalogue (any alias; its affiliates too), else an exact name;
- place: a GeoNames entry; a country or admin-1 region covers every place inside it, and a town
  may add a radius;
- keyword: a boolean query of words and phrases (bot/core/keywords.py);
- topic: a description in words, embedded; matched by similarity to the article's passages.
An ambiguous term is refused with the choices that settle it, never guessed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import numpy as np

from bot.core.errors import UserError
from bot.core.keywords import KeywordQuery, KeywordSyntaxError
from bot.store import watch_rows as store_watch_rows
from bot.store.watchrows import WatchDef, WatchRow, WatchRows
from index.extract.actors import Actor, ActorCatalogue, actor_key
from index.extract.eventtypes import EVENT_TYPES
from index.extract.places import Gazetteer, Place
from index.store.interfaces import Storage
from index.text import fold

log = logging.getLogger(__name__)

Kind = Literal["group", "place", "keyword", "topic"]
KINDS: tuple[Kind, ...] = ("group", "place", "keyword", "topic")
METADATA_KINDS: frozenset[str] = frozenset({"group", "place", "keyword"})

_CHANNEL = re.compile(r"^(console|discord:\d{1,20}:\d{1,20})$")
_DURATION = re.compile(r"^\s*(\d{1,6})\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_KEYWORD_SYNTAX = re.compile(r"[\"“”()*]|(^|\s)-\w|\b(AND|OR|NOT)\b")
# A place candidate must be this many times more populous than every other to be taken
# without asking ("Paris" is France's; "Tripoli" and "Georgia" need a choice).
_DOMINANCE = 10
TOPIC_MIN_WORDS = 4  # a longer term with no keyword syntax is taken as a topic


def channel_workspace(channel: str) -> str:
    """The workspace whose articles a channel sees: "console", or "discord:<guild_id>"."""
    if not _CHANNEL.match(channel):
        raise UserError(
            f"{channel!r} is not a channel: use `console` or `discord:<guild_id>:<channel_id>`"
        )
    return channel if channel == "console" else channel.rsplit(":", 1)[0]


def parse_duration(text: str) -> timedelta:
    """ "30m", "2h", "1d", "1w" -> a timedelta."""
    found = _DURATION.match(text)
    if not found or int(found[1]) == 0:
        raise UserError(f"{text!r} is not a duration: use minutes, hours, days or weeks, e.g. 2h")
    seconds = int(found[1]) * _DURATION_UNITS[found[2].lower()]
    if seconds > 366 * 86400:
        raise UserError(f"{text!r} is too long: a year at most (or remove the watch)")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Choice:
    """One way to settle an ambiguous term: what to type, and what it means."""

    term: str
    kind: Kind
    label: str


class Ambiguous(UserError):
    """The term names several things; `choices` says how to pick one."""

    def __init__(self, term: str, choices: Sequence[Choice]) -> None:
        self.term = term
        self.choices = list(choices)
        listed = "; ".join(f"{c.label} -> `{c.term}`" for c in self.choices)
        super().__init__(f"{term!r} is ambiguous, say which: {listed}")


@dataclass(frozen=True, slots=True)
class PlaceSpec:
    """The watched place, as resolved."""

    geonameid: int
    name: str
    label: str  # "Deir ez-Zor (region), Syria"
    precision: str  # town, admin1, country
    country_code: str
    admin1_code: str | None
    lat: float
    lon: float

    @classmethod
    def of(cls, place: Place) -> PlaceSpec:
        return cls(
            place.geonameid,
            place.name,
            place_label(place),
            place.precision,
            place.country_code,
            place.admin1_code,
            place.lat,
            place.lon,
        )


def place_label(place: Place) -> str:
    """ "Ālbū Kamāl, Deir ez-Zor, Syria (town)", "Deir ez-Zor, Syria (region)", "Syria"."""
    if place.precision == "country":
        return place.name
    parts = [place.name]
    if place.precision == "town" and place.admin1 and fold(place.admin1) != fold(place.name):
        parts.append(place.admin1)
    parts.append(place.country)
    kind = "region" if place.precision == "admin1" else "town"
    return f"{', '.join(parts)} ({kind})"


@dataclass(frozen=True, slots=True, eq=False)
class Watch:
    """One watch, as stored. Only the fields of its kind are set."""

    watch_id: int
    workspace_id: int
    channel: str
    kind: Kind
    term: str
    canonical: str | None
    since: datetime
    created_at: datetime
    muted_until: datetime | None = None
    event_types: tuple[str, ...] = ()
    min_killed: int | None = None
    # group: actor key -> how it relates to the watched actor ("" for itself, "affiliate")
    actor_keys: dict[str, str] = field(default_factory=dict)
    name_query: KeywordQuery | None = None  # group watch on a name outside the catalogue
    place: PlaceSpec | None = None
    radius_km: float | None = None
    query: KeywordQuery | None = None
    vector: np.ndarray | None = None
    threshold: float | None = None  # topic: set by the user; None: calibrated per description
    # Paused because the channel is gone or refuses the bot; it matches nothing until unmuted.
    paused_reason: str | None = None
    paused_at: datetime | None = None

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None

    def active(self, now: datetime) -> bool:
        """Whether the watch may match now: neither muted nor paused."""
        return not self.muted(now) and not self.paused


@dataclass(frozen=True, slots=True)
class Resolved:
    """A term resolved into what a watch stores."""

    kind: Kind
    canonical: str | None
    spec: dict[str, Any]
    vector: np.ndarray | None = None


class Resolver:
    """Turns a user's term into a watch definition, using the actor catalogue, the gazetteer and
    (for topics) the embedding model."""

    def __init__(
        self,
        catalogue: ActorCatalogue,
        gazetteer: Gazetteer,
        embed_query: Callable[[str], np.ndarray] | None = None,
        *,
        topic_threshold: float | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.gazetteer = gazetteer
        self.embed_query = embed_query
        self.topic_threshold = topic_threshold  # None: calibrated per description (alerts.py)

    def resolve(self, term: str, kind: Kind | None = None) -> Resolved:
        term = " ".join(term.split())
        if not term:
            raise UserError("the watch term is empty: give a group, place, keywords or a topic")
        if len(term) > 500:
            raise UserError("the watch term is too long (500 characters at most)")
        if kind is None:
            kind = self.infer_kind(term)
        if kind == "group":
            return self._group(term)
        if kind == "place":
            return self._place(term)
        if kind == "keyword":
            return self._keyword(term)
        return self._topic(term)

    def infer_kind(self, term: str) -> Kind:
        """group or place when the term names one (asking when it could be both), keyword for
        query syntax or a short term, topic for a description of several words."""
        if _KEYWORD_SYNTAX.search(term):
            return "keyword"
        actors = self.catalogue.resolve(term)
        places = self._place_candidates(term)
        if actors and places and _significant(places[0]):
            choices = [Choice(term, "group", f"the group {a.name}") for a in actors[:3]]
            choices += [Choice(term, "place", f"the place {place_label(places[0])}")]
            raise Ambiguous(
                term,
                [Choice(f"--kind {c.kind} {c.term}", c.kind, c.label) for c in choices],
            )
        if actors:
            return "group"
        if places:
            return "place"
        return "topic" if len(term.split()) >= TOPIC_MIN_WORDS else "keyword"

    # -- kinds --
    def _group(self, term: str) -> Resolved:
        actors = self.catalogue.resolve(term)
        if len(actors) > 1:
            raise Ambiguous(term, [Choice(a.id, "group", _actor_label(a)) for a in actors])
        if not actors:  # not in the catalogue: the name itself, as NER or the text has it
            key = actor_key(None, term)
            query = _phrase_query(term)
            return Resolved(
                "group",
                None,
                {"actor_keys": {key: ""}, "name_query": str(query) if query else None},
            )
        actor = actors[0]
        keys = {actor.id: ""}
        for child in self._affiliates(actor.id):
            keys.setdefault(child.id, f"affiliate of {actor.name}")
        return Resolved("group", actor.name, {"actor_keys": keys})

    def _affiliates(self, actor_id: str, depth: int = 0) -> list[Actor]:
        if depth > 4:
            return []
        out = []
        for child in self.catalogue.children(actor_id):
            out.append(child)
            out.extend(self._affiliates(child.id, depth + 1))
        return out

    def _place(self, term: str) -> Resolved:
        places = self._place_candidates(term)
        if not places:
            raise UserError(
                f"no place called {term!r} in the gazetteer: check the spelling, name the "
                "town, region or country, or watch it as a keyword (--kind keyword)"
            )
        if len(places) > 1 and not _dominant(places):
            raise Ambiguous(term, [Choice(_place_term(p), "place", place_label(p)) for p in places])
        return Resolved("place", places[0].name, {"place": _spec_doc(PlaceSpec.of(places[0]))})

    def _place_candidates(self, term: str) -> list[Place]:
        """Candidates for a place term, best first. "Name, Qualifier" keeps those in that
        country or region; "geonames:ID" names one; a town inside a region of the same name
        gives way to the region ("Deir ez-Zor" is the province, which covers the city)."""
        if found := re.fullmatch(r"geonames:(-?\d+)", term.strip()):
            place = self.gazetteer.by_id(int(found[1]))
            return [place] if place else []
        name, _, qualifier = term.rpartition(",") if "," in term else (term, "", "")
        candidates = self.gazetteer.resolve(name.strip())
        if qualifier.strip():
            want = fold(qualifier.strip())
            candidates = [
                p
                for p in candidates
                if want in {fold(p.country), fold(p.country_code), fold(p.admin1 or "")}
            ]
        kept = [
            p
            for p in candidates
            if not any(
                o is not p and o.precision != p.precision and self.gazetteer.contains(o, p)
                for o in candidates
            )
        ]
        return sorted(kept, key=lambda p: -p.population)

    def _keyword(self, term: str) -> Resolved:
        try:
            query = KeywordQuery.parse(term)
            KeywordQuery.parse(str(query))  # its stored, explicit form must parse too
        except KeywordSyntaxError as exc:
            raise UserError(f"bad keyword query: {exc}") from exc
        return Resolved("keyword", str(query), {"query": str(query)})

    def _topic(self, term: str) -> Resolved:
        if len(term.split()) < 2:
            raise UserError(
                "describe a topic in a few words (e.g. 'drone strikes on power plants'); "
                "for one word use --kind keyword"
            )
        if self.embed_query is None:
            raise RuntimeError("topic watches need the embedding model")
        vector = np.asarray(self.embed_query(term), dtype=np.float32).reshape(-1)
        return Resolved(
            "topic", term, {"description": term, "threshold": self.topic_threshold}, vector
        )


def _significant(place: Place) -> bool:
    return place.precision != "town" or place.population >= 100_000


def _dominant(places: Sequence[Place]) -> bool:
    return all(places[0].population >= _DOMINANCE * max(1, p.population) for p in places[1:])


def _place_term(place: Place) -> str:
    """What to type to pick this place: "Tripoli, North Governorate", "Kherson, Ukraine"."""
    if place.precision == "country":
        return place.name
    within = place.admin1 if place.precision == "town" and place.admin1 else place.country
    return f"{place.name}, {within}"


def _actor_label(actor: Actor) -> str:
    where = f", {'/'.join(actor.countries)}" if actor.countries else ""
    return f"{actor.name} ({actor.kind.replace('_', ' ')}{where})"


def _phrase_query(term: str) -> KeywordQuery | None:
    words = term.replace('"', " ").strip()
    try:
        query = KeywordQuery.parse(f'"{words}"')
        KeywordQuery.parse(str(query))
    except KeywordSyntaxError:
        return None
    return query


def _spec_doc(place: PlaceSpec) -> dict[str, Any]:
    return {
        "geonameid": place.geonameid,
        "name": place.name,
        "label": place.label,
        "precision": place.precision,
        "country_code": place.country_code,
        "admin1_code": place.admin1_code,
        "lat": place.lat,
        "lon": place.lon,
    }


def check_event_types(types: Sequence[str]) -> tuple[str, ...]:
    """Event type names as given, or any one word of one ("explosions", "civilians")."""
    out = []
    for given in types:
        want = fold(given).strip()
        found = [t for t in EVENT_TYPES if fold(t) == want] or [
            t for t in EVENT_TYPES if want and want in re.split(r"[\s/]+", fold(t))
        ]
        if len(found) != 1:
            raise UserError(
                f"unknown event type {given!r}: use one of {', '.join(EVENT_TYPES)} "
                "(or one word of one, e.g. explosions)"
            )
        out.append(found[0])
    return tuple(dict.fromkeys(out))


# ---- the table (bot/store/watchrows.py) -------------------------------------------------------
def watch_rows(store: Storage) -> WatchRows:
    """The `watches` table of `store`."""
    return store_watch_rows(store)


async def add(
    store: Storage,
    *,
    workspace_id: int,
    channel: str,
    term: str,
    resolved: Resolved,
    since: datetime,
    now: datetime,
    radius_km: float | None = None,
    event_types: Sequence[str] = (),
    min_killed: int | None = None,
    vector_model: str | None = None,
) -> Watch:
    """Storage a resolved watch; `vector_model`: the model id a topic's vector was made by."""
    row = await watch_rows(store).add(
        WatchDef(
            workspace_id=workspace_id,
            channel=channel,
            kind=resolved.kind,
            term=term,
            canonical=resolved.canonical,
            spec=resolved.spec,
            since=since,
            created_at=now,
            event_types=tuple(event_types),
            min_killed=min_killed,
            radius_km=radius_km,
            vector=resolved.vector,
            vector_model=vector_model if resolved.vector is not None else None,
        )
    )
    return _row_to_watch(row)


async def reembed_topics(
    store: Storage, embed_query: Callable[[str], np.ndarray], model_id: str
) -> int:
    """Embed again, with the current model, every topic watch's description that another
    model (or backend) embedded; returns how many. Run at start-up, before any matching."""
    rows = watch_rows(store)
    stale = await rows.topics_embedded_by_others(model_id)
    for row in stale:
        description = row.definition.spec.get("description") or row.definition.term
        vector = await asyncio.to_thread(embed_query, description)
        await rows.set_vector(row.watch_id, vector, model_id)
    if stale:
        log.info("%d topic watches embedded again with %s", len(stale), model_id)
    return len(stale)


async def get(store: Storage, workspace_id: int, watch_id: int) -> Watch | None:
    row = await watch_rows(store).get(workspace_id, watch_id)
    return _row_to_watch(row) if row else None


async def list_watches(
    store: Storage, *, workspace_id: int | None = None, channel: str | None = None
) -> list[Watch]:
    found = []
    for row in await watch_rows(store).find(workspace_id=workspace_id, channel=channel):
        try:
            found.append(_row_to_watch(row))
        except (ValueError, KeyError, TypeError):  # a damaged row must not silence the others
            log.warning("watch %s cannot be read and is skipped", row.watch_id, exc_info=True)
    return found


async def remove(store: Storage, workspace_id: int, watch_id: int) -> bool:
    return await watch_rows(store).remove(workspace_id, watch_id)


async def set_muted(
    store: Storage, workspace_id: int, watch_id: int, until: datetime | None
) -> bool:
    """Mute a watch until `until`; None unmutes it and also ends a pause (`pause_channel`)."""
    rows = watch_rows(store)
    if until is None:
        return await rows.unmute(workspace_id, watch_id)
    return await rows.mute(workspace_id, watch_id, until)


async def pause_channel(store: Storage, channel: str, reason: str, now: datetime) -> int:
    """Pause every watch of `channel` that is not paused yet (the channel is gone, or the bot
    may no longer post there); returns how many. Unmuting a watch resumes it."""
    return await watch_rows(store).pause_channel(channel, reason, now)


async def count(store: Storage, workspace_id: int) -> int:
    return await watch_rows(store).count(workspace_id)


def _row_to_watch(row: WatchRow) -> Watch:
    r = row.definition
    spec = r.spec
    kind = cast(Kind, r.kind)
    place = None
    if kind == "place":
        p = spec["place"]
        place = PlaceSpec(
            p["geonameid"],
            p["name"],
            p["label"],
            p["precision"],
            p["country_code"],
            p["admin1_code"],
            p["lat"],
            p["lon"],
        )
    name_query = spec.get("name_query")
    return Watch(
        watch_id=row.watch_id,
        workspace_id=r.workspace_id,
        channel=r.channel,
        kind=kind,
        term=r.term,
        canonical=r.canonical,
        since=r.since,
        created_at=r.created_at,
        muted_until=row.muted_until,
        event_types=r.event_types,
        min_killed=r.min_killed,
        actor_keys=dict(spec.get("actor_keys", {})),
        name_query=KeywordQuery.parse(name_query) if name_query else None,
        place=place,
        radius_km=r.radius_km,
        query=KeywordQuery.parse(spec["query"]) if kind == "keyword" else None,
        vector=r.vector,
        threshold=spec.get("threshold"),
        paused_reason=row.paused_reason,
        paused_at=row.paused_at,
    )
