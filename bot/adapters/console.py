"""The console chat: a stdin REPL over the same commands the CLI uses. No Discord account needed."""

from __future__ import annotations

import asyncio
import shlex
import sys

from bot import commands, render
from bot.app import App, open_app
from bot.errors import UserError
from bot.settings import Settings

HELP = """commands:
  search WORDS      passages closest in meaning to WORDS
  feeds             subscribed feeds and their health
  stats             counts
  help              this text
  quit              leave (also Ctrl-D)"""


async def handle_line(app: App, line: str) -> bool:
    """Run one chat line; False when the user asked to leave."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        render.out.print(f"could not read that: {exc}", markup=False)
        return True
    if not words:
        return True
    command, rest = words[0].lower(), " ".join(words[1:])
    try:
        if command in {"quit", "exit"}:
            return False
        if command == "search" and rest:
            render.print_results(await commands.search(app, rest, k=5, per_story=1))
        elif command == "feeds":
            render.print_feeds((await commands.list_feeds(app))["feeds"])
        elif command == "stats":
            render.print_stats(await commands.stats(app))
        else:
            render.out.print(HELP, markup=False)
    except UserError as exc:
        render.out.print(f"error: {exc}", markup=False)
    return True


async def repl(app: App) -> None:
    """Read commands from stdin until `quit` or end of input. Reading is non-blocking (a pipe
    on the event loop), so the chat can be cancelled, e.g. when `run` is stopped."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    render.out.print("\nConsole chat: type `help` for commands, `quit` to leave.")
    try:
        while True:
            render.out.print("wirewatch> ", end="", markup=False)
            raw = await reader.readline()
            if not raw:
                break
            if not await handle_line(app, raw.decode("utf-8", "replace").strip()):
                break
    finally:
        transport.close()


async def chat(settings: Settings) -> None:
    """`wirewatch chat`: the console chat on the data dir."""
    async with open_app(settings, repair_mode="index", with_extractor=False) as app:
        await repl(app)
