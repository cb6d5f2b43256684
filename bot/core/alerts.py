"""Stage: new articles x watches -> alerts (one per channel and story) in the outbox.
Side effects: reads articles and their metadata; writes `alerts`, `alert_matches` and
`alert_articles` (through bot/store/alertrows.py). bot/core/delivery.py posts the outbox to a chat.

Matching runs twice per cycle: group, place and keyword watches right after extraction (they
never wait for the embedding model), topic watches after embedding. An alert is recorded
(committed) before anything is posted, and marked delivered only after the chat took it, with
the same idempotency key on every retry, so a crash or an outage neither loses nor repeats one.
When another outlet's article joins a story already alerted, the alert is updated (its version
grows) and its message edited, not sent again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from bot.core import watches as watch_table
from bot.core.cards import AlertView, MatchedWatch
from bot.core.keywords import KeywordDoc
from bot.core.watches import METADATA_KINDS, Watch, place_label
from bot.store import alert_rows as store_alert_rows
from bot.store.alertrows import AlertMatch, AlertRows, StoryMatches
from index.extract.places import Gazetteer, great_circle_km
from index.models import Article
from index.store.interfaces import Storage
from index.store.rows import ArticleMeta, EventMeta, PlaceRow
from index.text import fold

log = logging.getLogger(__name__)

Phase = Literal["metadata", "topic"]
SNIPPET_CHARS = 280
ARRIVAL_GRACE = timedelta(hours=24)


@dataclass(slots=True)
class AlertChange:
    """What one evaluation did: alerts created, and alerts updated (a new source)."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Candidate:
    article: Article
    meta: ArticleMeta | None
    doc: KeywordDoc
    vectors: np.ndarray | None


# ---- matching ----------------------------------------------------------------------------------
def match(
    watch: Watch,
    c: _Candidate,
    gazetteer: Gazetteer | None,
    topic_threshold: float | None = None,
) -> str | None:
    """Why `watch` fires for this article ("group: "Islamic State" = Islamic State"), or None.
    `topic_threshold`: the similarity a topic watch needs (see TopicCalibration)."""
    why = _match_kind(watch, c, gazetteer, topic_threshold)
    if why is None:
        return None
    if not watch.event_types and watch.min_killed is None:
        return why
    if c.meta is not None and c.meta.events:
        return _match_event(watch, c.meta.events, gazetteer, why)
    # no events stored for the article: its article-level metadata
    types = c.meta.event_types if c.meta else frozenset()
    passed = _filters(watch, types, c.meta.killed if c.meta else None)
    return None if passed is None else f"{why}; filters passed: {passed}"


def _match_event(
    watch: Watch, events: Sequence[EventMeta], gazetteer: Gazetteer | None, why: str
) -> str | None:
    """A watch's place, types and minimum killed must hold for one and the same event (the
    main event first); `why` then names that event ("air strike in Raqqa, 12 killed"). A group
    watch's filters hold for the events the group acts in (its sentence's subject), else
    those naming it, else any event of the story: another event's toll is not the group's."""
    ordered = sorted(events, key=lambda e: not e.main)
    if watch.kind == "group":
        keys = watch.actor_keys.keys()
        acting = [e for e in ordered if e.acting & keys]
        ordered = acting or [e for e in ordered if e.actors & keys] or ordered
    for event in ordered:
        said = why
        if watch.kind == "place":
            at = _place_why(watch, [event.place] if event.place else [], gazetteer)
            if at is None:
                continue
            said = at
        passed = _filters(watch, frozenset({event.type}), event.killed)
        if passed is not None:
            return f"{said}; event: {event.describe()}; filters passed: {passed}"
    return None


def _filters(watch: Watch, types: frozenset[str], killed: int | None) -> str | None:
    """The watch's --type and --min-killed filters that these hold, in words; None if one fails."""
    passed = []
    if watch.event_types:
        hit = [t for t in watch.event_types if t in types]
        if not hit:
            return None
        passed.append(f"type {hit[0]}")
    if watch.min_killed is not None:
        if killed is None or killed < watch.min_killed:
            return None
        passed.append(f"{killed} killed (at least {watch.min_killed})")
    return ", ".join(passed)


def _match_kind(
    watch: Watch, c: _Candidate, gazetteer: Gazetteer | None, topic_threshold: float | None
) -> str | None:
    if watch.kind == "group":
        return _match_group(watch, c)
    if watch.kind == "place":
        return _match_place(watch, c, gazetteer)
    if watch.kind == "keyword":
        assert watch.query is not None
        terms = watch.query.matches(c.doc)
        return None if terms is None else "keywords " + ", ".join(_quote(t) for t in terms)
    if watch.vector is None or c.vectors is None or not len(c.vectors):
        return None
    if c.vectors.shape[1] != watch.vector.shape[0]:  # embedded by another model
        return None
    best = float(np.max(c.vectors @ watch.vector))
    threshold = topic_threshold if topic_threshold is not None else watch.threshold
    if threshold is None or best < threshold:
        return None
    return f"topic, similarity {best:.2f} (this description needs {threshold:.2f})"


# Topic thresholds per description (bench/calibrate_topic.py, rule "combined"): a passage must
# beat max(FLOOR, mu + Z * sigma), mu and sigma being the description's similarity to a sample
# of stored articles. Broad descriptions ("war news") score high against everything and get a
# strict threshold; short precise ones ("drone strikes on power plants") a lower one. FLOOR and Z
# were chosen on the calibration half alone; on the held-out half of that real news they found
# 66 % of the topics' own articles at 0.8 false alerts per 1,000 unrelated articles, against 45 %
# (at 0.6) for the best single threshold chosen the same way.
TOPIC_FLOOR = 0.44
TOPIC_Z = 4.1
TOPIC_BACKGROUND = 2000  # articles sampled
TOPIC_MIN_BACKGROUND = 100  # fewer stored articles: the global threshold (settings)


class TopicCalibration:
    """The background sample of stored articles that topic thresholds are measured against;
    drawn again when the store has grown by half since."""

    def __init__(self, store: Storage, model_id: str, dim: int, fallback: float) -> None:
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.fallback = fallback
        self._vectors: np.ndarray | None = None  # passages of the sampled articles
        self._starts: np.ndarray | None = None  # offset of each article's first passage
        self._drawn_at = 0  # articles stored when the sample was drawn

    async def thresholds(self, watches: Sequence[Watch]) -> dict[int, float]:
        """watch_id -> the similarity each topic watch needs."""
        topics = [w for w in watches if w.kind == "topic" and w.vector is not None]
        for w in [w for w in topics if w.vector is not None and len(w.vector) != self.dim]:
            log.warning("topic watch %d was embedded by another model: add it again", w.watch_id)
            topics.remove(w)
        if not topics:
            return {}
        await self._refresh()
        out: dict[int, float] = {}
        auto = [w for w in topics if w.threshold is None]
        for w in topics:
            if w.threshold is not None:
                out[w.watch_id] = w.threshold
        if not auto:
            return out
        if self._vectors is None or self._starts is None:
            out.update((w.watch_id, self.fallback) for w in auto)
            return out
        queries = np.vstack([w.vector for w in auto if w.vector is not None])
        per_article = np.maximum.reduceat(self._vectors @ queries.T, self._starts, axis=0)
        mu, sigma = per_article.mean(axis=0), per_article.std(axis=0)
        for w, m, sd in zip(auto, mu, sigma, strict=True):
            out[w.watch_id] = max(TOPIC_FLOOR, float(m + TOPIC_Z * sd))
        return out

    async def _refresh(self) -> None:
        rows = alert_rows(self.store)
        stored = await rows.article_count()
        if self._vectors is not None and stored < self._drawn_at * 1.5:
            return
        if stored < TOPIC_MIN_BACKGROUND:
            self._vectors = self._starts = None
            return
        sample = await rows.sample_articles(TOPIC_BACKGROUND)
        found = await self.store.article_vectors(sample, self.model_id, self.dim)
        if len(found) < TOPIC_MIN_BACKGROUND:
            return  # not embedded yet: try again next time
        blocks = list(found.values())
        self._starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
        self._vectors = np.vstack(blocks)
        self._drawn_at = stored
        log.info("topic thresholds measured against %d stored articles", len(blocks))


def _match_group(watch: Watch, c: _Candidate) -> str | None:
    actors = c.meta.actors if c.meta else {}
    for key, relation in watch.actor_keys.items():
        if key in actors:
            name, mention = actors[key]
            why = f'group: "{mention}"'
            if fold(mention) != fold(name):
                why += f" = {name}"
            return why + (f" ({relation})" if relation else "")
    if watch.name_query is not None and watch.name_query.matches(c.doc) is not None:
        return f'group: the name "{watch.term}" in the text'
    return None


def _match_place(watch: Watch, c: _Candidate, gazetteer: Gazetteer | None) -> str | None:
    if c.meta is None:
        return None
    return _place_why(watch, sorted(c.meta.places, key=lambda p: not p.main), gazetteer)


def _place_why(watch: Watch, places: Sequence[PlaceRow], gazetteer: Gazetteer | None) -> str | None:
    """Why one of `places` (the event's place first) is in the watch's place, or None."""
    spec = watch.place
    if spec is None:
        return None
    for p in places:
        if _inside(spec.precision, spec.geonameid, spec.country_code, spec.admin1_code, p):
            said = _said(p)
            if p.geonameid == spec.geonameid:
                return f"place: {said}"
            return f"place: {said}, inside {spec.name}"
    if watch.radius_km and gazetteer is not None:
        near = []
        for p in places:
            if p.precision != "town" or (found := gazetteer.by_id(p.geonameid)) is None:
                continue
            km = great_circle_km(spec.lat, spec.lon, found.lat, found.lon)
            if km <= watch.radius_km:
                near.append((km, p))
        if near:
            km, p = min(near, key=lambda n: n[0])
            return (
                f"place: {_said(p)}, {km:.0f} km from {spec.name} (radius {watch.radius_km:g} km)"
            )
    return None


def _inside(
    precision: str, geonameid: int, country_code: str, admin1_code: str | None, p: PlaceRow
) -> bool:
    if precision == "country":
        return p.country_code == country_code
    if precision == "admin1":
        return (
            p.precision != "country"
            and p.country_code == country_code
            and p.admin1_code is not None
            and p.admin1_code == admin1_code
        )
    return p.geonameid == geonameid


def _said(p: PlaceRow) -> str:
    return p.name if fold(p.mention) == fold(p.name) else f'"{p.mention}" = {p.name}'


def _quote(term: str) -> str:
    return term if term.startswith('"') else f'"{term}"' if " " in term else term


# ---- recording ---------------------------------------------------------------------------------
class AlertEngine:
    """Matches articles against the watches and records alerts in the outbox."""

    def __init__(
        self,
        store: Storage,
        *,
        gazetteer: Gazetteer | None = None,
        model_id: str | None = None,
        dim: int | None = None,
        topic_threshold: float = 0.56,
    ) -> None:
        self.store = store
        self.rows = alert_rows(store)
        self.gazetteer = gazetteer
        self.model_id = model_id
        self.dim = dim
        self.topics = (
            TopicCalibration(store, model_id, dim, topic_threshold)
            if model_id is not None and dim is not None
            else None
        )

    async def drain(self, phase: Phase, *, now: datetime, batch: int = 5000) -> AlertChange:
        """Evaluate every article change the phase has not handled yet (the store's change
        feed), as far as the articles are ready: extracted for the metadata phase, embedded
        for the topic phase. The cursor moves only after the alerts are recorded, so a crash
        in between evaluates the changes again (recording is idempotent) and loses none."""
        consumer = cursor_of(phase)
        await self.store.register_consumer(consumer)
        total = AlertChange()
        while changes := await self.store.changes_after(consumer, batch):
            ids = list(dict.fromkeys(c[1] for c in changes))
            if phase == "metadata":
                waiting = set(ids) - await self.store.extracted(ids)
            else:
                waiting = await self.store.unembedded(ids)
            arrived: dict[int, datetime] = {}
            last = None
            for seq, article_id, _, at in changes:
                if article_id in waiting:
                    break
                arrived[article_id] = max(at, arrived.get(article_id, at))
                last = seq
            if arrived:
                done = await self.on_articles(list(arrived), phase=phase, now=now, arrived=arrived)
                total.created.extend(done.created)
                total.updated.extend(a for a in done.updated if a not in total.updated)
            if last is not None:
                await self.store.advance_cursor(consumer, last)
            if last != changes[-1][0]:
                break  # the rest waits for extraction or embedding
        return total

    async def on_articles(
        self,
        article_ids: Sequence[int],
        *,
        phase: Phase,
        now: datetime,
        arrived: dict[int, datetime] | None = None,
    ) -> AlertChange:
        """Evaluate new, updated or newly linked articles (`arrived`: when each came in;
        default `now`). The metadata phase also adds each article to the alerts its story
        already has."""
        change = AlertChange()
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return change
        articles = await self.store.articles_by_ids(ids)
        visible = await self.store.article_workspaces(ids)
        if phase == "metadata":
            change.updated.extend(await self._join_stories(articles, visible, now))
        kinds = METADATA_KINDS if phase == "metadata" else frozenset({"topic"})
        active = [
            w
            for w in await watch_table.list_watches(self.store)
            if w.kind in kinds and w.active(now)
        ]
        if active:
            found = await self._match(articles, visible, active, arrived=arrived or {}, now=now)
            created, updated = await self._record(found, now)
            change.created.extend(created)
            change.updated.extend(a for a in updated if a not in change.updated)
        return change

    async def backfill(
        self, watch: Watch, *, since: datetime | None, last: int | None, now: datetime
    ) -> AlertChange:
        """Alerts for stories the workspace already holds: those published since `since`, or
        the newest `last` stories."""
        ids = await self.rows.workspace_articles(watch.workspace_id, since)
        articles = await self.store.articles_by_ids(ids)
        visible = await self.store.article_workspaces([a.article_id for a in articles])
        found = await self._match(articles, visible, [watch], arrived=None, now=now)
        if last is not None:
            newest = sorted(
                found.items(),
                key=lambda item: max(a.published_at for a in articles if a.story_id == item[0][1]),
                reverse=True,
            )
            found = dict(newest[:last])
        created, updated = await self._record(found, now)
        return AlertChange(created, updated)

    async def _match(
        self,
        articles: Sequence[Article],
        visible: dict[int, set[int]],
        active: Sequence[Watch],
        *,
        arrived: dict[int, datetime] | None,
        now: datetime,
    ) -> dict[tuple[str, int], list[tuple[Watch, int, str]]]:
        """Matches per (channel, story). `arrived` (None for backfill): an article alerts a
        watch only if it came in after the watch was added and is not older news than
        ARRIVAL_GRACE before that (a feed's lag, a date-only pubDate)."""
        by_workspace: dict[int, list[Watch]] = defaultdict(list)
        for w in active:
            by_workspace[w.workspace_id].append(w)
        ids = [
            a.article_id for a in articles if visible.get(a.article_id, set()) & by_workspace.keys()
        ]
        meta = await self.store.article_meta(ids)
        vectors: dict[int, np.ndarray] = {}
        if any(w.kind == "topic" for w in active) and self.model_id and self.dim:
            vectors = await self.store.article_vectors(ids, self.model_id, self.dim)
        thresholds = await self.topics.thresholds(active) if self.topics else {}
        horizons = await self.store.alert_horizons(ids) if arrived is not None else {}
        found: dict[tuple[str, int], list[tuple[Watch, int, str]]] = defaultdict(list)
        for article in articles:
            here = [
                w for ws in visible.get(article.article_id, ()) for w in by_workspace.get(ws, ())
            ]
            if not here:
                continue
            candidate = _Candidate(
                article,
                meta.get(article.article_id),
                KeywordDoc.of(article.title, article.text),
                vectors.get(article.article_id),
            )
            came = arrived.get(article.article_id, now) if arrived is not None else None
            for w in here:
                # a watch backfilled from a date means that date; otherwise allow a feed's lag
                backfilled = w.since < w.created_at
                grace = timedelta(0) if backfilled else ARRIVAL_GRACE
                if came is not None and (came < w.since or article.published_at < w.since - grace):
                    continue  # older than the watch: no flood on subscribe
                horizon = horizons.get((article.article_id, w.workspace_id))
                if (
                    came is not None
                    and not backfilled
                    and horizon
                    and article.published_at < horizon
                ):
                    continue  # already in the feed when it was added: no flood on /feed add
                try:
                    why = match(w, candidate, self.gazetteer, thresholds.get(w.watch_id))
                except Exception:  # one watch's bug must not silence the others
                    log.exception(
                        "matching failed",
                        extra={"watch_id": w.watch_id, "article_id": article.article_id},
                    )
                    continue
                if why is not None:
                    found[(w.channel, article.story_id)].append((w, article.article_id, why))
        return found

    async def _record(
        self, found: dict[tuple[str, int], list[tuple[Watch, int, str]]], now: datetime
    ) -> tuple[list[int], list[int]]:
        stories = [
            StoryMatches(
                workspace_id=matches[0][0].workspace_id,
                channel=channel,
                story_id=story_id,
                matches=tuple(AlertMatch(w.watch_id, w.term, aid, why) for w, aid, why in matches),
            )
            for (channel, story_id), matches in found.items()
        ]
        created, updated = await self.rows.record(stories, now)
        for alert_id in created:
            log.info("alert recorded", extra={"alert_id": alert_id})
        return created, updated

    async def _join_stories(
        self, articles: Sequence[Article], visible: dict[int, set[int]], now: datetime
    ) -> list[int]:
        """Add each article to the alerts its story already has in the workspaces that see it."""
        stories = sorted({a.story_id for a in articles})
        additions = {
            alert.alert_id: [
                a.article_id
                for a in articles
                if a.story_id == alert.story_id
                and alert.workspace_id in visible.get(a.article_id, ())
            ]
            for alert in await self.rows.story_alerts(stories)
        }
        return await self.rows.add_articles(additions, now)


def cursor_of(phase: Phase) -> str:
    """The change-feed consumer of a phase's watches (index.store.sqlite.store's cursors)."""
    return f"alerts:{phase}"


# ---- the tables (bot/store/alertrows.py) ------------------------------------------------------
def alert_rows(store: Storage) -> AlertRows:
    """The alert tables of `store`."""
    return store_alert_rows(store)


# ---- reading -----------------------------------------------------------------------------------
async def list_alerts(
    store: Storage,
    *,
    workspace_id: int | None = None,
    channel: str | None = None,
    pending_only: bool = False,
    limit: int = 50,
    gazetteer: Gazetteer | None = None,
) -> list[AlertView]:
    """Alerts newest first."""
    ids = await alert_rows(store).find(
        workspace_id=workspace_id, channel=channel, pending_only=pending_only, limit=limit
    )
    return await load_views(store, ids, gazetteer)


async def count_alerts(store: Storage, workspace_id: int, *, pending_only: bool = False) -> int:
    """The workspace's alerts (`pending_only`: those not delivered yet nor given up)."""
    return await alert_rows(store).count(workspace_id, pending_only=pending_only)


async def load_views(
    store: Storage, alert_ids: Sequence[int], gazetteer: Gazetteer | None = None
) -> list[AlertView]:
    """Views of these alerts, in the order given."""
    if not alert_ids:
        return []
    ids = list(alert_ids)
    rows = alert_rows(store)
    alerts = await rows.get(ids)
    sources = await rows.sources(ids)
    matched = {
        alert_id: [MatchedWatch(m.watch_id, m.term, m.why, m.article_id) for m in found]
        for alert_id, found in (await rows.matches(ids)).items()
    }
    lead = {aid: (ms[0].article_id if ms else None) for aid, ms in matched.items()}
    metas = await store.article_meta([a for a in lead.values() if a is not None])
    texts = {
        a.article_id: a.text
        for a in await store.articles_by_ids([a for a in lead.values() if a is not None])
    }
    views = []
    for alert_id in ids:
        r = alerts.get(alert_id)
        if r is None:
            continue
        article_id = lead.get(alert_id)
        meta = metas.get(article_id) if article_id is not None else None
        views.append(
            AlertView(
                alert_id=alert_id,
                channel=r.channel,
                story_id=r.story_id,
                articles=tuple(sources.get(alert_id, ())),
                matched=tuple(matched.get(alert_id, ())),
                created_at=r.created_at,
                updated_at=r.updated_at,
                delivered_at=r.delivered_at,
                version=r.version,
                delivered_version=r.delivered_version,
                digest=r.digest,
                attempts=r.attempts,
                last_error=r.last_error,
                failed=r.failed,
                message_ref=r.message_ref,
                send_key=r.send_key,
                snippet=snippet(texts.get(article_id, "") if article_id else ""),
                place=_main_place(meta, gazetteer),
                actors=tuple(dict.fromkeys(name for name, _ in meta.actors.values()))[:6]
                if meta
                else (),
                event_types=tuple(sorted(meta.event_types)) if meta else (),
                killed=meta.killed if meta else None,
                injured=meta.injured if meta else None,
                events=tuple(e.describe() for e in sorted(meta.events, key=lambda e: not e.main))
                if meta
                else (),
            )
        )
    return views


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _main_place(meta: ArticleMeta | None, gazetteer: Gazetteer | None) -> str | None:
    if meta is None or not meta.places:
        return None
    row = next((p for p in meta.places if p.main), meta.places[0])
    if gazetteer is not None and (place := gazetteer.by_id(row.geonameid)) is not None:
        return place_label(place)
    kind = {"admin1": "region"}.get(row.precision, row.precision)
    return f"{row.name}, {row.country_code} ({kind})"
