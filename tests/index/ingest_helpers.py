"""Shared parts of the ingest tests (tests/index/test_ingest*.py): an injected Clock, RSS
documents and items built from sample texts (Raqqa, Mosul, Harvest), and the `clock` and
`app` fixtures (an App on real SQLite in tmp_path). test_ingest.py re-exports the builders
and texts, which other tests and bench/ops.py import from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import HashEmbedder

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    """An injected clock the tests move forward."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def rss(items: list[dict[str, str]], title: str = "Test Outlet") -> bytes:
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://outlet.example/</link>"
    ]
    for item in items:
        parts.append("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


RAQQA = (
    "An air strike on a residential district of Raqqa killed 12 civilians, including a "
    "woman and a child, and wounded at least 20 others, medics said on Tuesday. Rescue "
    "teams searched the rubble of a four-storey building through the night. Residents "
    "said two missiles struck minutes apart as neighbours rushed to help."
)
MOSUL = (
    "A car bomb exploded in a crowded market in western Mosul on Thursday, killing at "
    "least 23 people. Police said the vehicle was parked near a row of vegetable stalls. "
    "No group claimed the attack, which came days after security was tightened."
)
HARVEST = (
    "Farmers in the Euphrates valley began bringing in the wheat harvest this week, "
    "though yields are thin after a dry spring and diesel for the pumps costs twice "
    "what it did last year, growers said."
)


def item(
    guid: str,
    title: str,
    text: str,
    *,
    link: str | None = None,
    date: str = "Tue, 24 Nov 2026 10:00:00 GMT",
) -> dict[str, str]:
    return {
        "guid": guid,
        "title": title,
        "link": link or f"https://outlet.example/{guid}",
        "description": text,
        "pubDate": date,
    }


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="app")
async def app_fixture(settings: Settings, clock: Clock) -> AsyncIterator[App]:
    async with open_app(settings, embedder=HashEmbedder(), now=clock) as opened:
        yield opened


async def subscribe(app: App, url: str, interval_s: int = 300) -> int:
    return int(
        (await commands.add_feed(app, url, interval_s=interval_s, workspace="console"))["feed_id"]
    )


async def feed_row(app: App, feed_id: int) -> dict[str, object]:
    rows = (await commands.list_feeds(app, workspace="console"))["feeds"]
    return next(r for r in rows if r["feed_id"] == feed_id)
