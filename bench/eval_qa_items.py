"""The items of bench/eval_qa.py: the RealTimeQA dev questions and the unanswerable ones, the
distractor feed files of the shared data, the evidence texts as one RSS feed, and the
`ask --batch` input lines."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
UNANSWERABLE = Path(__file__).with_name("qa_unanswerable.jsonl")
QA_FILE = Path("realtimeqa_news") / "realtimeqa_dev.jsonl"
MANIFEST = Path("news_feeds") / "manifest.jsonl"
EVIDENCE_URL = "https://evidence.example/"
TITLE_WORDS = 12
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def shared_data_dir() -> Path | None:
    """`WIREWATCH_SHARED_DATA` when set, else `../shared/data` beside the project root; None
    when the questions or the feed manifest are not there."""
    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = Path(env) if env else ROOT.parent / "shared" / "data"
    return folder if (folder / QA_FILE).is_file() and (folder / MANIFEST).is_file() else None


def load_items(shared: Path) -> list[dict[str, Any]]:
    text = (shared / QA_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_unanswerable(path: Path = UNANSWERABLE) -> list[dict[str, Any]]:
    """The questions about events the corpus does not hold: {"question", "as_of"} a line."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def distractor_files(shared: Path) -> list[Path]:
    """Every feed capture listed in the manifest, in its order."""
    lines = (shared / MANIFEST).read_text(encoding="utf-8").splitlines()
    return [shared / "news_feeds" / json.loads(line)["file"] for line in lines if line.strip()]


def evidence_url(item: dict[str, Any]) -> str:
    return EVIDENCE_URL + str(item["id"])


def question_date(value: str) -> datetime:
    """`2020/01/10` or `2020-01-10`, at 12:00 UTC."""
    year, month, day = (int(part) for part in re.split(r"[/-]", value.strip())[:3])
    return datetime(year, month, day, 12, tzinfo=UTC)


def _xml(text: str) -> str:
    return escape(_CONTROL.sub(" ", text))


def evidence_feed(items: Sequence[dict[str, Any]]) -> bytes:
    """One RSS 2.0 feed: an item per evidence text. The title is the evidence's opening words,
    so neither the question nor the answer is given to the index."""
    rows = []
    for item in items:
        words = " ".join(item["evidence_text"].split()).split(" ")
        title = " ".join(words[:TITLE_WORDS]) + (" …" if len(words) > TITLE_WORDS else "")
        when = format_datetime(question_date(item["question_date"]), usegmt=True)
        rows.append(
            f"<item><title>{_xml(title)}</title><link>{_xml(evidence_url(item))}</link>"
            f'<guid isPermaLink="false">{_xml(str(item["id"]))}</guid>'
            f"<pubDate>{when}</pubDate>"
            f"<description>{_xml(item['evidence_text'])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>News quiz evidence</title><link>https://evidence.example/</link>"
        f"<description>evaluation</description>{''.join(rows)}</channel></rss>"
    ).encode()


def question_lines(items: Sequence[dict[str, Any]]) -> list[str]:
    """The `ask --batch` input: a JSON object a line, each question asked as of its date (a
    quiz's "this week" is the week it was written)."""
    return [
        json.dumps(
            {
                "question": " ".join(item["question"].split()),
                "as_of": item["question_date"].replace("/", "-") + "T23:59:59Z",
            }
        )
        for item in items
    ]
