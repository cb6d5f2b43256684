"""Composition root: opens the store, the HTTP client, the model and the vector index once,
and hands them to the CLI, the scheduler and (later) the chat adapters.
Side effects: opens `<data_dir>/wirewatch.db` and `<data_dir>/passages.faiss`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.settings import Settings
from index import feeds
from index.embed import Embedder, SentenceTransformerEmbedder
from index.extract import Extractor
from index.ingest import Pipeline, Progress, repair
from index.store import Store
from index.timeutil import utcnow
from index.vectors import VectorIndex

log = logging.getLogger(__name__)

CONSOLE = "console"
Repair = Literal["full", "index", "none"]


@dataclass
class App:
    """The opened resources. `pipeline` is None when the app was opened without the model."""

    settings: Settings
    store: Store
    pipeline: Pipeline | None
    now: Callable[[], datetime]

    def require_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise RuntimeError("this command was opened without the embedding model")
        return self.pipeline

    async def workspace_id(self, name: str = CONSOLE) -> int:
        return await self.store.workspace_id(name, self.now())


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
) -> AsyncIterator[App]:
    """Open everything once. `repair_mode`: "full" extracts and embeds what a killed process
    left behind and reconciles the vector index with the database; "index" only reconciles
    (readers); "none" skips both. `with_extractor` (default: when the real model is used)
    loads the event-metadata extractor, needed by commands that ingest."""
    if with_extractor is None:
        with_extractor = embedder is None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with Store.open(settings.db_path) as store:
        if not with_model:
            yield App(settings, store, None, now)
            return
        policy = settings.fetch_policy()
        async with feeds.make_client(policy) as http:
            if embedder is None:  # loading takes seconds: keep the event loop free meanwhile
                embedder = await asyncio.to_thread(
                    SentenceTransformerEmbedder,
                    settings.embed_model,
                    batch_size=settings.embed_batch_size,
                )
            vectors = await asyncio.to_thread(
                VectorIndex.load, settings.index_path, embedder.dim, embedder.model_id
            )
            extractor = None
            if with_extractor:
                extractor = await asyncio.to_thread(
                    Extractor.load,
                    embedder,
                    settings.cache_path / "gazetteer",
                    settings.actor_files,
                )
            pipeline = Pipeline(
                extractor=extractor,
                store=store,
                http=http,
                embedder=embedder,
                vectors=vectors,
                fetch_policy=policy,
                poll_policy=settings.poll_policy(),
                hosts=feeds.HostLimiter(settings.max_per_host),
                progress=progress,
            )
            if repair_mode != "none":
                await repair(pipeline, embed=repair_mode == "full")
            yield App(settings, store, pipeline, now)
