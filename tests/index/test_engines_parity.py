"""Both engines answer the same calls: every public method of `Store` that the layers above
call exists on `PgStore` with the same parameters (names, kinds, defaults) and is called the
same way (a plain method, a coroutine, an async generator). What the methods mean is
tests/index/test_store_contract.py's part.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from index.store.pg.store import PgStore
from index.store.sqlite.store import Store

# Store's public methods that are not part of the engine contract, and why.
SQLITE_ONLY = {
    "open": "each engine opens its own kind of database (a file path; a URL and a pool size)",
    "transaction": "SQLite's one writer: the SQLite row modules group their statements with it",
    "maintenance": "SQLite's connection outside a transaction (VACUUM, checkpoints): retention",
    "write_one": "SQLite's one writer: a lone statement taken in turn with the transactions",
    "fetch_one": "raw SQL reads of the chat layer's SQLite row modules (bot/store/)",
    "fetch_all": "raw SQL reads of the chat layer's SQLite row modules (bot/store/)",
}


def _public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_")
    }


CONTRACT = sorted(set(_public_methods(Store)) - set(SQLITE_ONLY))


def _calling(fn: Callable[..., Any]) -> str:
    if inspect.isasyncgenfunction(fn):
        return "async generator"
    return "coroutine" if inspect.iscoroutinefunction(fn) else "plain"


def test_the_exclusions_are_store_methods() -> None:
    assert set(SQLITE_ONLY) <= set(_public_methods(Store))
    assert {"save_entry", "text_search", "find_articles", "apply_migrations"} <= set(CONTRACT)


@pytest.mark.parametrize("name", CONTRACT)
def test_pgstore_has_the_method(name: str) -> None:
    ours, theirs = getattr(Store, name), getattr(PgStore, name, None)
    assert theirs is not None, f"PgStore lacks {name}"
    assert _calling(theirs) == _calling(ours), name
    want = [(p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()]
    got = [(p.name, p.kind, p.default) for p in inspect.signature(theirs).parameters.values()]
    assert got == want, (
        f"{name}: PgStore{inspect.signature(theirs)} != Store{inspect.signature(ours)}"
    )
