"""Stage: what the parts of the embedded engine's `Store` share: the connection, the reads and the
write transaction they use (defined by `index.store.sqlite.store.Store`), and the reader of an
article row. Side effects: none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from index.models import Article
from index.timeutil import from_iso

if TYPE_CHECKING:
    import aiosqlite


class StoreBase:
    """The part of `Store` its mixins use; `Store` defines each of these."""

    db: aiosqlite.Connection

    if TYPE_CHECKING:

        async def _one(
            self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
        ) -> aiosqlite.Row | None: ...

        async def _all(
            self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
        ) -> list[aiosqlite.Row]: ...

        def transaction(self) -> AbstractAsyncContextManager[None]: ...

        async def write_one(
            self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
        ) -> None: ...


def article_of(r: aiosqlite.Row) -> Article:
    return Article(
        article_id=r["article_id"],
        story_id=r["story_id"],
        url=r["url"],
        title=r["title"],
        text=r["text"],
        source=r["source"],
        published_at=from_iso(r["published_at"]) or datetime.min,
        first_seen_at=from_iso(r["first_seen_at"]) or datetime.min,
        content_hash=r["content_hash"],
    )
