"""The timed asks of bench/ask.py on one size's data dir, on either engine: an app opened as a
reader opens it, the warm-up and timed asks through `commands.ask` with their split, the
engine's memory afterwards, and the summary of the figures (percentiles, the p95 tail, the
slowest questions). Reads the data dir or database; writes nothing of its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench import pgload
from bench.ask_corpus import NOW, QUESTIONS, Config
from bench.ask_split import PARTS, TOP_LEVEL, Split, instrumented, parts_of
from bench.latency import percentiles, sqlite_file_bytes
from bench.load import OtherLoad
from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import Embedder
from index.retrieve.vectors import VectorIndex
from index.store.pg.store import PgStore

TARGET_MS = 200.0  # the target: p95 at most this at TARGET_SIZE passages
TARGET_SIZE = 100_000


async def measure(
    settings: Settings,
    embedder: Embedder,
    cfg: Config,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    split = Split()
    rng = random.Random(cfg.seed)
    async with open_app(settings, embedder=embedder, repair_mode="index", now=lambda: NOW) as app:
        started = time.perf_counter()
        await app.catalogue()
        await app.gazetteer()
        load_s = time.perf_counter() - started
        counts = await app.store.counts(await app.workspace_id("console"))
        warm = [q for _, q in QUESTIONS]
        rng.shuffle(warm)
        examples: dict[str, dict[str, Any]] = {}
        for question in (warm * (cfg.warmup // len(warm) + 1))[: cfg.warmup]:
            doc = await commands.ask(app, question, k=cfg.k, workspace="console")
            examples.setdefault(question, doc)
        plan: list[tuple[str, str]] = []
        while len(plan) < cfg.asks:
            batch = list(QUESTIONS)
            rng.shuffle(batch)
            plan.extend(batch)
        plan = plan[: cfg.asks]
        rows: list[dict[str, Any]] = []
        other = OtherLoad()
        server = pgload.ServerCPU(await pgload.server_pid(app.store))
        with instrumented(app, split):
            other.start()
            server.start()
            for kind, question in plan:
                split.reset()
                started = time.perf_counter()
                doc = await commands.ask(app, question, k=cfg.k, workspace="console")
                total = time.perf_counter() - started
                rows.append(
                    {
                        "kind": kind,
                        "question": question,
                        "parts": parts_of(split.now, total),
                        "sentences": split.counts.get("sentences", 0),
                        "words": split.counts.get("words", 0),
                        "restricted_faiss": split.counts.get("restricted_faiss", 0),
                        "filters": sorted(doc["filters"]),
                        "relaxed": len(doc["relaxed"]),
                        "citations": len(doc["citations"]),
                    }
                )
            server.stop()
            other.stop()
        memory = await engine_memory(app)
    # the server's work is the engine's, not another process's load
    summary = summarise(rows, counts.passages, load_s, other.cores - server.cores, examples)
    return summary | {"memory": memory, "server_cpu_cores": server.cores}


PG_TABLES = ("passages", "articles", "article_events", "article_places", "article_actors")


async def engine_memory(app: App) -> dict[str, Any]:
    """After the asks: this process's resident memory; on SQLite the FAISS index's memory and
    the files' sizes, on PostgreSQL the server's processes' memory and the relations' sizes."""
    pipeline = app.require_pipeline()
    out: dict[str, Any] = {"process_rss_bytes": pgload.own_rss()}
    if isinstance(app.store, PgStore):
        pool = app.store.pool
        index = await pgload.hnsw_index(pool, pipeline.embedder.model_id)
        return out | {
            "server": await pgload.server_memory(app.store),
            "sizes": await pgload.sizes(pool, PG_TABLES, index),
        }
    vectors = pipeline.vectors
    assert isinstance(vectors, VectorIndex)
    return out | {
        "memory_bytes": vectors.memory_bytes(),
        "file_bytes": app.settings.index_path.stat().st_size,
        "db_file_bytes": sqlite_file_bytes(app.settings.db_path),
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of plain numbers."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
    }


def summarise(
    rows: list[dict[str, Any]],
    visible: int,
    load_s: float,
    other_cores: float,
    examples: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    keys = [key for key, _, _ in PARTS]
    latency = {k: percentiles([r["parts"][k] for r in rows]) for k in keys}
    totals = np.array([r["parts"]["total"] for r in rows])
    p95 = float(np.percentile(totals, 95))  # seconds
    tail = [r for r in rows if r["parts"]["total"] >= p95] or rows
    tail_means = {k: float(np.mean([r["parts"][k] for r in tail]) * 1000) for k in keys}
    # What the p95 would be if one part took no time (the others as measured, ask by ask).
    p95_without = {
        k: percentiles([r["parts"]["total"] - r["parts"][k] for r in rows])["p95_ms"]
        for k in TOP_LEVEL
    }
    over_budget = {
        k: sum(r["parts"][k] * 1000 > TARGET_MS for r in rows) for k in (*TOP_LEVEL, "total")
    }
    by_question: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_question.setdefault(r["question"], []).append(r)
    per_question = sorted(
        (
            {
                "question": q,
                "kind": rs[0]["kind"],
                "n": len(rs),
                "median_ms": float(np.median([r["parts"]["total"] for r in rs]) * 1000),
                "rerank_median_ms": float(np.median([r["parts"]["rerank"] for r in rs]) * 1000),
                "filters_median_ms": float(np.median([r["parts"]["filters"] for r in rs]) * 1000),
                "retrieval_median_ms": float(
                    np.median([r["parts"]["retrieval"] for r in rs]) * 1000
                ),
                "sentences": rs[0]["sentences"],
                "filters": rs[0]["filters"],
                "relaxed": rs[0]["relaxed"],
                "citations": rs[0]["citations"],
                "restricted_faiss": rs[0]["restricted_faiss"],
            }
            for q, rs in by_question.items()
        ),
        key=lambda item: -item["median_ms"],
    )
    dominant = max(TOP_LEVEL, key=lambda k: tail_means[k])
    sample = next(
        (doc for q, doc in examples.items() if doc["citations"] and "Gaza" in q), None
    ) or next(iter(examples.values()), None)
    return {
        "visible_passages": visible,
        "catalogue_gazetteer_load_s": load_s,
        "latency": latency,
        "tail": {
            "asks": len(tail),
            "threshold_ms": p95 * 1000,
            "mean_ms": tail_means,
            "dominant": dominant,
        },
        "p95_without_ms": p95_without,
        "asks_over_budget": over_budget,
        "sentences_per_ask": spread([r["sentences"] for r in rows]),
        "words_per_ask": spread([r["words"] for r in rows]),
        "asks_with_filters": sum(bool(r["filters"]) for r in rows),
        "asks_with_restricted_faiss": sum(r["restricted_faiss"] > 0 for r in rows),
        "asks_relaxed": sum(r["relaxed"] > 0 for r in rows),
        "asks_answered": sum(r["citations"] > 0 for r in rows),
        "per_question": per_question,
        "other_processes_cpu_cores": other_cores,
        "example": {"question": sample["question"], "answer": sample["answer"]} if sample else None,
    }
