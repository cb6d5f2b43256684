"""The Discord adapter's commands end to end: the real WirewatchBot (bot/adapters/discord/)
logs in to the fake Discord (tests/fakediscord/) with two guilds, over an App with real
SQLite, the real model and extractor, and feeds served on 127.0.0.1. Slash commands, the
"Why this alert?" menu, autocomplete, paging buttons and mentions go in as gateway events; what
the bot answered is read back from the fake. Every embed it sent is checked against Discord's
limits when each test ends."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.adapters.discord import tree as tree_module
from bot.adapters.discord.chat import DiscordChat
from bot.adapters.discord.client import WirewatchBot
from bot.adapters.discord.service import DiscordService
from bot.app import App, open_app
from bot.core import commands
from bot.core.errors import UserError
from bot.settings import Settings
from index.extract.eventtypes import EVENT_TYPES
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.test_alerts import HARVEST, ISIS_AMBUSH, MOSUL, entry, serve
from tests.fakediscord import (
    CHANNEL_MESSAGE,
    DEFAULT_USER_ID,
    DEFERRED_CHANNEL_MESSAGE,
    EVERYONE_PERMISSIONS,
    UPDATE_MESSAGE,
    FakeDiscord,
    FakeGuild,
    InteractionRecord,
    is_ephemeral,
    point_discord_at,
)
from tests.index.test_ingest import Clock

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


def test_the_limit_check_finds_what_discord_refuses() -> None:
    fine = {"title": "t" * 256, "description": "d" * 4096, "footer": {"text": "f" * 1000}}
    assert embed_problems(fine) == []
    assert embed_problems({"title": "t" * 257}) == ["title of 257 characters"]
    many = {"fields": [{"name": "n", "value": "v" * 300} for _ in range(26)]}
    assert embed_problems(many) == ["26 fields", "7826 characters in all"]
    assert embed_problems({"fields": [{"name": "n" * 257, "value": "v" * 1025}]}) == [
        "field name of 257 characters",
        "field value of 1025 characters",
    ]


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
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


@pytest.fixture
async def app(
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


@pytest.fixture
async def bot(app: App, fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[WirewatchBot]:
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


# ---- 1. start-up: login, READY, command sync by hash ------------------------------------------
async def test_login_ready_and_commands_synced_once_per_tree(
    app: App, fake: FakeDiscord, tmp_path: Path
) -> None:
    state = tmp_path / "discord_commands.json"
    async with running(app, fake, state) as bot:
        assert {g.id for g in bot.guilds} == {ALPHA, BETA}
        assert bot.synced == ["global", f"guild:{ALPHA}"]
        assert fake.sync_counts == {None: 1, ALPHA: 1}
        assert sorted(c["name"] for c in fake.synced[None]) == COMMANDS
        assert sorted(c["name"] for c in fake.synced[ALPHA]) == COMMANDS
        assert BETA not in fake.synced
    assert state.exists()

    async with running(app, fake, state) as again:  # same tree, same state: no sync
        assert again.synced == []
    assert fake.sync_count == 2

    @app_commands.command(name="extra", description="A command added since")
    async def extra(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("extra", ephemeral=True)

    async with running(app, fake, state, extra=extra) as changed:
        assert changed.synced == ["global", f"guild:{ALPHA}"]
    assert fake.sync_counts == {None: 2, ALPHA: 2}
    assert "extra" in {c["name"] for c in fake.synced[None]}


async def test_a_guild_no_longer_listed_loses_its_copy_and_a_failed_sync_does_not_stop_the_bot(
    app: App, fake: FakeDiscord, tmp_path: Path
) -> None:
    state = tmp_path / "discord_commands.json"
    async with running(app, fake, state):
        pass
    assert sorted(c["name"] for c in fake.synced[ALPHA]) == COMMANDS
    async with running(app, fake, state, guild_ids=()) as unlisted:
        assert unlisted.synced == [f"cleared guild:{ALPHA}"]
    assert fake.synced[ALPHA] == [] and sorted(c["name"] for c in fake.synced[None]) == COMMANDS

    fake.fail("PUT", r"/applications/\d+/guilds/\d+/commands", status=400, times=None)
    async with running(app, fake, state, guild_ids=(BETA,)) as failed:  # READY all the same
        assert failed.synced == []
        assert "/ask" in await answer(fake, "help", channel_id=NEWS_A)


# ---- 2. every command, its happy path and bad input -------------------------------------------
async def test_feed_add_list_remove(
    bot: WirewatchBot, fake: FakeDiscord, app: App, httpserver_ipv4: HTTPServer
) -> None:
    url = serve(httpserver_ipv4, "/feed.xml", [entry("h1", "Harvest", HARVEST, LATER)], "Farm News")
    record = await say(fake, "feed add", {"url": url, "name": "Farm News"})
    added = await shown(record)
    assert is_ephemeral(added)
    feed_id = int(re.findall(r"feed #(\d+)", added["content"])[0])
    assert url in added["content"] and "only items published from now on alert" in added["content"]
    [row] = (await commands.list_feeds(app, workspace=WS_A))["feeds"]
    assert row["feed_id"] == feed_id and row["name"] == "Farm News"
    again = await shown(await say(fake, "feed add", {"url": url, "backfill": "3"}))
    assert f"feed #{feed_id}" in again["content"] and "its 3 newest items" in again["content"]
    assert "backfill" in await refused(fake, "feed add", {"url": url, "backfill": "lately"})

    listed = await answer(fake, "feed list")
    assert f"#{feed_id}" in listed and "Farm News" in listed and url in listed

    removed = await shown(await say(fake, "feed remove", {"feed": feed_id}))
    assert is_ephemeral(removed) and f"#{feed_id}" in removed["content"]
    assert (await commands.list_feeds(app, workspace=WS_A))["feeds"] == []
    assert "nothing yet" in await answer(fake, "feed list")


async def test_feed_bad_input_is_an_ephemeral_sentence(
    bot: WirewatchBot, fake: FakeDiscord, app: App
) -> None:
    assert "no feed 999" in await refused(fake, "feed remove", {"feed": 999})
    bad = await refused(fake, "feed add", {"url": "not a url"})
    assert "not a url" in bad or "address" in bad.lower() or "url" in bad.lower()
    private = await refused(fake, "feed add", {"url": "http://10.1.2.3/feed.xml"})
    assert "10.1.2.3" in private or "private" in private.lower()
    short = await refused(fake, "feed add", {"url": "http://127.0.0.1/x.xml", "interval": 5})
    assert "60" in short
    assert (await commands.list_feeds(app, workspace=WS_A))["feeds"] == []


async def watch_id_in(text: str) -> int:
    found = re.search(r"Watch #(\d+)", text)
    assert found, text
    return int(found[1])


async def test_watch_add_list_mute_unmute_remove(
    bot: WirewatchBot, fake: FakeDiscord, app: App
) -> None:
    added = await shown(
        await say(fake, "watch add", {"term": "ISIL", "kind": "group", "channel": OPS_A})
    )
    assert is_ephemeral(added)
    assert "group ISIL = Islamic State" in added["content"] and f"<#{OPS_A}>" in added["content"]
    isil = await watch_id_in(added["content"])
    place = await watch_id_in(
        await answer(fake, "watch add", {"term": "Deir ez-Zor", "kind": "place"})
    )
    keyword = await watch_id_in(
        await answer(fake, "watch add", {"term": '"car bomb" OR ied', "kind": "keyword"})
    )
    filtered = await watch_id_in(
        await answer(
            fake,
            "watch add",
            {"term": "Mosul", "kind": "place", "radius": 25, "type": TYPE, "min_killed": 5},
        )
    )
    stored = {w["watch_id"]: w for w in (await commands.watch_list(app, workspace=WS_A))["watches"]}
    assert stored[filtered]["radius_km"] == 25 and stored[filtered]["min_killed"] == 5
    assert stored[filtered]["event_types"] == [TYPE]
    assert stored[isil]["channel"] == f"{WS_A}:{OPS_A}"
    assert stored[place]["kind"] == "place" and stored[place]["channel"] == f"{WS_A}:{NEWS_A}"
    assert stored[keyword]["kind"] == "keyword"

    listed = await answer(fake, "watch list")
    for watch_id in (isil, place, keyword):
        assert f"#{watch_id}" in listed
    assert f"<#{OPS_A}>" in listed and "Deir ez-Zor" in listed
    assert f"({TYPE}, killed >= 5, within 25 km)" in listed

    muted = await shown(await say(fake, "watch mute", {"watch": isil, "duration": "2h"}))
    assert is_ephemeral(muted) and f"#{isil} muted until <t:" in muted["content"]
    assert (await commands.watch_list(app, workspace=WS_A))["watches"][0]["muted_until"]
    assert "muted until" in await answer(fake, "watch list")
    assert "active again" in await answer(fake, "watch unmute", {"watch": isil})
    assert not any(
        w["muted_until"] for w in (await commands.watch_list(app, workspace=WS_A))["watches"]
    )

    assert f"#{place}" in await answer(fake, "watch remove", {"watch": place})
    left = (await commands.watch_list(app, workspace=WS_A))["watches"]
    assert [w["watch_id"] for w in left] == [isil, keyword, filtered]


async def test_watch_bad_input_is_an_ephemeral_sentence(
    bot: WirewatchBot, fake: FakeDiscord, app: App
) -> None:
    isil = await watch_id_in(await answer(fake, "watch add", {"term": "ISIL"}))
    assert "no watch 999" in await refused(fake, "watch remove", {"watch": 999})
    assert "no watch 999" in await refused(fake, "watch mute", {"watch": 999, "duration": "2h"})
    assert "no watch 999" in await refused(fake, "watch unmute", {"watch": 999})
    assert "not a duration" in await refused(
        fake, "watch mute", {"watch": isil, "duration": "soon"}
    )
    tripoli = await refused(fake, "watch add", {"term": "Tripoli"})
    assert "could mean several things" in tripoli
    assert "Libya" in tripoli and "Lebanon" in tripoli and tripoli.count("use `") >= 2
    elsewhere = await refused(
        fake, "watch add", {"term": "Mosul", "channel": NEWS_A}, channel_id=NEWS_B
    )
    assert "not understood" in elsewhere  # Discord offers only the guild's own channels
    assert "backfill" in await refused(fake, "watch add", {"term": "Mosul", "backfill": "lately"})
    [only] = (await commands.watch_list(app, workspace=WS_A))["watches"]
    assert only["watch_id"] == isil and not only["muted_until"]
    assert (await commands.watch_list(app, workspace=WS_B))["watches"] == []


async def test_ask_defers_then_answers_with_cited_links(
    bot: WirewatchBot, fake: FakeDiscord, app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await publish(
        app,
        clock,
        httpserver_ipv4,
        [
            entry("is1", "Convoy ambushed near Palmyra", ISIS_AMBUSH, LATER),
            entry("m1", "Car bomb in Mosul market", MOSUL, LATER),
            entry("h1", "Thin wheat harvest", HARVEST, LATER),
        ],
    )
    record = await say(fake, "ask", {"question": "Was there a car bomb in Mosul?"})
    first = await record.response()
    assert first["type"] == DEFERRED_CHANNEL_MESSAGE
    assert record.responded_after_s is not None and record.responded_after_s < 3.0
    message = await shown(record)
    assert not is_ephemeral(message) and record.followup_ids
    [embed] = message["embeds"]
    assert embed["title"] == "Was there a car bomb in Mosul?"
    assert "[1]" in embed["description"]
    assert "[Car bomb in Mosul market](https://outlet.example/m1)" in embed["description"]

    backfilled = await answer(
        fake, "watch add", {"term": '"car bomb"', "kind": "keyword", "backfill": "5"}
    )
    assert "1 alerts from stored news" in backfilled
    assert "Car bomb in Mosul market" in await answer(fake, "alerts")

    assert "question is empty" in await refused(fake, "ask", {"question": "   "})
    assert "as_of" in await refused(fake, "ask", {"question": "Mosul?", "as_of": "someday"})


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


async def test_alerts_status_help_and_why(
    bot: WirewatchBot, fake: FakeDiscord, app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    alert_id, message = await post_alert(bot, fake, app, clock, httpserver_ipv4)

    listed = await shown(await say(fake, "alerts"))
    assert not is_ephemeral(listed)
    text = text_of(listed)
    assert f"alert {alert_id}" in text
    assert "[Convoy ambushed near Palmyra](https://outlet.example/is1)" in text
    assert f"<#{OPS_A}>" in text and "sent" in text

    status = text_of(await shown(await say(fake, "status")))
    assert "1 feeds" in status and "1 watches" in status and "1 alerts (0 waiting)" in status

    help_ = await say(fake, "help")
    assert (await help_.response())["type"] == CHANNEL_MESSAGE and help_.ephemeral
    assert "/watch add" in text_of(await shown(help_))

    why = await shown(await say(fake, "why alert", {"alert": alert_id}))
    [embed] = why["embeds"]
    assert embed["title"] == "Why this alert"
    assert "ISIL" in text_of(why) and "Convoy ambushed near Palmyra" in text_of(why)

    menu = await shown(await fake.context_menu("Why this alert?", int(message["id"])))
    assert menu["embeds"][0]["title"] == "Why this alert" and "ISIL" in text_of(menu)

    assert "alert 999 is not an alert" in await refused(fake, "why alert", {"alert": 999})
    other = await fake.post_user_message(OPS_A, "just chatting")
    record = await fake.context_menu("Why this alert?", int(other["id"]))
    assert "this message is not an alert" in await refusal(record)


async def refusal(record: InteractionRecord) -> str:
    message = await shown(record)
    assert is_ephemeral(message) and message["embeds"] == [], message
    return str(message["content"])


# ---- 3. Manage Channels ----------------------------------------------------------------------
async def test_members_without_manage_channels_change_nothing(
    bot: WirewatchBot, fake: FakeDiscord, app: App, httpserver_ipv4: HTTPServer
) -> None:
    url = serve(httpserver_ipv4, "/feed.xml", [entry("h1", "Harvest", HARVEST, LATER)], "Farm")
    feed_id = int((await commands.add_feed(app, url, workspace=WS_A))["feed_id"])
    watch_id = int((await commands.watch_add(app, "ISIL", channel=f"{WS_A}:{NEWS_A}"))["watch_id"])
    before = (
        await commands.list_feeds(app, workspace=WS_A),
        await commands.watch_list(app, workspace=WS_A),
    )
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("feed add", {"url": httpserver_ipv4.url_for("/other.xml")}),
        ("feed remove", {"feed": feed_id}),
        ("watch add", {"term": "Mosul"}),
        ("watch remove", {"watch": watch_id}),
        ("watch mute", {"watch": watch_id, "duration": "1d"}),
        ("watch unmute", {"watch": watch_id}),
    ]
    for name, options in attempts:
        text = await refused(fake, name, options, permissions=EVERYONE_PERMISSIONS)
        assert text == "You need the Manage Channels permission for that.", name
    after = (
        await commands.list_feeds(app, workspace=WS_A),
        await commands.watch_list(app, workspace=WS_A),
    )
    assert after == before
    # reading stays open to every member
    listed = await answer(fake, "watch list", permissions=EVERYONE_PERMISSIONS)
    assert f"#{watch_id}" in listed


# ---- 4. within Discord's 3 seconds -------------------------------------------------------------
async def test_every_interaction_is_acknowledged_within_three_seconds(
    bot: WirewatchBot, fake: FakeDiscord
) -> None:
    """The `fake` fixture checks this for every interaction of every test; here one of each
    kind, and how each was acknowledged."""
    kinds = {}
    for name, options in [
        ("help", {}),
        ("status", {}),
        ("feed list", {}),
        ("watch add", {"term": "Mosul"}),
        ("ask", {"question": "Was there a car bomb in Mosul?"}),
    ]:
        record = await say(fake, name, options)
        await shown(record)
        assert record.responded_after_s is not None and record.responded_after_s < 3.0
        kinds[name] = record.responses[0]["type"]
    assert kinds == {
        "help": CHANNEL_MESSAGE,
        "status": DEFERRED_CHANNEL_MESSAGE,
        "feed list": DEFERRED_CHANNEL_MESSAGE,
        "watch add": DEFERRED_CHANNEL_MESSAGE,
        "ask": DEFERRED_CHANNEL_MESSAGE,
    }


# ---- 5. two guilds, isolated -------------------------------------------------------------------
async def test_guilds_see_only_their_own(
    bot: WirewatchBot, fake: FakeDiscord, app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    alert_id, _ = await post_alert(bot, fake, app, clock, httpserver_ipv4)
    [feed] = (await commands.list_feeds(app, workspace=WS_A))["feeds"]
    [watch] = (await commands.watch_list(app, workspace=WS_A))["watches"]
    feed_id, watch_id = feed["feed_id"], watch["watch_id"]

    in_b = {"channel_id": NEWS_B}
    for name in ("feed list", "watch list", "alerts"):
        assert "nothing yet" in await answer(fake, name, **in_b), name
    status = await answer(fake, "status", **in_b)
    assert "0 feeds" in status and "0 watches" in status and "0 alerts" in status
    assert f"no feed {feed_id}" in await refused(fake, "feed remove", {"feed": feed_id}, **in_b)
    assert f"no watch {watch_id}" in await refused(
        fake, "watch remove", {"watch": watch_id}, **in_b
    )
    assert f"no watch {watch_id}" in await refused(
        fake, "watch mute", {"watch": watch_id, "duration": "1h"}, **in_b
    )
    assert f"alert {alert_id} is not an alert" in await refused(
        fake, "why alert", {"alert": alert_id}, **in_b
    )
    asked = await shown(await say(fake, "ask", {"question": "Who ambushed the convoy?"}, **in_b))
    assert "found nothing" in text_of(asked) and "outlet.example" not in text_of(asked)

    # autocomplete: each guild's own feeds and watches
    assert await fake.autocomplete("feed remove", {"feed": ""}, "feed", channel_id=NEWS_B) == []
    assert await fake.autocomplete("watch mute", {"watch": ""}, "watch", channel_id=NEWS_B) == []
    [feed_choice] = await fake.autocomplete(
        "feed remove", {"feed": "outlet"}, "feed", channel_id=NEWS_A
    )
    assert feed_choice["value"] == feed_id and "Outlet A" in feed_choice["name"]
    [watch_choice] = await fake.autocomplete(
        "watch remove", {"watch": "isi"}, "watch", channel_id=NEWS_A
    )
    assert watch_choice["value"] == watch_id and "ISIL" in watch_choice["name"]
    assert (
        await fake.autocomplete("watch remove", {"watch": "mosul"}, "watch", channel_id=NEWS_A)
        == []
    )

    # nothing of Alpha's was touched from Beta
    assert len((await commands.list_feeds(app, workspace=WS_A))["feeds"]) == 1
    [still] = (await commands.watch_list(app, workspace=WS_A))["watches"]
    assert still["muted_until"] is None


async def test_term_autocomplete_suggests_catalogue_actors_and_places(
    bot: WirewatchBot, fake: FakeDiscord
) -> None:
    groups = await fake.autocomplete("watch add", {"term": "isi"}, "term", channel_id=NEWS_A)
    assert any("Islamic State" in c["name"] for c in groups), groups
    places = await fake.autocomplete("watch add", {"term": "deir"}, "term", channel_id=NEWS_B)
    assert any("Deir ez-Zor" in c["name"] for c in places), places
    for choice in groups + places:
        assert 1 <= len(choice["name"]) <= 100 and 1 <= len(choice["value"]) <= 100
    assert len(groups) <= 25 and len(places) <= 25


# ---- 6. paging ---------------------------------------------------------------------------------
async def test_a_long_list_pages_for_the_member_who_asked(
    bot: WirewatchBot, fake: FakeDiscord, app: App
) -> None:
    for n in range(12):
        await commands.watch_add(app, f"keyword{n}", kind="keyword", channel=f"{WS_A}:{NEWS_A}")
    message = await shown(await say(fake, "watch list"))
    assert not is_ephemeral(message)
    assert message["embeds"][0]["footer"]["text"] == "page 1/2"
    assert button(message, "Previous")["disabled"] and not button(message, "Next").get("disabled")

    next_id = button(message, "Next")["custom_id"]
    other = await fake.press(message, next_id, user_id=OTHER)
    assert (await other.response())["type"] == CHANNEL_MESSAGE and other.ephemeral
    assert "Only the member who asked" in (await shown(other))["content"]
    assert fake.get_message(int(message["id"]))["embeds"][0]["footer"]["text"] == "page 1/2"

    owner = await fake.press(message, next_id, user_id=MEMBER)
    assert (await owner.response())["type"] == UPDATE_MESSAGE
    turned = fake.get_message(int(message["id"]))
    assert turned["embeds"][0]["footer"]["text"] == "page 2/2"
    assert "keyword11" in turned["embeds"][0]["description"]
    assert button(turned, "Next")["disabled"] and not button(turned, "Previous").get("disabled")

    back = await fake.press(turned, button(turned, "Previous")["custom_id"], user_id=MEMBER)
    assert (await back.response())["type"] == UPDATE_MESSAGE
    assert fake.get_message(int(message["id"]))["embeds"][0]["footer"]["text"] == "page 1/2"


async def test_paging_buttons_expire(
    bot: WirewatchBot, fake: FakeDiscord, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tree_module, "PAGE_TIMEOUT_S", 0.3)
    for n in range(12):
        await commands.watch_add(app, f"keyword{n}", kind="keyword", channel=f"{WS_A}:{NEWS_A}")
    message = await shown(await say(fake, "watch list"))
    assert not button(message, "Next").get("disabled")

    def expired() -> bool:
        now = fake.get_message(int(message["id"]))
        return all(button(now, label).get("disabled") for label in ("Previous", "Next"))

    await fake.wait_until(expired, timeout=5, what="the paging buttons to be disabled")


# ---- 7. mentions -------------------------------------------------------------------------------
async def test_a_mention_is_answered_like_ask_as_a_reply(
    bot: WirewatchBot, fake: FakeDiscord, app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    await publish(
        app, clock, httpserver_ipv4, [entry("m1", "Car bomb in Mosul market", MOSUL, LATER)]
    )
    asked = await fake.post_user_message(
        NEWS_A, f"{fake.bot_mention} was there a car bomb in Mosul?"
    )
    _, reply = await fake.wait_for_messages(NEWS_A, 2)
    assert int(reply["author"]["id"]) == fake.bot_user_id
    assert reply["message_reference"]["message_id"] == asked["id"]
    [embed] = reply["embeds"]
    assert embed["title"] == "was there a car bomb in Mosul?"
    assert "[Car bomb in Mosul market](https://outlet.example/m1)" in embed["description"]

    plain = await fake.post_user_message(NEWS_A, f"{fake.bot_mention} what happened in Mosul?")
    *_, second = await fake.wait_for_messages(NEWS_A, 4)
    assert second["message_reference"]["message_id"] == plain["id"] and second["embeds"]

    elsewhere = await fake.post_user_message(
        NEWS_B, f"{fake.bot_mention} was there a car bomb in Mosul?"
    )
    _, answer_b = await fake.wait_for_messages(NEWS_B, 2)
    assert answer_b["message_reference"]["message_id"] == elsewhere["id"]
    assert "outlet.example" not in text_of(answer_b)

    empty = await fake.post_user_message(NEWS_A, fake.bot_mention)
    *_, hint = await fake.wait_for_messages(NEWS_A, 6)
    assert hint["message_reference"]["message_id"] == empty["id"] and "Ask me" in hint["content"]


# ---- 8. Discord's limits, with texts far past them ----------------------------------------------
async def test_long_texts_stay_within_discords_limits(
    bot: WirewatchBot, fake: FakeDiscord, app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    """Every embed of every test is checked when it ends (the `fake` fixture); here the texts
    are made to overflow every limit: a 300-character watch term, 1,500-character titles, a
    link too long to be a link, a 1,000-character question."""
    words = " OR ".join(f"word{n}" for n in range(60))
    term = ('"car bomb" OR ' + words)[:300].rsplit(" OR ", 1)[0]
    added = await answer(fake, "watch add", {"term": term, "kind": "keyword"})
    assert "Watch #" in added
    long_title = "Car bomb " + " ".join(["in the crowded western market of Mosul"] * 40)
    items = [
        entry(
            f"long{n}",
            f"{long_title} {n}",
            MOSUL + " " + HARVEST * 3,
            LATER,
            link=f"https://outlet.example/{'x' * 2100}/{n}",
        )
        for n in range(2)
    ]
    url = serve(httpserver_ipv4, "/long.xml", items, "L" * 300)
    await answer(fake, "feed add", {"url": url, "name": "N" * 100})
    clock.advance(hours=1)
    await commands.poll_once(app, workspace=WS_A)
    await commands.deliver_alerts(app, DiscordChat(bot))
    posted = [m for m in fake.messages(NEWS_A) if m["embeds"] and not m.get("interaction_metadata")]
    assert posted, "no alert was posted"
    [alert, *_] = (await commands.list_alerts(app, workspace=WS_A))["alerts"]

    for name, options in [
        ("alerts", {}),
        ("watch list", {}),
        ("feed list", {}),
        ("status", {}),
        ("why alert", {"alert": alert["alert_id"]}),
        ("ask", {"question": "Was there a car bomb in Mosul? " + "Tell me more. " * 68}),
    ]:
        message = await shown(await say(fake, name, options))
        assert message["embeds"], name
    await shown(await fake.context_menu("Why this alert?", int(posted[0]["id"])))
    question = f"car bomb in Mosul? {long_title}"[:990]
    asked = await fake.post_user_message(NEWS_A, f"{fake.bot_mention} {question}")

    def reply() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in fake.messages(NEWS_A)
                if (m.get("message_reference") or {}).get("message_id") == asked["id"]
            ),
            None,
        )

    assert (await fake.wait_until(reply))["embeds"]
    assert assert_within_limits(fake) >= 9


async def test_status_shows_feeds_in_trouble_paused_and_muted_watches(
    bot: WirewatchBot, fake: FakeDiscord, app: App, clock: Clock, httpserver_ipv4: HTTPServer
) -> None:
    isil = await watch_id_in(
        await answer(fake, "watch add", {"term": "ISIL", "kind": "group", "channel": OPS_A})
    )
    deir = await watch_id_in(await answer(fake, "watch add", {"term": "Deir ez-Zor"}))
    await answer(fake, "watch mute", {"watch": deir, "duration": "1d"})
    httpserver_ipv4.expect_request("/broken.xml").respond_with_data("down", status=500)
    await answer(fake, "feed add", {"url": httpserver_ipv4.url_for("/broken.xml")})
    fake.fail_channel(OPS_A, 403)  # the bot may no longer post in #ops
    await publish(
        app, clock, httpserver_ipv4, [entry("is1", "Convoy ambushed", ISIS_AMBUSH, LATER)]
    )
    await commands.deliver_alerts(app, DiscordChat(bot))

    status = await shown(await say(fake, "status"))
    [embed] = status["embeds"]
    assert "2 feeds" in embed["description"] and "2 watches" in embed["description"]
    fields = {f["name"].split(" (")[0]: f["value"] for f in embed["fields"]}
    assert "HTTP 500" in fields["Feeds in trouble"] or "500" in fields["Feeds in trouble"]
    assert f"#{isil} ISIL" in fields["Paused watches"]
    assert f"#{deir} Deir ez-Zor until <t:" in fields["Muted watches"]
    assert "**paused**" in await answer(fake, "watch list")

    fake.restore_channel(OPS_A)
    assert "active again" in await answer(fake, "watch unmute", {"watch": isil})
    assert "**paused**" not in await answer(fake, "watch list")
    assert "Paused watches" not in await answer(fake, "status")
    assert "failed" in await answer(fake, "alerts")  # given up when the channel refused it
    assert fake.messages(OPS_A) == []


async def test_a_stopping_bot_refuses_new_commands(bot: WirewatchBot, fake: FakeDiscord) -> None:
    bot.stopping = True
    assert "restarting" in await refused(fake, "feed list")
    assert "restarting" in await refused(fake, "watch add", {"term": "ISIL"})


# ---- through DiscordService, as `wirewatch run` starts it ---------------------------------------
async def test_the_service_logs_in_syncs_serves_and_closes(app: App, fake: FakeDiscord) -> None:
    settings = app.settings.model_copy(
        update={
            "discord_token": SecretStr(fake.token),
            "discord_api_base": fake.api_base,
            "discord_gateway_url": fake.gateway_url,
            "discord_guild_ids": [BETA],
        }
    )
    service = DiscordService(app, settings)
    await service.start()
    try:
        await asyncio.wait_for(service.wait_ready(), 10)
        assert service.bot.synced == ["global", f"guild:{BETA}"]
        assert (settings.data_dir / "discord_commands.json").exists()
        assert "/ask" in await answer(fake, "help", channel_id=NEWS_B)
    finally:
        await service.close()
    await fake.wait_disconnected()

    refused_token = settings.model_copy(update={"discord_token": SecretStr("not-the-token")})
    with pytest.raises(UserError, match="refused WIREWATCH_DISCORD_TOKEN"):
        await DiscordService(app, refused_token).start()
