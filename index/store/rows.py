"""Stage: the values the storage engines hand the layers above (feeds, entries, stories,
places, event metadata, counts), and the row helpers both engines share. Side effects: none.

`index.store.sqlite.store.Store` (SQLite) and `index.store.pg.store.PgStore` (PostgreSQL) return
these same values, so the layers above never learn which engine they run on. Event rows are read
back in the SQLite engine's shape (dates as ISO text, flags as 0/1, JSON as text); PostgreSQL
converts its rows to that shape first (index/store/pg/events.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from index.extract.actors import actor_key
from index.extract.events import Event, describe, event_doc
from index.models import Article, FeedSource, RawEntry
from index.retrieve.passages import content_hash
from index.timeutil import TimeReader

if TYPE_CHECKING:
    import aiosqlite

    from index.extract.casualties import Count

EntryStatus = Literal["new", "updated", "duplicate", "unchanged"]


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A subscribed feed with its health, as `feeds list` shows it."""

    feed_id: int
    url: str
    name: str | None
    kind: str
    interval_s: int
    last_polled_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_count: int
    next_check_at: datetime
    articles: int
    enabled: bool
    failing_since: datetime | None = None  # when the current run of failures began


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    status: EntryStatus
    article_id: int
    story_id: int


@dataclass(frozen=True, slots=True)
class PassageChange:
    """What `replace_passages` did: passage ids created and removed, and how many of the
    created ones still need a vector."""

    added: list[int]
    removed: list[int]
    pending: int


@dataclass(frozen=True, slots=True)
class Story:
    """A cluster of articles about the same event, oldest article first."""

    story_id: int
    title: str
    articles: list[Article]

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(a.source for a in self.articles))


@dataclass(frozen=True, slots=True)
class PlaceFilter:
    """Containment: a country (every place in it), an admin-1 region (every place in it), or
    one place."""

    country_code: str
    admin1_code: str | None = None
    geonameid: int | None = None

    def sql(self) -> tuple[str, list[Any]]:
        if self.geonameid is not None:
            return "p.geonameid = ?", [self.geonameid]
        if self.admin1_code is not None:
            return "p.country_code = ? AND p.admin1_code = ?", [self.country_code, self.admin1_code]
        return "p.country_code = ?", [self.country_code]


@dataclass(frozen=True, slots=True)
class PlaceRow:
    """A place an article names, as stored."""

    geonameid: int
    name: str
    country_code: str
    admin1_code: str | None
    precision: str
    main: bool
    mention: str


@dataclass(frozen=True, slots=True)
class EventMeta:
    """One stored event of an article (article_events), in the shape matching wants it."""

    type: str
    sub_type: str | None
    place: PlaceRow | None
    killed: int | None  # best estimate
    injured: int | None
    main: bool
    actors: frozenset[str] = frozenset()  # the keys of the actors in its own words
    acting: frozenset[str] = frozenset()  # those of them the sentence makes its subject
    date: date | None = None  # the date its sentence gives
    civilians_killed: bool = False  # the text says the dead were civilians
    civilians_injured: bool = False

    def describe(self) -> str:
        """ "air strike in Raqqa, 12 civilians killed" """
        place = self.place.mention if self.place is not None else None
        return describe(
            self.type,
            self.sub_type,
            place,
            self.killed,
            self.injured,
            civilians_killed=self.civilians_killed,
            civilians_injured=self.civilians_injured,
        )


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """An article's stored event metadata, in the shape matching wants it."""

    actors: dict[str, tuple[str, str]]  # actor_key -> (name, the words the article used)
    places: tuple[PlaceRow, ...]
    event_types: frozenset[str]
    killed: int | None  # best estimate
    injured: int | None
    event_date: date | None
    events: tuple[EventMeta, ...] = ()  # each event the article reports (none: not extracted)


@dataclass(frozen=True, slots=True)
class Counts:
    feeds: int
    articles: int
    stories: int
    passages: int
    embedded: int


def entry_key(entry: RawEntry) -> str:
    """How a feed names its entry: guid, else canonical link, else a hash of title and text."""
    if entry.guid:
        return f"guid:{entry.guid}"
    if entry.url:
        return f"url:{entry.url}"
    return "hash:" + content_hash(f"{entry.title}\n{entry.text}")


def count_values(count: Count | None) -> tuple[int | None, int | None, int | None]:
    return (None, None, None) if count is None else (count.low, count.best, count.high)


def event_row(article_id: int, seq: int, event: Event) -> tuple[Any, ...]:
    doc = event_doc(event)
    place = event.place.place if event.place is not None else None
    return (
        article_id,
        seq,
        event.type,
        event.sub_type,
        place.geonameid if place else None,
        place.country_code if place else None,
        place.admin1_code if place else None,
        place.precision if place else None,
        json.dumps(doc["place"]) if place else None,
        doc["date"],
        *count_values(event.killed),
        *count_values(event.injured),
        json.dumps(doc["actors"]),
        json.dumps(doc["sentences"]),
        int(event.main),
        int(event.killed is not None and event.killed.civilians),
        int(event.injured is not None and event.injured.civilians),
    )


def event_meta(r: aiosqlite.Row) -> EventMeta:
    place = json.loads(r["place"]) if r["place"] else None
    actors = json.loads(r["actors"])
    return EventMeta(
        type=r["type"],
        sub_type=r["sub_type"],
        place=None
        if place is None
        else PlaceRow(
            r["geonameid"],
            place["canonical"],
            r["country_code"],
            r["admin1_code"],
            r["precision"],
            bool(r["main"]),
            place["text"],
        ),
        killed=r["killed_best"],
        injured=r["injured_best"],
        main=bool(r["main"]),
        actors=frozenset(actor_key(a.get("actor_id"), a["canonical"]) for a in actors),
        acting=frozenset(
            actor_key(a.get("actor_id"), a["canonical"]) for a in actors if a.get("role") == "actor"
        ),
        date=date.fromisoformat(r["event_date"]) if r["event_date"] else None,
        civilians_killed=bool(r["killed_civilians"]),
        civilians_injured=bool(r["injured_civilians"]),
    )


def event_from_row(r: aiosqlite.Row) -> dict[str, Any]:
    def count(kind: str) -> dict[str, int | bool] | None:
        if r[f"{kind}_best"] is None:
            return None
        values: dict[str, int | bool] = {k: r[f"{kind}_{k}"] for k in ("low", "best", "high")}
        return values | {"civilians": bool(r[f"{kind}_civilians"])}

    return {
        "type": r["type"],
        "sub_type": r["sub_type"],
        "actors": json.loads(r["actors"]),
        "place": json.loads(r["place"]) if r["place"] else None,
        "date": r["event_date"],
        "killed": count("killed"),
        "injured": count("injured"),
        "sentences": json.loads(r["sentences"]),
        "main": bool(r["main"]),
    }


# ---- rows -> values, on either engine (`read_time`: the engine's time reader) ---------------
def feed_row_of(r: Any, read_time: TimeReader) -> FeedRow:
    """A `feeds` row joined with its subscription (`sub_name`, `sub_interval`) and its entry
    count (`articles`)."""
    return FeedRow(
        feed_id=r["feed_id"],
        url=r["url"],
        name=r["sub_name"] or r["title"],
        kind=r["kind"],
        interval_s=r["sub_interval"],
        last_polled_at=read_time(r["last_polled_at"]),
        last_status=r["last_status"],
        last_error=r["last_error"],
        error_count=r["error_count"],
        next_check_at=read_time(r["next_check_at"]) or datetime.min,
        articles=r["articles"],
        enabled=bool(r["enabled"]),
        failing_since=read_time(r["failing_since"]),
    )


def feed_source_of(r: Any) -> FeedSource:
    """A `feeds` row as the poller takes it."""
    return FeedSource(
        feed_id=r["feed_id"],
        url=r["url"],
        interval_s=r["interval_s"],
        title=r["title"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        error_count=r["error_count"],
    )


def read_article(r: Any, read_time: TimeReader) -> Article:
    """An `articles` row."""
    return Article(
        article_id=r["article_id"],
        story_id=r["story_id"],
        url=r["url"],
        title=r["title"],
        text=r["text"],
        source=r["source"],
        published_at=read_time(r["published_at"]) or datetime.min,
        first_seen_at=read_time(r["first_seen_at"]) or datetime.min,
        content_hash=r["content_hash"],
    )
