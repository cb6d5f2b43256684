"""The `wirewatch` command line against ../shared/CONTRACT.md: exit codes, one-line errors, and
the JSON documents. The real CLI runs in-process (click's CliRunner) on a real data dir, with feeds
served over real HTTP on 127.0.0.1 and the real embedding model; a few cases run it as a
subprocess to prove what a user's shell sees.

This module: feeds add, list and remove, configuration and input errors, and ingest. The
populated data dir's commands are in test_cli_polled.py, watches, ask's input, guilds and
invite in test_cli_commands.py; the shared runner and fixtures in cli_helpers.py."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.bot.cli_helpers import (
    FEED_FIELDS,
    FEEDS,
    PUBLIC_URL,
    REPORT_FIELDS,
    STATS_FIELDS,
    clean_env_fixture,  # noqa: F401
    data_dir_fixture,  # noqa: F401
    doc_of,
    entries_in,
    error_line,
    feeds_of,
    wirewatch,
)


# ---- feeds add / list / remove (no model) ----------------------------------------------------
def test_feeds_add_prints_the_subscription(data_dir: Path) -> None:
    doc = doc_of(wirewatch(data_dir, "feeds", "add", f"  {PUBLIC_URL} ", "--json"))
    assert {"feed_id", "url", "interval_s"} <= doc.keys()
    assert isinstance(doc["feed_id"], int)
    assert doc["url"] == PUBLIC_URL  # stripped
    assert doc["interval_s"] == 300  # WIREWATCH_POLL_INTERVAL_S's default

    other = "http://93.184.215.14/other.xml"
    doc2 = doc_of(
        wirewatch(
            data_dir, "feeds", "add", other, "--interval", "120", "--name", "Other wire", "--json"
        )
    )
    assert doc2["feed_id"] != doc["feed_id"] and doc2["interval_s"] == 120

    human = wirewatch(data_dir, "feeds", "add", PUBLIC_URL)  # again: same feed, not a new one
    assert f"feed {doc['feed_id']}" in human.stdout and human.stderr == ""
    feeds = feeds_of(data_dir)
    assert [f["feed_id"] for f in feeds] == [doc["feed_id"], doc2["feed_id"]]
    for feed in feeds:
        assert feed.keys() >= FEED_FIELDS
        assert feed["last_polled_at"] is None and feed["last_status"] is None
        assert feed["error_count"] == 0 and feed["articles"] == 0 and feed["enabled"] is True
    assert (feeds[1]["name"], feeds[1]["interval_s"], feeds[1]["url"]) == ("Other wire", 120, other)


def test_the_default_interval_comes_from_the_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREWATCH_POLL_INTERVAL_S", "900")
    assert doc_of(wirewatch(data_dir, "feeds", "add", PUBLIC_URL, "--json"))["interval_s"] == 900


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/feed.xml", "only http:// and https://"),
        ("not a url", "https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("", "empty"),
        ("https://user:secret@93.184.215.14/feed.xml", "remove them"),
    ],
)
def test_feeds_add_refuses_a_bad_url(data_dir: Path, url: str, says: str) -> None:
    result = wirewatch(data_dir, "feeds", "add", url, "--json", code=2)
    assert result.stdout == ""
    assert says in error_line(result)  # what is wrong and how to fix it
    assert "secret" not in result.stderr
    assert feeds_of(data_dir) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/feed.xml",
        "http://[::1]/feed.xml",
        "http://10.1.2.3/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_feeds_add_refuses_private_addresses_unless_allowed(
    data_dir: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = wirewatch(data_dir, "feeds", "add", url, code=2)
    assert "WIREWATCH_ALLOW_PRIVATE_FEEDS" in error_line(result)
    assert feeds_of(data_dir) == []

    monkeypatch.setenv("WIREWATCH_ALLOW_PRIVATE_FEEDS", "true")
    assert doc_of(wirewatch(data_dir, "feeds", "add", url, "--json"))["url"] == url


def test_allowed_networks_let_one_network_in(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREWATCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    wirewatch(data_dir, "feeds", "add", "http://127.0.0.1:8080/feed.xml")
    wirewatch(data_dir, "feeds", "add", "http://10.1.2.3/feed.xml", code=2)


def test_feeds_add_refuses_a_short_interval(data_dir: Path) -> None:
    result = wirewatch(data_dir, "feeds", "add", PUBLIC_URL, "--interval", "10", code=2)
    assert "60" in error_line(result)
    wirewatch(data_dir, "feeds", "add", PUBLIC_URL, "--interval", "often", code=2)  # click's
    assert feeds_of(data_dir) == []


def test_feeds_remove(data_dir: Path) -> None:
    assert "no feed 7" in error_line(wirewatch(data_dir, "feeds", "remove", "7", code=2))
    feed_id = doc_of(wirewatch(data_dir, "feeds", "add", PUBLIC_URL, "--json"))["feed_id"]
    removed = doc_of(wirewatch(data_dir, "feeds", "remove", str(feed_id), "--json"))
    assert removed == {"removed": feed_id}
    assert feeds_of(data_dir) == []
    wirewatch(data_dir, "feeds", "remove", str(feed_id), code=2)
    wirewatch(data_dir, "feeds", "remove", "first", code=2)


def test_stats_of_an_empty_data_dir(data_dir: Path) -> None:
    doc = doc_of(wirewatch(data_dir, "stats", "--json"))
    assert {key: doc[key] for key in STATS_FIELDS} == dict.fromkeys(STATS_FIELDS, 0)
    assert "feeds" in wirewatch(data_dir, "stats").stdout


def test_the_cli_leaves_logging_as_it_found_it(data_dir: Path) -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    wirewatch(data_dir, "-vv", "stats", "--json")
    assert (root.handlers, root.level) == before


def test_version(data_dir: Path) -> None:
    assert wirewatch(data_dir, "--version").stdout.startswith("wirewatch, version ")


# ---- configuration and input errors (no model) -----------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WIREWATCH_POLL_INTERVAL_S", "5"),
        ("WIREWATCH_ALLOWED_NETWORKS", "the office"),
        ("WIREWATCH_EMBED_MODEL", "/nonexistent/model"),
        ("WIREWATCH_ALLOW_PRIVATE_FEEDS", "perhaps"),
        ("WIREWATCH_LOG_LEVEL", "chatty"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_variable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    line = error_line(wirewatch(data_dir, "search", "air strike", code=2))
    assert variable in line
    assert not data_dir.exists()


def test_a_data_dir_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "var").write_text("not a directory")
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "var"))
    assert "data directory" in error_line(wirewatch(None, "stats", code=2))


def test_a_corrupt_database_is_a_runtime_failure_not_a_traceback(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "wirewatch.db").write_bytes(b"this is not SQLite" * 100)
    assert "wirewatch.db" in error_line(wirewatch(data_dir, "stats", code=1))


def test_search_refuses_an_empty_query(data_dir: Path) -> None:
    assert "empty" in error_line(wirewatch(data_dir, "search", "   ", code=2))


def test_ingest_refuses_a_missing_file(data_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.xml"
    assert str(missing) in error_line(wirewatch(data_dir, "ingest", str(missing), code=2))
    wirewatch(data_dir, "ingest", str(tmp_path), code=2)  # a directory: click's usage error
    wirewatch(data_dir, "ingest", code=2)  # no path at all


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode"
)
def test_ingest_refuses_an_unreadable_file(data_dir: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.xml"
    locked.write_bytes(FEEDS["tigris_daily.xml"])
    locked.chmod(0)
    assert "locked.xml" in error_line(wirewatch(data_dir, "ingest", str(locked), code=2))


def test_ingest_refuses_a_directory_in_one_line(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "feeds.xml"
    folder.mkdir()
    line = error_line(wirewatch(data_dir, "ingest", str(folder), code=2))
    assert "feeds.xml" in line and "directory" in line.lower()


# ---- ingest with the model --------------------------------------------------------------------
def test_ingest_goes_on_past_a_file_that_is_not_a_feed(data_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("Shopping list: bread, milk.\n")
    good = tmp_path / "levant.xml"
    good.write_bytes(FEEDS["levant_wire.xml"])

    result = wirewatch(data_dir, "ingest", str(junk), str(good), "--json", code=2)
    doc = doc_of(result)  # the report still comes out, on stdout
    assert doc.keys() >= REPORT_FIELDS
    assert doc["feeds_polled"] == 2 and doc["failed_feeds"] == 1
    assert doc["new_articles"] == entries_in(FEEDS["levant_wire.xml"]) > 0
    assert "notes.txt" in error_line(result) and "levant.xml" not in result.stderr

    stats = doc_of(wirewatch(data_dir, "stats", "--json"))
    assert stats["articles"] == doc["new_articles"] and stats["passages"] > 0
    by_name = {f["name"]: f for f in feeds_of(data_dir)}
    assert by_name["levant.xml"]["articles"] == doc["new_articles"]
    assert by_name["notes.txt"]["error_count"] == 1 and by_name["notes.txt"]["articles"] == 0


ODD_TITLE = "Idlib [live]: shelling resumes [/i]"
ODD_FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Odd [b]wire</title><link>https://odd.example/</link>
<item><title>{ODD_TITLE}</title><link>https://odd.example/idlib-[live]</link>
<guid>odd-1</guid><pubDate>Mon, 03 Mar 2025 09:00:00 GMT</pubDate>
<description>Artillery shelling resumed on the southern edge of Idlib on Monday, residents said,
after a week of calm. [/bold] Two houses were hit near the old market.</description></item>
</channel></rss>
"""


def test_human_output_prints_feed_text_literally(data_dir: Path, tmp_path: Path) -> None:
    """Feed text is data, never rich markup: "[live]" stays, "[/i]" does not crash."""
    odd = tmp_path / "odd[live].xml"
    odd.write_text(ODD_FEED, encoding="utf-8")
    ingested = wirewatch(data_dir, "ingest", str(odd))
    assert "1 new articles" in ingested.stdout

    listed = wirewatch(data_dir, "feeds", "list")
    assert "odd[live].xml" in listed.stdout

    found = wirewatch(data_dir, "search", "shelling in Idlib", "--k", "1")
    assert ODD_TITLE in found.stdout
    assert "[/bold] Two houses" in found.stdout
    assert "https://odd.example/idlib-[live]" in found.stdout
