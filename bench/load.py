"""What the benchmarks share: how busy the machine was while a block ran; JSON-safe figures;
the embedding-backend option."""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any, get_args

from index.retrieve.embed import BackendChoice


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat; NaN elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    ticks = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """CPU cores kept busy by OTHER processes while a block runs: a noisy neighbour makes the
    figures of that block unreliable, so it is reported beside them."""

    cores = float("nan")

    def start(self) -> None:
        self._wall, self._own, self._all = time.perf_counter(), time.process_time(), busy_cpu_s()

    def stop(self) -> None:
        wall = time.perf_counter() - self._wall
        others = (busy_cpu_s() - self._all) - (time.process_time() - self._own)
        self.cores = max(others, 0.0) / wall if wall > 0 else float("nan")

    def __enter__(self) -> OtherLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def add_backend_option(parser: argparse.ArgumentParser, what: str = "embedding backend") -> None:
    """--backend: the embedding backend to measure, as WIREWATCH_EMBED_BACKEND."""
    parser.add_argument(
        "--backend",
        choices=get_args(BackendChoice),
        default="auto",
        help=f"{what}, as WIREWATCH_EMBED_BACKEND (default auto: the product's choice on this CPU)",
    )
