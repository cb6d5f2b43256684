"""Shared parts of the parse tests (tests/index/test_parse*.py): the fixed clock, our small
fixture feeds and the shared news corpus, and the checks every parsed entry must pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from index.models import ParsedFeed

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parse"
UNTITLED = "(untitled)"
RSS_HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>'


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _news(shared_data: Path, name: str) -> bytes:
    return (shared_data / "news_feeds" / name).read_bytes()


def _all_text(parsed: ParsedFeed) -> str:
    parts = [parsed.title or ""]
    for entry in parsed.entries:
        parts += [entry.title, entry.text, entry.url or "", entry.guid or "", entry.author or ""]
    return "\n".join(parts)


def _check_entries(parsed: ParsedFeed, now: datetime = NOW) -> None:
    for entry in parsed.entries:
        assert entry.title.strip()
        assert entry.text or entry.url or entry.title != UNTITLED
        assert entry.text == entry.text.strip()
        if entry.url is not None:
            assert entry.url.startswith(("http://", "https://"))
        if entry.published_at is not None:
            assert entry.published_at.tzinfo is not None
            assert entry.published_at.utcoffset() == timedelta(0)
            assert entry.published_at <= now
