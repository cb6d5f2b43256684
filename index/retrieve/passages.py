"""Stage: article (title, text) -> [Passage] of a few sentences each, with content hashes.
Side effects: none.

Passages are what we embed and retrieve. Each holds whole sentences up to a token budget (MiniLM
reads 256 word pieces; we stay near 200 including the title, which every passage carries as
context), and repeats the previous passage's last sentence when it is short, so a fact split
across a boundary is still found.
"""

from __future__ import annotations

import hashlib
import re

from index.models import Passage

MAX_TOKENS = 200
OVERLAP_MAX_TOKENS = 40
# Sentence ends: . ! ? (optionally followed by closing quotes/brackets) then space and an
# uppercase letter, digit or opening quote. Common abbreviations are protected below.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Gen|Lt|Col|Maj|Capt|Sgt|Rep|Sen|Gov|Pres|St|Jr|Sr|No|Co|Corp|Inc|Ltd|"
    r"U\.S|U\.N|U\.K|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|vs|approx|est)\.$"
)
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def estimate_tokens(text: str) -> int:
    """Rough word-piece count for MiniLM's English vocabulary: an ASCII word or punctuation
    mark is about one piece (long words a few), plus a margin for split rare words; a word in
    another script is split into pieces of one or two characters, so it counts one per
    character (over-estimating slightly keeps every passage within the model's 256)."""
    count = 0.0
    for token in _TOKEN.findall(text):
        count += 1.15 + len(token) // 12 if token.isascii() else len(token)
    return int(count) + 1


def split_sentences(text: str) -> list[str]:
    """Sentences of plain text; paragraph breaks always end a sentence."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        paragraph = _SPACE.sub(" ", paragraph).strip()
        if not paragraph:
            continue
        pieces = _SENTENCE_END.sub("\\1\n", paragraph).split("\n")
        merged: list[str] = []
        for piece in pieces:
            if merged and _ABBREVIATIONS.search(merged[-1]):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        sentences.extend(s for s in merged if s)
    return sentences


def _split_long(sentence: str, budget: int) -> list[str]:
    words = sentence.split(" ")
    out: list[str] = []
    current: list[str] = []
    for word in words:
        if current and estimate_tokens(" ".join([*current, word])) > budget:
            out.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        out.append(" ".join(current))
    return out


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_text(title: str, body: str) -> str:
    """What the model reads for a passage: the article title as context, then the passage."""
    return body if not title or body == title else f"{title}\n{body}"


def chunk_article(title: str, text: str, max_tokens: int = MAX_TOKENS) -> list[Passage]:
    """Passages of whole sentences, each with the title as context and at most ~max_tokens."""
    title = _SPACE.sub(" ", title).strip()
    budget = max(32, max_tokens - estimate_tokens(title))
    sentences: list[str] = []
    for sentence in split_sentences(text):
        sentences.extend(
            _split_long(sentence, budget) if estimate_tokens(sentence) > budget else [sentence]
        )
    if not sentences:
        sentences = [title] if title else []
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for sentence in sentences:
        cost = estimate_tokens(sentence)
        if current and used + cost > budget:
            chunks.append(current)
            last = current[-1]
            tail_cost = estimate_tokens(last)
            keep = tail_cost <= OVERLAP_MAX_TOKENS and tail_cost + cost <= budget
            current, used = ([last], tail_cost) if keep else ([], 0)
        current.append(sentence)
        used += cost
    if current:
        chunks.append(current)
    passages = []
    for seq, chunk in enumerate(chunks):
        body = " ".join(chunk)
        embedded = embed_text(title, body)
        passages.append(
            Passage(
                seq=seq,
                text=body,
                embed_text=embedded,
                content_hash=content_hash(embedded),
            )
        )
    return passages
