"""Shared parts of the Discord adapter's end-to-end tests (tests/bot/test_discord*.py): two
guilds on the fake Discord, Discord's embed limits and the check that every embed sent keeps
them, the fixtures (clock, fake, app, bot: the real WirewatchBot logged in to the fake) and
helpers that invoke commands and read back what the bot showed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands
from pytest_httpserver import HTTPServer

from bot.adapters.discord.chat import DiscordChat
from bot.adapters.discord.client import WirewatchBot
from bot.app import App, open_app
from bot.core import commands
from bot.settings import Settings
from index.extract.eventtypes import EVENT_TYPES
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import HARVEST, ISIS_AMBUSH, entry, serve
from tests.fakediscord import (
    DEFAULT_USER_ID,
    FakeDiscord,
    FakeGuild,
    InteractionRecord,
    is_ephemeral,
    point_discord_at,
)
from tests.index.ingest_helpers import Clock

ALPHA, BETA = 800_000_000_000_000_001, 800_000_000_000_000_002
NEWS_A, OPS_A, NEWS_B = 810_000_000_000_000_001, 810_000_000_000_000_002, 810_000_000_000_000_003
GUILDS = [
    FakeGuild(ALPHA, "Alpha", {NEWS_A: "news", OPS_A: "ops"}),
    FakeGuild(BETA, "Beta", {NEWS_B: "news"}),
]
WS_A, WS_B = f"discord:{ALPHA}", f"discord:{BETA}"
MEMBER = DEFAULT_USER_ID  # has every permission
OTHER = DEFAULT_USER_ID + 1
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
TYPE = EVENT_TYPES[0]
COMMANDS = ["Why this alert?", "alerts", "ask", "feed", "help", "status", "watch", "why"]


# ---- Discord's embed limits -------------------------------------------------------------------
def embed_problems(embed: Mapping[str, Any]) -> list[str]:
    """What in one embed dict Discord would refuse (HTTP 400)."""
    problems = []
    title, description = embed.get("title") or "", embed.get("description") or ""
    fields = list(embed.get("fields") or [])
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    if len(title) > 256:
        problems.append(f"title of {len(title)} characters")
    if len(description) > 4096:
        problems.append(f"description of {len(description)} characters")
    if len(fields) > 25:
        problems.append(f"{len(fields)} fields")
    for field in fields:
        if not field.get("name") or len(field["name"]) > 256:
            problems.append(f"field name of {len(field.get('name') or '')} characters")
        if not field.get("value") or len(field["value"]) > 1024:
            problems.append(f"field value of {len(field.get('value') or '')} characters")
    if len(footer) > 2048:
        problems.append(f"footer of {len(footer)} characters")
    if len(author) > 256:
        problems.append(f"author of {len(author)} characters")
    total = len(title) + len(description) + len(footer) + len(author)
    total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
    if total > 6000:
        problems.append(f"{total} characters in all")
    return problems


def sent_embeds(fake: FakeDiscord) -> list[Mapping[str, Any]]:
    """Every embed the bot sent: in messages (as they are now), in each edit, and in each
    interaction callback."""
    found: list[Mapping[str, Any]] = []
    for guild in fake.guilds.values():
        for channel_id in guild.channel_names():
            for message in fake.messages(channel_id):
                if int(message["author"]["id"]) == fake.bot_user_id:
                    found += message.get("embeds") or []
    for edit in fake.edits:
        found += edit.changes.get("embeds") or []
    for record in fake.interactions:
        for response in record.responses:
            found += (response.get("data") or {}).get("embeds") or []
    return found


def assert_within_limits(fake: FakeDiscord) -> int:
    """Every embed the bot sent fits Discord's limits; returns how many were checked."""
    embeds = sent_embeds(fake)
    bad = {f"{e.get('title')!r}": problems for e in embeds if (problems := embed_problems(e))}
    assert not bad, f"embeds Discord would refuse: {bad}"
    return len(embeds)


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock(START)


@pytest.fixture(name="fake")
async def fake_fixture() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(GUILDS) as server:
        with point_discord_at(server):
            yield server
        assert_within_limits(server)
        late = [
            (r.payload["data"].get("name"), r.responded_after_s)
            for r in server.interactions
            if r.responded_after_s is None or r.responded_after_s >= 3.0
        ]
        assert not late, f"interactions not answered within Discord's 3 seconds: {late}"


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


@contextlib.asynccontextmanager
async def running(
    app: App,
    fake: FakeDiscord,
    state_path: Path,
    guild_ids: Sequence[int] = (ALPHA,),
    *,
    extra: app_commands.Command[Any, ..., Any] | None = None,
) -> AsyncIterator[WirewatchBot]:
    """The real bot, logged in to the fake (syncing its commands) and READY."""
    bot = WirewatchBot(app, guild_ids=guild_ids, state_path=state_path, guild_ready_timeout=0.05)
    if extra is not None:
        bot.tree.add_command(extra)
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(reconnect=False))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)


@pytest.fixture(name="bot")
async def bot_fixture(app: App, fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[WirewatchBot]:
    async with running(app, fake, tmp_path / "discord_commands.json") as started:
        yield started


# ---- helpers ----------------------------------------------------------------------------------
async def shown(record: InteractionRecord) -> dict[str, Any]:
    """The message the user ends up seeing for an interaction."""
    return await record.final()


def text_of(message: Mapping[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields") or []]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(p for p in parts if p)


async def say(
    fake: FakeDiscord,
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    channel_id: int = NEWS_A,
    **kwargs: Any,
) -> InteractionRecord:
    return await fake.invoke(name, options, channel_id=channel_id, **kwargs)


async def answer(
    fake: FakeDiscord, name: str, options: Mapping[str, Any] | None = None, **kw: Any
) -> str:
    """Runs a command and returns the text of what it showed."""
    return text_of(await shown(await say(fake, name, options, **kw)))


async def refused(
    fake: FakeDiscord, name: str, options: Mapping[str, Any] | None = None, **kw: Any
) -> str:
    """Runs a command that must fail: its answer is one ephemeral plain message."""
    record = await say(fake, name, options, **kw)
    message = await shown(record)
    assert is_ephemeral(message), f"/{name}: the error is public: {message['content']!r}"
    assert message["embeds"] == [] and message["content"]
    return str(message["content"])


async def publish(
    app: App,
    clock: Clock,
    httpserver: HTTPServer,
    items: list[dict[str, str]],
    *,
    workspace: str = WS_A,
    path: str = "/a.xml",
) -> int:
    """Serve `items`, subscribe the workspace, an hour later poll it; returns the feed id."""
    doc = await commands.add_feed(
        app, serve(httpserver, path, items, "Outlet A"), workspace=workspace
    )
    clock.advance(hours=1)
    await commands.poll_once(app, workspace=workspace)
    return int(doc["feed_id"])


def button(message: Mapping[str, Any], label: str) -> dict[str, Any]:
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            if component.get("label") == label:
                return dict(component)
    raise AssertionError(f"no {label!r} button on message {message['id']}")


async def watch_id_in(text: str) -> int:
    found = re.search(r"Watch #(\d+)", text)
    assert found, text
    return int(found[1])


async def post_alert(
    bot: WirewatchBot,
    fake: FakeDiscord,
    app: App,
    clock: Clock,
    httpserver: HTTPServer,
) -> tuple[int, dict[str, Any]]:
    """Watch ISIL in Alpha's #ops, poll a feed with an Islamic State ambush, deliver through
    DiscordChat: (the alert's id, the message posted)."""
    await answer(fake, "watch add", {"term": "ISIL", "kind": "group", "channel": OPS_A})
    await publish(
        app,
        clock,
        httpserver,
        [
            entry("is1", "Convoy ambushed near Palmyra", ISIS_AMBUSH, LATER),
            entry("h1", "Thin wheat harvest", HARVEST, LATER),
        ],
    )
    report = await commands.deliver_alerts(app, DiscordChat(bot))
    [alert] = (await commands.list_alerts(app, workspace=WS_A))["alerts"]
    [message] = fake.messages(OPS_A)
    assert report is not None and not alert["pending"]
    assert message["embeds"][0]["footer"]["text"].startswith(f"alert {alert['alert_id']}")
    return int(alert["alert_id"]), message


async def refusal(record: InteractionRecord) -> str:
    message = await shown(record)
    assert is_ephemeral(message) and message["embeds"] == [], message
    return str(message["content"])
