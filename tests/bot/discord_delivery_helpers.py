"""Shared parts of the Discord delivery tests (tests/bot/test_discord_delivery*.py, also used
by test_run_ops.py and test_scale_processes.py): two guilds and their channels, Discord's
embed limits, the fixtures (clock, app, fake Discord, the DiscordService logged in to it),
a chat that dies after posting, and `wirewatch run` started as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.core.ports import Card, ChatPort
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.alerts_helpers import LATER, MOSUL, START, entry, serve
from tests.fakediscord import FakeDiscord, FakeGuild, point_discord_at
from tests.index.ingest_helpers import Clock

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    import discord  # noqa: F401

from bot.adapters.discord.chat import DiscordChat  # noqa: E402
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
@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock(START)


@pytest.fixture(name="app_settings")
def app_settings_fixture(settings: Settings, gazetteer_cache: Path) -> Settings:
    return settings.model_copy(update={"cache_dir": gazetteer_cache.parent})


@contextlib.asynccontextmanager
async def opened(
    settings: Settings, clock: Clock, embedder: Embedder, extractor: Extractor
) -> AsyncIterator[App]:
    async with open_app(settings, embedder=embedder, extractor=extractor, now=clock) as app:
        yield app


@pytest.fixture(name="app")
async def app_fixture(
    app_settings: Settings, clock: Clock, real_embedder: Embedder, extractor: Extractor
) -> AsyncIterator[App]:
    async with opened(app_settings, clock, real_embedder, extractor) as app:
        yield app


@pytest.fixture(name="fake")
async def fake_fixture() -> AsyncIterator[FakeDiscord]:
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


@pytest.fixture(name="service")
async def service_fixture(app: App, fake: FakeDiscord) -> AsyncIterator[DiscordService]:
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
