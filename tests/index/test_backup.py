"""Backup and restore: an online backup taken while an ingest writes restores into a new data
dir as a working instance with the same counts and search results; restore checks what it
restores and refuses a data dir in use. Real SQLite and FAISS in tmp dirs, feeds over HTTP on
127.0.0.1, the real model and extractor."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from bot import store as chat_store
from bot.adapters.cli.main import cli
from bot.app import open_app
from bot.core import commands
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder, HashEmbedder
from index.store import backup, datadir
from tests.index.test_ingest import HARVEST, MOSUL, RAQQA, item, rss

QUERIES = ("car bomb in a crowded market", "air strike on a residential district", "wheat harvest")
SAME = ("feeds", "articles", "stories", "passages", "fts_rows", "watches", "alerts")


def _reports(n: int) -> bytes:
    """n articles, each its own text, for an ingest that writes for a while."""
    words = (RAQQA + " " + HARVEST).split()
    items = []
    for i in range(n):
        text = " ".join(words[(i * 5 + j) % len(words)] for j in range(120))
        items.append(item(f"r{i}", f"Field report {i}", text))
    return rss(items, title="Field Reports")


async def _search(app, query: str, k: int = 50) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    doc = await commands.search(app, query, k=k, workspace="console")
    return [(r["passage_id"], round(r["score"], 4)) for r in doc["results"]]


async def test_a_backup_taken_while_an_ingest_writes_restores_to_the_same_instance(
    settings: Settings,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    tmp_path: Path,
) -> None:
    httpserver_ipv4.expect_request("/a.xml").respond_with_data(
        rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul car bomb", MOSUL)])
    )
    httpserver_ipv4.expect_request("/b.xml").respond_with_data(_reports(40))
    dest = tmp_path / "backup"
    async with open_app(settings, embedder=real_embedder, extractor=extractor) as app:
        await commands.add_feed(app, httpserver_ipv4.url_for("/a.xml"), workspace="console")
        await commands.watch_add(app, "Mosul", channel="console")
        await commands.poll_once(app, workspace="console")
        await commands.add_feed(app, httpserver_ipv4.url_for("/b.xml"), workspace="console")
        ingest = asyncio.create_task(commands.poll_once(app, workspace="console"))
        async with asyncio.timeout(120):  # until the ingest has begun to store feed b
            while (await commands.stats(app, workspace="console"))["articles"] <= 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        taken = await asyncio.to_thread(
            backup.backup,
            settings.data_dir,
            dest,
            model_cache=settings.model_cache_path,
            also_count=chat_store.COUNTS,
        )
        await ingest
        source = {q: await _search(app, q) for q in QUERIES}
        final = await commands.stats(app, workspace="console")
    manifest = json.loads((dest / backup.MANIFEST).read_text())
    assert manifest["counts"] == taken.counts and set(manifest["files"]) >= {"wirewatch.db"}
    snap = taken.counts
    assert snap["articles"] > 2 and snap["fts_rows"] == snap["passages"], "one consistent moment"
    # the ingest was still at work when the copy was taken: articles still to store, or the
    # stored ones' passages still to embed
    embedded = _embedded(dest / "wirewatch.db")
    assert snap["articles"] < final["articles"] or embedded < snap["passages"], (snap, embedded)

    restored = settings.model_copy(update={"data_dir": tmp_path / "restored"})
    done = await asyncio.to_thread(
        backup.restore,
        dest,
        restored.data_dir,
        model_cache=settings.model_cache_path,
        also_count=chat_store.COUNTS,
    )
    assert done.counts == snap and done.integrity == "ok"
    async with open_app(restored, embedder=real_embedder, extractor=extractor) as again:
        stats = await commands.stats(again, workspace="console")
        found = await asyncio.to_thread(_counts, restored.db_path)
        assert {k: found[k] for k in SAME} == {k: snap[k] for k in SAME}
        assert stats["embedded_passages"] == stats["passages"] == snap["passages"]
        assert len(again.require_pipeline().vectors) == snap["passages"]
        for query in QUERIES:  # the source's ranking, less what it stored after the backup
            mine = await _search(again, query, k=5)
            ids = {pid for pid, _ in await _search(again, query, k=snap["passages"])}
            theirs = [hit for hit in source[query] if hit[0] in ids][:5]
            assert mine == theirs and mine, query


def _embedded(db_path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True)
    try:
        return int(
            conn.execute("SELECT count(*) FROM passages WHERE embedding IS NOT NULL").fetchone()[0]
        )
    finally:
        conn.close()


def _counts(db_path: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return backup.counts(conn, chat_store.COUNTS)
    finally:
        conn.close()


@pytest.fixture
def small_data_dir(settings: Settings, httpserver_ipv4: HTTPServer) -> Path:
    async def fill() -> None:
        httpserver_ipv4.expect_request("/a.xml").respond_with_data(
            rss([item("a1", "Strike on Raqqa", RAQQA), item("a2", "Mosul car bomb", MOSUL)])
        )
        async with open_app(settings, embedder=HashEmbedder()) as app:
            await commands.add_feed(app, httpserver_ipv4.url_for("/a.xml"), workspace="console")
            await commands.poll_once(app, workspace="console")

    asyncio.run(fill())
    return settings.data_dir


def _wirewatch(*args: str, data_dir: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("WIREWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WIREWATCH_MODEL_CACHE_DIR", str(model_cache))


def test_backup_and_restore_from_the_command_line(
    env: None, small_data_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "bk"
    code, out, err = _wirewatch("backup", str(dest), "--json", data_dir=small_data_dir)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["counts"]["articles"] == 2 and doc["counts"]["fts_rows"] == doc["counts"]["passages"]
    assert set(doc["files"]) == {"wirewatch.db", "passages.faiss"}
    # a second backup into the same folder is refused: it would mix two moments
    code, _, err = _wirewatch("backup", str(dest), data_dir=small_data_dir)
    assert code == 1 and "not an empty folder" in err

    target = tmp_path / "new"
    code, out, err = _wirewatch("restore", str(dest), "--json", data_dir=target)
    assert code == 0, err
    restored = json.loads(out)
    assert restored["counts"] == doc["counts"] and restored["integrity"] == "ok"
    code, out, _ = _wirewatch("stats", "--json", data_dir=target)
    assert code == 0 and json.loads(out)["articles"] == 2

    # the data dir holds a database now: only --force replaces it
    code, _, err = _wirewatch("restore", str(dest), data_dir=target)
    assert code == 1 and "--force" in err
    with datadir.using(target):  # as a running bot holds it
        code, _, err = _wirewatch("restore", str(dest), "--force", data_dir=target)
    assert code == 2 and "in use" in err and err.count("\n") == 1
    code, _, err = _wirewatch("restore", str(dest), "--force", data_dir=target)
    assert code == 0, err


def test_a_damaged_backup_is_refused_before_anything_is_replaced(
    env: None, small_data_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "bk"
    assert _wirewatch("backup", str(dest), data_dir=small_data_dir)[0] == 0
    index = dest / "passages.faiss"
    raw = bytearray(index.read_bytes())
    raw[-1] ^= 0xFF
    index.write_bytes(bytes(raw))
    before = (small_data_dir / "wirewatch.db").read_bytes()
    code, _, err = _wirewatch("restore", str(dest), "--force", data_dir=small_data_dir)
    assert code == 1 and "checksum" in err
    assert (small_data_dir / "wirewatch.db").read_bytes() == before
    (dest / backup.MANIFEST).unlink()
    code, _, err = _wirewatch("restore", str(dest), data_dir=tmp_path / "other")
    assert code == 1 and "manifest.json" in err
