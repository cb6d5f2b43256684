"""The Discord session of bench/discord_alerts.py: the bench's guild and channel on the fake
Discord of the tests, the real bot (WirewatchBot) logged in to it and out, and progress lines on
stderr."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import warnings
from pathlib import Path
from typing import Any

from tests.fakediscord import FakeDiscord, FakeGuild

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    from bot.adapters.discord.client import WirewatchBot

GUILD_ID = 800_000_000_000_000_001
CHANNEL_ID = 810_000_000_000_000_001
READY_TIMEOUT_S = 30.0


def bench_guild() -> FakeGuild:
    return FakeGuild(GUILD_ID, "Wirewatch bench", {CHANNEL_ID: "alerts"})


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def bot_logged_in(app: Any, fake: FakeDiscord, state_dir: Path) -> tuple[WirewatchBot, Any]:
    """The real bot, logged in to the fake and ready; and its gateway task."""
    bot = WirewatchBot(app, state_path=state_dir / "discord_commands.json")
    await bot.login(fake.token)
    gateway = asyncio.create_task(bot.connect(reconnect=False))
    await asyncio.wait_for(bot.wait_until_ready(), READY_TIMEOUT_S)
    return bot, gateway


async def bot_log_out(bot: WirewatchBot, gateway: asyncio.Task[None]) -> None:
    await bot.close()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(gateway, 10)
