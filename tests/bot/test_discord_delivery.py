"""Alerts into Discord channels end to end: the real model and extractor, real SQLite, feeds on
127.0.0.1, and the real WirewatchBot (through DiscordService) logged in to the fake Discord
(tests/fakediscord/) with two guilds; DiscordChat posts, edits and reconciles there. Nothing
here asserts on timing: only on what the fake Discord saw.

This module: one embed per alert edited in place, digests, channels closed to the bot, the
invalid-request guard and Discord's embed limits. Failures, kills and restarts are in
test_discord_delivery_recovery.py; the shared fixtures in discord_delivery_helpers.py."""

from __future__ import annotations

import warnings

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App
from bot.core import commands
from bot.core.ports import Card, DeliveryError
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import AL_QAIM, DRILL, HARVEST, ISIS_AMBUSH, LATER, MOSUL, entry
from tests.bot.discord_delivery_helpers import (
    ALPHA_WS,
    BETA_WS,
    LOBBY,
    LOBBY_CH,
    MESSAGES,
    NEWS,
    NEWS_CH,
    OPS,
    OPS_CH,
    alerts_of,
    app_fixture,  # noqa: F401
    app_settings_fixture,  # noqa: F401
    assert_within_limits,
    clock_fixture,  # noqa: F401
    discord_service,
    embed_of,
    fake_fixture,  # noqa: F401
    fields_of,
    mosul_alert,
    opened,
    service_fixture,  # noqa: F401
    subscribe,
)
from tests.bot.test_discord_ratelimit import Ticks
from tests.fakediscord import FakeDiscord
from tests.index.ingest_helpers import Clock

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    import discord  # noqa: F401

from bot.adapters.discord.chat import DiscordChat  # noqa: E402
from bot.adapters.discord.ratelimit import InvalidRequestGuard  # noqa: E402
from bot.adapters.discord.service import DiscordService  # noqa: E402


# ---- 1, 2: one embed per alert, edited in place when another outlet joins -----------------------
async def test_an_alert_is_one_embed_and_a_second_outlet_edits_it_in_place(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    await commands.watch_add(app, "ISIL", channel=NEWS_CH)
    first = [entry("is1", "Convoy ambushed near Palmyra", ISIS_AMBUSH, LATER)]
    await subscribe(app, httpserver_ipv4, "/a.xml", first, "A", ALPHA_WS)
    clock.advance(hours=1)
    assert (await commands.poll_once(app, workspace=ALPHA_WS))["alerts"] == 1
    [alert] = await alerts_of(app, NEWS_CH)

    chat = DiscordChat(service.bot)
    report = await commands.deliver_alerts(app, chat)
    assert (report.sent, report.failed) == (1, 0)
    [message] = await fake.wait_for_messages(NEWS, 1)
    assert int(message["author"]["id"]) == fake.bot_user_id
    assert message["nonce"] == f"a{alert['alert_id']}"
    embed = embed_of(message)
    assert embed["title"] == "Convoy ambushed near Palmyra"
    assert embed["url"] == "https://outlet.example/is1"
    fields = fields_of(embed)
    assert fields["Source"] == "A" and "Syria" in fields["Place"]
    assert "Islamic State" in fields["Actors"] and fields["Event"] and fields["Time"]
    footer = embed["footer"]["text"]
    assert footer.startswith(f"alert {alert['alert_id']}") and "matched: ISIL" in footer
    assert_within_limits(embed)
    assert fake.messages(LOBBY) == [] and fake.messages(OPS) == []

    # another outlet carries the same story an hour later: the message is edited, not reposted
    again = ISIS_AMBUSH + " Relatives of the soldiers gathered outside the hospital in Homs."
    second = [
        entry("b1", "Nine soldiers killed in Palmyra ambush", again, LATER, "https://b.example/b1")
    ]
    await subscribe(app, httpserver_ipv4, "/b.xml", second, "B", ALPHA_WS)
    clock.advance(hours=1)
    assert (await commands.poll_once(app, workspace=ALPHA_WS))["alerts"] == 0
    [updated] = await alerts_of(app, NEWS_CH)
    assert updated["sources"] == ["A", "B"] and updated["pending"]
    report = await commands.deliver_alerts(app, chat)
    assert (report.sent, report.edited, report.failed) == (0, 1, 0)
    [edit] = fake.edits
    assert edit.message_id == int(message["id"]) and edit.channel_id == NEWS
    [message] = fake.messages(NEWS)
    embed = embed_of(message)
    assert fields_of(embed)["Sources"] == "A, B"
    assert embed["footer"]["text"].startswith(f"alert {alert['alert_id']}")
    assert_within_limits(embed)
    assert not (await alerts_of(app, NEWS_CH))[0]["pending"]
    assert len(fake.requests_to("POST", MESSAGES)) == 1


# ---- 3: a digest past WIREWATCH_ALERT_DIGEST_AFTER, edited by a later update --------------------
async def test_many_alerts_at_once_are_one_digest_that_a_later_update_edits(
    app_settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
) -> None:
    settings = app_settings.model_copy(update={"alert_digest_after": 2})
    items = [
        entry(f"n{n}", f"Report {n} from Iraq", f"{text} Officials in Iraq confirmed it.", LATER)
        for n, text in enumerate((MOSUL, DRILL, AL_QAIM, HARVEST.replace("Euphrates", "Tigris")))
    ]
    async with (
        opened(settings, clock, real_embedder, extractor) as app,
        discord_service(app, fake) as service,
    ):
        await commands.watch_add(app, "Iraq", channel=NEWS_CH)
        await subscribe(app, httpserver_ipv4, "/a.xml", items, "A", ALPHA_WS)
        clock.advance(hours=1)
        await commands.poll_once(app, workspace=ALPHA_WS)
        pending = await alerts_of(app, NEWS_CH)
        assert len(pending) > settings.alert_digest_after
        chat = DiscordChat(service.bot)
        report = await commands.deliver_alerts(app, chat)
        assert (report.sent, report.digests, report.alerts) == (1, 1, len(pending))
        [digest] = await fake.wait_for_messages(NEWS, 1)
        embed = embed_of(digest)
        assert embed["title"] == f"{len(pending)} new alerts"
        assert embed["footer"]["text"].startswith("digest of alerts ")
        assert "Report 0 from Iraq" in embed["description"]
        assert_within_limits(embed)

        joined = MOSUL + " Officials in Iraq confirmed it. Shopkeepers said windows shattered."
        later = [entry("m2", "Mosul market bomb kills 23", joined, LATER, "https://b.example/m2")]
        await subscribe(app, httpserver_ipv4, "/b.xml", later, "B", ALPHA_WS)
        clock.advance(hours=1)
        assert (await commands.poll_once(app, workspace=ALPHA_WS))["alerts"] == 0
        assert any(a["pending"] for a in await alerts_of(app, NEWS_CH))
        report = await commands.deliver_alerts(app, chat)
        assert (report.sent, report.edited, report.failed) == (0, 1, 0)
        [edit] = fake.edits
        assert edit.message_id == int(digest["id"])
        [digest] = fake.messages(NEWS)
        embed = embed_of(digest)
        assert embed["title"] == f"{len(pending)} new alerts" and "B" in embed["description"]
        assert_within_limits(embed)
        assert not any(a["pending"] for a in await alerts_of(app, NEWS_CH))


# ---- 4: a channel closed to the bot pauses its watches; the other guild still gets its alert -----
async def test_a_403_channel_pauses_its_watches_and_unmute_resumes_them(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    news_watch = await commands.watch_add(app, "Mosul", channel=NEWS_CH)
    await commands.watch_add(app, "Mosul", channel=LOBBY_CH)
    story = [entry("m1", "Car bomb in Mosul", MOSUL, LATER)]
    await subscribe(app, httpserver_ipv4, "/a.xml", story, "A", ALPHA_WS)
    await subscribe(app, httpserver_ipv4, "/a.xml", story, "A", BETA_WS)
    clock.advance(hours=1)
    await commands.poll_once(app, workspace=ALPHA_WS)
    await commands.poll_once(app, workspace=BETA_WS)
    assert len(await alerts_of(app, NEWS_CH)) == 1 and len(await alerts_of(app, LOBBY_CH)) == 1

    fake.fail_channel(NEWS, 403)
    report = await commands.deliver_alerts(app, DiscordChat(service.bot))
    assert report.sent == 1
    [message] = await fake.wait_for_messages(LOBBY, 1)
    assert embed_of(message)["title"] == "Car bomb in Mosul"
    assert fake.messages(NEWS) == []

    [watch] = (await commands.watch_list(app, workspace=ALPHA_WS, channel=NEWS_CH))["watches"]
    assert watch["paused"] and "403" in watch["paused"] and "Missing Access" in watch["paused"]
    status = await commands.status(app, workspace=ALPHA_WS)
    [paused] = status["paused_watches"]
    assert paused["watch_id"] == news_watch["watch_id"] and paused["reason"] == watch["paused"]
    [given_up] = await alerts_of(app, NEWS_CH)
    assert given_up["failed"] and not given_up["pending"]
    beta = (await commands.watch_list(app, workspace=BETA_WS))["watches"]
    assert [w["paused"] for w in beta] == [None]
    posts = len(fake.requests_to("POST", MESSAGES))
    assert (await commands.deliver_alerts(app, DiscordChat(service.bot))).sent == 0
    assert len(fake.requests_to("POST", MESSAGES)) == posts  # nothing retried there

    fake.restore_channel(NEWS)
    await commands.watch_mute(app, news_watch["watch_id"], None, workspace=ALPHA_WS)
    [watch] = (await commands.watch_list(app, workspace=ALPHA_WS, channel=NEWS_CH))["watches"]
    assert watch["paused"] is None
    assert (await commands.status(app, workspace=ALPHA_WS))["paused_watches"] == []


# ---- 4b: past the invalid-request threshold the chat stops calling Discord ----------------------
async def test_too_many_403s_pause_delivery_until_they_leave_the_window(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    await mosul_alert(app, clock, httpserver_ipv4, OPS_CH)
    assert len(await alerts_of(app, OPS_CH)) == 1

    ticks = Ticks()
    chat = DiscordChat(service.bot, guard=InvalidRequestGuard(3, clock=ticks))
    fake.fail_channel(NEWS, 403)
    for n in range(3):
        with pytest.raises(DeliveryError) as refused:
            await chat.send(NEWS_CH, Card("Probe", None, ""), key=f"p{n}")
        assert refused.value.channel_gone
    assert [r.status for r in fake.requests_to("POST", MESSAGES)] == [403] * 3
    assert (chat.guard.paused, chat.guard.invalid_requests) == (True, 3)

    seen = len(fake.requests)
    report = await commands.deliver_alerts(app, chat)
    assert (report.sent, report.failed) == (0, 1)
    ticks.advance(599)  # the 403s are still in the window
    clock.advance(hours=1)
    assert (await commands.deliver_alerts(app, chat)).sent == 0
    assert len(fake.requests) == seen and fake.messages(OPS) == []
    [waiting] = await alerts_of(app, OPS_CH)
    # held back, not failed: the tries are not counted, so no backoff grows behind the pause
    assert waiting["pending"] and not waiting["failed"] and waiting["attempts"] == 0

    ticks.advance(1)  # ten minutes since the 403s: the window is empty
    clock.advance(hours=1)
    report = await commands.deliver_alerts(app, chat)
    assert (report.sent, report.failed) == (1, 0)
    [message] = await fake.wait_for_messages(OPS, 1)
    assert embed_of(message)["title"] == "Car bomb in Mosul"
    assert not (await alerts_of(app, OPS_CH))[0]["pending"]
    assert not chat.guard.paused


# ---- 7: an oversize article stays within Discord's limits ---------------------------------------
@pytest.mark.slow
async def test_a_huge_article_and_title_fit_discords_embed_limits(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    await commands.watch_add(app, "Mosul", channel=NEWS_CH)
    filler = " ".join(
        f"Witness number {n} said the stalls on street {n} were crowded before the blast."
        for n in range(400)
    )
    text = (MOSUL + " " + filler)[:20_000]
    assert len(text) == 20_000
    title = ("Car bomb in Mosul market " * 60)[:1000]
    story = [entry("m1", title, text, LATER)]
    await subscribe(app, httpserver_ipv4, "/a.xml", story, "A", ALPHA_WS)
    clock.advance(hours=1)
    assert (await commands.poll_once(app, workspace=ALPHA_WS))["alerts"] == 1
    report = await commands.deliver_alerts(app, DiscordChat(service.bot))
    assert (report.sent, report.failed) == (1, 0)
    [message] = fake.messages(NEWS)
    embed = embed_of(message)
    assert_within_limits(embed)
    assert embed["title"].startswith("Car bomb in Mosul market") and embed["title"].endswith("…")
    assert embed["footer"]["text"].startswith("alert ")
