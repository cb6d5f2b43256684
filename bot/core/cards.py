"""Chat-neutral cards for alerts: what an alert holds (AlertView, read by bot/core/alerts.py from
the store) and how it reads as a card, a digest of many, or an update. The console prints
cards (bot/adapters/cli/render.py) and the Discord adapter turns them into embeds; both import this
module, and so does bot/core/delivery.py, which delivers them. An alert's articles are the
store's `AlertSource` values (bot/store/alertrows.py), here named `Source`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.ports import Card
from bot.store.alertrows import AlertSource as Source
from index.timeutil import to_iso


@dataclass(frozen=True, slots=True)
class MatchedWatch:
    watch_id: int
    term: str
    why: str
    article_id: int


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert with everything needed to list or render it."""

    alert_id: int
    channel: str
    story_id: int
    articles: tuple[Source, ...]  # oldest first
    matched: tuple[MatchedWatch, ...]
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    version: int
    delivered_version: int
    digest: bool
    attempts: int
    last_error: str | None
    failed: bool
    message_ref: str | None
    send_key: str | None
    snippet: str = ""
    place: str | None = None
    actors: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    killed: int | None = None
    injured: int | None = None
    events: tuple[str, ...] = ()  # the lead article's events in words, its main event first

    @property
    def title(self) -> str:
        return self.articles[0].title if self.articles else "(story)"

    @property
    def latest(self) -> Source | None:
        return max(self.articles, key=lambda s: s.published_at) if self.articles else None

    @property
    def url(self) -> str | None:
        latest = self.latest
        return (
            latest.url
            if latest and latest.url
            else next((s.url for s in self.articles if s.url), None)
        )

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(s.source for s in self.articles))

    @property
    def pending(self) -> bool:
        return self.delivered_version < self.version and not self.failed

    def doc(self) -> dict[str, Any]:
        """The `alerts --json` entry of the command-line contract."""
        return {
            "alert_id": self.alert_id,
            "channel": self.channel,
            "watch_id": self.matched[0].watch_id if self.matched else None,
            "story_id": self.story_id,
            "article_ids": [s.article_id for s in self.articles],
            "title": self.title,
            "url": self.url,
            "sources": self.sources,
            "matched": [
                {"watch_id": m.watch_id, "term": m.term, "why": m.why} for m in self.matched
            ],
            "created_at": to_iso(self.created_at),
            "updated_at": to_iso(self.updated_at),
            "delivered_at": to_iso(self.delivered_at) if self.delivered_at else None,
            "pending": self.pending,
            "digest": self.digest,
            "version": self.version,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "failed": self.failed,
            "place": self.place,
            "actors": list(self.actors),
            "event_types": list(self.event_types),
            "killed": self.killed,
        }


# ---- alerts --------------------------------------------------------------------------------------
DIGEST_LINES = 15


def alert_card(view: AlertView, *, update: bool = False) -> Card:
    """An alert as a chat-neutral card: title and link, snippet, sources, time, place, actors,
    event type, casualties, and why it was sent."""
    sources = view.sources
    latest = view.latest
    fields: list[tuple[str, str]] = [
        (
            "Sources" if len(sources) > 1 else "Source",
            ", ".join(sources[:5]) + (f" (+{len(sources) - 5})" if len(sources) > 5 else ""),
        )
    ]
    if view.articles:
        first = view.articles[0].published_at
        when = first.strftime("%Y-%m-%d %H:%M UTC")
        if latest is not None and update and latest.published_at != first:
            when += f"; latest {latest.published_at.strftime('%Y-%m-%d %H:%M UTC')}"
        fields.append(("Time", when))
    if view.place:
        fields.append(("Place", view.place))
    if view.actors:
        fields.append(("Actors", ", ".join(view.actors)))
    if view.event_types:
        fields.append(("Event", ", ".join(view.event_types)))
    casualties = ", ".join(
        f"{n} {what}" for n, what in ((view.killed, "killed"), (view.injured, "injured")) if n
    )
    if casualties:
        fields.append(("Casualties", casualties))
    if view.events:  # the story's main event, then the others it reports
        fields.append(("Main event", view.events[0]))
        others = view.events[1:]
        if others:
            more = f" (+{len(others) - 3})" if len(others) > 3 else ""
            fields.append(("Other events", "; ".join(others[:3]) + more))
    if update and latest is not None:
        fields.append(("Latest", f"{latest.source}: {latest.url or latest.title}"))
    return Card(
        title=view.title,
        url=view.url,
        body=view.snippet,
        fields=tuple(fields),
        footer=matched_line(view),
        kind="update" if update else "alert",
        ref=f"alert {view.alert_id}",
    )


def matched_line(view: AlertView) -> str:
    """The short reason: "matched: ISIL (group: "Islamic State" = Islamic State)"."""
    parts = [f"{m.term} ({m.why})" for m in view.matched]
    return "matched: " + "; ".join(parts) if parts else ""


def digest_card(views: list[AlertView]) -> Card:
    """Many alerts at once, rolled into one message."""
    items = []
    for v in views[:DIGEST_LINES]:
        terms = ", ".join(dict.fromkeys(m.term for m in v.matched))
        items.append((v.title, v.url, f"{', '.join(v.sources[:3])}; matched {terms}"))
    more = len(views) - DIGEST_LINES
    return Card(
        title=f"{len(views)} new alerts",
        url=None,
        body=f"... and {more} more (see `alerts`)" if more > 0 else "",
        footer="rolled into one digest so the channel is not flooded",
        kind="digest",
        items=tuple(items),
        ref=_digest_ref(views),
    )


def _digest_ref(views: list[AlertView]) -> str:
    ids = sorted(v.alert_id for v in views)
    if not ids:
        return "digest"
    return f"digest of alert {ids[0]}" if len(ids) == 1 else f"digest of alerts {ids[0]}-{ids[-1]}"
