"""Stage: question + numbered passages -> a generated answer that cites them, or LlmRefused.
Side effects: one HTTP POST to an OpenAI-compatible chat-completions endpoint (a local llama.cpp
or Ollama server, say).

Generation is optional and never trusted blindly: the model is told to answer only from the
passages and to put [n] after each sentence; `check_answer` then refuses a reply that is empty,
cites nothing (unless it plainly says the passages do not answer), or cites a passage it was not
given. Every way a reply can fail (timeout, HTTP error, a body that is not the expected JSON, a
refused answer) raises `LlmRefused`, and the caller falls back to the extractive answer. The API
key is only ever put in the Authorization header: it is kept out of reprs, reasons and logs.
`asyncio.CancelledError` is never caught.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "LlmConfig",
    "LlmRefused",
    "Source",
    "build_messages",
    "check_answer",
    "cited_numbers",
    "endpoint_url",
    "generate_answer",
]

ENDPOINT_PATH = "/chat/completions"
MAX_BODY_BYTES = 1_000_000  # a chat completion of a few hundred tokens is a few KB
# An answer without citations is accepted only as a short "the passages do not say".
MAX_UNCITED_CHARS = 300

SYSTEM_PROMPT = """\
You answer questions about conflict and security news using ONLY the numbered passages the user \
gives you.
- Put the passage number in square brackets after each sentence, for the passage(s) it comes \
from, like this: [1] or [2][3].
- If the passages do not answer the question, say so plainly (for example: "The passages do not \
say.") and do not guess.
- Do not use outside knowledge, and do not cite a number that is not one of the passages.
- Be brief: at most 5 sentences.
- Today's date is {today}; use it to read relative dates such as "yesterday" in the passages."""


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """Where and how to ask. `url` is the API base ("http://127.0.0.1:11434/v1") or the full
    ".../chat/completions" endpoint; `api_key`, when set, goes out as a Bearer token."""

    url: str
    model: str = "default"
    timeout_s: float = 20.0
    api_key: str | None = field(default=None, repr=False)
    max_tokens: int = 400


@dataclass(frozen=True, slots=True)
class Source:
    """One numbered passage given to the model; `n` is the number it cites as [n]."""

    n: int
    title: str
    source: str
    published: str  # "2026-11-24"
    text: str


class LlmRefused(Exception):
    """A generated reply was not used; `reason` says why (for logs and tests)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- Prompt ------------------------------------------------------------------------------------


def build_messages(question: str, sources: Sequence[Source], today: str) -> list[dict[str, str]]:
    """The system instructions and one user message: the passages as "[n] title (source, date)"
    blocks, then the question."""
    blocks = [f"[{s.n}] {s.title} ({s.source}, {s.published})\n{s.text.strip()}" for s in sources]
    user = "\n\n".join([*blocks, f"Question: {question.strip()}"])
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(today=today)},
        {"role": "user", "content": user},
    ]


# --- Checking a reply --------------------------------------------------------------------------

# A bracket whose content is only numbers joined by commas, semicolons, "and" or dashes:
# [1], [1, 3], [1;2], [1 and 2], [1-2], [1–3]. Adjacent brackets ([1][2]) match one by one;
# brackets holding anything else ("[sic]", "[n]") are not citations.
_DASH = "\\-\u2010\u2011\u2012\u2013\u2014"
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_CITATION = re.compile(rf"\s*\d+(?:\s*(?:[,;{_DASH}]|and)\s*\d+)*\s*")
_RANGE = re.compile(rf"(\d+)\s*[{_DASH}]\s*(\d+)")
_NUMBER = re.compile(r"\d+")
_MAX_RANGE = 1000

_NO_ANSWER = re.compile(
    r"\b(?:do|does|did)\s*(?:not|n[o'’]t)\s+(?:say|mention|answer|contain|cover|include|address"
    r"|state|specify|provide|report|give|describe|tell|discuss)"
    r"|\b(?:cannot|can\s*not|can[’']t|unable\s+to)\s+(?:answer|tell|say|determine|find)"
    r"|\bno\s+(?:information|mention|answer|details?|passages?)\b"
    r"|\bnone\s+of\s+the\s+(?:passages|sources|articles)\b"
    r"|\bnot\s+(?:mentioned|covered|stated|answered|addressed|specified|reported)\b",
    re.IGNORECASE,
)
_PASSAGES = re.compile(r"\b(?:passages?|sources?|articles?|context|provided)\b", re.IGNORECASE)


def cited_numbers(text: str) -> set[int]:
    """Every passage number `text` cites, ranges expanded: "[1, 3] ... [4-5][7]" -> {1,3,4,5,7}.
    A range wider than 1000 yields its two ends only (it is refused either way)."""
    found: set[int] = set()
    for match in _BRACKET.finditer(text):
        body = match.group(1)
        if not _CITATION.fullmatch(body):
            continue
        for low, high in _RANGE.findall(body):
            a, b = sorted((int(low), int(high)))
            found.update(range(a, b + 1) if b - a <= _MAX_RANGE else (a, b))
        found.update(int(n) for n in _NUMBER.findall(body))
    return found


def _says_no_answer(text: str) -> bool:
    return (
        len(text) <= MAX_UNCITED_CHARS
        and _NO_ANSWER.search(text) is not None
        and _PASSAGES.search(text) is not None
    )


def check_answer(text: str, allowed: set[int]) -> str:
    """The stripped answer, if it only cites passages in `allowed`; raises LlmRefused when it is
    empty, cites nothing (a short, plain "the passages do not say" is accepted as is), or cites
    a passage it was not given."""
    answer = text.strip()
    if not answer:
        raise LlmRefused("empty answer")
    cited = cited_numbers(answer)
    if not cited:
        if _says_no_answer(answer):
            return answer
        raise LlmRefused("the answer cites no passage")
    unknown = sorted(cited - allowed)
    if unknown:
        shown = ", ".join(str(n) for n in unknown[:10])
        raise LlmRefused(f"the answer cites passages it was not given: {shown}")
    return answer


# --- Calling the endpoint ----------------------------------------------------------------------


def endpoint_url(url: str) -> str:
    """The chat-completions endpoint for a base URL or for the endpoint itself."""
    base = url.strip().rstrip("/")
    return base if base.endswith(ENDPOINT_PATH) else base + ENDPOINT_PATH


_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)


def _content(body: bytes) -> str:
    """choices[0].message.content of a chat-completion body, or LlmRefused."""
    try:
        data: Any = json.loads(body)
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, LookupError, TypeError) as exc:
        raise LlmRefused(f"not a chat completion: {type(exc).__name__}") from exc
    if not isinstance(content, str):
        raise LlmRefused("not a chat completion: the message has no text content")
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        raise LlmRefused("the answer was cut off at max_tokens")
    return _THINKING.sub("", content)  # reasoning models may think aloud before answering


async def _post(http: httpx.AsyncClient, config: LlmConfig, payload: dict[str, Any]) -> bytes:
    headers = {"Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = http.build_request(
        "POST",
        endpoint_url(config.url),
        json=payload,
        headers=headers,
        timeout=httpx.Timeout(config.timeout_s),
    )
    response = await http.send(request, stream=True)
    try:
        if response.status_code >= 400:
            raise LlmRefused(f"HTTP {response.status_code}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise LlmRefused(f"the reply is over {MAX_BODY_BYTES} bytes")
        return bytes(body)
    finally:
        await response.aclose()


async def generate_answer(
    http: httpx.AsyncClient,
    config: LlmConfig,
    question: str,
    sources: Sequence[Source],
    *,
    today: str,
) -> str:
    """Ask the model to answer `question` from `sources` only; return its checked answer.

    Raises LlmRefused ("timed out", "HTTP 500", "not a chat completion: ...", or a
    `check_answer` reason) whenever the reply should not be shown; the caller then falls back
    to the extractive answer. The whole call, body included, is bounded by `config.timeout_s`.
    """
    if not sources:
        raise LlmRefused("no passages to answer from")
    payload: dict[str, Any] = {
        "model": config.model,
        "messages": build_messages(question, sources, today),
        "temperature": 0,
        "max_tokens": config.max_tokens,
        "stream": False,
    }
    try:
        async with asyncio.timeout(config.timeout_s):
            body = await _post(http, config, payload)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise LlmRefused("timed out") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # refused, bad URL, protocol error...
        raise LlmRefused(f"request failed: {type(exc).__name__}") from exc
    return check_answer(_content(body), {s.n for s in sources})
