"""The data of bench/ask.py (also used by bench/discord_alerts.py): the base corpus (the real
feed captures' entries, their event metadata from the real extractor and their real vectors),
the questions asked of it, and one size's data dir filled through the store's own APIs with
synthetic articles built from it. Writes only under the data dir it is given (and the
extractor's cache dir).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from bot.app import open_app
from bot.settings import Settings
from index import ingest as ingest_stage
from index.errors import FeedMalformed
from index.extract.extractor import EXTRACTOR_VERSION, EventRecord, ExtractInput, Extractor
from index.fetch.parse import parse_feed
from index.models import RawEntry
from index.retrieve.embed import Embedder
from index.retrieve.passages import chunk_article, embed_text, split_sentences

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the app's clock: "this week" is relative to it
SPAN_DAYS = 60  # articles are published within this many days before NOW
EXTRA_SENTENCES = (4, 24)  # appended to each base entry's own text
MIN_POOL_WORDS = 6  # shorter sentences are not drawn into other articles
SET_BATCH = 5000
EVENTS_BATCH = 500


# (kind, question). Places, groups and stories are the corpus's own (Feb 2026 captures);
# "absent" questions have no answer in it.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("place", "What happened in Gaza this week?"),
    ("place", "What happened in Iran this week?"),
    ("place", "What happened in Ukraine in the past week?"),
    ("place", "What happened in Nigeria this month?"),
    ("place", "What happened in Bangladesh yesterday?"),
    ("place", "What happened in Myanmar since January?"),
    ("place", "What happened in the West Bank this week?"),
    ("place", "What happened in Tehran today?"),
    ("place", "What is going on in Venezuela?"),
    ("killed", "How many people were killed in Gaza?"),
    ("killed", "How many were killed in the Delhi bombing?"),
    ("killed", "How many were killed in Pakistan this week?"),
    ("killed", "How many people died in the California avalanche?"),
    ("killed", "How many were killed in Syria this month?"),
    ("killed", "How many protesters were killed in Iran?"),
    ("killed", "How many people were killed in Sudan last week?"),
    ("latest", "Latest on Hamas"),
    ("latest", "What is the latest on the Islamic State?"),
    ("latest", "Latest news on NATO"),
    ("latest", "Any updates on the Revolutionary Guards?"),
    ("latest", "Latest on the Wagner Group"),
    ("latest", "What's the latest on the Israel Defense Forces in Gaza?"),
    ("latest", "Latest on the United Nations in Sudan"),
    ("who-what", "Who is the head of the World Bank and why is he under pressure?"),
    ("who-what", "What did Trump say at Davos?"),
    ("who-what", "Who is Nitai Roy Chowdhury?"),
    ("who-what", "What is the Board of Peace for Gaza?"),
    ("who-what", "Why are US soldiers arriving in Nigeria?"),
    ("who-what", "What came out of the Ukraine Russia peace talks in Geneva?"),
    ("who-what", "Who was Jesse Jackson?"),
    ("who-what", "What did Orban say about the EU and Russia?"),
    ("who-what", "What is in the Epstein files?"),
    ("who-what", "Why are New Zealanders emigrating?"),
    ("who-what", "What does Trump want with Greenland?"),
    ("who-what", "Who won the election in Bangladesh?"),
    ("who-what", "Why did the Cook Islands fall out with New Zealand?"),
    ("absent", "What is the best recipe for sourdough bread?"),
    ("absent", "Who won the 1986 FIFA World Cup?"),
    ("absent", "How many moons does Neptune have?"),
    ("absent", "What happened in Ulaanbaatar last week?"),
    ("absent", "How many were killed in Tuvalu in 2019?"),
    ("absent", "Latest on the Shining Path in Peru"),
)


# ---- the base corpus --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BaseEntry:
    outlet: str
    title: str
    text: str
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Corpus:
    entries: list[BaseEntry]
    records: list[EventRecord]
    vectors: np.ndarray  # (entries, dim), unit length: title + text, real model
    pool: list[tuple[str, int]]  # (sentence, entry index) drawn into other articles
    source_of: dict[str, int]  # sentence -> the entry it came from
    extract_s: float
    embed_s: float


def _latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) >= 0.9 * len(letters)


def read_entries(feeds_dir: Path) -> list[BaseEntry]:
    """Every usable entry of the feed captures in the manifest: Latin script, a title and at
    least 10 words, no title twice."""
    manifest = [
        json.loads(line)
        for line in (feeds_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    out: list[BaseEntry] = []
    seen: set[str] = set()
    for item in manifest:
        path = (feeds_dir / item["file"]).resolve()
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=NOW)
        except (FeedMalformed, OSError):
            continue
        for e in parsed.entries:
            key = e.title.casefold()
            if not e.title or len(e.text.split()) < 10 or key in seen:
                continue
            if not _latin(f"{e.title} {e.text}"):
                continue
            seen.add(key)
            out.append(
                BaseEntry(str(item.get("outlet") or path.stem), e.title, e.text, e.published_at)
            )
    return out


def prepare_corpus(
    feeds_dir: Path,
    embedder: Embedder,
    cache_dir: Path,
    progress: Callable[[str], None],
) -> Corpus:
    entries = read_entries(feeds_dir)
    progress(f"{len(entries)} base entries; extracting their event metadata (real extractor) ...")
    started = time.perf_counter()
    extractor = Extractor.load(embedder, cache_dir)
    records: list[EventRecord] = []
    for start in range(0, len(entries), 64):
        records.extend(
            extractor.extract_many(
                [ExtractInput(e.title, e.text, e.published_at) for e in entries[start : start + 64]]
            )
        )
    extract_s = time.perf_counter() - started
    del extractor
    progress(f"embedding the {len(entries)} base entries with the real model ...")
    started = time.perf_counter()
    vectors = embedder.embed_passages([embed_text(e.title, e.text) for e in entries])
    embed_s = time.perf_counter() - started
    pool: list[tuple[str, int]] = []
    source_of: dict[str, int] = {}
    for i, e in enumerate(entries):
        for sentence in split_sentences(e.text):
            source_of.setdefault(sentence, i)
            if len(sentence.split()) >= MIN_POOL_WORDS:
                pool.append((sentence, i))
    return Corpus(entries, records, vectors, pool, source_of, extract_s, embed_s)


# ---- one size's data dir -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Config:
    asks: int
    warmup: int
    k: int
    noise: float
    seed: int
    engines: tuple[str, ...] = ("sqlite",)
    pg_maintenance_work_mem: str | None = None  # None: the server's


def _article(corpus: Corpus, rng: random.Random, base: int) -> tuple[str, list[int]]:
    """A base entry's text plus sentences drawn from the pool, in paragraphs of 4; and the
    entries the appended sentences came from."""
    own = split_sentences(corpus.entries[base].text)
    extra = [
        corpus.pool[rng.randrange(len(corpus.pool))] for _ in range(rng.randint(*EXTRA_SENTENCES))
    ]
    sentences = own + [s for s, _ in extra]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs), [src for _, src in extra]


def _passage_vector(
    corpus: Corpus, base: int, text: str, nrng: np.random.Generator, noise: float
) -> np.ndarray:
    """Mean of the base entry's vector and the vectors of the entries the passage's sentences
    came from, plus noise, renormalised."""
    sources = [base, *(corpus.source_of[s] for s in split_sentences(text) if s in corpus.source_of)]
    vector: np.ndarray = corpus.vectors[sources].mean(axis=0)
    vector = vector + nrng.normal(0.0, noise, vector.shape[0])
    out: np.ndarray = (vector / np.linalg.norm(vector)).astype(np.float32)
    return out


def _shifted(record: EventRecord, base: BaseEntry, published: datetime) -> EventRecord:
    event_date: date | None = None
    if record.event_date is not None:
        lag = (base.published_at.date() - record.event_date) if base.published_at else timedelta(0)
        event_date = published.date() - lag
    return replace(record, event_date=event_date)


async def build(
    settings: Settings,
    size: int,
    corpus: Corpus,
    embedder: Embedder,
    cfg: Config,
    progress: Callable[[str], None],
) -> dict[str, float]:
    """Fill a fresh data dir with `size` passages; build times in seconds."""
    rng = random.Random(cfg.seed)
    nrng = np.random.default_rng(cfg.seed)
    order = list(range(len(corpus.entries)))
    rng.shuffle(order)
    out: dict[str, float] = {}
    async with open_app(settings, embedder=embedder, repair_mode="none", now=lambda: NOW) as app:
        pipeline = app.require_pipeline()
        store = app.store
        ws = await app.workspace_id("console")
        feed_of: dict[str, int] = {}
        for outlet in sorted({e.outlet for e in corpus.entries}):
            url = f"https://feeds.bench.invalid/{len(feed_of)}.xml"
            feed_of[outlet] = await store.subscribe(ws, url, interval_s=300, name=outlet, now=NOW)
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        events: list[tuple[int, EventRecord]] = []
        started = time.perf_counter()
        n = 0
        while len(ids) < size:
            base = order[n % len(order)]
            entry = corpus.entries[base]
            text, _ = _article(corpus, rng, base)
            published = NOW - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
            raw = RawEntry(
                guid=f"bench-ask-{n}",
                url=f"https://news.bench.invalid/ask/{n}",
                title=entry.title,
                text=text,
                published_at=published,
            )
            outcome = await store.save_entry(
                feed_of[entry.outlet],
                raw,
                source=entry.outlet,
                now=NOW,
                story_window=timedelta(hours=72),
                story_threshold=0.5,
            )
            passages = chunk_article(entry.title, text)[: size - len(ids)]
            change = await store.replace_passages(outcome.article_id, passages, embedder.model_id)
            for pid, passage in zip(change.added, passages, strict=True):
                ids.append(pid)
                vectors.append(_passage_vector(corpus, base, passage.text, nrng, cfg.noise))
            events.append((outcome.article_id, _shifted(corpus.records[base], entry, published)))
            n += 1
            if n % 2000 == 0:
                progress(f"  {len(ids):,}/{size:,} passages stored")
        out["insert_s"] = time.perf_counter() - started
        out["articles"] = float(n)

        started = time.perf_counter()
        for start in range(0, len(events), EVENTS_BATCH):
            await store.save_events(
                events[start : start + EVENTS_BATCH], extractor=EXTRACTOR_VERSION, now=NOW
            )
        out["save_events_s"] = time.perf_counter() - started
        out["articles_with_places"] = float(sum(bool(r.places) for _, r in events))
        out["articles_with_killed"] = float(sum(bool(r.casualties.killed) for _, r in events))

        started = time.perf_counter()
        matrix = np.vstack(vectors)
        for start in range(0, len(ids), SET_BATCH):
            await store.set_embeddings(
                ids[start : start + SET_BATCH], matrix[start : start + SET_BATCH], embedder.model_id
            )
        out["set_embeddings_s"] = time.perf_counter() - started
        progress(f"size {size:,}: building the FAISS index from SQLite (reindex) ...")
        started = time.perf_counter()
        out["indexed"] = float(await ingest_stage.reindex(pipeline))
        out["reindex_s"] = time.perf_counter() - started
    return out
