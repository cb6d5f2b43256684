"""Stage: what the parts of the embedded engine's `Store` share: the connection, the reads and the
write transaction they use (defined by `index.store.sqlite.store.Store`), and the reader of an
article row. Side effects: none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from index.models import Article
from index.store.rows import read_article
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
    return read_article(r, from_iso)
