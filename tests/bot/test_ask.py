"""Questions answered from the news: the project's sample feeds served on 127.0.0.1, ingested
with the real model and extractor; a fake OpenAI-compatible server for generated answers."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import App, open_app
from bot.core import commands
from bot.demo import sample_feeds
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.index.test_ingest import Clock

FEEDS_AT = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
CITE = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def served(make_httpserver_ipv4: HTTPServer) -> HTTPServer:
    for name, body in sample_feeds(FEEDS_AT).items():
        make_httpserver_ipv4.expect_request(f"/{name}").respond_with_data(
            body, content_type="application/rss+xml"
        )
    return make_httpserver_ipv4


@pytest.fixture(scope="module")
def data_dir(
    tmp_path_factory: pytest.TempPathFactory,
    served: HTTPServer,
    real_embedder: Embedder,
    extractor: Extractor,
) -> Path:
    """The sample feeds ingested once for the module."""
    import asyncio

    root = tmp_path_factory.mktemp("ask")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",  # type: ignore[call-arg]
        allowed_networks=["127.0.0.1/32"],
    )

    async def ingest() -> None:
        async with open_app(
            settings, embedder=real_embedder, extractor=extractor, now=Clock(FEEDS_AT)
        ) as app:
            for name in sample_feeds(FEEDS_AT):
                await commands.add_feed(app, served.url_for(f"/{name}"), workspace="console")
            assert (await commands.poll_once(app, workspace="console"))["new_articles"] > 15

    asyncio.run(ingest())
    return root / "data"


@pytest.fixture
async def app(data_dir: Path, real_embedder: Embedder, extractor: Extractor) -> AsyncIterator[App]:
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    async with open_app(
        settings,
        embedder=real_embedder,
        extractor=extractor,
        now=Clock(FEEDS_AT + timedelta(hours=1)),
        repair_mode="index",
    ) as opened:
        yield opened


def assert_cited(doc: dict[str, object]) -> list[dict[str, object]]:
    """Every [n] in the answer is a citation, numbered 1.. in order of first use."""
    citations: list[dict[str, object]] = doc["citations"]  # type: ignore[assignment]
    numbers = [c["n"] for c in citations]
    assert numbers == list(range(1, len(numbers) + 1))
    used = {int(n) for n in CITE.findall(str(doc["answer"]))}
    assert used == set(numbers)
    first_use = list(dict.fromkeys(int(n) for n in CITE.findall(str(doc["answer"]))))
    assert first_use == sorted(first_use)
    for c in citations:
        assert c.keys() >= {"n", "article_id", "title", "url", "source", "published_at", "passage"}
    return citations


async def test_what_happened_in_a_town_this_week(app: App) -> None:
    doc = await commands.ask(app, "What happened in Albu Kamal this week?", workspace="console")
    citations = assert_cited(doc)
    assert citations
    filters = doc["filters"]
    assert filters["places"][0]["name"] == "Ālbū Kamāl"
    assert filters["time"]["text"] == "this week"
    assert any("Bukamal" in c["title"] or "Abu Kamal" in c["title"] for c in citations)  # type: ignore[operator]
    assert "As of " in doc["answer"]


async def test_how_many_were_killed_draws_on_the_metadata(app: App) -> None:
    doc = await commands.ask(
        app, "How many people were killed in the Mosul market car bomb?", workspace="console"
    )
    citations = assert_cited(doc)
    assert "Mosul" in str(citations[0]["title"])
    counts = doc["answer"].split("\n")[0]
    # the Hajin battle and the Kirkuk shooting are cited too, but their tolls are not counted
    assert counts.startswith("Counts in the reports: ") and counts.count(" killed per ") == 1
    assert "in Mosul: 23 killed per Tigris Daily [1]" in counts


async def test_counts_are_listed_per_event(app: App) -> None:
    doc = await commands.ask(app, "How many were killed in Syria?", workspace="console")
    counts = doc["answer"].split("\n")[0]
    assert "in Raqqa: 12 killed per " in counts and "in Hajin: 36 killed per " in counts
    assert "differ" not in counts  # two events, not two tolls of one


async def test_tolls_of_one_event_that_differ_are_shown_as_such(
    tmp_path: Path, real_embedder: Embedder, extractor: Extractor
) -> None:
    item = (
        "<item><title>{title}</title><link>https://{host}/a</link><description>{text}"
        "</description><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item>"
    )
    for host, toll in (("tigris.example", 23), ("euphrates.example", 31)):
        text = (
            f"A car bomb exploded in a crowded market in Mosul on Monday, killing {toll} "
            "people and wounding dozens, security officials said."
        )
        title = f"Car bomb in Mosul market kills {toll}"
        (tmp_path / f"{host}.xml").write_text(
            f"<rss version='2.0'><channel><title>{host}</title><link>https://{host}/</link>"
            f"<description>news</description>{item.format(title=title, host=host, text=text)}"
            "</channel></rss>"
        )
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    paths = [tmp_path / "euphrates.example.xml", tmp_path / "tigris.example.xml"]
    async with open_app(
        settings, embedder=real_embedder, extractor=extractor, now=Clock(FEEDS_AT)
    ) as opened:
        await commands.ingest_files(opened, paths, workspace="console")
        question = "How many were killed by the car bomb in Mosul?"
        doc = await commands.ask(opened, question, workspace="console")
    counts = doc["answer"].split("\n")[0]
    assert "23 killed per " in counts and "31 killed per " in counts
    assert counts.count("in Mosul: ") == 1 and counts.endswith("(the reports differ).")


async def test_counts_come_only_from_events_of_the_group_asked_about(
    tmp_path: Path, real_embedder: Embedder, extractor: Extractor
) -> None:
    stories = {
        "raqqa-isis": (
            "Islamic State car bomb kills 9 in Raqqa",
            "Islamic State militants detonated a car bomb at a checkpoint in Raqqa on Monday, "
            "killing 9 people, a monitoring group said.",
        ),
        "raqqa-strike": (
            "Air strike kills 14 in Raqqa",
            "Russian warplanes struck a market in Raqqa on Monday, killing 14 people, "
            "rescuers said.",
        ),
    }
    paths = []
    for name, (title, text) in stories.items():
        path = tmp_path / f"{name}.xml"
        path.write_text(
            f"<rss version='2.0'><channel><title>{name}</title><link>https://{name}.example/"
            f"</link><description>news</description><item><title>{title}</title>"
            f"<link>https://{name}.example/a</link><description>{text}</description>"
            "<pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item></channel></rss>"
        )
        paths.append(path)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    async with open_app(
        settings, embedder=real_embedder, extractor=extractor, now=Clock(FEEDS_AT)
    ) as opened:
        await commands.ingest_files(opened, paths, workspace="console")
        by_group = await commands.ask(
            opened, "How many did Islamic State kill in Raqqa?", workspace="console"
        )
        anyone = await commands.ask(opened, "How many were killed in Raqqa?", workspace="console")
    # both stories are cited, but only the group's event is counted
    assert {c["title"] for c in by_group["citations"]} >= {t for t, _ in stories.values()}
    counts = by_group["answer"].split("\n")[0]
    assert "9 killed per " in counts and "14 killed" not in counts
    counts = anyone["answer"].split("\n")[0]
    assert "9 killed per " in counts and "14 killed per " in counts


async def test_latest_on_a_group_under_another_name(app: App) -> None:
    doc = await commands.ask(app, "latest on Daesh", workspace="console")
    assert_cited(doc)
    assert doc["filters"]["actors"][0]["key"] == "isis"
    assert doc["filters"].get("latest") is True
    assert doc["answer"].startswith("Latest reports:")


async def test_a_filter_that_empties_the_result_is_relaxed_and_said(app: App) -> None:
    doc = await commands.ask(app, "What happened in Raqqa in 2014?", workspace="console")
    assert doc["relaxed"] and "2014" in doc["relaxed"][0]
    assert doc["answer"].startswith("Nothing matched the time (in 2014)")
    assert "time" not in doc["filters"] and doc["filters"]["places"]
    assert_cited(doc)


async def test_nothing_relevant_says_so(app: App) -> None:
    doc = await commands.ask(app, "What is the recipe for lemon cheesecake?", workspace="console")
    assert doc["citations"] == [] and "found nothing" in doc["answer"]


async def test_a_name_no_stored_report_has_is_said(app: App) -> None:
    doc = await commands.ask(
        app, "How many were killed in the ambush near Karvessa and Mosul?", workspace="console"
    )
    assert doc["unmentioned"] == ["Karvessa"] and doc["not_cited"] == []
    assert doc["answer"].startswith("No stored report mentions Karvessa.\n")
    known = await commands.ask(app, "How many were killed in Mosul?", workspace="console")
    assert known["unmentioned"] == known["not_cited"] == []
    assert (
        "No stored report" not in known["answer"] and "None of the passages" not in known["answer"]
    )


async def test_a_stored_name_the_citations_lack_is_said(app: App) -> None:
    """Raqqa is in the sample feeds, but not in the report on the Kirkuk checkpoint."""
    question = "What happened at the Kirkuk checkpoint according to Raqqa officials?"
    doc = await commands.ask(app, question, workspace="console", k=1)
    [cited] = assert_cited(doc)
    assert "Raqqa" not in f"{cited['title']} {cited['passage']}"
    assert doc["unmentioned"] == [] and doc["not_cited"] == ["Raqqa"]
    assert doc["answer"].startswith("None of the passages cited mentions Raqqa.\n")


async def test_an_answer_lists_further_sources_up_to_k(app: App) -> None:
    question = "What did the army say about the car bomb?"
    for k in (2, 5):
        doc = await commands.ask(app, question, workspace="console", k=k)
        citations = assert_cited(doc)
        assert len(citations) == k  # the sample feeds hold more than 5 relevant articles
        quoted, _, further = doc["answer"].partition("\nSee also: ")
        listed = {int(n) for n in CITE.findall(further)}
        assert not listed & {int(n) for n in CITE.findall(quoted)}
        if k == 5:  # an extractive answer quotes 4 sentences at most: the 5th is listed
            assert listed


async def test_another_workspace_sees_nothing(app: App) -> None:
    doc = await commands.ask(app, "What happened in Mosul?", workspace="discord:42")
    assert doc["citations"] == [] and "found nothing" in doc["answer"]
    assert doc["unmentioned"] == ["Mosul"]  # another workspace's reports are not looked at


# ---- generated answers -----------------------------------------------------------------------
@pytest.fixture
async def llm_app(
    data_dir: Path, real_embedder: Embedder, extractor: Extractor, httpserver_ipv4: HTTPServer
) -> AsyncIterator[App]:
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,  # type: ignore[call-arg]
        llm_url=httpserver_ipv4.url_for("/v1"),
        llm_timeout_s=1.0,
    )
    async with open_app(
        settings, embedder=real_embedder, extractor=extractor, repair_mode="index"
    ) as opened:
        yield opened


def completion(text: str) -> dict[str, object]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
    }


async def test_a_generated_answer_is_used_when_it_cites_what_it_was_given(
    llm_app: App, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        completion("A car bomb killed at least 23 people in a Mosul market [1].")
    )
    doc = await commands.ask(
        llm_app, "How many were killed in the Mosul market bombing?", workspace="console"
    )
    assert doc["generated"] is True
    assert doc["answer"].startswith("A car bomb killed at least 23 people")
    sent = json.loads(httpserver_ipv4.log[0][0].get_data())
    assert "Mosul" in sent["messages"][-1]["content"]
    assert_cited(doc)


@pytest.mark.parametrize(
    "reply",
    [
        completion("Twelve were killed [9]."),  # a passage it was not given
        completion("Twelve were killed."),  # no citation at all
        "slow",
    ],
)
async def test_a_bad_or_slow_generated_answer_falls_back_to_the_extractive_one(
    llm_app: App, httpserver_ipv4: HTTPServer, reply: object
) -> None:
    release = threading.Event()
    if reply == "slow":

        def slow(request: Request) -> Response:
            release.wait(5)
            return Response(json.dumps(completion("late [1]")), content_type="application/json")

        httpserver_ipv4.expect_request("/v1/chat/completions").respond_with_handler(slow)
    else:
        httpserver_ipv4.expect_request("/v1/chat/completions").respond_with_json(reply)
    try:
        doc = await commands.ask(
            llm_app, "How many were killed in the Mosul market bombing?", workspace="console"
        )
    finally:
        release.set()
    assert doc["generated"] is False and "23" in doc["answer"]
    assert_cited(doc)
