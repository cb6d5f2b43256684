"""Stage: a vector index file's header line <-> its fields; a serialised index -> the file,
written atomically. Side effects: reads the header of `<data_dir>/passages.faiss`; writes a
temporary file beside it and renames it over the old one.

File layout: one JSON header line after MAGIC (format, kind, model, dim, count, generation; for
ivf-sq8 also nlist, nprobe and the recall measured at build time), then FAISS's own
serialisation. A header without "kind" (files written before compression existed) is flat.
FAISS itself stays in index/retrieve/vectors.py: this module sees only bytes and the header.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

FORMAT = 1
MAGIC = b"WIREWATCH-FAISS"

Kind = Literal["flat", "ivf-sq8"]
FLAT: Kind = "flat"
IVF_SQ8: Kind = "ivf-sq8"


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


def parse_header(line: bytes) -> dict[str, Any]:
    """The fields of a header line. Raises ValueError when the line is not a Wirewatch
    vector index header or its JSON is unreadable."""
    if not line.startswith(MAGIC):
        raise ValueError("not a Wirewatch vector index")
    return dict(json.loads(line[len(MAGIC) :]))


def write_index_file(
    path: Path, header: dict[str, Any], payload: bytes | bytearray | memoryview
) -> None:
    """Write the header line and `payload` to a temporary file beside `path`, fsync it and
    rename it over `path`, so a reader sees the old file or the new one, never a torn one.
    The caller holds the inter-process lock."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(MAGIC + json.dumps(header).encode() + b"\n")
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
