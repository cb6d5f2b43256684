"""Time helpers: aware UTC datetimes in memory, ISO-8601 text in SQLite and JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# How a database driver hands back a time column (SQLite's ISO text, PostgreSQL's TIMESTAMPTZ)
# as an aware UTC datetime, or None for NULL: each engine's reader.
TimeReader = Callable[[Any], datetime | None]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(value: datetime) -> str:
    """ISO-8601 in UTC with a +00:00 offset; naive datetimes are taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def required_iso(value: str | None) -> datetime:
    """`from_iso` of a time that must be there; ValueError when it is not."""
    return required(from_iso(value))


def required(value: datetime | None) -> datetime:
    """A time that must be there; ValueError when it is not."""
    if value is None:
        raise ValueError("a required time is missing")
    return value
