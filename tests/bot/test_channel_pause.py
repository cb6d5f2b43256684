"""A channel the bot may no longer post to pauses that channel's watches: real SQLite, keyword
watches matched by the real AlertEngine, and the fake chat with one channel gone. Every text
here is our own invented sentence."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import store as chat_store
from bot.core import watches as watch_table
from bot.core.alerts import AlertEngine, list_alerts
from bot.core.delivery import AlertPolicy, deliver
from bot.core.ports import Card, DeliveryError
from bot.core.watches import Resolved
from index.models import RawEntry
from index.store.sqlite.store import Store
from tests.fakes import FakeChat

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GUILD = "discord:1"
GONE = "discord:1:10"
KEPT = "discord:1:20"
REFUSAL = "Missing Access (403)"
POLICY = AlertPolicy()

MARKET = (
    "A car bomb exploded in a crowded market in western Mosul on Monday. Police said the "
    "vehicle was parked near a row of vegetable stalls."
)
BRIDGE = (
    "Engineers in Mosul reopened the old iron bridge on Tuesday after a year of repairs, and "
    "the first buses crossed before noon."
)
FLOODS = (
    "Heavy rain flooded low streets of Mosul on Wednesday; the river rose a metre overnight and "
    "schools in the old city stayed shut."
)
CHECKPOINT = (
    "A second car bomb went off at a checkpoint on the southern edge of Mosul on Thursday, "
    "wounding four guards, a security official said."
)


class GoneChat(FakeChat):
    """The fake chat, with channels deleted or closed to the bot (Discord's 403/404)."""

    def __init__(self, gone: set[str]) -> None:
        super().__init__()
        self.gone = gone

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        if channel in self.gone:
            raise DeliveryError(REFUSAL, channel_gone=True)
        return await super().send(channel, card, key=key)

    async def edit(self, channel: str, message_ref: str, card: Card) -> None:
        if channel in self.gone:
            raise DeliveryError(REFUSAL, channel_gone=True)
        await super().edit(channel, message_ref, card)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store.open(tmp_path / "wirewatch.db") as opened:
        await chat_store.migrate(opened)
        yield opened


class World:
    """One guild following one feed, with keyword watches in two of its channels."""

    def __init__(self, store: Store, workspace_id: int, feed_id: int) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.feed_id = feed_id
        self.engine = AlertEngine(store)
        self.count = 0

    async def watch(self, channel: str, term: str) -> watch_table.Watch:
        return await watch_table.add(
            self.store,
            workspace_id=self.workspace_id,
            channel=channel,
            term=term,
            resolved=Resolved("keyword", term, {"query": term}),
            since=START,
            now=START,
        )

    async def publish(self, title: str, text: str, at: datetime, url: str | None = None) -> int:
        """Store one article of the feed and match it; returns its id."""
        self.count += 1
        entry = RawEntry(
            f"g{self.count}", url or f"https://outlet.example/{self.count}", title, text, at
        )
        saved = await self.store.save_entry(
            self.feed_id,
            entry,
            source="Outlet",
            now=at,
            story_window=timedelta(hours=72),
            story_threshold=0.5,
        )
        await self.engine.on_articles([saved.article_id], phase="metadata", now=at)
        return saved.article_id

    async def alerts(self, channel: str) -> list[dict[str, object]]:
        return [v.doc() for v in await list_alerts(self.store, channel=channel)]


@pytest.fixture
async def world(store: Store) -> World:
    ws = await store.workspace_id(GUILD, START)
    feed_id = await store.subscribe(
        ws, "https://outlet.example/feed.xml", interval_s=300, name="Outlet", now=START
    )
    return World(store, ws, feed_id)


async def test_a_gone_channel_pauses_its_watches_and_gives_up_its_alerts(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mosul = await world.watch(GONE, "mosul")
    bomb = await world.watch(GONE, '"car bomb"')
    kept = await world.watch(KEPT, "mosul")
    at = START + timedelta(hours=1)
    await world.publish("Car bomb in Mosul", MARKET, at)
    await world.publish("Mosul bridge reopens", BRIDGE, at)
    assert len(await world.alerts(GONE)) == 2 and len(await world.alerts(KEPT)) == 2

    chat = GoneChat({GONE})
    with caplog.at_level(logging.WARNING, logger="bot.core.delivery"):
        report = await deliver(world.store, chat, policy=POLICY, now=at)
    assert report.sent == 2 and {channel for channel, _ in chat.drain()} == {KEPT}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert getattr(warning, "target", None) == GONE
    said = warning.getMessage()
    assert GONE in said and REFUSAL in said and "2 watches paused" in said

    listed = {w.watch_id: w for w in await watch_table.list_watches(world.store)}
    for w in (mosul, bomb):
        assert listed[w.watch_id].paused_reason == REFUSAL
        assert listed[w.watch_id].paused_at == at and not listed[w.watch_id].active(at)
    assert listed[kept.watch_id].paused_reason is None and listed[kept.watch_id].active(at)
    given_up = await world.alerts(GONE)
    assert all(a["failed"] and not a["pending"] for a in given_up)
    assert all(a["last_error"] == REFUSAL for a in given_up)

    later = at + timedelta(days=1)  # no retry, ever: nothing is due for the gone channel
    assert (await deliver(world.store, chat, policy=POLICY, now=later)).failed == 0

    # paused watches match nothing; the other channel goes on
    await world.publish("Floods in Mosul", FLOODS, later)
    assert len(await world.alerts(GONE)) == 2
    assert [a["title"] for a in await world.alerts(KEPT)][0] == "Floods in Mosul"

    # unmuting resumes one watch; the other stays paused
    assert await watch_table.set_muted(world.store, world.workspace_id, mosul.watch_id, None)
    resumed = await watch_table.get(world.store, world.workspace_id, mosul.watch_id)
    assert resumed is not None and resumed.paused_reason is None and resumed.paused_at is None
    still = await watch_table.get(world.store, world.workspace_id, bomb.watch_id)
    assert still is not None and still.paused_reason == REFUSAL
    await world.publish("Another car bomb in Mosul", CHECKPOINT, later)
    [fresh] = [a for a in await world.alerts(GONE) if a["pending"]]
    assert fresh["title"] == "Another car bomb in Mosul"
    assert [m["watch_id"] for m in fresh["matched"]] == [mosul.watch_id]  # type: ignore[attr-defined]
    chat.gone.clear()  # the bot was let back in
    assert (await deliver(world.store, chat, policy=POLICY, now=later)).sent == 3  # 1 + 2 kept


async def test_an_edit_refused_for_a_gone_channel_pauses_it_too(world: World) -> None:
    gone = await world.watch(GONE, '"car bomb"')
    await world.watch(KEPT, "bridge")
    at = START + timedelta(hours=1)
    await world.publish("Car bomb in Mosul", MARKET, at)
    chat = GoneChat(set())
    assert (await deliver(world.store, chat, policy=POLICY, now=at)).sent == 1
    # another outlet's near-identical report joins the story: the message is to be edited
    await world.publish("Car bomb in Mosul", MARKET + " Shops stayed shut.", at)
    await world.publish("Mosul bridge reopens", BRIDGE, at)
    [alert] = await world.alerts(GONE)
    assert alert["version"] == 2 and alert["pending"]
    chat.gone.add(GONE)
    report = await deliver(world.store, chat, policy=POLICY, now=at)
    assert (report.edited, report.failed, report.sent) == (0, 1, 1)  # the bridge went to KEPT
    assert chat.edits == []
    [alert] = await world.alerts(GONE)
    assert alert["failed"] and not alert["pending"] and alert["last_error"] == REFUSAL
    paused = await watch_table.get(world.store, world.workspace_id, gone.watch_id)
    assert paused is not None and paused.paused_reason == REFUSAL


async def test_a_message_refused_for_good_does_not_pause_the_channel(world: World) -> None:
    """`permanent` alone (one message refused) gives up that alert and nothing more."""
    watch = await world.watch(GONE, "mosul")
    at = START + timedelta(hours=1)
    await world.publish("Car bomb in Mosul", MARKET, at)
    chat = FakeChat()
    chat.outage, chat.permanent = "Invalid Form Body", True
    await deliver(world.store, chat, policy=POLICY, now=at)
    [alert] = await world.alerts(GONE)
    assert alert["failed"] and alert["last_error"] == "Invalid Form Body"
    kept = await watch_table.get(world.store, world.workspace_id, watch.watch_id)
    assert kept is not None and kept.paused_reason is None


def test_channel_gone_implies_permanent() -> None:
    assert DeliveryError("x", channel_gone=True).permanent
    old = DeliveryError("x", permanent=True)
    assert old.permanent and not old.channel_gone
    assert not DeliveryError("x").permanent
