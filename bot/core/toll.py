"""Stage: an Answer to a "how many were killed" question -> the same Answer, led by the stored
death tolls of its cited articles' events that match what the question asks.
Side effects: reads the store (the cited articles' events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.core.citation import Answer, Citation
from bot.core.timerange import TimeRange
from index.extract.places import Gazetteer, Place
from index.store.interfaces import Storage
from index.store.rows import EventMeta


async def enrich_killed(
    store: Storage,
    answer: Answer,
    gazetteer: Gazetteer,
    *,
    places: Sequence[Place] = (),
    event_types: Sequence[str] = (),
    actors: Sequence[str] = (),
    time: TimeRange | None = None,
) -> Answer:
    """Add the stored death tolls of the cited articles' events (for "how many" questions):
    from each article, its event that matches what the question asks: its places (a region
    covers its towns), kinds of event, groups (one of them among the event's actors) and time
    (the event's date, where its sentence gives one, inside the window), the main one first;
    an article whose events match none adds nothing, so a report of another event is never
    counted. Tolls are listed per event
    (its kind and place); where reports of one event differ, each toll is shown with its
    sources: "air strike in Raqqa: 12 killed per A [1]; 15 killed per B [2] (the reports
    differ)"."""
    metas = await store.article_meta([c.article_id for c in answer.citations])
    # event (kind and place) -> toll -> the citations reporting it
    tolls: dict[str, dict[int, list[Citation]]] = {}
    for c in answer.citations:
        meta = metas.get(c.article_id)
        events = meta.events if meta is not None else ()
        asked = [
            e
            for e in sorted(events, key=lambda e: not e.main)
            if e.killed and _asked(e, gazetteer, places, event_types, actors, time)
        ]
        if asked:
            event = asked[0]
            label = replace(event, killed=None, injured=None).describe()
            tolls.setdefault(label, {}).setdefault(event.killed or 0, []).append(c)
    if not tolls:
        return answer
    parts = []
    for label, counts in tolls.items():
        told = "; ".join(
            f"{killed} killed per " + ", ".join(f"{c.source} [{c.n}]" for c in cited)
            for killed, cited in counts.items()
        )
        parts.append(f"{label}: {told}" + (" (the reports differ)" if len(counts) > 1 else ""))
    line = "Counts in the reports: " + "; ".join(parts) + "."
    return replace(answer, text=f"{line}\n{answer.text}")


def _asked(
    event: EventMeta,
    gazetteer: Gazetteer,
    places: Sequence[Place],
    event_types: Sequence[str],
    actors: Sequence[str] = (),
    time: TimeRange | None = None,
) -> bool:
    """Whether a stored event is of a kind the question asks about, by a group it names, at
    a place it names, in the time it asks about."""
    if event_types and event.type not in event_types:
        return False
    if actors and not event.actors & set(actors):
        return False
    if time is not None and event.date is not None:
        if time.since is not None and event.date < time.since.date():
            return False
        if time.until is not None and event.date >= _day_after(time.until):
            return False
    if not places:
        return True
    at = event.place
    return at is not None and any(gazetteer.contains(place, at) for place in places)


def _day_after(until: datetime) -> date:
    """The first day wholly outside a window ending (exclusive) at `until`."""
    day = until.date()
    return day if until.time() == datetime.min.time() else day + timedelta(days=1)
