"""The Discord adapter's commands end to end: the real WirewatchBot (bot/adapters/discord/)
logs in to the fake Discord (tests/fakediscord/) with two guilds, over an App with real
SQLite, the real model and extractor, and feeds served on 127.0.0.1. Slash commands, the
"Why this alert?" menu, autocomplete, paging buttons and mentions go in as gateway events; what
the bot answered is read back from the fake. Every embed it sent is checked against Discord's
limits when each test ends.

This module: the limit check itself, start-up (login, READY, command sync) and every command's
happy path and bad input. Access, guilds and paging are in test_discord_access.py; mentions,
long texts, status and the service in test_discord_replies.py; the shared fixtures in
discord_helpers.py."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import discord
import pytest
from discord import app_commands
from pytest_httpserver import HTTPServer

from bot.adapters.discord.client import WirewatchBot
from bot.app import App
from bot.core import commands
from tests.bot.alerts_helpers import HARVEST, ISIS_AMBUSH, MOSUL, entry, serve
from tests.bot.discord_helpers import (
    ALPHA,
    BETA,
    COMMANDS,
    LATER,
    NEWS_A,
    NEWS_B,
    OPS_A,
    TYPE,
    WS_A,
    WS_B,
    answer,
    app_fixture,  # noqa: F401
    bot_fixture,  # noqa: F401
    clock_fixture,  # noqa: F401
    embed_problems,
    fake_fixture,  # noqa: F401
    post_alert,
    publish,
    refusal,
    refused,
    running,
    say,
    shown,
    text_of,
    watch_id_in,
)
from tests.fakediscord import (
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    FakeDiscord,
    FakeGuild,
    is_ephemeral,
)
from tests.index.ingest_helpers import Clock


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


async def test_joining_and_leaving_a_server_is_logged(
    app: App, fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gamma = FakeGuild(800_000_000_000_000_003, "Gamma desk", [900_000_000_000_000_301])
    async with running(app, fake, tmp_path / "discord_commands.json") as bot:
        with caplog.at_level(logging.INFO, logger="bot.adapters.discord.client"):
            await fake.join_guild(gamma)
            await fake.wait_until(lambda: bot.get_guild(gamma.guild_id))
            await fake.leave_guild(gamma.guild_id)
            await fake.wait_until(lambda: bot.get_guild(gamma.guild_id) is None or None)
    joined = [r for r in caplog.records if r.getMessage().startswith("joined server")]
    assert [r.getMessage() for r in joined] == [f"joined server Gamma desk ({gamma.guild_id})"]
    assert getattr(joined[0], "guild_id", None) == gamma.guild_id
    assert any(r.getMessage().startswith("removed from server Gamma desk") for r in caplog.records)


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
