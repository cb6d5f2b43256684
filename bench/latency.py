"""What the latency benchmarks at scale (bench/search.py, bench/ask.py) share: percentiles of
timings, a SQLite database's size on disk, the options and checks both command lines take
(sizes, backend, engines, --json), loading the real model, the progress lines on stderr and the
machine's description in the JSON document and the text.

Importing it has no side effects; `load_model` imports faiss and torch (so `--help` stays fast)
and loads the model.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import pgload
from bench.load import add_backend_option
from bot.settings import Settings
from index.retrieve.embed import DEFAULT_MODEL, Embedder, load_embedder


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max of samples in seconds, as milliseconds."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    if ms.size == 0:
        return {
            "p50_ms": float("nan"),
            "p95_ms": float("nan"),
            "mean_ms": float("nan"),
            "max_ms": float("nan"),
            "n": 0,
        }
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
        "n": int(ms.size),
    }


def sqlite_file_bytes(path: Path) -> int:
    """A SQLite database's size with its WAL file."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.is_file() else 0)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options after each script's own: the model's backend, the engines, --json."""
    add_backend_option(parser)
    pgload.add_engine_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )


def check_sizes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`args.size_list` from --sizes (each at least 100), and the engine options checked."""
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give passage counts such as 10000,100000")
    if not args.size_list or min(args.size_list) < 100:
        parser.error("--sizes: every size must be at least 100")
    pgload.check_engines(parser, args)


def progress(line: str) -> None:
    """A progress line on stderr."""
    print(line, file=sys.stderr, flush=True)


def load_model(backend: str) -> Embedder:
    """The real model (`DEFAULT_MODEL`) on `backend`, from the product's model cache; faiss
    and torch are imported first."""
    import faiss  # noqa: F401
    import torch  # noqa: F401

    progress(f"loading {DEFAULT_MODEL} ({backend}) ...")
    models = Settings(_env_file=None).cache_path / "models"
    return load_embedder(DEFAULT_MODEL, backend, cache_dir=models)


def machine_meta(embedder: Embedder) -> dict[str, Any]:
    """The machine, the library versions and the model, first in each script's `meta`."""
    import faiss
    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "model": embedder.model_id,
    }


def machine_line(meta: dict[str, Any]) -> str:
    """The text output's line describing the machine (`meta` holds `machine_meta`'s keys)."""
    return (
        f"  machine: {meta['cpus']} CPUs, torch threads {meta['torch_threads']}, python "
        f"{meta['python']}, torch {meta['torch']}, faiss {meta['faiss']}; model {meta['model']}"
    )
