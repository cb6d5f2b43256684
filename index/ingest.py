"""Stage: feeds -> fetch -> parse -> dedupe/story -> passages -> embed -> vector index.
Side effects: HTTP fetches, database writes, the vector index file.

`run_cycle` is the one handler the scheduler, `poll --once`, `ingest` and the demo call. A feed
that fails is recorded (error count, last error, backed-off next check, disabled after too many
failures) and the cycle goes on with the others. Articles are committed first and embedded
after; a process killed in between leaves passages without vectors, which the next cycle (or
`repair` at start-up) embeds, and vectors missing from the FAISS file, which `sync` adds back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from index.backoff import backoff
from index.errors import FeedError, FeedThrottled, StoreError
from index.extract.extractor import EXTRACTOR_VERSION, EventRecord, ExtractInput, Extractor
from index.fetch import feeds as feeds_stage
from index.fetch import parse as parse_stage
from index.models import Article, FeedSource, FetchPolicy, IngestReport, ParsedFeed, PollPolicy
from index.retrieve.embed import Embedder
from index.retrieve.passages import chunk_article
from index.retrieve.vectors import SyncReport
from index.store.interfaces import HostSlots, Storage, Vectors
from index.store.rows import entry_key

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
OVERLAP_IDLE_S = 0.05  # how often embedding alongside the feeds looks for new passages
OVERLAP_GROUP_S = 0.3  # about how long one group embedded alongside the feeds takes
# Called with the cycle's new and updated article ids: after extraction (their metadata is
# stored) and after embedding (their vectors are stored). The watches hang on these.
Hook = Callable[[Sequence[int], IngestReport], Awaitable[None]]


@dataclass
class Pipeline:
    """Everything one ingest cycle needs, opened once by the composition root."""

    store: Storage
    http: httpx.AsyncClient
    embedder: Embedder
    vectors: Vectors
    fetch_policy: FetchPolicy
    poll_policy: PollPolicy
    hosts: HostSlots
    progress: Progress | None = None
    extractor: Extractor | None = None  # event metadata; None: articles are stored without
    after_extract: Hook | None = None
    after_embed: Hook | None = None
    # Passage ids stored or embedded, and removed, since the vector index was last synced:
    # kept across cycles, so a cycle that fails half-way is caught up by the next one.
    unsynced_added: set[int] = field(default_factory=set)
    unsynced_removed: set[int] = field(default_factory=set)

    def report_progress(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


def backoff_delay(failures: int, policy: PollPolicy, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter in [delay/2, delay], capped."""
    return backoff(failures, policy.backoff_base_s, policy.backoff_max_s, rng=rng)


def next_poll_at(feed: FeedSource, now: datetime) -> datetime:
    """When a feed polled well at `now` is next due: about one interval later, on the feed's own
    phase within the interval (a hash of its id), so feeds added together spread over the
    interval instead of all falling due at once, and each feed keeps exactly its interval once
    on its phase. Always between half an interval and one and a half from `now`."""
    interval = max(1, feed.interval_s)
    phase = (feed.feed_id * 2654435761) % interval  # Knuth's multiplicative hash
    earliest = now.timestamp() + interval / 2
    return now + timedelta(seconds=interval / 2 + (phase - earliest) % interval)


async def run_cycle(
    p: Pipeline, feeds: Sequence[FeedSource], now: Callable[[], datetime]
) -> IngestReport:
    """Poll these feeds, store what is new, embed it and update the vector index."""
    report = IngestReport()
    if not feeds and not (p.unsynced_added or p.unsynced_removed):
        return report
    gate = asyncio.Semaphore(p.poll_policy.max_parallel_feeds)
    done = 0

    async def one(feed: FeedSource) -> None:
        nonlocal done
        # the host slot first: a task waiting for a busy host must not hold a global slot
        async with p.hosts.slot(feed.url), gate:
            await _poll_feed(p, feed, now, report)
        done += 1
        p.report_progress("fetch", done, len(feeds))

    p.report_progress("fetch", 0, len(feeds))
    feeds_left = asyncio.Event()
    feeds_left.set()
    alongside = asyncio.create_task(_embed_alongside(p, report, feeds_left))
    try:
        async with asyncio.TaskGroup() as group:
            for feed in feeds:
                group.create_task(one(feed))
    except BaseException:
        alongside.cancel()
        await asyncio.gather(alongside, return_exceptions=True)
        raise
    feeds_left.clear()
    await alongside
    report.feeds_polled = len(feeds)
    await _finish(p, report)
    return report


async def _finish(p: Pipeline, report: IngestReport) -> None:
    """The stages after storing: extract, (watches), embed, (topic watches), index. Passages
    are embedded while the articles are extracted: spaCy keeps one core busy, the model's
    threads take what is left, and the watches on metadata still wait only for extraction."""
    changed = [*report.new_article_ids, *report.updated_article_ids]
    extracting = asyncio.Event()
    extracting.set()
    alongside = asyncio.create_task(_embed_alongside(p, report, extracting))
    try:
        await extract_events(p, changed, report)
    except BaseException:
        alongside.cancel()
        await asyncio.gather(alongside, return_exceptions=True)
        raise
    extracting.clear()
    await _run_hook(p.after_extract, changed, report, "after extraction")
    await alongside
    await embed_pending(p, report)
    await _run_hook(p.after_embed, changed, report, "after embedding")
    await _sync_vectors(p, report)


async def _run_hook(hook: Hook | None, ids: list[int], report: IngestReport, when: str) -> None:
    """A hook's failure is logged and never stops the cycle (the articles are stored). Hooks
    run even when the cycle stored nothing new: an article another feed already brought in
    may have become visible to one more workspace."""
    if hook is None:
        return
    started = time.perf_counter()
    try:
        await hook(ids, report)
    except StoreError:
        raise
    except Exception:
        log.exception("the hook run %s failed; the cycle goes on", when)
        report.errors.append(f"hook {when} failed")
    report.times.add("alerts", time.perf_counter() - started)


async def _poll_feed(
    p: Pipeline,
    feed: FeedSource,
    now: Callable[[], datetime],
    report: IngestReport,
) -> None:
    """Fetch and store one feed; its failure is recorded and stays with it."""
    started = time.perf_counter()
    try:
        fetched = await feeds_stage.fetch_feed(p.http, feed, p.fetch_policy)
        report.times.add("fetch", time.perf_counter() - started)
        if fetched.body is None:
            await p.store.record_fetch_ok(
                feed.feed_id,
                status="not modified",
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                title=None,
                now=now(),
                next_check_at=next_poll_at(feed, now()),
            )
            log.info("feed not modified", extra={"feed_id": feed.feed_id, "feed_url": feed.url})
            return
        parsed = await _parse(p, fetched.body, feed.url, now(), report, fetched.content_type)
        source = parsed.title or feed.title or urlsplit(feed.url).hostname or feed.url
        new = await _store_entries(p, feed.feed_id, parsed, source, now, report)
        await p.store.record_fetch_ok(
            feed.feed_id,
            status="ok",
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            title=parsed.title,
            now=now(),
            next_check_at=next_poll_at(feed, now()),
        )
        log.info(
            "feed polled: %d entries, %d new articles",
            len(parsed.entries),
            new,
            extra={"feed_id": feed.feed_id, "feed_url": feed.url},
        )
    except FeedError as exc:
        await _record_failure(p, feed, exc.reason, now(), report, exc)
    except StoreError:
        raise
    except Exception as exc:  # a bug in one feed's handling must not stop the cycle
        log.exception("unexpected error while ingesting a feed", extra={"feed_url": feed.url})
        await _record_failure(p, feed, f"internal error: {type(exc).__name__}", now(), report, None)


async def _record_failure(
    p: Pipeline,
    feed: FeedSource,
    reason: str,
    at: datetime,
    report: IngestReport,
    exc: FeedError | None,
) -> None:
    failures = feed.error_count + 1
    delay = backoff_delay(failures, p.poll_policy)
    if isinstance(exc, FeedThrottled) and exc.retry_after_s is not None:
        delay = max(exc.retry_after_s, min(delay, exc.retry_after_s * 2))
    count = await p.store.record_fetch_failure(
        feed.feed_id,
        error=reason,
        now=at,
        next_check_at=at + timedelta(seconds=delay),
        max_failures=p.poll_policy.max_failures,
    )
    report.failed_feeds += 1
    report.errors.append(f"{feed.url}: {reason}")
    disabled = count >= p.poll_policy.max_failures
    log.warning(
        "feed failed (%d in a row)%s: %s",
        count,
        ", disabled" if disabled else f", next try in {delay:.0f}s",
        reason,
        extra={"feed_id": feed.feed_id, "feed_url": feed.url},
    )


async def _parse(
    p: Pipeline,
    body: bytes,
    url: str,
    at: datetime,
    report: IngestReport,
    content_type: str | None = None,
) -> ParsedFeed:
    started = time.perf_counter()
    parsed = await asyncio.to_thread(
        parse_stage.parse_feed,
        body,
        url,
        now=at,
        max_entries=p.poll_policy.max_entries_per_feed,
        content_type=content_type,
    )
    report.times.add("parse", time.perf_counter() - started)
    if parsed.bozo:
        log.info(
            "feed is not well-formed but yielded %d entries: %s",
            len(parsed.entries),
            parsed.bozo_reason,
            extra={"feed_url": url},
        )
    return parsed


async def _store_entries(
    p: Pipeline,
    feed_id: int,
    parsed: ParsedFeed,
    source: str,
    now: Callable[[], datetime],
    report: IngestReport,
) -> int:
    """Storage the feed's entries; returns how many were new articles."""
    policy = p.poll_policy
    seen: set[str] = set()
    new = 0
    for entry in parsed.entries:
        key = entry_key(entry)
        if key in seen:  # the feed lists the same entry twice: the first one counts
            report.duplicates += 1
            continue
        seen.add(key)
        started = time.perf_counter()
        outcome = await p.store.save_entry(
            feed_id,
            entry,
            source=source,
            now=now(),
            story_window=timedelta(hours=policy.story_window_h),
            story_threshold=policy.story_threshold,
        )
        report.times.add("dedupe", time.perf_counter() - started)
        if outcome.status == "duplicate":
            report.duplicates += 1
        if outcome.status not in ("new", "updated"):
            continue
        if outcome.status == "new":
            new += 1
            report.new_articles += 1
            report.new_article_ids.append(outcome.article_id)
        else:
            report.updated_articles += 1
            report.updated_article_ids.append(outcome.article_id)
        started = time.perf_counter()
        passages = chunk_article(entry.title, entry.text)
        change = await p.store.replace_passages(outcome.article_id, passages, p.embedder.model_id)
        report.times.add("chunk", time.perf_counter() - started)
        report.passages += len(change.added)
        p.unsynced_added.update(change.added)
        p.unsynced_added.difference_update(change.removed)
        p.unsynced_removed.update(change.removed)
    return new


async def extract_events(
    p: Pipeline, article_ids: Sequence[int], report: IngestReport | None = None, *, batch: int = 32
) -> int:
    """Extract and store the event metadata of these articles. Returns how many. An article
    whose extraction fails is logged and stored with empty metadata, so it neither stops the
    cycle nor comes back at every start-up."""
    if p.extractor is None or not article_ids:
        return 0
    done = 0
    for start in range(0, len(article_ids), batch):
        articles = await p.store.articles_by_ids(article_ids[start : start + batch])
        started = time.perf_counter()
        records = await _extract_guarded(p.extractor, articles)
        if report is not None:
            report.times.add("extract", time.perf_counter() - started)
        await p.store.save_events(
            [(a.article_id, r) for a, r in zip(articles, records, strict=True)],
            extractor=EXTRACTOR_VERSION,
            now=datetime.now(UTC),
        )
        done += len(articles)
        p.report_progress("extract", done, len(article_ids))
    if report is not None:
        report.extracted += done
    return done


async def _extract_guarded(extractor: Extractor, articles: Sequence[Article]) -> list[EventRecord]:
    inputs = [ExtractInput(a.title, a.text, a.published_at, a.source) for a in articles]
    try:
        return await asyncio.to_thread(extractor.extract_many, inputs)
    except Exception:
        log.exception("extraction failed for a batch; retrying its articles one by one")
    records = []
    for article, one in zip(articles, inputs, strict=True):
        try:
            records.extend(await asyncio.to_thread(extractor.extract_many, [one]))
        except Exception:
            log.exception(
                "extraction failed; the article is kept without event metadata",
                extra={"article_id": article.article_id},
            )
            records.append(EventRecord.empty())
    return records


async def extract_missing(p: Pipeline) -> int:
    """Extract every article with no metadata from the current extractor (a killed process,
    or an extractor upgrade)."""
    if p.extractor is None:
        return 0
    done = 0
    while batch := await p.store.articles_to_extract(EXTRACTOR_VERSION, 256):
        done += await extract_events(p, [a.article_id for a in batch])
    return done


async def embed_pending(p: Pipeline, report: IngestReport | None = None) -> int:
    """Embed every passage that has no vector from the current model. Returns how many."""
    total = await p.store.count_pending()
    done = 0
    if total:
        p.report_progress("embed", 0, total)
    while count := await _embed_group(p, report, p.poll_policy.embed_group):
        done += count
        p.report_progress("embed", done, total)
    return done


async def _embed_group(p: Pipeline, report: IngestReport | None, limit: int) -> int:
    """Embed up to `limit` pending passages, oldest first (the embedder orders each batch by
    length, so it pads little); a text that occurs twice is embedded once. Returns how many."""
    batch = await p.store.pending_passages(limit)
    if not batch:
        return 0
    unique = list(dict.fromkeys(text for _, text in batch))
    started = time.perf_counter()
    vectors = await asyncio.to_thread(p.embedder.embed_passages, unique)
    if report is not None:
        report.times.add("embed", time.perf_counter() - started)
        report.embedded += len(batch)
    row = {text: i for i, text in enumerate(unique)}
    ids = [pid for pid, _ in batch]
    await p.store.set_embeddings(
        ids, vectors[[row[text] for _, text in batch]], p.embedder.model_id
    )
    p.unsynced_added.update(ids)
    return len(batch)


async def _embed_alongside(p: Pipeline, report: IngestReport, running: asyncio.Event) -> None:
    """While `running` is set (feeds still being fetched and parsed, or articles extracted),
    embed the passages already stored, in small groups: the model's threads work while the
    event loop waits on the network, parses or extracts. A group is sized to take about
    OVERLAP_GROUP_S, so the stage after (extraction, or the watches waiting for it) never
    waits long for the group in progress; what is left is embedded after."""
    group = 8
    while running.is_set():
        started = time.perf_counter()
        done = await _embed_group(p, report, group)
        if not done:
            await asyncio.sleep(OVERLAP_IDLE_S)
            continue
        rate = done / max(time.perf_counter() - started, 1e-3)
        group = int(min(max(rate * OVERLAP_GROUP_S, 8), p.poll_policy.embed_group))


def _batches(p: Pipeline) -> Callable[[np.ndarray], AsyncIterator[tuple[np.ndarray, np.ndarray]]]:
    def batches(ids: np.ndarray) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        return p.store.embeddings(ids, p.embedder.model_id, p.embedder.dim)

    return batches


async def _sync_vectors(
    p: Pipeline, report: IngestReport | None, *, full: bool = False
) -> SyncReport:
    """Bring the vector index in line with the database: the passages changed since the last
    sync (fast path), or every id (`full`)."""
    started = time.perf_counter()
    added, removed = set(p.unsynced_added), set(p.unsynced_removed)
    result = await p.vectors.sync(
        lambda: p.store.embedded_ids(p.embedder.model_id),
        _batches(p),
        changed=None
        if full
        else (np.fromiter(added, dtype=np.int64), np.fromiter(removed, dtype=np.int64)),
    )
    p.unsynced_added -= added
    p.unsynced_removed -= removed
    if report is not None:
        report.times.add("index", time.perf_counter() - started)
    return result


async def repair(p: Pipeline, *, embed: bool = True) -> SyncReport:
    """Start-up check: embed what a killed process left unembedded (unless `embed` is False,
    for readers), then make the vector index match the database exactly (missing vectors
    added, stale ones dropped, another model's index rebuilt)."""
    if embed:
        await extract_missing(p)
        await p.store.forget_other_models(p.embedder.model_id)
        embedded = await embed_pending(p)
    else:
        embedded = 0
        stored = await p.store.count_embedded(p.embedder.model_id)
        if stored == len(p.vectors) and not p.vectors.stale_on_disk:
            return SyncReport(added=0, removed=0, rebuilt=False)  # readers: cheap check only
    result = await _sync_vectors(p, None, full=True)
    if embedded or result.added or result.removed or result.rebuilt:
        log.info(
            "repaired: %d passages embedded, %d vectors added, %d removed",
            embedded,
            result.added,
            result.removed,
        )
    return result


async def reindex(p: Pipeline, *, re_embed: bool = False) -> int:
    """Rebuild the vector index from the database (re-embedding every passage if asked)."""
    if re_embed:
        await p.store.clear_embeddings()
    await embed_pending(p)
    p.vectors.reset()
    await _sync_vectors(p, None, full=True)
    return len(p.vectors)


async def ingest_files(
    p: Pipeline, paths: Sequence[Path], workspace_id: int, now: Callable[[], datetime]
) -> IngestReport:
    """Ingest local RSS/Atom files through the same stages; an article's source is its file's
    name. A file that is not a feed is reported in `errors` and the others go on. Raises
    OSError when a file cannot be read (the caller checks them first)."""
    report = IngestReport()
    for done, path in enumerate(paths):
        body = await asyncio.to_thread(path.read_bytes)
        url = path.resolve().as_uri()
        feed_id = await p.store.subscribe(
            workspace_id, url, interval_s=0, name=path.name, now=now(), kind="file"
        )
        report.feeds_polled += 1
        try:
            parsed = await _parse(p, body, url, now(), report)
        except FeedError as exc:
            report.failed_feeds += 1
            report.errors.append(f"{path}: {exc.reason}")
            await p.store.record_fetch_failure(
                feed_id, error=exc.reason, now=now(), next_check_at=now(), max_failures=1 << 30
            )
            continue
        await _store_entries(p, feed_id, parsed, path.name, now, report)
        await p.store.record_fetch_ok(
            feed_id,
            status="ok",
            etag=None,
            last_modified=None,
            title=parsed.title,
            now=now(),
            next_check_at=now(),
        )
        p.report_progress("read", done + 1, len(paths))
    await _finish(p, report)
    return report
