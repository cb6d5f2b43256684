"""The `wirewatch` command line against ../shared/CONTRACT.md: exit codes, one-line errors, and
the JSON documents. The real CLI runs in-process (click's CliRunner) on a real data dir, with feeds
served over real HTTP on 127.0.0.1 and the real embedding model; a few cases run it as a
subprocess to prove what a user's shell sees."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from bot.adapters.cli.main import cli
from bot.demo import sample_feeds

# Demo feeds rendered at a fixed moment, so every run stores the same dates.
FIXED_NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
FEEDS = sample_feeds(FIXED_NOW)
FEED_TITLES = {"Euphrates Monitor", "Levant Wire — Syria & Iraq", "Tigris Daily"}
# A public IP literal: `feeds add` checks it without DNS, and nothing is ever fetched from it.
PUBLIC_URL = "https://93.184.215.14/feed.xml"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")
FEED_FIELDS = {
    "feed_id",
    "url",
    "name",
    "interval_s",
    "last_polled_at",
    "last_status",
    "error_count",
    "articles",
    "enabled",
}
REPORT_FIELDS = {"feeds_polled", "new_articles", "duplicates", "failed_feeds", "alerts"}
STATS_FIELDS = {"feeds", "articles", "stories", "passages", "watches", "alerts"}
HIT_FIELDS = {
    "passage_id",
    "article_id",
    "story_id",
    "title",
    "url",
    "source",
    "published_at",
    "text",
    "score",
}


def entries_in(body: bytes) -> int:
    return body.count(b"<item>") + body.count(b"<entry>")


def isolate(mp: pytest.MonkeyPatch, cwd: Path) -> None:
    """No WIREWATCH_* from the caller's environment, and no `.env` in the working directory."""
    for name in [n for n in os.environ if n.startswith("WIREWATCH_")]:
        mp.delenv(name)
    mp.chdir(cwd)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("WIREWATCH_MODEL_CACHE_DIR", str(model_cache))  # one export per session


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def wirewatch(data_dir: Path | None, *args: str, code: int = 0) -> Result:
    """Run the CLI in-process; check the exit code and that no traceback reached the user."""
    prefix = [] if data_dir is None else ["--data-dir", str(data_dir)]
    result = CliRunner().invoke(cli, [*prefix, *args])
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    if code == 0:
        assert result.exception is None
    else:
        assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result


def doc_of(result: Result) -> dict[str, Any]:
    """stdout must be exactly one JSON document (json.loads refuses anything after it)."""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def error_line(result: Result) -> str:
    """Our expected failures say so in exactly one line on stderr."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def assert_iso_utc(value: Any) -> datetime:
    assert isinstance(value, str) and ISO_UTC.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def feeds_of(data_dir: Path) -> list[dict[str, Any]]:
    feeds: list[dict[str, Any]] = doc_of(wirewatch(data_dir, "feeds", "list", "--json"))["feeds"]
    return feeds


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


# ---- poll, search, reindex on one populated data dir (the model, a few times) ------------------
@dataclass(frozen=True)
class Polled:
    data_dir: Path
    first: dict[str, Any]
    second: dict[str, Any]
    requests: int
    watches: list[dict[str, Any]]


@pytest.fixture(scope="module")
def polled(
    make_httpserver_ipv4: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Polled]:
    """The demo feeds served on 127.0.0.1, subscribed, and polled twice with `poll --once`."""
    server = make_httpserver_ipv4
    server.clear()
    for name, body in FEEDS.items():
        server.expect_request(f"/{name}").respond_with_data(
            body, content_type="application/rss+xml"
        )
    root = tmp_path_factory.mktemp("polled")
    data_dir = root / "data"
    try:
        with pytest.MonkeyPatch.context() as mp:
            isolate(mp, root)
            mp.setenv("WIREWATCH_ALLOWED_NETWORKS", "127.0.0.1/32")
            for name in FEEDS:
                wirewatch(data_dir, "feeds", "add", server.url_for(f"/{name}"))
            since = (FIXED_NOW - timedelta(days=30)).date().isoformat()  # the feeds' dates
            watches = [
                doc_of(wirewatch(data_dir, "watch", "add", term, "--backfill", since, "--json"))
                for term in ("ISIL", "Deir ez-Zor")
            ]
            first = doc_of(wirewatch(data_dir, "poll", "--once", "--json"))
            second = doc_of(wirewatch(data_dir, "poll", "--once", "--json"))
        requests = len(server.log)
    finally:
        server.clear()
    yield Polled(data_dir, first, second, requests, watches)


def test_poll_once_ingests_every_feed_and_nothing_twice(polled: Polled) -> None:
    first, second = polled.first, polled.second
    for doc in (first, second):
        assert doc.keys() >= REPORT_FIELDS
        assert all(isinstance(doc[key], int) for key in REPORT_FIELDS)
        assert doc["feeds_polled"] == len(FEEDS) and doc["failed_feeds"] == 0
    assert polled.requests == 2 * len(FEEDS)
    total = sum(entries_in(body) for body in FEEDS.values())
    assert (first["new_articles"], first["duplicates"]) == (total, 0)  # no shared articles
    assert second["new_articles"] == 0

    feeds = feeds_of(polled.data_dir)
    assert len(feeds) == len(FEEDS)
    for feed in feeds:
        assert feed["last_status"] == "ok" and feed["error_count"] == 0 and feed["enabled"]
        assert_iso_utc(feed["last_polled_at"])
        name = feed["url"].rsplit("/", 1)[1]
        assert feed["articles"] == entries_in(FEEDS[name])
        assert feed["name"] in FEED_TITLES  # the feed's own title, learnt by polling

    stats = doc_of(wirewatch(polled.data_dir, "stats", "--json"))
    assert stats.keys() >= STATS_FIELDS
    assert stats["feeds"] == len(FEEDS) and stats["articles"] == first["new_articles"]
    assert 0 < stats["stories"] <= stats["articles"] < stats["passages"]
    assert (stats["watches"], stats["alerts"]) == (2, first["alerts"])


WATCH_FIELDS = {"watch_id", "kind", "term", "canonical", "channel"}
ALERT_FIELDS = {
    "alert_id",
    "channel",
    "watch_id",
    "story_id",
    "article_ids",
    "title",
    "url",
    "sources",
    "matched",
    "created_at",
    "delivered_at",
}


def test_watch_add_resolves_the_term(polled: Polled) -> None:
    group, place = polled.watches
    assert group.keys() >= WATCH_FIELDS and place.keys() >= WATCH_FIELDS
    assert (group["kind"], group["term"], group["canonical"]) == ("group", "ISIL", "Islamic State")
    assert (place["kind"], place["canonical"], place["channel"]) == (
        "place",
        "Deir ez-Zor",
        "console",
    )
    listed = doc_of(wirewatch(polled.data_dir, "watch", "list", "--json"))["watches"]
    assert [w["watch_id"] for w in listed] == [group["watch_id"], place["watch_id"]]
    assert all(w.keys() >= {*WATCH_FIELDS, "muted_until"} for w in listed)
    assert all(w["muted_until"] is None for w in listed)


def test_poll_records_alerts_once_with_why(polled: Polled) -> None:
    assert polled.first["alerts"] > 0 and polled.second["alerts"] == 0
    alerts = doc_of(wirewatch(polled.data_dir, "alerts", "--json"))["alerts"]
    assert len(alerts) == polled.first["alerts"]
    created = [assert_iso_utc(a["created_at"]) for a in alerts]
    assert created == sorted(created, reverse=True)  # newest first
    watch_ids = {w["watch_id"]: w["term"] for w in polled.watches}
    for alert in alerts:
        assert alert.keys() >= ALERT_FIELDS
        assert alert["channel"] == "console" and alert["delivered_at"] is None
        assert alert["article_ids"] and all(isinstance(i, int) for i in alert["article_ids"])
        assert set(alert["sources"]) <= FEED_TITLES
        assert alert["matched"] and alert["watch_id"] == alert["matched"][0]["watch_id"]
        for m in alert["matched"]:
            assert watch_ids[m["watch_id"]] == m["term"] and m["why"]
    stories = [a["story_id"] for a in alerts]
    assert len(stories) == len(set(stories))  # one alert per story
    raqqa = [a for a in alerts if len(a["sources"]) == 2]
    assert raqqa, "the story both outlets ran is one alert with two sources"
    pending = doc_of(wirewatch(polled.data_dir, "alerts", "--pending", "--json"))["alerts"]
    assert len(pending) == len(alerts)
    human = wirewatch(polled.data_dir, "alerts").stdout
    assert "matched #" in human and "sources:" in human


def test_watch_mute_unmute_remove(data_dir: Path) -> None:
    added = doc_of(wirewatch(data_dir, "watch", "add", "ceasefire", "--json"))
    assert (added["kind"], added["canonical"]) == ("keyword", "ceasefire")
    wid = str(added["watch_id"])
    muted = doc_of(wirewatch(data_dir, "watch", "mute", wid, "2h", "--json"))
    until = assert_iso_utc(muted["muted_until"])
    assert timedelta(hours=1, minutes=59) < until - datetime.now(UTC) <= timedelta(hours=2)
    [listed] = doc_of(wirewatch(data_dir, "watch", "list", "--json"))["watches"]
    assert listed["muted_until"] == muted["muted_until"]
    wirewatch(data_dir, "watch", "unmute", wid)
    [listed] = doc_of(wirewatch(data_dir, "watch", "list", "--json"))["watches"]
    assert listed["muted_until"] is None
    other = "discord:1:2"
    assert doc_of(wirewatch(data_dir, "watch", "list", "--channel", other, "--json")) == {
        "watches": []
    }
    says = error_line(wirewatch(data_dir, "watch", "remove", wid, "--channel", other, code=2))
    assert f"no watch {wid}" in says
    assert doc_of(wirewatch(data_dir, "watch", "remove", wid, "--json")) == {"removed": int(wid)}
    assert doc_of(wirewatch(data_dir, "watch", "list", "--json")) == {"watches": []}


def test_an_ambiguous_watch_exits_2_with_the_choices(data_dir: Path) -> None:
    result = wirewatch(data_dir, "watch", "add", "Tripoli", "--json", code=2)
    doc = doc_of(result)
    assert "ambiguous" in error_line(result)
    terms = [c["term"] for c in doc["choices"]]
    assert any("Lebanon" in c["label"] for c in doc["choices"])
    picked = next(c for c in doc["choices"] if "Lebanon" in c["label"])
    added = doc_of(wirewatch(data_dir, "watch", "add", picked["term"], "--json"))
    assert added["kind"] == "place" and picked["term"] in terms


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["(car bomb"], "bad keyword query"),
        (["Deir ez-Zor", "--radius", "20"], "needs a town"),
        (["ISIL", "--radius", "20"], "for place watches"),
        (["ISIL", "--channel", "#ops"], "is not a channel"),
        (["ISIL", "--type", "parades"], "unknown event type"),
        (["ISIL", "--backfill", "yesterday"], "backfill"),
        (["Qwzxbury", "--kind", "place"], "no place called"),
        (["ISIL", "--min-killed", "0"], "min killed takes 1 or more"),
    ],
)
def test_watch_add_refuses_bad_input(data_dir: Path, args: list[str], says: str) -> None:
    assert says in error_line(wirewatch(data_dir, "watch", "add", *args, code=2))
    assert doc_of(wirewatch(data_dir, "stats", "--json"))["watches"] == 0


def test_watch_mute_refuses_a_bad_duration(data_dir: Path) -> None:
    wid = str(doc_of(wirewatch(data_dir, "watch", "add", "ceasefire", "--json"))["watch_id"])
    assert "not a duration" in error_line(wirewatch(data_dir, "watch", "mute", wid, "soon", code=2))


def test_search_returns_passages_best_first(polled: Polled) -> None:
    query = "air strike Raqqa"
    doc = doc_of(wirewatch(polled.data_dir, "search", query, "--k", "4", "--json"))
    assert doc["query"] == query
    results = doc["results"]
    assert len(results) == 4
    for hit in results:
        assert hit.keys() >= HIT_FIELDS
        assert all(isinstance(hit[k], int) for k in ("passage_id", "article_id", "story_id"))
        assert isinstance(hit["text"], str) and hit["text"]
        assert isinstance(hit["score"], float) and -1.0 <= hit["score"] <= 1.0
        assert hit["source"] in FEED_TITLES
        published = assert_iso_utc(hit["published_at"])
        assert FIXED_NOW - timedelta(days=30) <= published <= FIXED_NOW
    scores = [hit["score"] for hit in results]
    assert scores == sorted(scores, reverse=True)
    assert "Raqqa" in results[0]["title"] and "strike" in results[0]["title"].lower()
    assert len({hit["passage_id"] for hit in results}) == len(results)


def run_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_reindex_as_a_subprocess_prints_one_json_document(polled: Polled, tmp_path: Path) -> None:
    stats = doc_of(wirewatch(polled.data_dir, "stats", "--json"))
    proc = run_subprocess(
        sys.executable,
        "-m",
        "bot",
        "--data-dir",
        str(polled.data_dir),
        "reindex",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1  # one document; logs and progress never on stdout
    assert json.loads(proc.stdout) == {"passages": stats["passages"]}
    assert "Traceback" not in proc.stderr


def test_the_console_script_exits_2_with_one_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("wirewatch")
    assert script.is_file(), "the `wirewatch` console script is not installed beside python"
    proc = run_subprocess(
        str(script),
        "--data-dir",
        str(tmp_path / "data"),
        "feeds",
        "add",
        "ftp://example.com/feed.xml",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: only http")


# ---- a failing feed stays with its feed -------------------------------------------------------
def test_a_failing_feed_is_recorded_and_the_others_still_ingested(
    httpserver_ipv4: HTTPServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = FEEDS["tigris_daily.xml"]
    httpserver_ipv4.expect_request("/good.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    httpserver_ipv4.expect_request("/broken.xml").respond_with_data("oops", status=500)
    monkeypatch.setenv("WIREWATCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    good = httpserver_ipv4.url_for("/good.xml")
    broken = httpserver_ipv4.url_for("/broken.xml")
    wirewatch(data_dir, "feeds", "add", broken)
    wirewatch(data_dir, "feeds", "add", good)

    result = wirewatch(data_dir, "-v", "poll", "--once", "--json")
    doc = doc_of(result)  # the logs -v asked for went to stderr
    assert (doc["feeds_polled"], doc["failed_feeds"]) == (2, 1)
    assert doc["new_articles"] == entries_in(body) > 0
    assert "HTTP 500" in result.stderr and broken in result.stderr

    feeds = {f["url"]: f for f in feeds_of(data_dir)}
    assert feeds[broken]["error_count"] == 1 and feeds[broken]["last_status"] == "error"
    assert "HTTP 500" in feeds[broken]["last_error"] and feeds[broken]["articles"] == 0
    assert feeds[broken]["enabled"] is True
    assert_iso_utc(feeds[broken]["last_polled_at"])
    assert feeds[good]["error_count"] == 0 and feeds[good]["last_error"] is None
    assert feeds[good]["articles"] == entries_in(body)
    assert doc_of(wirewatch(data_dir, "stats", "--json"))["articles"] == entries_in(body)


ASK_FIELDS = {"question", "answer", "filters", "citations"}
CITATION_FIELDS = {"n", "article_id", "title", "url", "source", "published_at", "passage"}


def test_ask_prints_an_answer_citing_its_sources(polled: Polled) -> None:
    question = "How many were killed in the Mosul market car bomb?"
    doc = doc_of(wirewatch(polled.data_dir, "ask", question, "--json"))
    assert doc.keys() >= ASK_FIELDS and doc["question"] == question
    assert isinstance(doc["filters"], dict) and doc["filters"]["places"][0]["name"] == "Mosul"
    assert doc["citations"] and all(c.keys() >= CITATION_FIELDS for c in doc["citations"])
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", doc["answer"])}
    assert cited == {c["n"] for c in doc["citations"]}
    for c in doc["citations"]:
        assert_iso_utc(c["published_at"])
        assert c["source"] in FEED_TITLES
    human = wirewatch(polled.data_dir, "ask", question).stdout
    assert "[1]" in human and "Tigris Daily" in human


def test_ask_batch_prints_json_lines_in_order(polled: Polled, tmp_path: Path) -> None:
    questions = ["latest on Daesh", "What is the recipe for lemon cheesecake?", "Raqqa air strike"]
    batch = tmp_path / "questions.txt"
    batch.write_text("\n".join(questions) + "\n\n", encoding="utf-8")
    result = wirewatch(polled.data_dir, "ask", "--batch", str(batch), "--json")
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["question"] for d in docs] == questions
    assert docs[1]["citations"] == [] and docs[0]["citations"] and docs[2]["citations"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["   "], "the question is empty"),
        ([], "give a QUESTION or --batch FILE"),
        (["what?", "--batch", "q.txt"], "give a QUESTION or --batch FILE"),
        (["what?", "--k", "0"], "k takes 1 to 20"),
        (["what?", "--channel", "#ops"], "is not a channel"),
        (["--batch", "missing.txt"], "cannot read missing.txt"),
    ],
)
def test_ask_refuses_bad_input(data_dir: Path, args: list[str], says: str) -> None:
    assert says in error_line(wirewatch(data_dir, "ask", *args, code=2))


def test_ask_as_of_a_moment(polled: Polled, tmp_path: Path) -> None:
    question = "What happened in Mosul in the past two weeks?"
    moment = (FIXED_NOW + timedelta(days=1)).isoformat()
    doc = doc_of(wirewatch(polled.data_dir, "ask", question, "--as-of", moment, "--json"))
    since = assert_iso_utc(doc["filters"]["time"]["since"])
    assert since == FIXED_NOW + timedelta(days=1) - timedelta(days=14)
    assert doc["citations"] and "Mosul" in doc["citations"][0]["title"], doc["answer"]
    batch = tmp_path / "q.jsonl"
    batch.write_text(json.dumps({"question": question, "as_of": moment}) + "\n" + question + "\n")
    first, second = [
        json.loads(line)
        for line in wirewatch(
            polled.data_dir, "ask", "--batch", str(batch), "--json"
        ).stdout.splitlines()
    ]
    assert first["filters"]["time"]["since"] == doc["filters"]["time"]["since"]
    assert second["filters"].get("time", {}).get("since") != first["filters"]["time"]["since"]
    assert "--as-of" in error_line(
        wirewatch(polled.data_dir, "ask", "x", "--as-of", "soon", code=2)
    )


def test_guild_flag_acts_on_that_servers_workspace(data_dir: Path) -> None:
    doc = doc_of(wirewatch(data_dir, "feeds", "add", PUBLIC_URL, "--guild", "42", "--json"))
    assert feeds_of(data_dir) == []  # the console's feeds
    listed = doc_of(wirewatch(data_dir, "feeds", "list", "--guild", "42", "--json"))["feeds"]
    assert [f["feed_id"] for f in listed] == [doc["feed_id"]]
    assert doc_of(wirewatch(data_dir, "feeds", "list", "--guild", "43", "--json"))["feeds"] == []
    stats = doc_of(wirewatch(data_dir, "stats", "--guild", "42", "--json"))
    assert stats["feeds"] == 1
    assert "not a channel of --guild 42" in error_line(
        wirewatch(data_dir, "alerts", "--guild", "42", "--channel", "discord:7:8", code=2)
    )
    assert "--guild needs --channel" in error_line(
        wirewatch(data_dir, "watch", "add", "ISIL", "--guild", "42", code=2)
    )
    wirewatch(data_dir, "feeds", "remove", str(doc["feed_id"]), code=2)  # not the console's
    wirewatch(data_dir, "feeds", "remove", str(doc["feed_id"]), "--guild", "42")


def test_invite_prints_the_oauth2_url_with_only_the_needed_permissions(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    ident = base64.b64encode(b"123456789012345678").decode().rstrip("=")
    monkeypatch.setenv("WIREWATCH_DISCORD_TOKEN", f"{ident}.GhIjKl.secret-part")
    url = wirewatch(data_dir, "invite").stdout.strip()
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert "client_id=123456789012345678" in url
    assert "scope=bot+applications.commands" in url
    # View Channel (1 << 10), Send Messages (1 << 11), Embed Links (1 << 14),
    # Read Message History (1 << 16), nothing more
    assert f"permissions={(1 << 10) | (1 << 11) | (1 << 14) | (1 << 16)}" in url
    assert "secret-part" not in url
    assert "client_id=99" in wirewatch(data_dir, "invite", "--client-id", "99").stdout
    monkeypatch.setenv("WIREWATCH_DISCORD_TOKEN", "not-a-token")
    assert "--client-id" in error_line(wirewatch(data_dir, "invite", code=2))
