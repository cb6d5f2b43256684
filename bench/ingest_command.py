"""Benchmark: `wirewatch ingest` of every feed capture, as a user runs it, on two backends.

What is measured, and how:

* The files listed in `news_feeds/manifest.jsonl` of the shared data folder (`../shared/data`
  beside the project root, or `WIREWATCH_SHARED_DATA`) are ingested by one
  `wirewatch ingest --json FILE...` process, in a fresh data dir, so each run pays for what a
  first ingest pays: process start, loading the extractor (spaCy, gazetteer, actor
  catalogue) and the embedding model, the model's first-use preparation (the ONNX export and
  quantisation, cached under the data dir), parse, store, extraction with events, embedding,
  and the saved vector index.
* Each run times the automatic backend (the product's default) and the plain fp32 backend
  (`WIREWATCH_EMBED_BACKEND=fp32`: the sentence-transformers model as shipped), alternating
  which goes first. The ratio is fp32's wall time over auto's, per run; the median is printed.
* Per stage, the seconds the command reports (`seconds` in its JSON: extract and embed run
  side by side, so they overlap and do not add up to the wall time).

  .venv/bin/python bench/ingest_command.py [--runs 3] [--json]

Figures, never asserts; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import find_shared_data  # noqa: E402

BACKENDS = ("auto", "fp32")


def capture_files(data: Path) -> list[Path]:
    folder = data / "news_feeds"
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [folder / json.loads(line)["file"] for line in lines if line.strip()]


def one_ingest(files: list[Path], backend: str, workdir: Path) -> dict[str, object]:
    data_dir = workdir / f"data-{backend}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {
        **os.environ,
        "WIREWATCH_DATA_DIR": str(data_dir),
        "WIREWATCH_EMBED_BACKEND": backend,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "wirewatch"), "ingest", "--json", *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    shutil.rmtree(data_dir, ignore_errors=True)
    try:  # a capture that is no feed (the corpus has two) is reported and the rest ingested
        report = json.loads(done.stdout)
    except ValueError:
        sys.exit(f"wirewatch ingest failed ({done.returncode}): {done.stderr[-2000:]}")
    return {
        "wall_s": wall,
        "articles": report["new_articles"],
        "passages": report["passages"],
        "seconds": report["seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    data = find_shared_data("ingest_command.py")
    if data is None:
        return 2
    files = capture_files(data)
    results: dict[str, list[dict[str, object]]] = {b: [] for b in BACKENDS}
    with tempfile.TemporaryDirectory(prefix="wirewatch-ingest-") as tmp:
        for run in range(args.runs):
            order = BACKENDS if run % 2 == 0 else BACKENDS[::-1]
            for backend in order:
                result = one_ingest(files, backend, Path(tmp))
                results[backend].append(result)
                print(
                    f"run {run + 1}: {backend} {result['wall_s']:.1f} s, "
                    f"{result['articles']} articles, {result['passages']} passages, "
                    f"stages {result['seconds']}",
                    file=sys.stderr,
                )
    ratios = [
        float(f["wall_s"]) / float(a["wall_s"])  # type: ignore[arg-type]
        for a, f in zip(results["auto"], results["fp32"], strict=True)
    ]
    figures: dict[str, object] = {"files": len(files), "runs": args.runs}
    for backend, runs in results.items():
        stages = {
            stage: round(statistics.median(float(r["seconds"][stage]) for r in runs), 2)  # type: ignore[index]
            for stage in runs[0]["seconds"]  # type: ignore[attr-defined]
        }
        wall = statistics.median(float(r["wall_s"]) for r in runs)  # type: ignore[arg-type]
        figures[backend] = {
            "wall_s": round(wall, 1),
            "articles": runs[0]["articles"],
            "articles_per_s": round(int(runs[0]["articles"]) / wall, 1),  # type: ignore[call-overload]
            "stage_seconds": stages,
        }
    figures["fp32_over_auto"] = round(statistics.median(ratios), 2)
    figures["ratios"] = [round(r, 2) for r in ratios]
    if args.json:
        print(json.dumps(figures))
    else:
        for backend in BACKENDS:
            f = figures[backend]
            assert isinstance(f, dict)
            print(
                f"{backend}: {f['wall_s']} s for {f['articles']} articles "
                f"({f['articles_per_s']} articles/s, start-up included); "
                f"stages {f['stage_seconds']}"
            )
        print(
            f"auto is {figures['fp32_over_auto']}x the fp32 run (median of {args.runs}; "
            f"runs {figures['ratios']}; issue 15's goal 3x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
