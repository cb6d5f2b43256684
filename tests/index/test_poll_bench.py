"""bench/poll.py at a tiny size, so the benchmark cannot rot: its loopback feed server (on
127.0.0.x only) and the embedded engine's rounds, with the model-free HashEmbedder and no
extractor."""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.poll import FeedServer, bench_settings, measure_embedded, worker_unavailable
from index.retrieve.embed import HashEmbedder


def test_the_feed_server_answers_conditional_gets_on_the_feeds_host() -> None:
    with FeedServer(feeds=6, hosts=3) as server, httpx.Client(trust_env=False) as client:
        url = server.url(4)
        assert url.startswith("http://127.0.0.2:")
        first = client.get(url)
        assert first.status_code == 200 and b"<rss" in first.content
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        elsewhere = server.url(3).rsplit("/", 1)[0] + "/4.xml"  # feed 4 asked of 127.0.0.1
        assert client.get(elsewhere).status_code == 404

        server.begin_round([4])
        changed = client.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        counts = server.counts()
        assert counts.per_feed == [0, 0, 0, 0, 1, 0] and counts.statuses == {200: 1}


async def test_each_feed_is_polled_once_per_round_and_the_changed_ones_store_articles(
    tmp_path: Path,
) -> None:
    with FeedServer(feeds=50, hosts=4) as server:
        result = await measure_embedded(
            server,
            bench_settings(tmp_path / "data"),
            rounds=1,
            change_rate=0.1,
            embedder=HashEmbedder(),
            extractor=None,
        )
    first = result.first
    assert (first.feeds, first.ok, first.polled_once, first.failed) == (50, 50, 50, 0)
    assert first.new_articles > 0  # the wire stories, each stored once
    [pipeline], [plain] = result.rounds, result.plain_rounds
    assert (pipeline.feeds, pipeline.ok, pipeline.not_modified) == (50, 5, 45)
    assert (pipeline.new_articles, pipeline.polled_once, pipeline.failed) == (5, 50, 0)
    assert (plain.ok, plain.not_modified, plain.polled_once) == (5, 45, 50)
    assert pipeline.feeds_per_min > 0 and plain.feeds_per_min > 0
    assert "extract" not in result.stages


def test_the_worker_figures_say_why_they_were_not_measured() -> None:
    reason = worker_unavailable(None, embedded_postgres=False)
    assert reason is not None and ("worker" in reason or "database" in reason)
