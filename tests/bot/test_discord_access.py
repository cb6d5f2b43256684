"""The Discord adapter end to end: who may change what (Manage Channels), every interaction
acknowledged within Discord's 3 seconds, two guilds that see only their own, term
autocomplete, and paging buttons that answer only the member who asked and expire.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from bot.adapters.discord import tree as tree_module
from bot.adapters.discord.client import WirewatchBot
from bot.app import App
from bot.core import commands
from tests.bot.alerts_helpers import HARVEST, entry, serve
from tests.bot.discord_helpers import (
    LATER,
    MEMBER,
    NEWS_A,
    NEWS_B,
    OTHER,
    WS_A,
    answer,
    app_fixture,  # noqa: F401
    bot_fixture,  # noqa: F401
    button,
    clock_fixture,  # noqa: F401
    fake_fixture,  # noqa: F401
    post_alert,
    refused,
    say,
    shown,
    text_of,
)
from tests.fakediscord import (
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    EVERYONE_PERMISSIONS,
    UPDATE_MESSAGE,
    FakeDiscord,
    is_ephemeral,
)
from tests.index.ingest_helpers import Clock


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
