"""Stage: a question -> Answer(text with [n] citations, the filters used, the citations).
Side effects: reads the store and the vector index; may call a chat-completions server.

1. The question's filters: places (with containment: "in Deir ez-Zor" covers its towns),
   actors (any alias), event types and a time range ("this week", "since June", "in 2014"),
   from the gazetteer, the actor catalogue and bot/core/question.py. Time limits the articles
   searched; places, actors and event types pick the reports a "what happened" answer lists.
   A filter that leaves none is dropped (event types first, then time, actors, places), and
   the answer says so.
2. Retrieval: dense and BM25, fused by score (index/retrieve/search.py `retrieve_many`).
3. Re-ranking: the best passages' sentences are embedded and scored against the question; a
   passage counts by its best sentence, blended with its retrieval rank, plus a recency prior for
   "latest" questions.
4. The answer: the sentences that answer best, each followed by its citation [n], with the
   stored metadata for "how many were killed" and "what happened" questions, and an "as of"
   line naming the newest article used. When nothing relevant is found, it says so. With an
   LLM configured, the same passages go to it; an answer citing anything it was not given,
   or a timeout, falls back to the extractive one.

The answer's values and its last touches (citations renumbered, names no report has) are in
bot/core/citation.py, the death tolls in bot/core/toll.py, the filters' values in
bot/core/answerfilter.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from bot.core.answerfilter import _Filters, _last_day, _region, _relaxed_sentence
from bot.core.citation import UNCITED, UNMENTIONED, Answer, Citation, _with_names, renumber
from bot.core.question import Intent, parse_intent
from bot.core.toll import enrich_killed
from index.extract.actors import ActorCatalogue
from index.extract.places import Gazetteer
from index.models import Hit
from index.retrieve.embed import Embedder
from index.retrieve.passages import split_sentences
from index.retrieve.search import STOPWORDS, Mode, name_query, retrieve_many
from index.store.interfaces import Storage, Vectors
from index.text import words

if TYPE_CHECKING:
    import httpx

    from bot.core.llm import LlmConfig

log = logging.getLogger(__name__)

__all__ = [
    "CANDIDATES",
    "MAX_SENTENCES",
    "MIN_WORDS",
    "NOTHING",
    "RELEVANT",
    "RERANKED",
    "SENTENCES_EACH",
    "UNCITED",
    "UNMENTIONED",
    "Answer",
    "Answerer",
    "Citation",
    "enrich_killed",
    "renumber",
]

CANDIDATES = 30  # passages retrieved
RERANKED = 6  # of which re-scored sentence by sentence
SENTENCES_EACH = 2  # sentences of each the model reads
MAX_SENTENCES = 4  # in an extractive answer
RELEVANT = 0.25  # a sentence this similar to the question can answer it (bench/eval_qa.py)
MIN_WORDS = 6  # shorter sentences are rarely an answer (bylines, captions)
# Sentences that point elsewhere rather than report ("See our timeline of ...").
_NAVIGATION = re.compile(
    r"^\W*(see|read|watch|listen|follow|click|sign up|subscribe|related|more on|also read)\b",
    re.IGNORECASE,
)
NOTHING = "I found nothing in this workspace's feeds that answers that."


class Answerer:
    """Answers questions from one store; open once, ask many times."""

    def __init__(
        self,
        store: Storage,
        vectors: Vectors,
        embedder: Embedder,
        catalogue: ActorCatalogue,
        gazetteer: Gazetteer,
        *,
        llm: LlmConfig | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.embedder = embedder
        self.catalogue = catalogue
        self.gazetteer = gazetteer
        self.llm = llm
        self.http = http

    async def ask(
        self,
        question: str,
        workspace_id: int,
        *,
        now: datetime,
        k: int = 5,
        mode: Mode = "hybrid",
    ) -> Answer:
        question = " ".join(question.split())
        filters = self._filters(question, now)
        vector = await asyncio.to_thread(self.embedder.embed_query, question)
        within, preferred, active, relaxed = await self._articles(filters, workspace_id)
        query = filters.intent.core or question
        text = f"{question} {query}" if query != question else question

        [hits] = await retrieve_many(
            self.store,
            self.vectors,
            self.embedder,
            workspace_id,
            text,
            CANDIDATES,
            mode=mode,
            article_sets=[within],
            query_vector=vector,
        )
        ranked, sentences = await self._rerank(question, hits, vector, filters.intent, now)
        unmentioned = await self._unmentioned(filters.intent.names, workspace_id)
        answer = self._compose(
            question,
            ranked,
            sentences,
            filters,
            active,
            relaxed,
            k,
            set(preferred or ()),
        )
        if filters.intent.count_killed and answer.citations:
            answer = await enrich_killed(
                self.store,
                answer,
                self.gazetteer,
                places=filters.places if "places" in active else (),
                event_types=filters.intent.event_types if "event_types" in active else (),
                actors=[key for key, _ in filters.actors] if "actors" in active else (),
                time=filters.intent.time if "time" in active else None,
            )
        if self.llm is not None and answer.citations:
            answer = await self._generated(answer, ranked, now) or answer
        answer = _with_names(answer, filters.intent.names, unmentioned)
        return renumber(answer)

    # -- filters --
    def _filters(self, question: str, now: datetime) -> _Filters:
        intent = parse_intent(question, now)
        actors: dict[str, str] = {}
        for mention in self.catalogue.find(question):
            if not mention.weak:
                actors.setdefault(mention.actor_id, mention.canonical)
        places = []
        for named in self.gazetteer.find(question):
            if named.place not in places:
                places.append(named.place)
        return _Filters(tuple(places), tuple(actors.items()), intent)

    async def _articles(
        self, filters: _Filters, workspace_id: int
    ) -> tuple[list[int] | None, list[int] | None, set[str], tuple[str, ...]]:
        """(articles within the time asked, None: no limit; articles that also name the
        question's places, groups or kinds of event, None: no such filter; the filters in use;
        a sentence for each filter dropped because nothing matched it).

        Time is a hard limit: "this week" means this week. Places, groups and kinds of event
        do not steer retrieval: a question often names them as context ("the US said...")
        rather than as its subject, and ranking the articles naming them first lost the
        evidence of 12 points of the QA development questions (bench/eval_qa.py). They pick
        which reports a "what happened" answer lists."""
        present = {
            "places": bool(filters.places),
            "actors": bool(filters.actors),
            "event_types": bool(filters.intent.event_types),
            "time": filters.intent.time is not None,
        }
        active = {name for name, there in present.items() if there}
        relaxed: list[str] = []
        within = None
        if "time" in active:
            within = await self._find(filters, workspace_id, {"time"})
            if not within:
                active.discard("time")
                relaxed.append(_relaxed_sentence("time", filters))
                within = None
        preferred = None
        soft = active - {"time"}
        for drop in ("event_types", "actors", "places", None):
            if not soft:
                break
            found = await self._find(filters, workspace_id, soft | (active & {"time"}))
            if found:
                preferred = found
                break
            if drop is not None and drop in soft:
                soft.discard(drop)
                active.discard(drop)
                relaxed.append(_relaxed_sentence(drop, filters))
        return within, preferred, active, tuple(relaxed)

    async def _find(self, filters: _Filters, workspace_id: int, active: set[str]) -> list[int]:
        time = filters.intent.time if "time" in active else None
        keys = [key for key, _ in filters.actors] if "actors" in active else []
        types = list(filters.intent.event_types) if "event_types" in active else []
        regions = list(filters.places) if "places" in active else [None]
        found: dict[int, None] = {}
        for place in regions:
            articles = await self.store.find_article_ids(
                workspace_id,
                actor_keys=keys,
                region=_region(place) if place is not None else None,
                event_types=types,
                since=time.since.date() if time and time.since else None,
                until=_last_day(time.until) if time and time.until else None,
                limit=2000,
            )
            found.update((article_id, None) for article_id in articles)
        return list(found)

    async def _unmentioned(self, names: Sequence[str], workspace_id: int) -> tuple[str, ...]:
        """The question's proper names no word of which any stored passage of the workspace
        has (by prefix: `index.retrieve.search.name_query`)."""
        missing = []
        for name in names:
            expression = name_query(name)
            if expression and not await self.store.mentions(expression, workspace_id=workspace_id):
                missing.append(name)
        return tuple(missing)

    # -- ranking --
    async def _rerank(
        self, question: str, hits: list[Hit], vector: np.ndarray, intent: Intent, now: datetime
    ) -> tuple[list[Hit], dict[int, list[tuple[str, float]]]]:
        """Hits re-ordered by their best sentence's similarity to the question (blended with
        the retrieval rank), and each re-scored hit's sentences with their similarity. The
        model reads a few sentences of each of the best passages: those sharing most words
        with the question, else the first ones (a news passage leads with its facts)."""
        terms = _terms(question)
        pieces = [
            (h.passage_id, text)
            for h in hits[:RERANKED]
            for text in _preselect(h.text, terms, SENTENCES_EACH)
        ]
        sentences: dict[int, list[tuple[str, float]]] = {}
        if pieces:
            matrix = await asyncio.to_thread(self.embedder.embed_passages, [t for _, t in pieces])
            for (pid, text), score in zip(pieces, matrix @ vector, strict=True):
                sentences.setdefault(pid, []).append((text, float(score)))
        scored = []
        for rank, hit in enumerate(hits):
            best = max((s for _, s in sentences.get(hit.passage_id, [])), default=0.0)
            score = 0.6 * best + 0.4 / (1 + rank) ** 0.5
            if intent.latest:
                age_days = max(0.0, (now - hit.published_at).total_seconds() / 86400)
                score += 0.3 * math.exp(-age_days / 7)
            scored.append((score, hit))
        scored.sort(key=lambda item: -item[0])
        return [_with_score(h, s) for s, h in scored], sentences

    # -- composing --
    def _compose(
        self,
        question: str,
        ranked: list[Hit],
        sentences: dict[int, list[tuple[str, float]]],
        filters: _Filters,
        active: set[str],
        relaxed: tuple[str, ...],
        k: int,
        preferred: set[int],
    ) -> Answer:
        numbers: dict[int, int] = {}  # article_id -> n
        cited: list[Citation] = []

        def cite(hit: Hit) -> int:
            if hit.article_id not in numbers:
                numbers[hit.article_id] = len(cited) + 1
                cited.append(
                    Citation(
                        len(cited) + 1,
                        hit.article_id,
                        hit.title,
                        hit.url,
                        hit.source,
                        hit.published_at,
                        hit.text,
                    )
                )
            return numbers[hit.article_id]

        candidates = [
            (score, text, hit)
            for hit in ranked
            for text, score in sentences.get(hit.passage_id, [])
            if score >= RELEVANT
        ]
        candidates.sort(key=lambda item: -item[0])
        intent = filters.intent
        lead = []  # listed first, so cited first
        if intent.what_happened or intent.latest:
            lead = self._overview(ranked, intent, cite, k, preferred)
        lines: list[str] = []
        seen_stories: dict[int, int] = {}
        seen_text: set[str] = set()
        for _, text, hit in candidates:
            if len(lines) >= MAX_SENTENCES:
                break
            key = " ".join(text.lower().split())
            if key in seen_text or seen_stories.get(hit.story_id, 0) >= 2:
                continue
            if hit.article_id not in numbers and len(cited) >= k:
                continue  # k sources at most
            seen_text.add(key)
            seen_stories[hit.story_id] = seen_stories.get(hit.story_id, 0) + 1
            lines.append(f"{text} [{cite(hit)}]")
        if not lines:
            return Answer(
                question,
                _with_relaxed(NOTHING, relaxed),
                filters.doc(active),
                (),
                relaxed,
                None,
                passages=tuple(ranked),
            )
        body = " ".join(lines)
        text = "\n".join([*lead, body]) if lead else body
        further = _see_also(ranked, numbers, k)
        if further:
            text += "\nSee also: " + "; ".join(_report(h, cite) for h in further) + "."
        newest = max(c.published_at for c in cited)
        text += f"\n{_as_of_line(newest)}"
        return Answer(
            question,
            _with_relaxed(text, relaxed),
            filters.doc(active),
            tuple(cited),
            relaxed,
            newest,
            passages=tuple(ranked),
        )

    def _overview(
        self,
        ranked: list[Hit],
        intent: Intent,
        cite: Callable[[Hit], int],
        k: int,
        preferred: set[int],
    ) -> list[str]:
        """A line listing the reports, newest first, for "latest" and "what happened"
        questions: those naming the question's places and groups when there are any."""
        by_article: dict[int, Hit] = {}
        named = [h for h in ranked if h.article_id in preferred]
        for hit in named or ranked:
            by_article.setdefault(hit.article_id, hit)
        articles = list(by_article.values())[:k]
        if intent.latest or intent.what_happened:
            articles.sort(key=lambda h: h.published_at, reverse=True)
        parts = [_report(h, cite) for h in articles]
        label = "Latest reports" if intent.latest else "Reports"
        return [f"{label}: " + "; ".join(parts) + "."] if parts else []

    async def _generated(self, answer: Answer, ranked: list[Hit], now: datetime) -> Answer | None:
        from bot.core.llm import LlmRefused, Source, generate_answer

        assert self.llm is not None and self.http is not None
        sources = [
            Source(c.n, c.title, c.source, c.published_at.strftime("%Y-%m-%d"), c.passage)
            for c in answer.citations
        ]
        try:
            text = await generate_answer(
                self.http, self.llm, answer.question, sources, today=now.strftime("%Y-%m-%d")
            )
        except LlmRefused as exc:
            log.warning("the LLM's answer was not used (%s); answering from the passages", exc)
            return None
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the LLM call failed; answering from the passages")
            return None
        as_of = f"\n{_as_of_line(answer.as_of)}" if answer.as_of else ""
        return replace(answer, text=_with_relaxed(text + as_of, answer.relaxed), generated=True)


def _terms(text: str) -> set[str]:
    """Content words, folded (index/text.py) and cut to 5 letters (a crude stem: killed ~
    killing)."""
    return {w[:5] for w in words(text) if w not in STOPWORDS and len(w) > 2}


def _preselect(text: str, terms: set[str], keep: int) -> list[str]:
    """The `keep` sentences of a passage sharing most question words, in text order; ties go
    to the earlier sentence."""
    candidates = [
        s for s in split_sentences(text) if len(s.split()) >= MIN_WORDS and not _NAVIGATION.match(s)
    ]
    ranked = sorted(
        range(len(candidates)),
        key=lambda i: (-len(_terms(candidates[i]) & terms), i),
    )
    return [candidates[i] for i in sorted(ranked[:keep])]


def _report(hit: Hit, cite: Callable[[Hit], int]) -> str:
    """A source as an answer lists it: "Title (2024-03-01) [2]"."""
    return f"{hit.title} ({hit.published_at.strftime('%Y-%m-%d')}) [{cite(hit)}]"


def _see_also(ranked: Sequence[Hit], cited: dict[int, int], k: int) -> list[Hit]:
    """The next best articles not yet cited, best first, so that an answer lists up to `k`
    sources: the passages it quotes do not always come from the article that holds the
    evidence, and the reader can check the others."""
    further: dict[int, Hit] = {}
    for hit in ranked:
        if len(cited) + len(further) >= k:
            break
        if hit.article_id not in cited:
            further.setdefault(hit.article_id, hit)
    return list(further.values())


def _as_of_line(newest: datetime) -> str:
    return f"(As of {newest.strftime('%Y-%m-%d %H:%M UTC')}, the newest article used.)"


def _with_score(hit: Hit, score: float) -> Hit:
    return replace(hit, score=score)


def _with_relaxed(text: str, relaxed: Sequence[str]) -> str:
    return "\n".join([*relaxed, text]) if relaxed else text
