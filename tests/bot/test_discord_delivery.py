"""Alerts into Discord channels end to end: the real model and extractor, real SQLite, feeds on
127.0.0.1, and the real WirewatchBot (through DiscordService) logged in to the fake Discord
(tests/fakediscord/) with two guilds; DiscordChat posts, edits and reconciles there. Nothing
here asserts on timing: only on what the fake Discord saw."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands, feedhealth
from bot.core.ports import Card, ChatPort, DeliveryError
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.test_alerts import (
    AL_QAIM,
    DRILL,
    HARVEST,
    ISIS_AMBUSH,
    LATER,
    MOSUL,
    START,
    entry,
    serve,
)
from tests.bot.test_discord_ratelimit import Ticks
from tests.fakediscord import FakeDiscord, FakeGuild, point_discord_at
from tests.index.test_ingest import Clock, rss

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    import discord  # noqa: F401

from bot.adapters.discord.chat import DiscordChat  # noqa: E402
from bot.adapters.discord.ratelimit import InvalidRequestGuard  # noqa: E402
from bot.adapters.discord.service import DiscordService  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ALPHA, BETA = 700_000_000_000_000_001, 700_000_000_000_000_002
NEWS, OPS, LOBBY = 710_000_000_000_000_001, 710_000_000_000_000_002, 710_000_000_000_000_003
GUILDS = [FakeGuild(ALPHA, "Alpha", {NEWS: "news", OPS: "ops"}), FakeGuild(BETA, "Beta", [LOBBY])]
ALPHA_WS, BETA_WS = f"discord:{ALPHA}", f"discord:{BETA}"
NEWS_CH, OPS_CH, LOBBY_CH = f"{ALPHA_WS}:{NEWS}", f"{ALPHA_WS}:{OPS}", f"{BETA_WS}:{LOBBY}"
MESSAGES = rf"/channels/{NEWS}/messages"

# Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-limits).
LIMITS = {"title": 256, "description": 4096, "fields": 25, "field_name": 256, "field_value": 1024}
FOOTER_LIMIT, TOTAL_LIMIT = 2048, 6000


# ---- fixtures and helpers -----------------------------------------------------------------------
@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def app_settings(settings: Settings, gazetteer_cache: Path) -> Settings:
    return settings.model_copy(update={"cache_dir": gazetteer_cache.parent})


@contextlib.asynccontextmanager
async def opened(
    settings: Settings, clock: Clock, embedder: Embedder, extractor: Extractor
) -> AsyncIterator[App]:
    async with open_app(settings, embedder=embedder, extractor=extractor, now=clock) as app:
        yield app


@pytest.fixture
async def app(
    app_settings: Settings, clock: Clock, real_embedder: Embedder, extractor: Extractor
) -> AsyncIterator[App]:
    async with opened(app_settings, clock, real_embedder, extractor) as app:
        yield app


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(GUILDS) as server:
        with point_discord_at(server):
            yield server


@contextlib.asynccontextmanager
async def discord_service(app: App, fake: FakeDiscord) -> AsyncIterator[DiscordService]:
    """The real bot, logged in to the fake and ready; closed before the fake is."""
    settings = app.settings.model_copy(
        update={
            "discord_token": SecretStr(fake.token),
            "discord_api_base": fake.api_base,
            "discord_gateway_url": fake.gateway_url,
        }
    )
    service = DiscordService(app, settings)
    # discord.py waits this long for more guilds after READY (2 s by default)
    service.bot._connection.guild_ready_timeout = 0.05
    await service.start()
    try:
        await asyncio.wait_for(service.wait_ready(), 30)
        yield service
    finally:
        await service.close()


@pytest.fixture
async def service(app: App, fake: FakeDiscord) -> AsyncIterator[DiscordService]:
    async with discord_service(app, fake) as started:
        yield started


async def subscribe(
    app: App, httpserver: HTTPServer, path: str, items: list[dict[str, str]], name: str, ws: str
) -> None:
    await commands.add_feed(app, serve(httpserver, path, items, name), workspace=ws)


async def mosul_alert(app: App, clock: Clock, httpserver: HTTPServer, channel: str) -> None:
    """Watch Mosul in `channel` (of Alpha) and poll a feed with a Mosul car bomb an hour later."""
    await commands.watch_add(app, "Mosul", channel=channel)
    story = [entry("m1", "Car bomb in Mosul", MOSUL, LATER)]
    await subscribe(app, httpserver, "/a.xml", story, "A", ALPHA_WS)
    clock.advance(hours=1)
    await commands.poll_once(app, workspace=ALPHA_WS)


async def alerts_of(app: App, channel: str) -> list[dict[str, Any]]:
    ws = channel.rsplit(":", 1)[0]
    doc = await commands.list_alerts(app, workspace=ws, channel=channel)
    return doc["alerts"]  # type: ignore[no-any-return]


def embed_of(message: dict[str, Any]) -> dict[str, Any]:
    [embed] = message["embeds"]
    return embed  # type: ignore[no-any-return]


def fields_of(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def assert_within_limits(embed: dict[str, Any]) -> None:
    fields = embed.get("fields", [])
    footer = (embed.get("footer") or {}).get("text", "")
    assert len(embed.get("title", "")) <= LIMITS["title"]
    assert len(embed.get("description", "")) <= LIMITS["description"]
    assert len(fields) <= LIMITS["fields"]
    for f in fields:
        assert 0 < len(f["name"]) <= LIMITS["field_name"]
        assert 0 < len(f["value"]) <= LIMITS["field_value"]
    assert len(footer) <= FOOTER_LIMIT
    total = (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
        + len(footer)
        + len((embed.get("author") or {}).get("name", ""))
    )
    assert total <= TOTAL_LIMIT


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


# ---- 6: killed between the post and the mark ----------------------------------------------------
class Died(BaseException):
    """The process ended here (as a SIGKILL would: nothing after it runs)."""


class DiesAfterPosting:
    """A ChatPort that lets the real chat post, then dies before the outbox can mark it."""

    def __init__(self, chat: ChatPort) -> None:
        self.chat = chat

    def accepts(self, channel: str) -> bool:
        return self.chat.accepts(channel)

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        await self.chat.send(channel, card, key=key, retry=retry)
        raise Died

    async def edit(self, channel: str, message_ref: str, card: Card) -> None:
        raise Died


async def post_then_die(
    settings: Settings,
    clock: Clock,
    embedder: Embedder,
    extractor: Extractor,
    httpserver: HTTPServer,
    fake: FakeDiscord,
    term: str,
    items: list[dict[str, str]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A watch on `term`, a feed of `items` polled, its alert posted and the process killed
    before marking it: (the alert as stored then, the one message in the channel)."""
    async with (
        opened(settings, clock, embedder, extractor) as app,
        discord_service(app, fake) as service,
    ):
        await commands.watch_add(app, term, channel=NEWS_CH)
        await subscribe(app, httpserver, "/a.xml", items, "A", ALPHA_WS)
        clock.advance(hours=1)
        await commands.poll_once(app, workspace=ALPHA_WS)
        with pytest.raises(Died):
            await commands.deliver_alerts(app, DiesAfterPosting(DiscordChat(service.bot)))
        [alert] = await alerts_of(app, NEWS_CH)
    [posted] = fake.messages(NEWS)
    return alert, posted


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


# ---- 9: `wirewatch run` stops cleanly on SIGTERM ------------------------------------------------
def run_env(
    tmp_path: Path, model_cache: Path, gazetteer_cache: Path, fake: FakeDiscord, **more: str
) -> dict[str, str]:
    """The environment of a `wirewatch run` subprocess against the fake Discord, with the
    session's model cache and gazetteer (`more`: further variables)."""
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    if not (cache / "gazetteer").exists():
        (cache / "gazetteer").symlink_to(gazetteer_cache, target_is_directory=True)
    return {
        **os.environ,
        "WIREWATCH_DATA_DIR": str(tmp_path / "data"),
        "WIREWATCH_DISCORD_TOKEN": fake.token,
        "WIREWATCH_DISCORD_API_BASE": fake.api_base,
        "WIREWATCH_DISCORD_GATEWAY_URL": fake.gateway_url,
        "WIREWATCH_ALLOWED_NETWORKS": "127.0.0.1/32",
        "WIREWATCH_MODEL_CACHE_DIR": str(model_cache),
        "WIREWATCH_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        **more,
    }


async def start_run(env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """`python -m bot run` with `env`, stdout and stderr into `log_path`."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
        )
    finally:
        os.close(log_fd)


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
