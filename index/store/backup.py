"""Stage: a data dir <-> a backup folder (the database, the vector index, a manifest with
checksums and counts). Side effects: writes the backup folder; a restore replaces the data dir's
database and vector index.

Backup is online: SQLite's backup API copies the database page by page from one read
transaction, so the copy is the database as it was at one moment even while the bot writes
(WAL: the writer is never blocked). The vector index is copied as saved last (saves are atomic
renames); it is derived from the database, and the next start reconciles the two. The model
cache (the ONNX exports) is not copied, only its files' checksums recorded: it is rebuilt from
the installed model package when missing or different.

Restore checks the backup before touching anything (each file's SHA-256, `PRAGMA
integrity_check`, the counts against the manifest), refuses a data dir another process is
using (index/store/datadir.py) and, unless `force`, one that already holds a database; it then
writes each file beside its target and renames it into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from index.errors import NewsIndexError
from index.store import datadir
from index.timeutil import to_iso

FORMAT = 1
MANIFEST = "manifest.json"
DB_NAME = "wirewatch.db"
INDEX_NAME = "passages.faiss"
OPTIONAL = ("discord_commands.json",)  # small state files copied when present
PAGES_PER_STEP = 1024  # 4 MiB at 4 KiB pages between progress reports
CHUNK = 1 << 20

# name -> the query counting it, as restore reports and checks them; the layers above that keep
# tables in the database add theirs (`also_count`: the chat layer's watches and alerts)
COUNTS = {
    "feeds": "SELECT count(*) FROM feeds",
    "articles": "SELECT count(*) FROM articles",
    "stories": "SELECT count(*) FROM stories",
    "passages": "SELECT count(*) FROM passages",
    "embedded_passages": "SELECT count(*) FROM passages WHERE embedding IS NOT NULL",
    "fts_rows": "SELECT count(*) FROM passages_fts",
    "events": "SELECT count(*) FROM events",
}
NO_COUNTS: Mapping[str, str] = MappingProxyType({})  # `also_count` by default: none

Progress = Callable[[str, int, int], None]


class BackupError(NewsIndexError):
    """A backup cannot be written, or one cannot be restored as it is."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    files: dict[str, int]  # name -> bytes
    counts: dict[str, int]
    model_cache_files: int
    seconds: float

    def doc(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "files": self.files,
            "counts": self.counts,
            "model_cache_files": self.model_cache_files,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class RestoreReport:
    data_dir: Path
    files: dict[str, int]
    counts: dict[str, int]
    integrity: str  # "ok", from PRAGMA integrity_check of the restored database
    created_at: str  # when the backup was taken
    model_cache: dict[str, int]  # matching / differing / missing files of the model cache

    def doc(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "files": self.files,
            "counts": self.counts,
            "integrity": self.integrity,
            "backup_created_at": self.created_at,
            "model_cache": self.model_cache,
        }


# ---- helpers -------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(folder: Path) -> Iterator[Path]:
    """The files of a folder, less symlinks and lock files (empty, and their owners' own)."""
    if folder.is_dir():
        found = folder.rglob("*")
        yield from sorted(
            p for p in found if p.is_file() and not p.is_symlink() and p.suffix != ".lock"
        )


def _copy(src: Path, dst: Path) -> None:
    """Copy through an open file (a rename over `src` meanwhile does not tear it), fsync."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout, CHUNK)
        fout.flush()
        os.fsync(fout.fileno())


def counts(conn: sqlite3.Connection, also: Mapping[str, str] = NO_COUNTS) -> dict[str, int]:
    queries = {**COUNTS, **also}
    return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in queries.items()}


def _integrity(conn: sqlite3.Connection) -> str:
    rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    return "ok" if rows == ["ok"] else "; ".join(rows[:5])


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


# ---- backup --------------------------------------------------------------------------------
def backup(
    data_dir: Path,
    dest: Path,
    *,
    model_cache: Path | None = None,
    progress: Progress | None = None,
    also_count: Mapping[str, str] = NO_COUNTS,
) -> BackupReport:
    """Copy the data dir's database (online), vector index and small state files into `dest`
    (a new or empty folder), with a manifest of checksums and counts. Blocking."""
    started = time.perf_counter()
    db_path = data_dir / DB_NAME
    if not db_path.is_file():
        raise BackupError(f"no database in {data_dir}: nothing to back up")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder: give a new path")
    dest.mkdir(parents=True, exist_ok=True)
    _copy_database(db_path, dest / DB_NAME, progress)
    copied = [DB_NAME]
    for name in (INDEX_NAME, *OPTIONAL):
        if (data_dir / name).is_file():
            _copy(data_dir / name, dest / name)
            copied.append(name)
    conn = _read_only(dest / DB_NAME)
    try:
        found = counts(conn, also_count)
    finally:
        conn.close()
    files: dict[str, dict[str, Any]] = {}
    for name in copied:
        files[name] = {"bytes": (dest / name).stat().st_size, "sha256": sha256(dest / name)}
        if progress is not None:
            progress("checksums", len(files), len(copied))
    cache = (
        {p.relative_to(model_cache).as_posix(): sha256(p) for p in _files_under(model_cache)}
        if model_cache is not None
        else {}
    )
    manifest = {
        "format": FORMAT,
        "created_at": to_iso(datetime.now(UTC)),
        "files": files,
        "counts": found,
        "model_cache": {"path": str(model_cache) if model_cache else None, "sha256": cache},
    }
    tmp = dest / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, dest / MANIFEST)  # written last: a folder without it is no backup
    return BackupReport(
        path=dest,
        files={name: int(f["bytes"]) for name, f in files.items()},
        counts=found,
        model_cache_files=len(cache),
        seconds=time.perf_counter() - started,
    )


def _copy_database(src_path: Path, dst_path: Path, progress: Progress | None) -> None:
    """SQLite's online backup from one read transaction: a consistent copy however long the
    copy takes, without blocking the writer (WAL)."""
    src = sqlite3.connect(src_path, timeout=30.0, isolation_level=None)
    dst = sqlite3.connect(dst_path, isolation_level=None)
    try:
        src.execute("BEGIN")  # one snapshot for every step below
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()

        def step(status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress("backup", total - remaining, total)

        src.backup(dst, pages=PAGES_PER_STEP, progress=step, sleep=0)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database: {exc}") from exc
    finally:
        dst.close()
        src.close()


# ---- restore -------------------------------------------------------------------------------
def check(src: Path, also_count: Mapping[str, str] = NO_COUNTS) -> dict[str, Any]:
    """The backup's manifest, once every file's checksum, the database's integrity and its
    counts agree with it; BackupError saying what does not."""
    try:
        manifest = dict(json.loads((src / MANIFEST).read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise BackupError(f"{src} has no {MANIFEST}: not a complete Wirewatch backup") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {src / MANIFEST}: {exc}") from exc
    if manifest.get("format") != FORMAT or DB_NAME not in manifest.get("files", {}):
        raise BackupError(f"{src / MANIFEST} is not a Wirewatch backup manifest (format {FORMAT})")
    for name, meta in manifest["files"].items():
        path = src / name
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup")
        if sha256(path) != meta["sha256"]:
            raise BackupError(f"{path} does not match its checksum: the backup is damaged")
    conn = _read_only(src / DB_NAME)
    try:
        integrity = _integrity(conn)
        found = counts(conn, also_count)
    except sqlite3.Error as exc:
        raise BackupError(f"{src / DB_NAME} is not a readable database: {exc}") from exc
    finally:
        conn.close()
    if integrity != "ok":
        raise BackupError(f"{src / DB_NAME} fails its integrity check: {integrity}")
    if found != manifest["counts"]:
        raise BackupError(f"{src / DB_NAME} holds {found}, the manifest says {manifest['counts']}")
    return manifest


def restore(
    src: Path,
    data_dir: Path,
    *,
    force: bool = False,
    model_cache: Path | None = None,
    also_count: Mapping[str, str] = NO_COUNTS,
) -> RestoreReport:
    """Check the backup at `src`, then put it in `data_dir` (see the module doc). Blocking."""
    manifest = check(src, also_count)
    with datadir.exclusive(data_dir):
        target_db = data_dir / DB_NAME
        if target_db.exists() and not force:
            raise BackupError(
                f"{data_dir} already holds a database: give --force to replace it, or restore "
                "into a new data dir"
            )
        names = list(manifest["files"])
        for name in names:  # beside the target first: a failed copy leaves the old files
            _copy(src / name, data_dir / f".{name}.restoring")
        for suffix in ("-wal", "-shm", "-journal"):  # the old database's, if any
            (data_dir / (DB_NAME + suffix)).unlink(missing_ok=True)
        if INDEX_NAME not in names:  # an index of another database would only be rebuilt
            (data_dir / INDEX_NAME).unlink(missing_ok=True)
        for name in names:
            os.replace(data_dir / f".{name}.restoring", data_dir / name)
        conn = sqlite3.connect(target_db)
        try:
            integrity = _integrity(conn)
            found = counts(conn, also_count)
        finally:
            conn.close()
    if integrity != "ok" or found != manifest["counts"]:
        raise BackupError(
            f"the restored database in {data_dir} does not check out ({integrity}; {found})"
        )
    return RestoreReport(
        data_dir=data_dir,
        files={name: (data_dir / name).stat().st_size for name in names},
        counts=found,
        integrity=integrity,
        created_at=str(manifest.get("created_at")),
        model_cache=_compare_cache(manifest, model_cache),
    )


def _compare_cache(manifest: dict[str, Any], model_cache: Path | None) -> dict[str, int]:
    recorded: dict[str, str] = dict(manifest.get("model_cache", {}).get("sha256", {}))
    out = {"matching": 0, "differing": 0, "missing": 0}
    for rel, digest in recorded.items():
        path = model_cache / rel if model_cache is not None else None
        if path is None or not path.is_file():
            out["missing"] += 1
        elif sha256(path) == digest:
            out["matching"] += 1
        else:
            out["differing"] += 1
    return out
