"""Generative answers: the prompt, the citation check, and a fake OpenAI-compatible server on
127.0.0.1 (good answers, both URL forms, the key, and every way a reply is refused)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.core.llm import (
    LlmConfig,
    LlmRefused,
    Source,
    build_messages,
    check_answer,
    cited_numbers,
    endpoint_url,
    generate_answer,
)

TODAY = "2026-11-24"
ENDPOINT = "/v1/chat/completions"
QUESTION = "What happened at Goma airport?"
SOURCES = [
    Source(1, "Shelling near Goma airport", "Reuters", "2026-11-23", "Shells hit the runway."),
    Source(2, "Flights suspended in Goma", "AP", "2026-11-23", "Airlines halted all flights."),
    Source(3, "Aid groups warn of displacement", "Al Jazeera", "2026-11-22", "Thousands fled."),
]
GOOD = "Shells hit the runway at Goma airport [1]. Airlines then halted all flights [2]."


def completion(content: str | None, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "tiny",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
    }


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def server(httpserver_ipv4: HTTPServer) -> Iterator[HTTPServer]:
    yield httpserver_ipv4
    httpserver_ipv4.clear()


def config_for(server: HTTPServer, **kwargs: Any) -> LlmConfig:
    return LlmConfig(url=server.url_for("/v1"), model="tiny", **kwargs)


def serve(server: HTTPServer, content: str | None, finish_reason: str = "stop") -> None:
    server.expect_request(ENDPOINT, method="POST").respond_with_json(
        completion(content, finish_reason)
    )


async def ask(http: httpx.AsyncClient, config: LlmConfig) -> str:
    return await generate_answer(http, config, QUESTION, SOURCES, today=TODAY)


async def refusal(http: httpx.AsyncClient, config: LlmConfig) -> str:
    with pytest.raises(LlmRefused) as caught:
        await ask(http, config)
    return caught.value.reason


# ---- the prompt --------------------------------------------------------------------------------


def test_build_messages_gives_rules_passages_and_question() -> None:
    system, user = build_messages(QUESTION, SOURCES, TODAY)
    assert system["role"] == "system" and user["role"] == "user"
    assert "ONLY" in system["content"] and TODAY in system["content"]
    assert "[n]" not in system["content"] and "[1]" in system["content"]
    assert "at most 5 sentences" in system["content"]
    assert "do not say" in system["content"]
    assert user["content"].startswith(
        "[1] Shelling near Goma airport (Reuters, 2026-11-23)\nShells hit the runway.\n\n"
        "[2] Flights suspended in Goma (AP, 2026-11-23)\nAirlines halted all flights.\n\n"
    )
    assert user["content"].endswith(f"Thousands fled.\n\nQuestion: {QUESTION}")


def test_build_messages_keeps_the_given_numbers() -> None:
    _, user = build_messages("q?", [Source(4, "T", "S", "2026-01-02", "  body  ")], TODAY)
    assert user["content"] == "[4] T (S, 2026-01-02)\nbody\n\nQuestion: q?"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://127.0.0.1:11434/v1/",
        "http://127.0.0.1:11434/v1/chat/completions",
        "http://127.0.0.1:11434/v1/chat/completions/",
    ],
)
def test_endpoint_url_accepts_base_or_endpoint(url: str) -> None:
    assert endpoint_url(url) == "http://127.0.0.1:11434/v1/chat/completions"


def test_config_repr_hides_the_key() -> None:
    config = LlmConfig(url="http://127.0.0.1:8080", api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(config)


# ---- the citation check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("A [1].", {1}),
        ("A [1, 3].", {1, 3}),
        ("A [1,3] B [2].", {1, 2, 3}),
        ("A [1][2].", {1, 2}),
        ("A [1] [2].", {1, 2}),
        ("A [1-3].", {1, 2, 3}),
        ("A [1 – 3].", {1, 2, 3}),
        ("A [3-1].", {1, 2, 3}),
        ("A [1; 2] and [2 and 3].", {1, 2, 3}),
        ("A [1, 3-4].", {1, 3, 4}),
        ("A [ 2 ].", {2}),
        ("[sic] text [n] and [a1] and [] are not citations.", set()),
        ("A [1-100000].", {1, 100000}),
    ],
)
def test_cited_numbers_understands_citation_forms(text: str, cited: set[int]) -> None:
    assert cited_numbers(text) == cited


@pytest.mark.parametrize(
    "text",
    ["A [1].", "A [1, 3].", "A [1][2] B [3].", "A [1-3].", "A [1–2].", "A [2]. B, C [sic] [3]."],
)
def test_check_answer_accepts_citations_of_given_passages(text: str) -> None:
    assert check_answer(f"  {text}\n", {1, 2, 3}) == text


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("A [7].", "7"),
        ("A [1]. B [3, 4].", "4"),
        ("A [1][5].", "5"),
        ("A [2-4].", "4"),
        ("A [0].", "0"),
        ("A [1-100000].", "100000"),
    ],
)
def test_check_answer_refuses_passages_not_given(text: str, unknown: str) -> None:
    with pytest.raises(LlmRefused) as caught:
        check_answer(text, {1, 2, 3})
    assert caught.value.reason == f"the answer cites passages it was not given: {unknown}"


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_check_answer_refuses_empty(text: str) -> None:
    with pytest.raises(LlmRefused, match="empty answer"):
        check_answer(text, {1})


@pytest.mark.parametrize(
    "text",
    [
        "Shells hit the runway.",
        "The passage says no one was killed.",
        "Shells hit the runway (source 1).",
        "The passages do not say who fired. " + "It was surely the rebels, as always. " * 8,
    ],
)
def test_check_answer_refuses_uncited(text: str) -> None:
    with pytest.raises(LlmRefused, match="cites no passage"):
        check_answer(text, {1, 2, 3})


@pytest.mark.parametrize(
    "text",
    [
        "The passages do not say.",
        "The passages don't say who fired the shells.",
        "The provided passages do not contain information about casualties.",
        "None of the passages answer this question.",
        "I cannot answer that from the passages given.",
        "The sources do not mention Bukavu.",
    ],
)
def test_check_answer_accepts_a_plain_no_answer(text: str) -> None:
    assert check_answer(f"{text}\n", {1, 2, 3}) == text


# ---- against a fake OpenAI-compatible server ---------------------------------------------------


async def test_returns_a_good_cited_answer_and_sends_the_passages(
    http: httpx.AsyncClient, server: HTTPServer
) -> None:
    serve(server, f"\n{GOOD}\n")
    assert await ask(http, config_for(server, max_tokens=123)) == GOOD
    [(request, _)] = server.log
    assert request.method == "POST" and request.path == ENDPOINT
    assert "authorization" not in request.headers
    body = request.get_json()
    assert body["model"] == "tiny"
    assert body["temperature"] == 0 and body["max_tokens"] == 123 and body["stream"] is False
    assert body["messages"] == build_messages(QUESTION, SOURCES, TODAY)
    user = body["messages"][-1]["content"]
    for s in SOURCES:
        assert f"[{s.n}] {s.title} ({s.source}, {s.published})\n{s.text}" in user
    assert QUESTION in user


@pytest.mark.parametrize("path", ["/v1", "/v1/", ENDPOINT])
async def test_base_url_and_endpoint_url_both_work(
    http: httpx.AsyncClient, server: HTTPServer, path: str
) -> None:
    serve(server, GOOD)
    config = LlmConfig(url=server.url_for(path))
    assert await ask(http, config) == GOOD
    [(request, _)] = server.log
    assert request.path == ENDPOINT and request.get_json()["model"] == "default"


async def test_sends_the_key_as_a_bearer_token(http: httpx.AsyncClient, server: HTTPServer) -> None:
    serve(server, GOOD)
    assert await ask(http, config_for(server, api_key="sk-secret-123")) == GOOD
    [(request, _)] = server.log
    assert request.headers["Authorization"] == "Bearer sk-secret-123"


async def test_refuses_a_passage_it_was_not_given(
    http: httpx.AsyncClient, server: HTTPServer
) -> None:
    serve(server, "Shells hit the runway [1]. The rebels fired them [7].")
    assert await refusal(http, config_for(server)) == (
        "the answer cites passages it was not given: 7"
    )


async def test_refuses_no_citations_but_accepts_the_passages_do_not_say(
    http: httpx.AsyncClient, server: HTTPServer
) -> None:
    serve(server, "Shells hit the runway at Goma airport.")
    assert await refusal(http, config_for(server)) == "the answer cites no passage"
    server.clear()
    serve(server, "The passages do not say.")
    assert await ask(http, config_for(server)) == "The passages do not say."


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
async def test_refuses_http_errors_without_showing_the_key(
    http: httpx.AsyncClient, server: HTTPServer, status: int
) -> None:
    server.expect_request(ENDPOINT).respond_with_json(completion(GOOD), status=status)
    reason = await refusal(http, config_for(server, api_key="sk-secret-123"))
    assert reason == f"HTTP {status}"


@pytest.mark.parametrize(
    "body",
    [
        "this is not json",
        "{",
        b"\xff\xfe\x00garbage",
        "[]",
        "{}",
        '{"choices": []}',
        '{"choices": {"0": 1}}',
        '{"choices": [{"text": "[1] completions API"}]}',
        '{"choices": [{"message": "hi [1]"}]}',
        '{"choices": [{"message": {"role": "assistant"}}]}',
        json.dumps(completion(None)),
        '{"choices": [{"message": {"content": ["[1]"]}}]}',
    ],
)
async def test_refuses_a_body_that_is_not_a_chat_completion(
    http: httpx.AsyncClient, server: HTTPServer, body: str | bytes
) -> None:
    server.expect_request(ENDPOINT).respond_with_data(body, content_type="application/json")
    assert (await refusal(http, config_for(server))).startswith("not a chat completion")


async def test_refuses_an_answer_cut_off_at_max_tokens(
    http: httpx.AsyncClient, server: HTTPServer
) -> None:
    serve(server, "Shells hit the runway [1]. Airlines", finish_reason="length")
    assert await refusal(http, config_for(server)) == "the answer was cut off at max_tokens"


async def test_drops_a_leading_think_block(http: httpx.AsyncClient, server: HTTPServer) -> None:
    serve(server, f"<think>\nPassage [9] is irrelevant.\n</think>\n\n{GOOD}")
    assert await ask(http, config_for(server)) == GOOD


async def test_refuses_a_reply_over_the_size_cap(
    http: httpx.AsyncClient, server: HTTPServer
) -> None:
    serve(server, "Shells [1]. " * 100_000)
    assert (await refusal(http, config_for(server))).startswith("the reply is over")


async def test_slow_server_times_out(http: httpx.AsyncClient, server: HTTPServer) -> None:
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(10)  # far longer than timeout_s; released as soon as the test is done
        return Response(json.dumps(completion(GOOD)), content_type="application/json")

    server.expect_request(ENDPOINT).respond_with_handler(slow)
    try:
        assert await refusal(http, config_for(server, timeout_s=0.5)) == "timed out"
    finally:
        release.set()


async def test_refuses_when_nothing_listens(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = LlmConfig(url=f"http://127.0.0.1:{port}/v1", timeout_s=2.0)
    assert (await refusal(http, config)).startswith("request failed: ")


async def test_refuses_without_passages_and_sends_nothing(
    http: httpx.AsyncClient, server: HTTPServer
) -> None:
    with pytest.raises(LlmRefused, match="no passages"):
        await generate_answer(http, config_for(server), QUESTION, [], today=TODAY)
    assert server.log == []
