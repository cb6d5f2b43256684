"""Stage: a flat index's size -> the plan for compressing it (cells, training sample, held-out
queries); searches at growing nprobe -> the smallest nprobe that reaches the recall target.
Side effects: none (numpy only; the FAISS calls stay in index/retrieve/vectors.py and are passed
in).

A compressed ("ivf-sq8") index scans the `nprobe` cells nearest a query. nprobe is chosen when
the index is built, as the smallest that finds at least `min_recall` of the exact top 10 for a
few hundred of the index's own vectors (each left out of its own results) and for midpoints of
pairs of them, used as queries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_COMPRESSED = 1000  # fewer vectors than this are never compressed, whatever compress_above
NLIST_MIN, NLIST_MAX = 64, 16384
TRAIN_MIN = 50_000  # k-means sample: this many vectors (all when fewer) ...
TRAIN_PER_LIST = 8  # ... or this many per cell when more (a larger sample trains 3x slower at
# 1M for a smaller nprobe at the same recall, and scanning cells costs far less than training)
RECALL_K = 10  # nprobe is chosen by recall@10 against exact search
RECALL_QUERIES = 256  # stored vectors held out of training: with their pairs' midpoints, queries
RECALL_SEED = 20260101
ADD_CHUNK = 65_536  # vectors copied from the flat index at a time while compressing

# Rows of the flat index (a copy of the vectors at those positions).
Rows = Callable[[np.ndarray], np.ndarray]
# (queries, k) -> the ids found, one row per query (-1 where none), by exact search.
ExactSearch = Callable[[np.ndarray, int], np.ndarray]
# (queries, k, nprobe) -> the ids found by the compressed index scanning nprobe cells.
ProbeSearch = Callable[[np.ndarray, int, int], np.ndarray]


@dataclass(frozen=True, slots=True)
class BuildReport:
    """How a compressed index was built: its cells, the nprobe chosen and the recall@10 it
    reached on `queries` (held-out stored vectors and midpoints of pairs of them; the lower
    of the two recalls), each nprobe tried, and the seconds spent."""

    vectors: int
    nlist: int
    nprobe: int
    recall: float
    min_recall: float
    trained_on: int
    queries: int
    ladder: tuple[tuple[int, float], ...]  # (nprobe, recall@10) in the order tried
    train_s: float
    add_s: float
    tune_s: float


def nlist_for(n: int) -> int:
    """Cells for n vectors: about 4 * sqrt(n), a power of two, within [64, 16384]."""
    wanted = 4.0 * math.sqrt(max(n, 1))
    return int(min(NLIST_MAX, max(NLIST_MIN, 2 ** round(math.log2(wanted)))))


def compression_plan(n: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(nlist, held_out, sample) for compressing n vectors: the cells, the sorted positions of
    the vectors held out as recall queries, and the sorted positions of the training sample
    (disjoint from them). Seeded, so the same n gives the same plan."""
    nlist = nlist_for(n)
    rng = np.random.default_rng(RECALL_SEED)
    order = rng.permutation(n)
    held_out = np.sort(order[: min(RECALL_QUERIES, n // 10)])
    sample = np.sort(order[len(held_out) : len(held_out) + max(TRAIN_MIN, TRAIN_PER_LIST * nlist)])
    return nlist, held_out, sample


def choose_nprobe(
    exact_search: ExactSearch,
    probe_search: ProbeSearch,
    nlist: int,
    ids: np.ndarray,
    held_out: np.ndarray,
    rows: Rows,
    min_recall: float,
) -> tuple[int, float, list[tuple[int, float]]]:
    """The smallest nprobe in 1, 2, 4 ... nlist whose recall@10 against exact search
    reaches min_recall (else the best one), with the recall of each tried.

    Two sets of queries, and the lower recall counts: the held-out stored vectors, each
    left out of its own results, and the normalised midpoints of pairs of them. A question
    lies between passages more than on one (at 1M, nprobe chosen on stored vectors alone
    found 0.93 of the exact 10 for real questions, against a target of 0.95; midpoints are
    a little harder than real questions). A result counts when its exact score is at
    least the exact 10th's, so ties (duplicate passages) count."""
    stored = rows(held_out)
    between = stored + np.roll(stored, 1, axis=0)
    between /= np.maximum(np.linalg.norm(between, axis=1, keepdims=True), 1e-9)
    queries = np.ascontiguousarray(np.vstack([stored, between]), dtype=np.float32)
    own = np.concatenate([ids[held_out], np.full(len(held_out), -2, dtype=np.int64)])
    kinds = np.repeat([0, 1], len(held_out))
    exact = exact_search(queries, RECALL_K + 1)
    exact_top = [
        [int(i) for i in row if i != q and i != -1][:RECALL_K]
        for row, q in zip(exact, own, strict=True)
    ]
    sorter = np.argsort(ids)

    def exact_scores(per_query: list[list[int]]) -> list[np.ndarray]:
        flat_ids = np.array([i for got in per_query for i in got], dtype=np.int64)
        found = rows(sorter[np.searchsorted(ids, flat_ids, sorter=sorter)])
        out, at = [], 0
        for q, got in enumerate(per_query):
            out.append(found[at : at + len(got)] @ queries[q])
            at += len(got)
        return out

    kth = [s.min() if len(s) else -np.inf for s in exact_scores(exact_top)]
    wanted = np.array([len(e) for e in exact_top])
    ladder: list[tuple[int, float]] = []
    nprobe = 1
    while True:
        found = probe_search(queries, RECALL_K + 1, nprobe)
        approx = [
            [int(i) for i in row if i != q and i != -1][:RECALL_K]
            for row, q in zip(found, own, strict=True)
        ]
        good = np.array(
            [int((s >= t - 1e-5).sum()) for s, t in zip(exact_scores(approx), kth, strict=True)]
        )
        recall = min(
            float(good[kinds == kind].sum() / max(wanted[kinds == kind].sum(), 1))
            for kind in (0, 1)
        )
        ladder.append((nprobe, recall))
        if recall >= min_recall or nprobe >= nlist:
            break
        nprobe *= 2
    if ladder[-1][1] < min_recall:  # not reached: the best one (ties: the smallest)
        nprobe, recall = max(ladder, key=lambda t: (t[1], -t[0]))
    return nprobe, recall, ladder
