"""Stage: the stored embeddings (and other processes' saves) -> the vector index brought in
line with them (part of `VectorIndex`). Side effects: reads and writes
`<data_dir>/passages.faiss` under its `.lock`, through the methods of index/retrieve/vectors.py.

The methods of `index.retrieve.vectors.VectorIndex` that reconcile it: `sync` adds vectors that are
stored but not indexed (a process killed between the SQLite commit and the FAISS save), drops
ids the database no longer has, discards an index built for another model or dimension, and
turns a compressed index that shrank below half of `compress_above` back to flat from the
database's exact vectors; `refresh` reloads a file another process saved. The FAISS calls stay
in index/retrieve/vectors.py; this module only orders them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from index.retrieve.vectorfile import IVF_SQ8, Kind

if TYPE_CHECKING:
    from filelock import BaseFileLock

# Part of VectorIndex: it logs under index/retrieve/vectors.py's name.
log = logging.getLogger("index.retrieve.vectors")

# What `sync` needs from the store, without importing it (kept small for testing).
EmbeddedIds = Callable[[], Awaitable[np.ndarray]]
EmbeddingBatches = Callable[[np.ndarray], AsyncIterator[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int
    removed: int
    rebuilt: bool


class VectorSync:
    """The reconciling methods of `VectorIndex`; `VectorIndex` sets each attribute below and
    defines each method declared for type checking."""

    path: Path
    compress_above: int
    stale_on_disk: bool
    _index: Any
    _nprobe: int
    _recall: float | None
    _mutations: int
    _generation: str
    _mtime_ns: int
    _guard: threading.RLock
    _syncing: asyncio.Lock
    _file_lock: BaseFileLock

    if TYPE_CHECKING:

        @property
        def kind(self) -> Kind: ...

        def __len__(self) -> int: ...

        def _empty(self) -> Any: ...

        def _read_header(self, fh: IO[bytes]) -> dict[str, Any]: ...

        def _load_from_disk(self) -> None: ...

        def _save_locked(self) -> None: ...

        def _wants_compression(self) -> bool: ...

        def ids(self) -> np.ndarray: ...

        def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

        def remove(self, ids: np.ndarray) -> int: ...

        def reset(self) -> None: ...

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

    def _wants_flat(self) -> bool:
        """A compressed index goes back to flat below half the threshold (or when compression
        is turned off), so one that hovers around the threshold is not rebuilt every sync."""
        return self.kind == IVF_SQ8 and (
            self.compress_above == 0 or len(self) < self.compress_above // 2
        )

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
