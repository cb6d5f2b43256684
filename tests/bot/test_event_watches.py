"""Watches per event: a watch's place, --type and --min-killed hold for one and the same event
of an article, and the alert's `why` names that event. Real feed server, SQLite, model and
extractor, as in test_alerts.py; the story is our own."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from bot.adapters.cli.render import print_event
from bot.app import App
from bot.core import commands
from index.extract.extractor import ExtractInput, Extractor
from tests.bot.alerts_helpers import LATER, alerts, app_fixture, clock_fixture, entry, publish  # noqa: F401
from tests.fakes import FakeChat
from tests.index.test_ingest import Clock

TITLE = "Air strike kills 12 civilians in Raqqa as Nusra unit defects in Abu Kamal"
STORY = (
    "Government warplanes struck a market in Raqqa on Monday, killing 12 civilians, a "
    "monitor said. Separately, a Nusra Front unit in Abu Kamal pledged allegiance to the "
    "Islamic State group; no one was hurt."
)


async def test_place_type_and_toll_must_hold_for_the_same_event(
    app: App,  # noqa: F811
    clock: Clock,  # noqa: F811
    httpserver_ipv4: HTTPServer,
) -> None:
    await commands.watch_add(app, "Abu Kamal", kind="place", min_killed=5, channel="console")
    await commands.watch_add(
        app, "Raqqa", kind="place", event_types=["explosions"], channel="console"
    )
    await commands.watch_add(
        app, "Abu Kamal", kind="place", event_types=["strategic"], channel="console"
    )
    await publish(app, clock, httpserver_ipv4, [entry("r1", TITLE, STORY, LATER)])
    [alert] = await alerts(app)
    whys = sorted(str(m["why"]) for m in alert["matched"])  # type: ignore[attr-defined]
    assert len(whys) == 2, whys  # the pledge in Abu Kamal killed no one: no toll watch fires
    pledge, strike = whys
    assert "event: pledge in Abu Kamal" in pledge and "killed" not in pledge
    assert "event: air strike in Raqqa, 12 civilians killed" in strike
    assert "type explosions/remote violence" in strike
    chat = FakeChat()
    assert (await commands.deliver_alerts(app, chat)).sent == 1
    [(_, card)] = chat.drain()
    fields = dict(card.fields)
    assert fields["Main event"] == "air strike in Raqqa, 12 civilians killed"
    assert fields["Other events"] == "pledge in Abu Kamal"


async def test_a_group_watch_filters_the_events_the_group_acts_in(
    app: App,  # noqa: F811
    clock: Clock,  # noqa: F811
    httpserver_ipv4: HTTPServer,
) -> None:
    # the Nusra unit pledged and killed no one; the 12 dead are the air strike's
    await commands.watch_add(app, "Nusra Front", kind="group", min_killed=5, channel="console")
    await commands.watch_add(
        app, "Nusra Front", kind="group", event_types=["strategic"], channel="console"
    )
    await publish(app, clock, httpserver_ipv4, [entry("r1", TITLE, STORY, LATER)])
    [alert] = await alerts(app)
    whys = [str(m["why"]) for m in alert["matched"]]  # type: ignore[attr-defined]
    [why] = whys
    assert "event: pledge in Abu Kamal" in why and "type strategic developments" in why


def test_extract_prints_each_event(
    extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    record = extractor.extract_many([ExtractInput(TITLE, STORY, LATER)])[0]
    print_event(record.to_doc())
    lines = capsys.readouterr().out.splitlines()
    assert "event: air strike in Raqqa, 12 civilians killed, 2026-11-23  <- main" in lines, lines
    assert "event: pledge in Abu Kamal, date not stated" in lines, lines
