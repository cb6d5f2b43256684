"""Values at the PostgreSQL boundary: times, JSON parameters and WHERE conditions.

Times are TIMESTAMPTZ in the database and aware UTC datetimes in memory, to the second as the
SQLite engine keeps them, so both engines compare and order the same times alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def timestamp(value: datetime) -> datetime:
    """`value` in UTC, to the second; a naive datetime is taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def read_timestamp(value: datetime | None) -> datetime | None:
    """A TIMESTAMPTZ as read, in UTC (the `TimeReader` of this engine)."""
    return None if value is None else value.astimezone(UTC)


def json_text(value: Any) -> str:
    """A JSONB parameter (asyncpg passes JSON as text)."""
    return json.dumps(value, ensure_ascii=False)


def where(equal: Mapping[str, object], *also: str, first: int = 1) -> tuple[str, list[object]]:
    """A WHERE condition: each column of `equal` whose value is not None equals it, and each
    condition of `also` holds (always true when there are none), with its parameters, numbered
    from `$first`."""
    params = [value for value in equal.values() if value is not None]
    columns = [column for column, value in equal.items() if value is not None]
    parts = [f"{column} = ${n}" for n, column in enumerate(columns, start=first)]
    return " AND ".join([*parts, *also]) or "TRUE", params
