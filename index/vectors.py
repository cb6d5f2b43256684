"""Stage: passage vectors <-> a FAISS index keyed by passage_id, saved atomically.
Side effects: reads and writes `<data_dir>/passages.faiss` (and its `.lock`).

SQLite is the truth and this file is derived from it. A save writes a temporary file and renames
it over the old one under an inter-process lock, so another process reading the data dir sees the
old index or the new one, never a torn file. `sync` brings the index in line with the database:
it adds vectors that are stored but not indexed (a process killed between the SQLite commit and
the FAISS save) and drops ids the database no longer has; an index built for another model or
dimension is discarded and rebuilt.

File layout: one JSON header line (format, model, dim, count, generation), then FAISS's own
serialisation of an `IndexIDMap2(IndexFlatIP)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from filelock import FileLock

log = logging.getLogger(__name__)

FORMAT = 1
MAGIC = b"WIREWATCH-FAISS"

# What `sync` needs from the store, without importing it (kept small for testing).
EmbeddedIds = Callable[[], Awaitable[np.ndarray]]
EmbeddingBatches = Callable[[np.ndarray], AsyncIterator[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int
    removed: int
    rebuilt: bool


class VectorIndex:
    """A FAISS inner-product index over unit vectors, keyed by passage_id."""

    def __init__(self, path: Path, dim: int, model_id: str) -> None:
        self.path = path
        self.dim = dim
        self.model_id = model_id
        self._index: Any = self._empty()
        self._generation = ""  # of the file our in-memory index was loaded from or saved to
        self._mtime_ns = 0
        self._guard = threading.RLock()  # FAISS calls run in worker threads
        self._syncing = asyncio.Lock()  # sync() and refresh() never overlap in one process
        self._file_lock = FileLock(str(path) + ".lock", timeout=60, thread_local=False)
        self.stale_on_disk = False  # the file held another model/dim and was not used

    def _empty(self) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    # ---- reading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, dim: int, model_id: str) -> VectorIndex:
        """The index at `path`; empty if there is none or it was built for another model."""
        vi = cls(path, dim, model_id)
        vi._load_from_disk()
        return vi

    def _read_file(self, *, header_only: bool = False) -> tuple[dict[str, Any], bytes] | None:
        """(header, payload) of the file on disk; None when absent. A file that is not ours or
        whose header is unreadable counts as corrupt: header {"corrupt": True}."""
        try:
            with self.path.open("rb") as fh:
                header_line = fh.readline(1 << 16)
                payload = b"" if header_only else fh.read()
                stat = os.fstat(fh.fileno())
        except FileNotFoundError:
            return None
        try:
            if not header_line.startswith(MAGIC):
                raise ValueError("not a Wirewatch vector index")
            header = dict(json.loads(header_line[len(MAGIC) :]))
        except ValueError as exc:
            log.warning(
                "vector index file %s is unreadable (%s): it will be rebuilt", self.path, exc
            )
            header = {"corrupt": True}
        header["_mtime_ns"] = stat.st_mtime_ns
        return header, payload

    def _load_from_disk(self) -> None:
        read = self._read_file()
        if read is None:
            return
        header, payload = read
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
        try:
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError as exc:  # truncated or damaged payload
            log.warning(
                "vector index file %s is damaged (%s): it will be rebuilt",
                self.path,
                str(exc).splitlines()[0] if str(exc) else "unreadable",
            )
            self.stale_on_disk = True
            return
        if index.d != self.dim or index.ntotal != header.get("count", index.ntotal):
            self.stale_on_disk = True
            return
        with self._guard:
            self._index = index
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
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest passage ids with their cosine scores, best first; only among the
        `allowed` ids when given."""
        with self._guard:
            if self._index.ntotal == 0 or k <= 0:
                return []
            query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                params = faiss.SearchParameters()
                params.sel = selector
                scores, ids = self._index.search(
                    query, min(k, len(allowed), self._index.ntotal), params=params
                )
            else:
                scores, ids = self._index.search(query, min(k, self._index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def memory_bytes(self) -> int:
        """Approximate resident size: the vectors plus the id map."""
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

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._guard:
            return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def reset(self) -> None:
        with self._guard:
            self._index = self._empty()

    def save(self) -> None:
        """Write atomically (temp file, fsync, rename) under the inter-process lock."""
        with self._file_lock:
            self._save_locked()

    def _save_locked(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        generation = uuid.uuid4().hex
        with self._guard:
            payload = faiss.serialize_index(self._index)
            header = {
                "format": FORMAT,
                "model": self.model_id,
                "dim": self.dim,
                "count": int(self._index.ntotal),
                "generation": generation,
            }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            fh.write(MAGIC + json.dumps(header).encode() + b"\n")
            fh.write(payload.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._generation = generation
        self._mtime_ns = self.path.stat().st_mtime_ns
        self.stale_on_disk = False

    def _disk_generation(self) -> str | None:
        read = self._read_file(header_only=True)
        return None if read is None else str(read[0].get("generation", ""))

    async def sync(
        self,
        embedded_ids: EmbeddedIds,
        batches: EmbeddingBatches,
        *,
        changed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> SyncReport:
        """Make the index hold exactly the stored embeddings of this model, then save.

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
            dirty = bool(added or removed or rebuilt or disk_generation is None)
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
