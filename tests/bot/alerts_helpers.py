"""Shared parts of the watch and alert tests (tests/bot/test_alerts*.py, also used by the
Discord and event-watch tests): our own invented news texts, feed items and a feed server,
the `clock` and `app` fixtures (real SQLite, the real model and extractor), and helpers that
publish and poll a feed and list the alerts recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.core.watches import channel_workspace
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.index.ingest_helpers import Clock, item, rss

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

ISIS_AMBUSH = (
    "Islamic State fighters ambushed an army convoy in the desert east of Palmyra on Monday, "
    "killing nine soldiers, the group said in a statement. The convoy was carrying supplies "
    "to a garrison near the T4 air base, a military source said."
)
ALBU_KAMAL = (
    "Clashes broke out in Albu Kamal, in Syria's Deir ez-Zor province, on Monday between "
    "local fighters and a militia that controls the border crossing. Residents said gunfire "
    "lasted for hours and shops stayed closed."
)
AL_QAIM = (
    "Iraqi border guards reinforced positions in Al-Qaim on Monday after shelling was heard "
    "from across the frontier. The town's mayor said families had left the outskirts for "
    "safer districts."
)
MOSUL = (
    "A car bomb exploded in a crowded market in western Mosul on Monday, killing at least 23 "
    "people. Police said the vehicle was parked near a row of vegetable stalls."
)
DRILL = (
    "Soldiers staged a car bomb drill in Mosul on Monday to train rescue crews. No one was "
    "hurt, officials said, and the market reopened in the afternoon."
)
POWER = (
    "Unmanned aircraft struck an electricity plant outside Kharkiv overnight, knocking out "
    "power to tens of thousands of homes, regional officials said. Engineers were working to "
    "restore supply before temperatures drop further this week."
)
HARVEST = (
    "Farmers in the Euphrates valley began bringing in the wheat harvest this week, though "
    "yields are thin after a dry spring and diesel for the pumps costs twice what it did "
    "last year, growers said."
)


def entry(
    guid: str, title: str, text: str, at: datetime, link: str | None = None
) -> dict[str, str]:
    return item(guid, title, text, link=link, date=format_datetime(at, usegmt=True))


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock(START)


@pytest.fixture(name="app")
async def app_fixture(
    settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    gazetteer_cache: Path,
) -> AsyncIterator[App]:
    settings = settings.model_copy(update={"cache_dir": gazetteer_cache.parent})
    async with open_app(settings, embedder=real_embedder, extractor=extractor, now=clock) as opened:
        yield opened


def serve(httpserver: HTTPServer, path: str, items: list[dict[str, str]], title: str) -> str:
    httpserver.expect_request(path).respond_with_data(
        rss(items, title=title), content_type="application/rss+xml"
    )
    return httpserver.url_for(path)


async def poll(app: App) -> dict[str, object]:
    return await commands.poll_once(app, workspace="console")


async def publish(
    app: App,
    clock: Clock,
    httpserver: HTTPServer,
    items: list[dict[str, str]],
    path: str = "/a.xml",
    backfill: str | None = None,
) -> dict[str, object]:
    """Serve `items` as a feed, subscribe the console to it, an hour later poll it. `backfill`
    None (default here): every item may alert, as for a feed followed long before."""
    url = serve(httpserver, path, items, "A")
    await commands.add_feed(app, url, workspace="console", backfill=backfill)
    clock.advance(hours=1)
    return await poll(app)


async def alerts(app: App, channel: str = "console") -> list[dict[str, object]]:
    workspace = channel_workspace(channel)
    doc = await commands.list_alerts(app, workspace=workspace, channel=channel)
    return doc["alerts"]  # type: ignore[no-any-return]


LATER = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
