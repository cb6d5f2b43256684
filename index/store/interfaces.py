"""The interfaces of the engine's storage, one per concern, each a small Protocol; an engine
implements them all: `index.store.sqlite.store.Store` (SQLite + FTS5, one process per data dir) and
`index.store.pg.store.PgStore` (PostgreSQL, any number of processes). The layers above (ingest,
search, watches, alerts, questions, the chat adapters) take a `Storage` and never write SQL; the
vector search is the `Vectors` Protocol (FAISS in index/retrieve/vectors.py, pgvector in
index/store/pg/vectors.py). The chat layer keeps its tables (watches, alerts and their outbox, feed
notices) in the same database under its own migrations (`Schema`), behind its own row
interfaces in bot/store/.

Every method means the same on both engines; tests/index/test_store_contract.py runs one body on
each, and mypy checks that both engines have every method with the same signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index.models import Article, FeedSource, Hit, Passage, RawEntry

if TYPE_CHECKING:
    from index.extract.extractor import EventRecord
    from index.retrieve.vectors import SyncReport
    from index.store.rows import (
        ArticleMeta,
        Counts,
        EntryOutcome,
        FeedRow,
        PassageChange,
        PlaceFilter,
        Story,
    )


class Feeds(Protocol):
    """Workspaces, the feeds they subscribe to, and each feed's polling state."""

    async def workspace_id(self, name: str, now: datetime) -> int:
        """The id of workspace `name`, created on first use."""
        ...

    async def subscribe(
        self,
        workspace_id: int,
        url: str,
        *,
        interval_s: int,
        name: str | None,
        now: datetime,
        kind: str = "http",
        channel: str | None = None,
        alert_from: datetime | None = None,
        alert_newest: int | None = None,
    ) -> int:
        """Subscribe a workspace to a feed (created if new; re-enabled if it was disabled).
        `channel`: the chat channel it was added in (notices about the feed go there); given
        again, it replaces the one stored; None keeps it. `alert_from`, `alert_newest`: which
        of the feed's items may alert the workspace (see migration 0008); set on every
        subscribe, None for both: every item."""
        ...

    async def unsubscribe(self, workspace_id: int, feed_id: int) -> bool: ...

    async def list_feeds(self, workspace_id: int) -> list[FeedRow]: ...

    async def due_feeds(self, now: datetime) -> list[FeedSource]:
        """Enabled, subscribed http feeds whose next check is due."""
        ...

    async def workspace_feeds(self, workspace_id: int) -> list[FeedSource]:
        """Every enabled http feed the workspace subscribes to, due or not (`poll --once`)."""
        ...

    async def record_fetch_ok(
        self,
        feed_id: int,
        *,
        status: str,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
        now: datetime,
        next_check_at: datetime,
    ) -> None: ...

    async def record_fetch_failure(
        self, feed_id: int, *, error: str, now: datetime, next_check_at: datetime, max_failures: int
    ) -> int:
        """Count a consecutive failure; disable the feed at `max_failures`. Returns the count.
        The first failure of a run sets `failing_since`; a good fetch clears it."""
        ...


class FeedQueue(Protocol):
    """The work queue of polling: due feeds handed to one poller at a time."""

    async def claim_due_feeds(
        self, worker: str, now: datetime, *, limit: int, lease_s: float
    ) -> list[FeedSource]:
        """Up to `limit` due feeds. One process polls the embedded engine (its data dir admits
        one), so there is nothing to claim; on PostgreSQL workers claim
        (index/store/pg/store.py)."""
        ...

    async def next_due_at(self) -> datetime | None:
        """When the next subscribed feed falls due; None: no feed."""
        ...

    async def last_fetch_ok_at(self) -> datetime | None:
        """When a feed was last fetched successfully, by any process; None: never."""
        ...


class Articles(Protocol):
    """Articles stored once each, their stories, and the change feed the watches follow."""

    async def save_entry(
        self,
        feed_id: int,
        entry: RawEntry,
        *,
        source: str,
        now: datetime,
        story_window: timedelta,
        story_threshold: float,
    ) -> EntryOutcome:
        """Store one entry once: new, an update of the same entry, or a duplicate of an article
        already stored from another feed. A new article joins the story of a near-identical
        article published within `story_window`, or starts its own."""
        ...

    async def changes_after(
        self, consumer: str, limit: int = 5000
    ) -> list[tuple[int, int, str, datetime]]:
        """Changes the consumer has not handled yet, oldest first: (seq, article_id, change,
        at)."""
        ...

    async def register_consumer(self, consumer: str) -> None:
        """A new consumer starts from the changes made after it first registered."""
        ...

    async def advance_cursor(self, consumer: str, seq: int) -> None:
        """The consumer handled every change up to `seq`; changes every consumer has handled
        are dropped."""
        ...

    async def extracted(self, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles have event metadata stored."""
        ...

    async def unembedded(self, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles still have passages waiting for a vector."""
        ...

    async def story_articles(self, story_id: int) -> list[Article]: ...

    async def story(self, story_id: int) -> Story | None: ...

    async def multi_source_stories(self, limit: int = 10) -> list[Story]:
        """The latest stories reported by more than one source."""
        ...

    async def articles_by_ids(self, ids: Sequence[int]) -> list[Article]: ...

    async def articles_to_extract(self, extractor: str, limit: int) -> list[Article]:
        """Articles with no event metadata from this extractor version."""
        ...

    async def article_workspaces(self, article_ids: Sequence[int]) -> dict[int, set[int]]:
        """The workspaces that can see each article (through a subscribed feed)."""
        ...

    async def alert_horizons(
        self, article_ids: Sequence[int]
    ) -> dict[tuple[int, int], datetime | None]:
        """(article, workspace) -> the publication time before which the article does not
        alert that workspace (the most permissive of the subscriptions that carry it; None:
        no limit). First settles `alert_newest` of subscriptions whose first fetch is stored."""
        ...


class Passages(Protocol):
    """Passages, the units of retrieval, and their embeddings."""

    async def replace_passages(
        self, article_id: int, passages: Sequence[Passage], model_id: str
    ) -> PassageChange:
        """Make the article's passages these ones. A passage whose text is unchanged keeps its
        id and vector; a new passage reuses a stored vector of identical text. The full-text
        index holds the folded title and text (`index.text.fold`), the words queries look for."""
        ...

    async def forget_other_models(self, model_id: str) -> int:
        """Drop vectors made by another model (the configured model changed); they are
        re-embedded as pending passages. Returns how many were dropped."""
        ...

    async def pending_passages(self, limit: int) -> list[tuple[int, str]]:
        """(passage_id, text to embed) of passages with no vector yet."""
        ...

    async def count_pending(self) -> int: ...

    async def count_embedded(self, model_id: str) -> int: ...

    async def set_embeddings(
        self, ids: Sequence[int], vectors: np.ndarray, model_id: str
    ) -> None: ...

    async def clear_embeddings(self) -> None:
        """Forget every stored vector (`reindex --re-embed`)."""
        ...

    async def embedded_ids(self, model_id: str) -> np.ndarray: ...

    def embeddings(
        self, ids: np.ndarray, model_id: str, dim: int, batch: int = 4096
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        """Stored vectors of `ids` in batches of (ids, matrix)."""
        ...

    async def hits(self, scored: Iterable[tuple[int, float]], workspace_id: int) -> list[Hit]:
        """Search results for scored passage ids, keeping only the workspace's own articles,
        in the given order."""
        ...

    async def article_vectors(
        self, article_ids: Sequence[int], model_id: str, dim: int
    ) -> dict[int, np.ndarray]:
        """The stored passage vectors of each article, (passages, dim) float32."""
        ...

    async def article_passage_ids(self, article_ids: Sequence[int]) -> np.ndarray:
        """Ids of these articles' passages."""
        ...

    async def workspace_passage_ids(self, workspace_id: int) -> np.ndarray:
        """Ids of the passages of every article the workspace can see."""
        ...

    async def counts(self, workspace_id: int) -> Counts:
        """What the workspace can see."""
        ...


class TextSearch(Protocol):
    """Full-text search over the passages (BM25 on SQLite's FTS5; ts_rank on PostgreSQL)."""

    async def text_rank(self, expression: str, limit: int) -> list[tuple[int, float]]:
        """BM25 over every workspace's passages (title weighted twice): the `limit` best
        (passage_id, score), higher is better. Ranking the full-text index alone is several
        times cheaper than joining each match to its article; filter the few best after
        (`passage_articles`). `expression` is an FTS5 query (`index.retrieve.search.fts_query`)."""
        ...

    async def text_search(
        self,
        expression: str,
        limit: int,
        *,
        workspace_id: int,
        article_ids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 as `text_rank`, among the workspace's articles (and `article_ids`, when given)
        only: every match is joined to its article, so use it when `text_rank`'s best are
        not the workspace's."""
        ...

    async def mentions(self, expression: str, *, workspace_id: int) -> bool:
        """Whether any of the workspace's passages matches the FTS5 `expression`. Each match
        is probed for the workspace in turn (an `IN` over the workspace's articles would build
        that whole set first: p50 35 ms a question at 100k passages, against 0.6 ms)."""
        ...

    async def passage_articles(
        self, passage_ids: Sequence[int], workspace_id: int
    ) -> dict[int, int]:
        """passage_id -> article_id, for those of these passages the workspace can see."""
        ...


class Events(Protocol):
    """Event metadata per article, and the article queries over it."""

    async def save_events(
        self, rows: Sequence[tuple[int, EventRecord]], *, extractor: str, now: datetime
    ) -> None:
        """Store (replace) the event metadata of articles, in one transaction."""
        ...

    async def article_events(self, article_id: int) -> list[dict[str, Any]]:
        """The stored events of one article, each as in `extract --json`'s `events`."""
        ...

    async def find_articles(
        self,
        workspace_id: int,
        *,
        actor_keys: Sequence[str] = (),
        region: PlaceFilter | None = None,
        event_types: Sequence[str] = (),
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[Article]:
        """The workspace's articles matching every given filter, newest first: naming any of
        `actor_keys`; naming a place inside `region` (a country, an admin-1 region or one
        place); of any of `event_types`; with an event date (else the publication date) in
        [since, until]."""
        ...

    async def find_article_ids(
        self,
        workspace_id: int,
        *,
        actor_keys: Sequence[str] = (),
        region: PlaceFilter | None = None,
        event_types: Sequence[str] = (),
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[int]:
        """The ids of what `find_articles` finds, newest first (no article text is read)."""
        ...

    async def event_metadata(self, article_id: int) -> dict[str, Any] | None:
        """What was stored for one article (for display and tests)."""
        ...

    async def article_meta(self, article_ids: Sequence[int]) -> dict[int, ArticleMeta]:
        """Stored event metadata of these articles (those without any are left out)."""
        ...


class Schema(Protocol):
    """The tables of a layer above that keeps its own in the engine's database (the chat
    layer's watches, alerts and notices: bot/store/), under migrations of its own."""

    async def apply_migrations(self, folder: Path, ledger: str) -> list[str]:
        """Apply the `NNNN_name.sql` files of `folder` (this engine's dialect) not yet recorded
        in table `ledger`, in order; returns the names applied."""
        ...


class Storage(Feeds, FeedQueue, Articles, Passages, TextSearch, Events, Schema, Protocol):
    """Everything an engine stores."""


class HostSlots(Protocol):
    """At most so many fetches per host at once: `async with hosts.slot(url): ...`
    (index/fetch/feeds.py `HostLimiter` in one process, index/store/pg/hosts.py across
    processes)."""

    def slot(self, url: str) -> AbstractAsyncContextManager[None]: ...


class Vectors(Protocol):
    """Nearest passages by embedding, of one model."""

    @property
    def dim(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    @property
    def path(self) -> Path | None:
        """The index's file, when it has one."""
        ...

    @property
    def stale_on_disk(self) -> bool: ...

    def __len__(self) -> int: ...

    async def nearest(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest passage ids with their cosine scores, best first; only among the
        `allowed` ids when given."""
        ...

    async def refresh(self) -> bool:
        """Reload what another process changed; True when something was reloaded."""
        ...

    async def sync(
        self,
        embedded_ids: Callable[[], Awaitable[np.ndarray]],
        batches: Callable[[np.ndarray], AsyncIterator[tuple[np.ndarray, np.ndarray]]],
        *,
        changed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> SyncReport:
        """Make the index hold exactly the stored embeddings of its model."""
        ...

    def save(self) -> None: ...

    def reset(self) -> None: ...
