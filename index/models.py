"""Values that flow between the index's stages. All frozen; times are aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FeedSource:
    """A feed as the poller sees it: where it is, and the validators of the last fetch."""

    feed_id: int
    url: str
    interval_s: int = 300
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How politely and how safely a feed is fetched."""

    user_agent: str = "Wirewatch/0.1 (+https://github.com/wirewatch/wirewatch; feed reader)"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 60.0
    max_body_bytes: int = 10_000_000
    max_redirects: int = 5
    allow_private: bool = False
    # Networks (CIDR) allowed even though they are private, e.g. an intranet feed server.
    allowed_networks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often, how widely and how patiently feeds are polled."""

    max_failures: int = 10  # consecutive failures before a feed is disabled
    backoff_base_s: float = 60.0
    backoff_max_s: float = 6 * 3600.0
    max_parallel_feeds: int = 8
    max_per_host: int = 2
    max_entries_per_feed: int = 500
    story_window_h: float = 72.0
    story_threshold: float = 0.5  # estimated Jaccard of word-bigram shingles
    embed_group: int = 512  # pending passages handed to the embedder at once


@dataclass(frozen=True, slots=True)
class FeedFetch:
    """The result of one conditional GET. `body` is None when the server said 304 Not Modified."""

    body: bytes | None
    etag: str | None
    last_modified: str | None
    status: int = 200
    final_url: str = ""
    content_type: str | None = None  # the server's Content-Type header, charset included

    @property
    def not_modified(self) -> bool:
        return self.body is None


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One feed entry, parsed and cleaned, before dedupe."""

    guid: str | None
    url: str | None  # canonical link
    title: str
    text: str  # clean plain text of the content or summary
    published_at: datetime | None  # None when the feed gave no usable date
    author: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a feed body yielded: its title and entries, and whether the XML was broken."""

    title: str | None
    entries: list[RawEntry]
    bozo: bool = False
    bozo_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article."""

    article_id: int
    story_id: int
    url: str | None
    title: str
    text: str
    source: str
    published_at: datetime
    first_seen_at: datetime
    content_hash: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk of an article: `text` is the chunk, `embed_text` what the model reads (the
    article title as context, then the chunk), `content_hash` the hash of `embed_text`."""

    seq: int
    text: str
    embed_text: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    passage_id: int
    article_id: int
    story_id: int
    title: str
    url: str | None
    source: str
    published_at: datetime
    text: str
    score: float


@dataclass(slots=True)
class StageTimes:
    """Seconds spent per pipeline stage, summed over a cycle (for logs and benchmarks)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


@dataclass(slots=True)
class IngestReport:
    """What one poll cycle or file ingest did. Mutable while the cycle runs."""

    feeds_polled: int = 0
    new_articles: int = 0
    updated_articles: int = 0
    duplicates: int = 0
    failed_feeds: int = 0
    passages: int = 0
    embedded: int = 0
    new_article_ids: list[int] = field(default_factory=list)
    updated_article_ids: list[int] = field(default_factory=list)
    extracted: int = 0
    alerts: int = 0  # alerts created by the watches' hooks
    errors: list[str] = field(default_factory=list)
    times: StageTimes = field(default_factory=StageTimes)

    def absorb(self, other: IngestReport) -> None:
        """Add another cycle's report to this one (a tick that ran several batches)."""
        for name in ("feeds_polled", "new_articles", "updated_articles", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("failed_feeds", "passages", "embedded", "extracted", "alerts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_article_ids += other.new_article_ids
        self.updated_article_ids += other.updated_article_ids
        self.errors += other.errors
        for stage, seconds in other.times.seconds.items():
            self.times.add(stage, seconds)
