"""Sharded gateways against the fake Discord (tests/fakediscord/), which routes each guild's
events to the session of its shard (guild_id >> 22) % shard_count, as Discord does. First the
fake itself with plain discord.py clients, then the real bot through DiscordService: one process
on both shards (WIREWATCH_SHARD_COUNT=2), and two processes on one shard each
(WIREWATCH_SHARD_IDS=0 and =1), each answering only its own guilds. Last, the settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr, ValidationError

from bot.app import App, open_app
from bot.core.ports import Card
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import Embedder
from tests.bot.test_discord import text_of
from tests.fakediscord import (
    OP_HELLO,
    OP_IDENTIFY,
    FakeDiscord,
    FakeGuild,
    logged_in,
    point_discord_at,
    shard_of,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    import discord
    from discord import app_commands

from bot.adapters.discord.client import ShardedWirewatchBot, WirewatchBot  # noqa: E402
from bot.adapters.discord.service import DiscordService, bot_for, shard_options  # noqa: E402

ALPHA, BETA = 600_000_000_000_000_001, 600_000_000_010_000_001  # shard 0 and shard 1 of 2
NEWS_A, NEWS_B = 610_000_000_000_000_001, 610_000_000_000_000_002
GUILDS = [FakeGuild(ALPHA, "Alpha", {NEWS_A: "news"}), FakeGuild(BETA, "Beta", {NEWS_B: "news"})]
assert (shard_of(ALPHA, 2), shard_of(BETA, 2)) == (0, 1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(GUILDS) as server:
        with point_discord_at(server):
            yield server


# ---- the fake: one session per shard ----------------------------------------------------------
class ShardClient(discord.Client):
    """A plain discord.py client on one shard (None: unsharded), answering /ping with its
    name."""

    def __init__(self, name: str, shard_id: int | None, shard_count: int | None = 2) -> None:
        super().__init__(
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
            shard_id=shard_id,
            shard_count=shard_count,
        )
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(description="Answers with the client's name")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"pong from {name}")


class NoWaitShardedClient(discord.AutoShardedClient):
    """discord.py's AutoShardedClient without its 5 s between IDENTIFYs (Discord's limit with
    max_concurrency 1, which the fake does not enforce)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_each_shard_gets_its_guilds_and_their_events(fake: FakeDiscord) -> None:
    async with (
        logged_in(fake, ShardClient("zero", 0)) as zero,
        logged_in(fake, ShardClient("one", 1)) as one,
    ):
        assert [g.id for g in zero.guilds] == [ALPHA] and [g.id for g in one.guilds] == [BETA]
        assert fake.connected_shards == {0: 2, 1: 2}
        assert [(shard, count) for shard, count, _ in fake.identifies] == [(0, 2), (1, 2)]
        for channel_id, shard, name in ((NEWS_A, 0, "zero"), (NEWS_B, 1, "one")):
            record = await fake.invoke("ping", channel_id=channel_id)
            assert (await record.final())["content"] == f"pong from {name}"
            assert record.shard_id == shard

        # An event without a guild goes to shard 0 only: shard 1 has seen the rename of its
        # channel, sent after it, and still not the bot's new name.
        await fake.dispatch("USER_UPDATE", fake.bot_user | {"username": "Renamed"})
        await fake.dispatch("CHANNEL_UPDATE", fake.channel_payload(NEWS_B) | {"name": "wire"})
        await fake.wait_until(lambda: True if zero.user and zero.user.name == "Renamed" else None)
        channel = one.get_channel(NEWS_B)
        assert isinstance(channel, discord.TextChannel)
        await fake.wait_until(lambda: True if channel.name == "wire" else None)
        assert one.user is not None and one.user.name == "FakeBot"
        assert fake.unrouted == []


async def test_a_second_identify_takes_the_shard_over(fake: FakeDiscord) -> None:
    async with (
        logged_in(fake, ShardClient("first", 1)),
        logged_in(fake, ShardClient("second", 1)),
    ):
        record = await fake.invoke("ping", channel_id=NEWS_B)
        assert (await record.final())["content"] == "pong from second"


async def test_after_a_reshard_the_new_sessions_get_the_events(fake: FakeDiscord) -> None:
    async with logged_in(fake, ShardClient("sharded", 1)):
        pass
    async with logged_in(fake, ShardClient("unsharded", None, None)) as unsharded:
        assert {g.id for g in unsharded.guilds} == {ALPHA, BETA}
        assert fake.connected_shards == {0: 1}
        record = await fake.invoke("ping", channel_id=NEWS_B)
        assert (await record.final())["content"] == "pong from unsharded"
        assert record.shard_id == 0


async def test_a_shard_nobody_serves_gets_nothing(fake: FakeDiscord) -> None:
    fake.interaction_window_s = None
    async with logged_in(fake, ShardClient("zero", 0)):
        record = await fake.invoke("ping", channel_id=NEWS_B)
        assert record.shard_id is None and fake.unrouted == [("INTERACTION_CREATE", BETA)]
        with pytest.raises(TimeoutError):
            await record.response(timeout=0.3)


async def test_without_a_count_the_client_takes_the_recommended_one(fake: FakeDiscord) -> None:
    fake.recommended_shards = 2
    client = NoWaitShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with logged_in(fake, client):
        assert client.shard_count == 2 and sorted(client.shards) == [0, 1]
        assert {g.id: g.shard_id for g in client.guilds} == {ALPHA: 0, BETA: 1}
        assert fake.connected_shards == {0: 2, 1: 2}
    assert fake.requests_to("GET", "/gateway/bot")


async def test_an_invalid_shard_is_refused(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == OP_HELLO
        identify = {"token": fake.token, "intents": 0, "shard": [2, 2]}
        await ws.send_str(json.dumps({"op": OP_IDENTIFY, "d": identify}))
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4010
    assert not fake.connected


# ---- the bot through DiscordService, as `wirewatch run` starts it -----------------------------
@pytest.fixture
async def app(
    settings: Settings, real_embedder: Embedder, extractor: Extractor, gazetteer_cache: Path
) -> AsyncIterator[App]:
    settings = settings.model_copy(update={"cache_dir": gazetteer_cache.parent})
    async with open_app(settings, embedder=real_embedder, extractor=extractor) as opened:
        yield opened


@contextlib.asynccontextmanager
async def serving(
    app: App, fake: FakeDiscord, shard_ids: Sequence[int] = (), *, wait: bool = True
) -> AsyncIterator[DiscordService]:
    """A DiscordService with WIREWATCH_SHARD_COUNT=2 (and WIREWATCH_SHARD_IDS), logged in to
    the fake; READY unless `wait` is False. Closed on the way out."""
    settings = app.settings.model_copy(
        update={
            "discord_token": SecretStr(fake.token),
            "discord_api_base": fake.api_base,
            "discord_gateway_url": fake.gateway_url,
            "shard_count": 2,
            "shard_ids": list(shard_ids),
        }
    )
    service = DiscordService(app, settings)
    service.bot._connection.guild_ready_timeout = 0.05  # 2 s by default, per guild at READY
    await service.start()
    try:
        if wait:
            await asyncio.wait_for(service.wait_ready(), 30)
        yield service
    finally:
        await service.close()


async def test_one_process_serves_both_shards(app: App, fake: FakeDiscord) -> None:
    async with serving(app, fake, wait=False) as service:
        bot = service.bot
        assert isinstance(bot, ShardedWirewatchBot)
        # discord.py identifies shard 1 five seconds after shard 0 (max_concurrency 1)
        await fake.wait_until(lambda: True if fake.connected_shards else None, 10)
        assert not service.connected()
        await asyncio.wait_for(service.wait_ready(), 30)
        assert service.connected() and fake.connected_shards == {0: 2, 1: 2}
        assert {g.id: g.shard_id for g in bot.guilds} == {ALPHA: 0, BETA: 1}
        for channel_id, shard in ((NEWS_A, 0), (NEWS_B, 1)):
            record = await fake.invoke("help", channel_id=channel_id)
            assert "/ask" in text_of(await record.final())
            assert record.shard_id == shard and len(record.responses) == 1

        shard_one = bot.get_shard(1)
        assert shard_one is not None
        await shard_one.disconnect()
        assert not service.connected()
        await fake.wait_until(lambda: True if fake.connected_shards == {0: 2} else None)
    await fake.wait_disconnected()


async def test_two_processes_answer_only_their_own_shard(app: App, fake: FakeDiscord) -> None:
    async with (
        serving(app, fake, [0]) as zero,
        serving(app, fake, [1]) as one,
    ):
        seen: dict[int, list[int]] = {0: [], 1: []}
        for shard, service in ((0, zero), (1, one)):

            async def on_interaction(interaction: discord.Interaction, shard: int = shard) -> None:
                seen[shard].append(interaction.id)

            service.bot.on_interaction = on_interaction  # type: ignore[attr-defined]
        assert zero.connected() and one.connected()
        assert [g.id for g in zero.bot.guilds] == [ALPHA]
        assert [g.id for g in one.bot.guilds] == [BETA]

        asked = {}
        for channel_id, shard in ((NEWS_B, 1), (NEWS_A, 0)):
            record = await fake.invoke("help", channel_id=channel_id)
            assert "/ask" in text_of(await record.final())
            callbacks = fake.requests_to("POST", rf"/interactions/{record.id}/[^/]+/callback")
            assert record.shard_id == shard and len(callbacks) == 1 and len(record.responses) == 1
            asked[shard] = record.id
        await fake.wait_until(lambda: True if seen[0] and seen[1] else None)
        assert seen == {0: [asked[0]], 1: [asked[1]]}
        assert fake.unrouted == []

        # Alerts go over REST: the process holding the sender lease posts to every guild,
        # whichever shard the guild is on.
        card = Card("Convoy ambushed", None, "Seven killed near Mosul.", ref="alert 1")
        posted = await zero.chat.send(f"discord:{BETA}:{NEWS_B}", card, key="alert-1")
        [message] = fake.messages(NEWS_B, include_ephemeral=False)
        assert message["id"] == posted and message["embeds"][0]["title"] == "Convoy ambushed"


# ---- settings -----------------------------------------------------------------------------------
def test_shard_settings_are_checked_and_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_SHARD_IDS", "1")
    with pytest.raises(ValidationError, match="WIREWATCH_SHARD_IDS needs WIREWATCH_SHARD_COUNT"):
        Settings(_env_file=None)
    monkeypatch.setenv("WIREWATCH_SHARD_COUNT", "1")
    with pytest.raises(ValidationError, match="shard id 1 is not below WIREWATCH_SHARD_COUNT=1"):
        Settings(_env_file=None)
    monkeypatch.setenv("WIREWATCH_SHARD_IDS", "0, x")
    with pytest.raises(ValidationError, match="'x' is not a shard id"):
        Settings(_env_file=None)

    monkeypatch.setenv("WIREWATCH_SHARD_IDS", "0, 1")
    monkeypatch.setenv("WIREWATCH_SHARD_COUNT", "2")
    both = Settings(_env_file=None)
    assert (both.shard_ids, both.shard_count) == ([0, 1], 2)
    assert bot_for(both) is ShardedWirewatchBot
    assert shard_options(both) == {"shard_ids": [0, 1], "shard_count": 2}

    monkeypatch.delenv("WIREWATCH_SHARD_IDS")
    monkeypatch.setenv("WIREWATCH_SHARD_COUNT", "3")
    every = Settings(_env_file=None)
    assert shard_options(every) == {"shard_ids": [0, 1, 2], "shard_count": 3}

    monkeypatch.setenv("WIREWATCH_SHARD_COUNT", "")
    unsharded = Settings(_env_file=None)
    assert unsharded.shard_count is None and unsharded.shard_ids == []
    assert bot_for(unsharded) is WirewatchBot and shard_options(unsharded) == {}
