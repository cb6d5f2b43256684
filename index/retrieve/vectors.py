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

File layout: one JSON header line, then FAISS's own serialisation (index/retrieve/vectorfile.py,
which also writes the file). How nprobe is chosen, and the sizes compression works with, are in
index/retrieve/compression.py; `sync` and `refresh` in index/retrieve/vectorsync.py. The FAISS calls
are all here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

import faiss
import numpy as np
from filelock import FileLock

from index.retrieve.compression import (
    ADD_CHUNK,
    MIN_COMPRESSED,
    NLIST_MAX,
    NLIST_MIN,
    RECALL_K,
    RECALL_QUERIES,
    RECALL_SEED,
    TRAIN_MIN,
    TRAIN_PER_LIST,
    BuildReport,
    Rows,
    choose_nprobe,
    compression_plan,
    nlist_for,
)
from index.retrieve.vectorfile import (
    FLAT,
    FORMAT,
    IVF_SQ8,
    MAGIC,
    Kind,
    file_kind,
    parse_header,
    saved_model,
    write_index_file,
)
from index.retrieve.vectorsync import EmbeddedIds, EmbeddingBatches, SyncReport, VectorSync

__all__ = [
    "ADD_CHUNK",
    "FLAT",
    "FORMAT",
    "IVF_SQ8",
    "MAGIC",
    "MIN_COMPRESSED",
    "NLIST_MAX",
    "NLIST_MIN",
    "RECALL_K",
    "RECALL_QUERIES",
    "RECALL_SEED",
    "TRAIN_MIN",
    "TRAIN_PER_LIST",
    "BuildReport",
    "EmbeddedIds",
    "EmbeddingBatches",
    "Kind",
    "SyncReport",
    "VectorIndex",
    "file_kind",
    "nlist_for",
    "saved_model",
]

log = logging.getLogger(__name__)


class _Changed(Exception):
    """The flat index changed while it was being compressed: keep it flat for now."""


def _reader(fh: IO[bytes]) -> Any:
    """A FAISS reader that streams from an open file (no copy of the payload in memory)."""
    return faiss.PyCallbackIOReader(fh.read)  # type: ignore[attr-defined]


def _ivf_params(nprobe: int) -> Any:
    params = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    return params


class VectorIndex(VectorSync):
    """A FAISS inner-product index over unit vectors, keyed by passage_id: flat (exact), or
    compressed (IVF + 8-bit scalar quantizer) from `compress_above` vectors on (0: never).
    `sync` and `refresh` are in index/retrieve/vectorsync.py."""

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
            header = parse_header(header_line)
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
        write_index_file(self.path, header, payload.data)
        del payload
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

        nlist, held_out, sample = compression_plan(n)
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
        rows: Rows,
    ) -> tuple[int, float, list[tuple[int, float]]]:
        """The smallest nprobe in 1, 2, 4 ... nlist of the new compressed `index` whose
        recall@10 against exact search on the flat `source` reaches min_recall (else the best
        one), with the recall of each tried (compression.choose_nprobe)."""

        def exact_search(queries: np.ndarray, k: int) -> np.ndarray:
            with self._guard:
                _, exact = source.search(queries, k)
            return np.asarray(exact)

        def probe_search(queries: np.ndarray, k: int, nprobe: int) -> np.ndarray:
            _, found = index.search(queries, k, params=_ivf_params(nprobe))
            return np.asarray(found)

        return choose_nprobe(
            exact_search, probe_search, int(index.nlist), ids, held_out, rows, self.min_recall
        )
