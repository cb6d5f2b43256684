"""Stage: SQLite rows -> PostgreSQL records, for `wirewatch migrate-to` (index/store/pg/copy.py).
Side effects: reads the target's column types (`plan_table`); nothing else.

A `Plan` says how one table is read from SQLite (in its primary key's order, in batches after
the last key copied) and written to PostgreSQL: its columns, in PostgreSQL's order, each with
the converter its PostgreSQL type wants (`CONVERTERS`: ISO-8601 text -> TIMESTAMPTZ,
'YYYY-MM-DD' -> DATE, 0/1 -> BOOLEAN, JSON text -> JSONB, float32 BLOB -> `vector`, BLOB ->
BYTEA). Text that is not JSON, as a damaged watch may hold, goes in as a JSON string of itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from index.errors import StoreError
from index.store.pg.textsearch import fts_values
from index.store.pg.values import json_text
from index.timeutil import from_iso

log = logging.getLogger(__name__)


class CopyError(StoreError):
    """The copy cannot be made, or stopped before the end."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How one table is read from SQLite and written to PostgreSQL."""

    table: str
    columns: tuple[str, ...]  # copied, in PostgreSQL's order
    types: tuple[str, ...]  # their PostgreSQL types
    converters: tuple[Callable[[Any], Any] | None, ...]
    key: tuple[str, ...]  # SQLite's primary key; () for a table without one (copied whole)
    identity: str | None  # PostgreSQL's identity column
    with_fts: bool  # passages: `fts` is computed from the article's title and the text

    def select(self, after: Sequence[Any] | None, limit: int) -> tuple[str, list[Any]]:
        """The SQLite query of the next batch after the key `after` (None: the first); the
        key's values end each row, behind the copied columns and, for passages, the title."""
        prefix = "p." if self.with_fts else ""
        key = [prefix + k for k in self.key] or ["rowid"]
        picked = [prefix + c for c in self.columns] + (["a.title"] if self.with_fts else [])
        source = self.table
        if self.with_fts:
            source = "passages p JOIN articles a ON a.article_id = p.article_id"
        where = ""
        if after is not None:
            where = f" WHERE ({', '.join(key)}) > ({', '.join('?' * len(key))})"
        sql = (
            f"SELECT {', '.join(picked + key)} FROM {source}{where} "
            f"ORDER BY {', '.join(key)} LIMIT ?"
        )
        return sql, [*(after or ()), limit]

    def records(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """SQLite rows -> PostgreSQL records (for passages, the folded title and text last)."""
        text_at = self.columns.index("text") if self.with_fts else 0
        out = []
        for row in rows:
            values = [
                value if convert is None or value is None else self._convert(name, convert, value)
                for name, convert, value in zip(self.columns, self.converters, row, strict=False)
            ]
            if self.with_fts:
                values.extend(fts_values(row[len(self.columns)] or "", row[text_at]))
            out.append(tuple(values))
        return out

    def _convert(self, column: str, convert: Callable[[Any], Any], value: Any) -> Any:
        try:
            return convert(value)
        except (ValueError, TypeError) as exc:
            raise CopyError(f"{self.table}.{column}: cannot convert {value!r:.80}: {exc}") from exc

    def last_key(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        return list(rows[-1][-(len(self.key) or 1) :])


def to_time(value: str) -> datetime | None:
    parsed = from_iso(value)
    return None if parsed is None else parsed.astimezone(UTC)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def to_json(value: str | bytes) -> str:
    text = value if isinstance(value, str) else bytes(value).decode("utf-8")
    try:
        json.loads(text, parse_constant=_no_constant)
    except ValueError:
        log.warning("not JSON: copied as a JSON string", extra={"value": text[:80]})
        return json_text(text)
    return text


def to_vector(value: bytes) -> np.ndarray:
    blob = bytes(value)
    if not blob or len(blob) % 4:
        raise ValueError(f"{len(blob)} bytes is not a float32 vector")
    return np.frombuffer(blob, dtype=np.float32)


# PostgreSQL type (format_type) -> SQLite value -> its value; None: passed as it is.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "timestamp with time zone": to_time,
    "date": date.fromisoformat,
    "boolean": lambda v: bool(int(v)),
    "jsonb": to_json,
    "vector": to_vector,
    "bytea": bytes,
    "double precision": float,
}


async def plan_table(conn: Any, table: str, mine: Sequence[str], key: Sequence[str]) -> Plan:
    """How to copy `table`, whose SQLite columns are `mine` and primary key `key` (in key
    order), from the columns of both sides. CopyError when a SQLite column has no PostgreSQL
    column, or a required PostgreSQL column no value."""
    found = await conn.fetch(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, "
        "a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AS required, "
        "a.attidentity <> '' AS identity FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        table,
    )
    if not found:
        raise CopyError(f"PostgreSQL has no table {table}")
    theirs = {r["name"] for r in found}
    if lost := [c for c in mine if c not in theirs]:
        raise CopyError(f"{table}: PostgreSQL has no column for {', '.join(lost)}")
    with_fts = table == "passages"
    unfilled = [
        r["name"]
        for r in found
        if r["required"] and r["name"] not in mine and not (with_fts and r["name"] == "fts")
    ]
    if unfilled:
        raise CopyError(f"{table}: nothing in SQLite fills {', '.join(unfilled)}")
    copied = [r for r in found if r["name"] in mine]
    return Plan(
        table=table,
        columns=tuple(r["name"] for r in copied),
        types=tuple(r["type"] for r in copied),
        converters=tuple(CONVERTERS.get(r["type"]) for r in copied),
        key=tuple(key),
        identity=next((r["name"] for r in found if r["identity"]), None),
        with_fts=with_fts,
    )
