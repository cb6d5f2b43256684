"""Stage: a data dir -> a lock that tells whether a process is using it.
Side effects: creates `<data_dir>/.wirewatch.lock` (empty; never removed).

Every process that opens the data dir holds a shared `flock` on the lock file while it does;
`wirewatch restore` takes it exclusively, so it never replaces files under a running bot and no
process opens the data dir while a restore writes it. The kernel drops the lock when a process
dies, so a crash never leaves the data dir locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from index.errors import NewsIndexError

LOCK_NAME = ".wirewatch.lock"


class DataDirBusy(NewsIndexError):
    """Another process holds the data dir in a way this one cannot share."""


@contextlib.contextmanager
def _flock(data_dir: Path, mode: int, busy: str) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DataDirBusy(busy) from exc
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def using(data_dir: Path) -> Iterator[None]:
    """Held while this process uses the data dir (shared with other users)."""
    with _flock(
        data_dir,
        fcntl.LOCK_SH,
        f"the data dir {data_dir} is being restored; try again when the restore has finished",
    ):
        yield


@contextlib.contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Held while no other process may use the data dir; DataDirBusy when one does."""
    with _flock(
        data_dir,
        fcntl.LOCK_EX,
        f"the data dir {data_dir} is in use (a running `wirewatch run`, or another command): "
        "stop it first",
    ):
        yield
