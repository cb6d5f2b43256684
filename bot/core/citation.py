"""Stage: an Answer -> the same Answer as sent: citations numbered in the order its text uses
them, led by a line for the question's names that no stored report, or no citation, has.
Side effects: none.

Also the values an answer is made of (Citation, Answer) and their `ask --json` documents;
bot/core/answer.py composes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from index.models import Hit
from index.retrieve.search import names_in
from index.timeutil import to_iso

UNMENTIONED = "No stored report mentions {names}."
UNCITED = "None of the passages cited mentions {names}."


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    article_id: int
    title: str
    url: str | None
    source: str
    published_at: datetime
    passage: str

    def doc(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published_at": to_iso(self.published_at),
            "passage": self.passage,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    filters: dict[str, Any]
    citations: tuple[Citation, ...]
    relaxed: tuple[str, ...] = ()
    as_of: datetime | None = None
    generated: bool = False  # written by the configured LLM
    passages: tuple[Hit, ...] = field(default=(), repr=False)  # what was retrieved, ranked
    unmentioned: tuple[str, ...] = ()  # the question's names no stored report has
    not_cited: tuple[str, ...] = ()  # the question's other names the citations lack

    def doc(self) -> dict[str, Any]:
        """The `ask --json` document of the command-line contract."""
        return {
            "question": self.question,
            "answer": self.text,
            "filters": self.filters,
            "citations": [c.doc() for c in self.citations],
            "relaxed": list(self.relaxed),
            "as_of": to_iso(self.as_of) if self.as_of else None,
            "generated": self.generated,
            "unmentioned": list(self.unmentioned),
            "not_cited": list(self.not_cited),
            "retrieved": [
                {"passage_id": h.passage_id, "article_id": h.article_id, "score": round(h.score, 4)}
                for h in self.passages
            ],
        }


_CITE = re.compile(r"\[(\d+)\]")


def renumber(answer: Answer) -> Answer:
    """Citations numbered 1, 2, ... in the order the text first uses them; uncited ones
    dropped. Only [n] naming a citation is rewritten."""
    by_n = {c.n: c for c in answer.citations}
    order: dict[int, int] = {}
    for found in _CITE.finditer(answer.text):
        n = int(found[1])
        if n in by_n and n not in order:
            order[n] = len(order) + 1

    def swap(found: re.Match[str]) -> str:
        n = int(found[1])
        return f"[{order[n]}]" if n in order else found[0]

    citations = tuple(replace(by_n[old], n=new) for old, new in order.items())
    return replace(answer, text=_CITE.sub(swap, answer.text), citations=citations)


def _with_names(answer: Answer, names: Sequence[str], unmentioned: Sequence[str]) -> Answer:
    """The answer, led by a line for the question's names that no stored report has and one
    for those that none of its citations has: an answer about a town from reports that never
    name it is likely about something else, and the reader should know."""
    passages = [f"{c.title} {c.passage}" for c in answer.citations]
    not_cited = [n for n in names if n not in unmentioned and not names_in(n, passages)]
    lines = []
    if unmentioned:
        lines.append(UNMENTIONED.format(names=_listed(unmentioned)))
    if not_cited and answer.citations:
        lines.append(UNCITED.format(names=_listed(not_cited)))
    if not lines:
        return answer
    return replace(
        answer,
        text="\n".join([*lines, answer.text]),
        unmentioned=tuple(unmentioned),
        not_cited=tuple(not_cited) if answer.citations else (),
    )


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
