"""The `wirewatch` command line on one populated data dir (the demo feeds polled over real
HTTP, once per module, with the real model): poll, watches and their alerts, search,
reindex as a subprocess, and ask (with citations, in batches, as of a moment).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.bot.cli_helpers import (
    FEED_TITLES,
    FEEDS,
    FIXED_NOW,
    HIT_FIELDS,
    REPORT_FIELDS,
    STATS_FIELDS,
    assert_iso_utc,
    clean_env_fixture,  # noqa: F401
    doc_of,
    entries_in,
    error_line,
    feeds_of,
    isolate,
    run_subprocess,
    wirewatch,
)


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
