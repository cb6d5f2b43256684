"""Composition root: opens the store, the HTTP client, the model and the vector index once,
and hands them to the CLI, the scheduler and (later) the chat adapters.
Side effects: opens `<data_dir>/wirewatch.db` and `<data_dir>/passages.faiss`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import httpx

from bot import store as chat_store
from bot.core import watches as watch_table
from bot.core.alerts import AlertChange, AlertEngine
from bot.core.delivery import AlertPolicy
from bot.settings import Settings
from index.extract.actors import ActorCatalogue
from index.extract.extractor import Extractor
from index.extract.places import Gazetteer
from index.fetch import feeds
from index.ingest import Pipeline, Progress, repair
from index.models import IngestReport
from index.retrieve.embed import Embedder, load_embedder
from index.retrieve.vectors import VectorIndex
from index.store import datadir
from index.store.interfaces import HostSlots, Storage, Vectors
from index.store.sqlite.store import Store
from index.timeutil import utcnow

if TYPE_CHECKING:
    from bot.core.answer import Answerer
    from bot.core.suggest import TermSuggester
    from bot.health import Monitor

log = logging.getLogger(__name__)

CONSOLE = "console"
Repair = Literal["full", "index", "none"]


class Signal:
    """Wakes every listener at once: each chat's delivery loop listens on its own event, so
    two loops (the console and Discord side by side) never take a wake-up from each other."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def listen(self) -> asyncio.Event:
        event = asyncio.Event()
        self._events.append(event)
        return event

    def set(self) -> None:
        for event in self._events:
            event.set()


@dataclass
class App:
    """The opened resources. `pipeline` is None when the app was opened without the model."""

    settings: Settings
    store: Storage
    pipeline: Pipeline | None
    now: Callable[[], datetime]
    # Set whenever alerts or notices are recorded, so each running chat delivers them at once.
    alerted: Signal = field(default_factory=Signal)
    llm_http: httpx.AsyncClient | None = None  # the LLM server's client, when configured
    monitor: Monitor | None = None  # `wirewatch run` with WIREWATCH_METRICS_PORT: health, metrics
    # This process among those sharing the database (the claims on feeds name it).
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _catalogue: ActorCatalogue | None = None
    _gazetteer: Gazetteer | None = None
    _embedder: Embedder | None = None
    _suggester: TermSuggester | None = None

    def require_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise RuntimeError("this command was opened without the embedding model")
        return self.pipeline

    @property
    def alert_policy(self) -> AlertPolicy:
        return self.settings.alert_policy()

    async def catalogue(self) -> ActorCatalogue:
        """The actor catalogue: the extractor's, else loaded now."""
        if self._catalogue is None:
            extractor = self.pipeline.extractor if self.pipeline else None
            self._catalogue = (
                extractor.catalogue
                if extractor
                else await asyncio.to_thread(ActorCatalogue.load, self.settings.actor_files)
            )
        return self._catalogue

    async def gazetteer(self) -> Gazetteer:
        """The gazetteer: the extractor's, else loaded (built on first use) now."""
        if self._gazetteer is None:
            extractor = self.pipeline.extractor if self.pipeline else None
            self._gazetteer = (
                extractor.gazetteer
                if extractor
                else await asyncio.to_thread(
                    Gazetteer.load,
                    self.settings.cache_path / "gazetteer",
                    self.settings.place_files,
                )
            )
        return self._gazetteer

    async def embedder(self) -> Embedder:
        """The embedding model: the pipeline's, else loaded now."""
        if self._embedder is None:
            self._embedder = (
                self.pipeline.embedder
                if self.pipeline
                else await asyncio.to_thread(embedder_for, self.settings)
            )
        return self._embedder

    async def suggester(self) -> TermSuggester:
        """Watch-term suggestions (actors and places), built on first use."""
        if self._suggester is None:
            from bot.core.suggest import TermSuggester

            catalogue, gazetteer = await self.catalogue(), await self.gazetteer()
            self._suggester = await asyncio.to_thread(TermSuggester, catalogue, gazetteer)
        return self._suggester

    async def answerer(self) -> Answerer:
        """Answers questions from this app's articles (needs the model)."""
        from bot.core.answer import Answerer
        from bot.core.llm import LlmConfig

        pipeline = self.require_pipeline()
        s = self.settings
        llm = None
        if s.llm_url and self.llm_http is not None:
            key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
            llm = LlmConfig(s.llm_url, s.llm_model, s.llm_timeout_s, key)
        return Answerer(
            self.store,
            pipeline.vectors,
            pipeline.embedder,
            await self.catalogue(),
            await self.gazetteer(),
            llm=llm,
            http=self.llm_http,
        )

    async def alert_engine(self) -> AlertEngine:
        embedder = self.pipeline.embedder if self.pipeline else self._embedder
        return AlertEngine(
            self.store,
            gazetteer=await self.gazetteer(),
            model_id=embedder.model_id if embedder else None,
            dim=embedder.dim if embedder else None,
            topic_threshold=self.settings.topic_threshold,
        )

    async def workspace_id(self, name: str = CONSOLE) -> int:
        return await self.store.workspace_id(name, self.now())


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Storage]:
    """The engine the settings name: PostgreSQL at `WIREWATCH_DATABASE_URL`, else the SQLite
    database in the data dir; with the chat layer's tables migrated too (bot/store/)."""
    if settings.database_url is None:
        async with Store.open(settings.db_path) as store:
            await chat_store.migrate(store)
            yield store
        return
    from index.store.pg.store import PgStore

    url = settings.database_url.get_secret_value()
    async with PgStore.open(url, max_size=settings.database_pool_size) as pg:
        await chat_store.migrate(pg)
        yield pg


async def open_vectors(settings: Settings, store: Storage, embedder: Embedder) -> Vectors:
    """The vector index of the store's engine: pgvector's HNSW on PostgreSQL, else the FAISS
    file in the data dir (blocking reads, in a thread)."""
    if settings.database_url is not None:
        from index.store.pg.store import PgStore
        from index.store.pg.vectors import PgVectorIndex

        assert isinstance(store, PgStore)
        return await PgVectorIndex.open(store.pool, embedder.dim, embedder.model_id)
    faiss_index: VectorIndex = await asyncio.to_thread(
        VectorIndex.load,
        settings.index_path,
        embedder.dim,
        embedder.model_id,
        compress_above=settings.index_compress_above,
        min_recall=settings.index_min_recall,
    )
    return faiss_index


def host_limiter(settings: Settings, store: Storage) -> HostSlots:
    """The per-host fetch limit: shared through the database by every worker on PostgreSQL
    (a slot outlives a killed worker by the fetch timeout at most), else this process's."""
    if settings.database_url is None:
        return feeds.HostLimiter(settings.max_per_host)
    from index.store.pg.hosts import PgHostLimiter
    from index.store.pg.store import PgStore

    assert isinstance(store, PgStore)
    return PgHostLimiter(store.pool, settings.max_per_host, hold_s=settings.fetch_timeout_s + 30)


def embedder_for(settings: Settings) -> Embedder:
    """The embedding model on the backend the settings ask for (blocking: seconds)."""
    return load_embedder(
        settings.embed_model,
        settings.embed_backend,
        cache_dir=settings.model_cache_path,
        batch_size=settings.embed_batch_size,
    )


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    with_model: bool = True,
    embedder: Embedder | None = None,
    repair_mode: Repair = "full",
    now: Callable[[], datetime] = utcnow,
    progress: Progress | None = None,
    with_extractor: bool | None = None,
    extractor: Extractor | None = None,
) -> AsyncIterator[App]:
    """Open everything once. `repair_mode`: "full" extracts and embeds what a killed process
    left behind and reconciles the vector index with the database; "index" only reconciles
    (readers); "none" skips both. `with_extractor` (default: when the real model is used)
    loads the event-metadata extractor, needed by commands that ingest (`extractor`: one
    already loaded). An app with an extractor evaluates the watches on every ingest."""
    if with_extractor is None:
        with_extractor = embedder is None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with datadir.using(settings.data_dir):  # while held, `wirewatch restore` refuses it
        async with open_store(settings) as store:
            if not with_model:
                yield App(settings, store, None, now)
                return
            policy = settings.fetch_policy()
            async with feeds.make_client(policy) as http:
                if embedder is None:  # loading takes seconds: keep the event loop free meanwhile
                    embedder = await asyncio.to_thread(embedder_for, settings)
                vectors = await open_vectors(settings, store, embedder)
                if extractor is None and with_extractor:
                    extractor = await asyncio.to_thread(
                        Extractor.load,
                        embedder,
                        settings.cache_path / "gazetteer",
                        settings.actor_files,
                        settings.place_files,
                    )
                pipeline = Pipeline(
                    extractor=extractor,
                    store=store,
                    http=http,
                    embedder=embedder,
                    vectors=vectors,
                    fetch_policy=policy,
                    poll_policy=settings.poll_policy(),
                    hosts=host_limiter(settings, store),
                    progress=progress,
                )
                if repair_mode != "none":
                    await repair(pipeline, embed=repair_mode == "full")
                app = App(settings, store, pipeline, now)
                if settings.llm_url:  # the operator's own server: not the feeds' guarded client
                    app.llm_http = httpx.AsyncClient(
                        timeout=settings.llm_timeout_s, trust_env=False
                    )
                if repair_mode != "none":  # topic descriptions embedded by another model
                    await watch_table.reembed_topics(store, embedder.embed_query, embedder.model_id)
                if extractor is not None:  # an app that ingests evaluates the watches
                    await watch_new_articles(app, await app.alert_engine())
                try:
                    yield app
                finally:
                    if app.llm_http is not None:
                        await app.llm_http.aclose()


async def watch_new_articles(app: App, engine: AlertEngine) -> None:
    """Hang the watches on the ingest cycle: group, place and keyword watches right after
    extraction, topic watches after embedding. Each follows the store's change feed, so what
    a killed process stored but never matched is matched now."""
    pipeline = app.require_pipeline()

    async def after_extract(ids: Sequence[int], report: IngestReport) -> None:
        _note(app, report, await engine.drain("metadata", now=app.now()))

    async def after_embed(ids: Sequence[int], report: IngestReport) -> None:
        _note(app, report, await engine.drain("topic", now=app.now()))

    pipeline.after_extract = after_extract
    pipeline.after_embed = after_embed
    caught_up = IngestReport()
    for phase in ("metadata", "topic"):
        _note(app, caught_up, await engine.drain(phase, now=app.now()))
    if caught_up.alerts:
        log.info("%d alerts recorded for articles stored before a restart", caught_up.alerts)


def _note(app: App, report: IngestReport, change: AlertChange) -> None:
    report.alerts += len(change.created)
    if change.created or change.updated:
        app.alerted.set()
