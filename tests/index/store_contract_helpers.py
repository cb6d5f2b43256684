"""The store contract's shared parts (tests/index/test_store_contract*.py): the `store` fixture
that gives a fresh store on each engine in turn (a new PostgreSQL database per test), the
fixed clock and window, and small builders of entries, passages, unit vectors and event
records (with the places and actors they name).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.extract.casualties import Casualties, Count
from index.extract.events import Event, EventActor
from index.extract.extractor import ActorRef, EventRecord
from index.extract.places.types import Place, PlaceMention
from index.models import Passage, RawEntry
from index.retrieve.passages import content_hash, embed_text
from index.store.sqlite.store import Store
from tests.pg import fresh_database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
MODEL = "hash-16"
DIM = 16


@pytest.fixture(name="store", params=["sqlite", "postgres"])
async def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store on each engine in turn (PgStore has Store's methods)."""
    if request.param == "sqlite":
        async with Store.open(tmp_path / "w.db") as opened:
            yield opened
        return
    from index.store.pg.store import PgStore

    server_url = request.getfixturevalue("pg_server_url")  # pg_url is async: not from here
    async with fresh_database(server_url) as url, PgStore.open(url, max_size=4) as pg:
        yield pg  # type: ignore[misc]


# ---- helpers --------------------------------------------------------------------------------
async def row_of(store: Any, sql: str, *params: Any) -> tuple[Any, ...] | None:
    """One row of `sql` (written with `?` marks) on either engine, for what no method reads."""
    if isinstance(store, Store):
        found = await store.fetch_one(sql, params)
    else:
        numbers = itertools.count(1)
        found = await store.pool.fetchrow(
            re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *params
        )
    return None if found is None else tuple(found)


def utc(value: datetime | None) -> datetime | None:
    """A time read back, checked to be aware UTC."""
    assert value is None or value.utcoffset() == timedelta(0)
    return value


def entry(
    n: int,
    *,
    url: str | None = "",
    guid: str | None = None,
    title: str | None = None,
    text: str | None = None,
    published: datetime | None = NOW,
) -> RawEntry:
    return RawEntry(
        guid=guid,
        url=f"https://outlet.example/{n}" if url == "" else url,
        title=title if title is not None else f"Title number {n}",
        text=text if text is not None else f"Body of story {n} about something else entirely {n}.",
        published_at=published,
    )


async def save(
    store: Store, feed_id: int, item: RawEntry, *, now: datetime = NOW, source: str = "Outlet"
) -> Any:
    return await store.save_entry(
        feed_id, item, source=source, now=now, story_window=WINDOW, story_threshold=0.5
    )


async def setup(
    store: Store, name: str = "console", url: str = "https://a.example/feed"
) -> tuple[int, int]:
    ws = await store.workspace_id(name, NOW)
    feed_id = await store.subscribe(ws, url, interval_s=300, name="Outlet", now=NOW)
    return ws, feed_id


async def fetched(store: Any, feed_id: int, now: datetime, next_check_at: datetime) -> None:
    """A good fetch of the feed that said nothing about it (no title, etag or date)."""
    await store.record_fetch_ok(
        feed_id,
        status="ok",
        etag=None,
        last_modified=None,
        title=None,
        now=now,
        next_check_at=next_check_at,
    )


def passage(seq: int, text: str, title: str = "Title") -> Passage:
    shown = embed_text(title, text)
    return Passage(seq=seq, text=text, embed_text=shown, content_hash=content_hash(shown))


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


# ---- event metadata -------------------------------------------------------------------------
MOSUL = Place(99072, "Mosul", "IQ", "Iraq", "Nineveh", "15", 36.335, 43.119, "town", 1_739_800)
BAGHDAD = Place(98182, "Baghdad", "IQ", "Iraq", "Baghdad", "07", 33.341, 44.401, "town", 7_216_000)
ALEPPO = Place(170063, "Aleppo", "SY", "Syria", "Aleppo", "09", 36.202, 37.158, "town", 1_602_264)
ISIS = ActorRef("Islamic State", "Islamic State", "armed_group", "isis")
PMF = ActorRef("the militia", "Popular Mobilization Forces", "armed_group", None)


def record(
    *,
    places: tuple[tuple[Place, bool], ...],
    actors: tuple[ActorRef, ...],
    types: tuple[str, ...],
    day: date | None,
    killed: Count | None = None,
    injured: Count | None = None,
) -> EventRecord:
    mentions = tuple(PlaceMention(p.name, 0, len(p.name), p, main) for p, main in places)
    events = ()
    if types:
        main_place = next((m for m in mentions if m.main), None)
        events = (
            Event(
                type=types[0],
                sub_type="air/drone strike" if types[0].startswith("explosions") else None,
                actors=tuple(
                    EventActor(a.canonical, "actor" if n == 0 else "target", a.actor_id)
                    for n, a in enumerate(actors)
                ),
                place=main_place,
                date=day,
                killed=killed,
                injured=injured,
                sentences=("An air strike hit the market.", "Nine were killed."),
                main=True,
            ),
            Event(
                type=types[-1],
                sub_type=None,
                actors=(),
                place=None,
                date=None,
                killed=None,
                injured=None,
                sentences=("Rebels seized a hill.",),
            ),
        )
    return EventRecord(
        actors=actors,
        places=mentions,
        event_types=types,
        casualties=Casualties(killed, injured),
        event_date=day,
        events=events,
    )
