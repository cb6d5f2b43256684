"""The Discord adapter end to end: mentions answered like /ask, long texts kept within
Discord's limits, the status of feeds and watches, a stopping bot, and DiscordService as
`wirewatch run` starts it. Every embed sent is checked against the limits when each test
ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.adapters.discord.chat import DiscordChat
from bot.adapters.discord.client import WirewatchBot
from bot.adapters.discord.service import DiscordService
from bot.app import App
from bot.core import commands
from bot.core.errors import UserError
from tests.bot.alerts_helpers import HARVEST, ISIS_AMBUSH, MOSUL, entry, serve
from tests.bot.discord_helpers import (
    BETA,
    LATER,
    NEWS_A,
    NEWS_B,
    OPS_A,
    WS_A,
    answer,
    app_fixture,  # noqa: F401
    assert_within_limits,
    bot_fixture,  # noqa: F401
    clock_fixture,  # noqa: F401
    fake_fixture,  # noqa: F401
    publish,
    refused,
    say,
    shown,
    text_of,
    watch_id_in,
)
from tests.fakediscord import FakeDiscord
from tests.index.ingest_helpers import Clock


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
