"""Alerts into Discord channels end to end, when things go wrong: a 429 that discord.py
retries itself, a kill between the post and the mark, feed failing and recovered notices,
`wirewatch run` stopped by SIGTERM, and a post or notice found again after a restart. Only
what the fake Discord saw is asserted, never timing.
"""

from __future__ import annotations

import asyncio
import signal
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App
from bot.core import commands, feedhealth
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import ISIS_AMBUSH, LATER, MOSUL, entry
from tests.bot.discord_delivery_helpers import (
    ALPHA_WS,
    MESSAGES,
    NEWS,
    NEWS_CH,
    OPS,
    OPS_CH,
    Died,
    DiesAfterPosting,
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
    post_then_die,
    run_env,
    service_fixture,  # noqa: F401
    start_run,
    subscribe,
)
from tests.fakediscord import FakeDiscord
from tests.index.ingest_helpers import Clock, rss

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    import discord  # noqa: F401

from bot.adapters.discord.chat import DiscordChat  # noqa: E402
from bot.adapters.discord.service import DiscordService  # noqa: E402


# ---- 5: a 429 is discord.py's to honour ---------------------------------------------------------
async def test_a_429_is_retried_once_by_discord_py_itself(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    await mosul_alert(app, clock, httpserver_ipv4, NEWS_CH)

    fake.rate_limit("POST", MESSAGES, retry_after=0.2)
    report = await commands.deliver_alerts(app, DiscordChat(service.bot))
    assert (report.sent, report.failed) == (1, 0)
    posts = fake.requests_to("POST", MESSAGES)
    assert [r.status for r in posts] == [429, 200]
    assert posts[0].json["nonce"] == posts[1].json["nonce"]
    assert len(fake.messages(NEWS)) == 1
    [alert] = await alerts_of(app, NEWS_CH)
    assert not alert["pending"] and alert["attempts"] == 0
    # the bot's own guard saw the 429 that discord.py waited out, as Discord counts it
    assert service.chat.guard.invalid_requests == 1


async def test_killed_between_post_and_mark_gives_one_message(
    app_settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
) -> None:
    story = [entry("m1", "Car bomb in Mosul", MOSUL, LATER)]
    alert, posted = await post_then_die(
        app_settings, clock, real_embedder, extractor, httpserver_ipv4, fake, "Mosul", story
    )
    assert alert["pending"] and alert["delivered_at"] is None

    fake.nonce_window_s = 0  # the restart comes long after Discord forgot the nonce
    async with (
        opened(app_settings, clock, real_embedder, extractor) as app,
        discord_service(app, fake) as service,
    ):
        report = await commands.deliver_alerts(app, DiscordChat(service.bot))
        assert (report.sent, report.failed) == (1, 0)
        [alert] = await alerts_of(app, NEWS_CH)
        assert alert["delivered_at"] is not None and not alert["pending"]
        assert (await commands.deliver_alerts(app, DiscordChat(service.bot))).alerts == 0
    assert fake.messages(NEWS) == [posted]
    assert fake.edits == []  # found as it was posted: nothing to bring up to date
    assert len(fake.requests_to("POST", MESSAGES)) == 1
    assert len(fake.requests_to("GET", MESSAGES)) == 1  # the history read


# ---- 8: feed failing and recovered notices ------------------------------------------------------
async def test_a_failing_feed_gives_one_notice_and_one_on_recovery(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    grace = timedelta(seconds=app.settings.feed_notice_after_s)
    await commands.watch_add(app, "Mosul", channel=NEWS_CH)
    httpserver_ipv4.expect_request("/down.xml").respond_with_data("busy", status=503)
    url = httpserver_ipv4.url_for("/down.xml")
    await commands.add_feed(app, url, name="Down Outlet", workspace=ALPHA_WS, channel=OPS_CH)
    chat = DiscordChat(service.bot)

    async def cycle(**advance: float) -> int:
        clock.advance(**advance)
        await commands.poll_due(app)
        recorded = await feedhealth.check_feed_health(app.store, now=clock.now, grace=grace)
        await feedhealth.deliver_notices(app.store, chat, now=clock.now, policy=app.alert_policy)
        return recorded

    assert await cycle(minutes=1) == 0  # failing, within the grace: nothing said
    for _ in range(12):  # failing for longer than the grace (each poll after its backoff)
        await cycle(minutes=30)
    [notice] = await fake.wait_for_messages(OPS, 1)
    embed = embed_of(notice)
    assert "Down Outlet" in embed["title"] + embed.get("description", "")
    assert_within_limits(embed)
    assert fake.messages(NEWS) == []
    assert await cycle(hours=1) == 0 and len(fake.messages(OPS)) == 1  # said once

    httpserver_ipv4.clear()
    story = [entry("m1", "Car bomb in Mosul", MOSUL, clock.now)]
    httpserver_ipv4.expect_request("/down.xml").respond_with_data(
        rss(story, title="Down Outlet"), content_type="application/rss+xml"
    )
    for _ in range(12):
        await cycle(hours=2)
        if len(fake.messages(OPS)) == 2:
            break
    first, recovered = fake.messages(OPS)
    assert first["id"] == notice["id"]
    embed = embed_of(recovered)
    assert "Down Outlet" in embed["title"] + embed.get("description", "")
    assert embed["title"] != embed_of(notice)["title"]
    assert_within_limits(embed)


@pytest.mark.slow
async def test_wirewatch_run_stops_cleanly_on_sigterm(
    tmp_path: Path,
    model_cache: Path,
    gazetteer_cache: Path,
    extractor: Extractor,  # builds the gazetteer the process loads
    fake: FakeDiscord,
) -> None:
    log_path = tmp_path / "run.log"
    env = run_env(tmp_path, model_cache, gazetteer_cache, fake)
    process = await start_run(env, log_path)
    try:
        await fake.wait_until(
            lambda: True if fake.connected and fake.sync_count else None,
            timeout=180,
            what="the bot to connect and sync its commands",
        )
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert code == 0, log
    await fake.wait_disconnected()
    assert "stopping" in log and "stopped" in log.split("stopping", 1)[1], log
    assert "Traceback" not in log, log


async def test_a_post_found_after_a_restart_is_brought_up_to_date(
    app_settings: Settings,
    clock: Clock,
    real_embedder: Embedder,
    extractor: Extractor,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
) -> None:
    """Posted, killed before the mark; another outlet joins the story before the restart: the
    message found in the history shows both sources, not the first post's one."""
    first = [entry("is1", "Convoy ambushed near Palmyra", ISIS_AMBUSH, LATER)]
    _, posted = await post_then_die(
        app_settings, clock, real_embedder, extractor, httpserver_ipv4, fake, "ISIL", first
    )
    assert fields_of(embed_of(posted))["Source"] == "A"

    fake.nonce_window_s = 0
    again = ISIS_AMBUSH + " Relatives of the soldiers gathered outside the hospital in Homs."
    second = [
        entry("b1", "Nine soldiers killed near Palmyra", again, LATER, "https://b.example/b1")
    ]
    async with (
        opened(app_settings, clock, real_embedder, extractor) as app,
        discord_service(app, fake) as service,
    ):
        await subscribe(app, httpserver_ipv4, "/b.xml", second, "B", ALPHA_WS)
        clock.advance(hours=1)
        await commands.poll_once(app, workspace=ALPHA_WS)
        [alert] = await alerts_of(app, NEWS_CH)
        assert alert["sources"] == ["A", "B"] and alert["version"] == 2
        report = await commands.deliver_alerts(app, DiscordChat(service.bot))
        assert (report.sent, report.failed) == (1, 0)
        assert not (await alerts_of(app, NEWS_CH))[0]["pending"]
    [message] = fake.messages(NEWS)
    assert message["id"] == posted["id"]
    assert fields_of(embed_of(message))["Sources"] == "A, B"
    assert len(fake.requests_to("POST", MESSAGES)) == 1


async def test_a_notice_posted_before_a_kill_is_not_posted_again(
    app: App,
    clock: Clock,
    httpserver_ipv4: HTTPServer,
    fake: FakeDiscord,
    service: DiscordService,
) -> None:
    grace = timedelta(seconds=app.settings.feed_notice_after_s)
    httpserver_ipv4.expect_request("/down.xml").respond_with_data("busy", status=503)
    url = httpserver_ipv4.url_for("/down.xml")
    await commands.add_feed(app, url, name="Down Outlet", workspace=ALPHA_WS, channel=OPS_CH)
    recorded = 0
    for _ in range(12):
        clock.advance(minutes=30)
        await commands.poll_due(app)
        recorded += await feedhealth.check_feed_health(app.store, now=clock.now, grace=grace)
    assert recorded == 1
    with pytest.raises(Died):
        await feedhealth.deliver_notices(
            app.store,
            DiesAfterPosting(DiscordChat(service.bot)),
            now=clock.now,
            policy=app.alert_policy,
        )
    [posted] = fake.messages(OPS)
    fake.nonce_window_s = 0
    posted_count = await feedhealth.deliver_notices(
        app.store, DiscordChat(service.bot), now=clock.now, policy=app.alert_policy
    )
    assert posted_count == 1
    assert fake.messages(OPS) == [posted] and fake.edits == []
    assert len(fake.requests_to("POST", rf"/channels/{OPS}/messages")) == 1
    again = await feedhealth.deliver_notices(
        app.store, DiscordChat(service.bot), now=clock.now, policy=app.alert_policy
    )
    assert again == 0
