"""Layer rules as tests (STYLE.md §1b, §2): the news index knows nothing about chat, and SQL
lives behind store interfaces: the engine's in `index/`, the chat layer's own tables in
`bot/store/`, never anywhere else in `bot/`."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_rules import top_level_imports

ROOT = Path(__file__).resolve().parent.parent
INDEX_MAY_NOT_IMPORT = frozenset({"bot", "discord"})

# The modules of bot/ that still run SQL of their own, outside the chat layer's store
# (bot/store/), until their tables get store interfaces. Empty now, and it stays so: never add a
# module to it.
SQL_NOT_MOVED_YET: frozenset[str] = frozenset()
CHAT_STORE = "bot/store/"

# A statement, or a fragment of one (a comparison with a placeholder, IS NULL), as the project
# writes SQL: keywords in capitals.
_SQL = re.compile(
    r"\b(?:SELECT\b[\s\S]*?\bFROM|INSERT\s+(?:OR\s+[A-Z]+\s+)?INTO|UPDATE\s+\w+\s+SET"
    r"|DELETE\s+FROM|CREATE\s+(?:UNIQUE\s+|VIRTUAL\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)"
    r"|PRAGMA\s+\w+)\b"
    r"|\w\s*(?:=|!=|<=|>=)\s*(?:\?|:[a-z_]\w*)"
    r"|\bIS\s+(?:NOT\s+)?NULL\b"
)


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes: prose, not code."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            found.add(id(body[0].value))
    return found


def _strings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal, and each literal part of an f-string, that is not
    a docstring."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def sql_in(source: str) -> list[str]:
    """'line N: ...' for each string literal of `source` that holds SQL."""
    return [
        f"line {line}: {found[0]!r}"
        for line, text in sorted(_strings(source))
        if (found := _SQL.search(text))
    ]


@pytest.mark.parametrize("py_file", _files("index"), ids=_rel)
def test_index_knows_nothing_about_chat(py_file: Path) -> None:
    rel = _rel(py_file)
    tops = top_level_imports(py_file.read_text(encoding="utf-8"), rel[:-3].replace("/", "."))
    assert tops & INDEX_MAY_NOT_IMPORT == set(), f"{rel}: index/ must not import the bot"


@pytest.mark.parametrize(
    "py_file", [f for f in _files("bot") if not _rel(f).startswith(CHAT_STORE)], ids=_rel
)
def test_no_sql_in_the_bot(py_file: Path) -> None:
    rel = _rel(py_file)
    found = sql_in(py_file.read_text(encoding="utf-8"))
    if rel in SQL_NOT_MOVED_YET:
        assert found, f"{rel} holds no SQL any more: take it off SQL_NOT_MOVED_YET"
    else:
        assert found == [], (
            f"{rel} holds SQL; put it behind a store interface (index/, or bot/store/ for the "
            "chat layer's own tables)"
        )


def test_the_chat_store_imports_no_chat_service() -> None:
    """bot/store/ sits under the services: it may import the engine, never the layers above."""
    for py_file in _files("bot/store"):
        rel = _rel(py_file)
        module = rel[:-3].replace("/", ".")
        for name in _imported_modules(py_file.read_text(encoding="utf-8")):
            if name.startswith("bot.") or name == "bot":
                assert name.startswith("bot.store"), f"{rel} imports {name}"
                continue
            assert name.split(".")[0] != "discord", f"{rel} imports {name} ({module})"


def _imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_sql_finder_sees_statements_and_fragments_but_not_prose() -> None:
    source = (
        '"""Module docs may say SELECT x FROM y."""\n'
        'A = ("SELECT a, b "\n     "FROM t WHERE c = ?")\n'
        'B = "INSERT OR IGNORE INTO t VALUES (?)"\n'
        'C = f"UPDATE watches SET {assignments} WHERE x = 1"\n'
        'D = "DELETE FROM t"\n'
        'E = "CREATE TABLE t (a INTEGER)"\n'
        'F = "muted_until = ?, paused_at = NULL"\n'
        'G = "delivered_at IS NULL AND failed = 0"\n'
        'H = "created_at <= :cutoff"\n'
        "def f():\n"
        '    """Selects from the list; deletes from the table."""\n'
        '    return "pick a channel from the list, then delete from it"\n'
        'I = "discord:<guild_id>:<channel_id>"\n'
        'J = "a = b"\n'
    )
    assert [hit.split(":")[0] for hit in sql_in(source)] == [
        "line 2",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
    ]
    assert len(_files("bot")) > 10 and {_rel(p) for p in _files("bot")} >= SQL_NOT_MOVED_YET
