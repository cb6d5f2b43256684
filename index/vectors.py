"""Stage: passage vectors <-> a FAISS index keyed by passage_id, saved atomically.
Side effects: reads and writes `<data_dir>/passages.faiss` (and its `.lock`).

SQLite is the truth and this file is derived from it. A save writes a temporary file and renames
it over the old one under an inter-process lock, so another process reading the data dir sees the
old index or the new one, never a torn file. `sync` brings the index in line with the database:
it adds vectors that are stored but not indexed (a process killed between the SQLite commit and
the FAISS save) and drops ids the database no longer has; an index built for another model or
dimension is discarded and rebuilt.

Two kinds of index, with the same API:

* "flat": `IndexIDMap2(IndexFlatIP)`, exact; 4 bytes per dimension per vector.
* "ivf-sq8": `IndexIVFScalarQuantizer` (inverted lists over `nlist` k-means cells, each vector
  kept as 8-bit codes of its residual), about a quarter of the memory; approximate. A search
  for k scans the `nprobe` * ceil(k / 10) cells nearest the query; nprobe is chosen when the
  index is built, as the smallest that finds at least `min_recall` of the exact top 10 for a
  few hundred of the index's own vectors (each left out of its own results) and for midpoints
  of pairs of them, used as queries.
  Scores are cosines up to the 8-bit rounding (~1e-3).

An index that holds `compress_above` vectors or more (0: never) is compressed when it is next
saved, trained on its own vectors. A compressed index that shrinks below half of that goes back
to flat at the next `sync`, which re-reads the exact vectors from the database.

File layout: one JSON header line (format, kind, model, dim, count, generation; for ivf-sq8 also
nlist, nprobe and the recall measured at build time), then FAISS's own serialisation. A header
without "kind" (files written before compression existed) is flat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import faiss
import numpy as np
from filelock import FileLock

log = logging.getLogger(__name__)

FORMAT = 1
MAGIC = b"WIREWATCH-FAISS"

Kind = Literal["flat", "ivf-sq8"]
FLAT: Kind = "flat"
IVF_SQ8: Kind = "ivf-sq8"

MIN_COMPRESSED = 1000  # fewer vectors than this are never compressed, whatever compress_above
NLIST_MIN, NLIST_MAX = 64, 16384
TRAIN_MIN = 50_000  # k-means sample: this many vectors (all when fewer) ...
TRAIN_PER_LIST = 8  # ... or this many per cell when more (a larger sample trains 3x slower at
# 1M for a smaller nprobe at the same recall, and scanning cells costs far less than training)
RECALL_K = 10  # nprobe is chosen by recall@10 against exact search
RECALL_QUERIES = 256  # stored vectors held out of training: with their pairs' midpoints, queries
RECALL_SEED = 20260101
ADD_CHUNK = 65_536  # vectors copied from the flat index at a time while compressing

# What `sync` needs from the store, without importing it (kept small for testing).
EmbeddedIds = Callable[[], Awaitable[np.ndarray]]
EmbeddingBatches = Callable[[np.ndarray], AsyncIterator[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int
    removed: int
    rebuilt: bool


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


class _Changed(Exception):
    """The flat index changed while it was being compressed: keep it flat for now."""


def _reader(fh: IO[bytes]) -> Any:
    """A FAISS reader that streams from an open file (no copy of the payload in memory)."""
    return faiss.PyCallbackIOReader(fh.read)  # type: ignore[attr-defined]


def _ivf_params(nprobe: int) -> Any:
    params = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    return params


def file_kind(path: Path) -> Kind | None:
    """The kind of the index saved at `path`, from its header alone; None when there is no
    file or it is not a readable Wirewatch index."""
    try:
        with path.open("rb") as fh:
            line = fh.readline(1 << 16)
        kind = json.loads(line[len(MAGIC) :]).get("kind", FLAT) if line.startswith(MAGIC) else None
    except (OSError, ValueError, AttributeError):
        return None
    return kind if kind in (FLAT, IVF_SQ8) else None


def saved_model(path: Path) -> tuple[str, int] | None:
    """(model id, dimension) the index saved at `path` was built for, from its header alone;
    None when there is no file or it is not a readable Wirewatch index."""
    try:
        with path.open("rb") as fh:
            line = fh.readline(1 << 16)
        header = json.loads(line[len(MAGIC) :]) if line.startswith(MAGIC) else {}
        return str(header["model"]), int(header["dim"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def nlist_for(n: int) -> int:
    """Cells for n vectors: about 4 * sqrt(n), a power of two, within [64, 16384]."""
    wanted = 4.0 * math.sqrt(max(n, 1))
    return int(min(NLIST_MAX, max(NLIST_MIN, 2 ** round(math.log2(wanted)))))


class VectorIndex:
    """A FAISS inner-product index over unit vectors, keyed by passage_id: flat (exact), or
    compressed (IVF + 8-bit scalar quantizer) from `compress_above` vectors on (0: never)."""

    def __init__(
        self,
        path: Path,
        dim: int,
        model_id: str,
        *,
        compress_above: int = 0,
        min_recall: float = 0.95,
    ) -> None:
        if compress_above < 0 or not 0.0 < min_recall <= 1.0:
            raise ValueError("compress_above must be >= 0 and min_recall in (0, 1]")
        self.path = path
        self.dim = dim
        self.model_id = model_id
        self.compress_above = compress_above
        self.min_recall = min_recall
        self._index: Any = self._empty()
        self._nprobe = 0  # ivf-sq8 only
        self._recall: float | None = None  # ivf-sq8: recall@10 measured when it was built
        self._mutations = 0  # bumped by every change of _index (compression checks it)
        self._generation = ""  # of the file our in-memory index was loaded from or saved to
        self._mtime_ns = 0
        self._guard = threading.RLock()  # FAISS calls run in worker threads
        self._syncing = asyncio.Lock()  # sync() and refresh() never overlap in one process
        self._file_lock = FileLock(str(path) + ".lock", timeout=60, thread_local=False)
        self.stale_on_disk = False  # the file held another model/dim and was not used
        self.last_build: BuildReport | None = None  # of the compression this process ran

    def _empty(self) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def kind(self) -> Kind:
        return IVF_SQ8 if isinstance(self._index, faiss.IndexIVF) else FLAT

    @property
    def nprobe(self) -> int:
        """Cells scanned per search (0 for flat)."""
        return self._nprobe

    @property
    def nlist(self) -> int:
        """Cells of a compressed index (0 for flat)."""
        index = self._index
        return int(index.nlist) if isinstance(index, faiss.IndexIVF) else 0

    @property
    def build_recall(self) -> float | None:
        """Recall@10 against exact search measured when the compressed index was built."""
        return self._recall

    # ---- reading -------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: Path,
        dim: int,
        model_id: str,
        *,
        compress_above: int = 0,
        min_recall: float = 0.95,
    ) -> VectorIndex:
        """The index at `path`; empty if there is none or it was built for another model."""
        vi = cls(path, dim, model_id, compress_above=compress_above, min_recall=min_recall)
        vi._load_from_disk()
        return vi

    def _read_header(self, fh: IO[bytes]) -> dict[str, Any]:
        """The header of an open index file. A file that is not ours or whose header is
        unreadable counts as corrupt: {"corrupt": True}."""
        header_line = fh.readline(1 << 16)
        mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
        try:
            if not header_line.startswith(MAGIC):
                raise ValueError("not a Wirewatch vector index")
            header = dict(json.loads(header_line[len(MAGIC) :]))
        except ValueError as exc:
            log.warning(
                "vector index file %s is unreadable (%s): it will be rebuilt", self.path, exc
            )
            header = {"corrupt": True}
        header["_mtime_ns"] = mtime_ns
        return header

    def _load_from_disk(self) -> None:
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return
        with fh:  # an open file survives another process's rename over it
            header = self._read_header(fh)
            if header.get("corrupt"):
                self.stale_on_disk = True
                return
            if header.get("model") != self.model_id or header.get("dim") != self.dim:
                log.warning(
                    "vector index was built for %s (dim %s), not %s: it will be rebuilt",
                    header.get("model"),
                    header.get("dim"),
                    self.model_id,
                )
                self.stale_on_disk = True
                return
            try:  # streamed: no second copy of the payload in memory
                index: Any = faiss.read_index(_reader(fh))
            except RuntimeError as exc:  # truncated or damaged payload
                log.warning(
                    "vector index file %s is damaged (%s): it will be rebuilt",
                    self.path,
                    str(exc).splitlines()[0] if str(exc) else "unreadable",
                )
                self.stale_on_disk = True
                return
        kind = header.get("kind", FLAT)  # files written before compression existed: flat
        expected: Any = {FLAT: faiss.IndexIDMap2, IVF_SQ8: faiss.IndexIVFScalarQuantizer}.get(kind)
        if (
            expected is None
            or not isinstance(index, expected)
            or index.d != self.dim
            or index.ntotal != header.get("count", index.ntotal)
        ):
            self.stale_on_disk = True
            return
        nprobe = 0
        if kind == IVF_SQ8:
            nprobe = min(max(int(header.get("nprobe", 1)), 1), int(index.nlist))
            index.nprobe = nprobe
        recall = header.get("recall")
        with self._guard:
            self._index = index
            self._nprobe = nprobe
            self._recall = float(recall) if kind == IVF_SQ8 and recall is not None else None
            self._mutations += 1
            self._generation = str(header.get("generation", ""))
            self._mtime_ns = int(header["_mtime_ns"])
            self.stale_on_disk = False

    async def refresh(self) -> bool:
        """Reload if another process saved a newer file; True when reloaded. Waits for a sync
        of this process to finish, so a reload never drops vectors it is adding."""
        async with self._syncing:
            return await asyncio.to_thread(self._refresh)

    def _refresh(self) -> bool:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == self._mtime_ns:
            return False
        self._load_from_disk()
        return True

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._guard:
            index = self._index
            if not isinstance(index, faiss.IndexIVF):
                return faiss.vector_to_array(index.id_map).astype(np.int64)
            invlists: Any = index.invlists
            parts = [np.zeros(0, dtype=np.int64)]
            for cell in range(index.nlist):
                size = invlists.list_size(cell)
                if size:
                    parts.append(faiss.rev_swig_ptr(invlists.get_ids(cell), size).copy())
            return np.concatenate(parts).astype(np.int64)

    async def nearest(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """`search` off the event loop (the call both engines' vector indexes answer)."""
        return await asyncio.to_thread(self.search, vector, k, allowed)

    def search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest passage ids with their cosine scores, best first; only among the
        `allowed` ids when given."""
        with self._guard:
            index = self._index
            if index.ntotal == 0 or k <= 0:
                return []
            query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            selector = None
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                k = min(k, len(allowed))
            k = min(k, int(index.ntotal))
            if isinstance(index, faiss.IndexIVF):
                scores, ids = self._search_ivf(index, query, k, selector, allowed)
            elif selector is not None:
                params = faiss.SearchParameters()
                params.sel = selector
                scores, ids = index.search(query, k, params=params)
            else:
                scores, ids = index.search(query, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def _search_ivf(
        self, index: Any, query: np.ndarray, k: int, selector: Any, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scan the cells chosen for the 10 nearest, times k / 10: the k-th nearest lies
        farther and its neighbours in more cells (at 1M with nprobe 16: recall@40 0.74 in 16
        cells, 0.99 in 64, for 0.3 ms more).
        A scoped search scans more, in proportion to how few vectors it may return, so it meets
        about as many candidates as an open one. When the cells scanned hold fewer than k
        results, scan twice as many, up to all of them."""
        nlist = int(index.nlist)
        nprobe = max(self._nprobe, 1) * math.ceil(k / RECALL_K)
        if allowed is not None:
            nprobe = max(nprobe, math.ceil(nprobe * int(index.ntotal) / len(allowed)))
        while True:
            nprobe = min(nprobe, nlist)
            params = _ivf_params(nprobe)
            if selector is not None:
                params.sel = selector
            scores, ids = index.search(query, k, params=params)
            if nprobe >= nlist or int((ids[0] != -1).sum()) >= k:
                return scores, ids
            nprobe *= 2

    def memory_bytes(self) -> int:
        """Approximate resident size: the vectors (or their codes) plus the ids; for a
        compressed index also the cell centroids and the quantizer's ranges."""
        with self._guard:
            index = self._index
            if isinstance(index, faiss.IndexIVF):
                return (
                    len(self) * (int(index.code_size) + 8)
                    + int(index.nlist) * self.dim * 4
                    + 2 * self.dim * 4
                )
        return len(self) * (self.dim * 4 + 8)

    # ---- writing -------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(
                f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}"
            )
        with self._guard:
            self._index.remove_ids(ids)  # re-adding an id replaces its vector
            self._index.add_with_ids(vectors, ids)
            self._mutations += 1

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._guard:
            self._mutations += 1
            return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def reset(self) -> None:
        with self._guard:
            self._index = self._empty()
            self._nprobe = 0
            self._recall = None
            self._mutations += 1

    def save(self) -> None:
        """Write atomically (temp file, fsync, rename) under the inter-process lock; a flat
        index of `compress_above` vectors or more is compressed first (blocking: about 30 s at
        a million vectors on 2 cores)."""
        with self._file_lock:
            self._save_locked()

    def _save_locked(self) -> None:
        if self._wants_compression():
            try:
                self._compress()
            except Exception:  # an optimisation: a failure must not cost the save
                log.exception("vector index compression failed: it stays flat for now")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        generation = uuid.uuid4().hex
        with self._guard:
            payload = faiss.serialize_index(self._index)
            header: dict[str, Any] = {
                "format": FORMAT,
                "kind": self.kind,
                "model": self.model_id,
                "dim": self.dim,
                "count": int(self._index.ntotal),
                "generation": generation,
            }
            if self.kind == IVF_SQ8:
                header.update(nlist=self.nlist, nprobe=self._nprobe, recall=self._recall)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            fh.write(MAGIC + json.dumps(header).encode() + b"\n")
            fh.write(payload.data)
            fh.flush()
            os.fsync(fh.fileno())
        del payload
        os.replace(tmp, self.path)
        self._generation = generation
        self._mtime_ns = self.path.stat().st_mtime_ns
        self.stale_on_disk = False

    # ---- compression ---------------------------------------------------------------------------
    def _wants_compression(self) -> bool:
        n = len(self)
        return (
            self.kind == FLAT
            and self.compress_above > 0
            and n >= max(self.compress_above, MIN_COMPRESSED)
        )

    def _wants_flat(self) -> bool:
        """A compressed index goes back to flat below half the threshold (or when compression
        is turned off), so one that hovers around the threshold is not rebuilt every sync."""
        return self.kind == IVF_SQ8 and (
            self.compress_above == 0 or len(self) < self.compress_above // 2
        )

    def _compress(self) -> None:
        """Rebuild the flat index as ivf-sq8, trained on its own vectors, with nprobe chosen by
        measured recall. Searches go on meanwhile: the flat index is read a chunk at a time
        and the new one replaces it at the end. Runs in a worker thread, never on the loop."""
        with self._guard:
            source, start = self._index, self._mutations
            ids = faiss.vector_to_array(source.id_map).astype(np.int64)
        n = len(ids)
        flat: Any = faiss.downcast_index(source.index)

        def rows(which: np.ndarray | slice) -> np.ndarray:
            """A copy of some of the flat index's vectors, if it has not changed meanwhile."""
            with self._guard:
                if self._mutations != start:
                    raise _Changed
                xb = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)
                return np.array(xb[which], dtype=np.float32)

        nlist = nlist_for(n)
        rng = np.random.default_rng(RECALL_SEED)
        order = rng.permutation(n)
        held_out = np.sort(order[: min(RECALL_QUERIES, n // 10)])
        sample = np.sort(
            order[len(held_out) : len(held_out) + max(TRAIN_MIN, TRAIN_PER_LIST * nlist)]
        )
        try:
            started = time.perf_counter()
            index = faiss.IndexIVFScalarQuantizer(
                faiss.IndexFlatIP(self.dim),
                self.dim,
                nlist,
                faiss.ScalarQuantizer.QT_8bit,
                faiss.METRIC_INNER_PRODUCT,
            )
            index.cp.spherical = True  # unit centroids suit inner-product search
            index.cp.min_points_per_centroid = 1  # a small sample is intended: no warning
            index.train(rows(sample))
            train_s = time.perf_counter() - started
            started = time.perf_counter()
            for first in range(0, n, ADD_CHUNK):
                part = slice(first, min(first + ADD_CHUNK, n))
                index.add_with_ids(rows(part), ids[part])
            add_s = time.perf_counter() - started
            started = time.perf_counter()
            nprobe, recall, ladder = self._choose_nprobe(index, source, ids, held_out, rows)
            tune_s = time.perf_counter() - started
        except _Changed:
            log.info("vector index changed while being compressed: it stays flat for now")
            return
        index.nprobe = nprobe
        with self._guard:
            if self._mutations != start:
                log.info("vector index changed while being compressed: it stays flat for now")
                return
            self._index, self._nprobe, self._recall = index, nprobe, recall
            self._mutations += 1
        self.last_build = BuildReport(
            vectors=n,
            nlist=nlist,
            nprobe=nprobe,
            recall=recall,
            min_recall=self.min_recall,
            trained_on=len(sample),
            queries=2 * len(held_out),
            ladder=tuple(ladder),
            train_s=train_s,
            add_s=add_s,
            tune_s=tune_s,
        )
        (log.info if recall >= self.min_recall else log.warning)(
            "vector index compressed (ivf-sq8): %d vectors, nlist %d, nprobe %d, recall@10 "
            "%.3f against exact (target %.2f), trained on %d in %.1f s, added in %.1f s",
            n,
            nlist,
            nprobe,
            recall,
            self.min_recall,
            len(sample),
            train_s,
            add_s,
        )

    def _choose_nprobe(
        self,
        index: Any,
        source: Any,
        ids: np.ndarray,
        held_out: np.ndarray,
        rows: Callable[[np.ndarray], np.ndarray],
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
        with self._guard:
            _, exact = source.search(queries, RECALL_K + 1)
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
        nprobe, nlist = 1, int(index.nlist)
        while True:
            _, found = index.search(queries, RECALL_K + 1, params=_ivf_params(nprobe))
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
            if recall >= self.min_recall or nprobe >= nlist:
                break
            nprobe *= 2
        if ladder[-1][1] < self.min_recall:  # not reached: the best one (ties: the smallest)
            nprobe, recall = max(ladder, key=lambda t: (t[1], -t[0]))
        return nprobe, recall, ladder

    async def _decompress(self, batches: EmbeddingBatches) -> None:
        """Rebuild a compressed index as flat from the database's exact vectors."""
        ids = await asyncio.to_thread(self.ids)
        flat = self._empty()
        async for part_ids, vectors in batches(ids):
            await asyncio.to_thread(
                flat.add_with_ids,
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(part_ids, dtype=np.int64),
            )
        with self._guard:
            self._index, self._nprobe, self._recall = flat, 0, None
            self._mutations += 1
        log.info(
            "vector index back to flat: %d vectors (compressed from %d on)",
            len(self),
            self.compress_above,
        )

    # ---- reconciling with the database ---------------------------------------------------------
    def _disk_generation(self) -> str | None:
        try:
            with self.path.open("rb") as fh:
                return str(self._read_header(fh).get("generation", ""))
        except FileNotFoundError:
            return None

    async def sync(
        self,
        embedded_ids: EmbeddedIds,
        batches: EmbeddingBatches,
        *,
        changed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> SyncReport:
        """Make the index hold exactly the stored embeddings of this model, then save (which
        compresses an index that reached `compress_above`; one that shrank below half of it
        is rebuilt flat from `batches` first).

        With `changed` = (ids added, ids removed) and an unchanged file on disk, only those are
        applied (the fast path after an ingest). Otherwise the whole id set is compared with
        the database's.
        """
        async with self._syncing:
            return await self._sync_locked(embedded_ids, batches, changed)

    async def _sync_locked(
        self,
        embedded_ids: EmbeddedIds,
        batches: EmbeddingBatches,
        changed: tuple[np.ndarray, np.ndarray] | None,
    ) -> SyncReport:
        await asyncio.to_thread(self._file_lock.acquire)
        try:
            disk_generation = await asyncio.to_thread(self._disk_generation)
            rebuilt = self.stale_on_disk
            if disk_generation not in (None, self._generation):
                await asyncio.to_thread(self._load_from_disk)  # another writer saved meanwhile
                changed = None
            if rebuilt:
                self.reset()
                changed = None
            if changed is not None:
                wanted = np.asarray(changed[0], dtype=np.int64)
                removed = await asyncio.to_thread(
                    self.remove, np.asarray(changed[1], dtype=np.int64)
                )
            else:
                stored = await embedded_ids()
                indexed = await asyncio.to_thread(self.ids)
                wanted = np.setdiff1d(stored, indexed, assume_unique=True)
                extra = np.setdiff1d(indexed, stored, assume_unique=True)
                removed = await asyncio.to_thread(self.remove, extra)
            added = 0
            async for ids, vectors in batches(wanted):
                await asyncio.to_thread(self.add, ids, vectors)
                added += len(ids)
            refit = self._wants_flat()
            if refit:
                await self._decompress(batches)
            refit = refit or self._wants_compression()  # the save compresses
            dirty = bool(added or removed or rebuilt or refit or disk_generation is None)
            if dirty:
                await asyncio.to_thread(self._save_locked)
            if added or removed or rebuilt:
                log.info(
                    "vector index synced: %d added, %d removed%s",
                    added,
                    removed,
                    " (rebuilt)" if rebuilt else "",
                )
            return SyncReport(added=added, removed=removed, rebuilt=rebuilt)
        finally:
            self._file_lock.release()
