"""The console chat: a stdin REPL over the same commands the CLI uses. No Discord account needed."""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys

from bot import commands, render
from bot.app import App, open_app
from bot.errors import UserError
from bot.ports import Card
from bot.settings import Settings
from bot.watches import KINDS

log = logging.getLogger(__name__)

HELP = """commands:
  ask QUESTION          an answer from the articles, citing them ([1], [2])
  search WORDS          passages closest in meaning to WORDS
  feeds                 subscribed feeds and their health
  watch TERM            watch a group, place, keywords or topic (as `wirewatch watch add`;
                        add --kind, --radius KM, --type T, --min-killed N, --backfill)
  watches               this channel's watches
  unwatch ID            remove a watch
  mute ID DURATION      snooze a watch (30m, 2h, 1d); `unmute ID` ends it
  alerts                recent alerts and why they fired
  stats                 counts
  help                  this text
  quit                  leave (also Ctrl-D)"""
CHANNEL = "console"


class ConsoleChat:
    """The ChatPort of the console: alerts print to the terminal. Keys posted in this process
    are remembered, so a retried post is not printed twice."""

    def __init__(self) -> None:
        self._posted: dict[str, str] = {}

    def accepts(self, channel: str) -> bool:
        return channel == CHANNEL

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        if key not in self._posted:
            render.print_card(card)
            self._posted[key] = f"console:{len(self._posted) + 1}"
        return self._posted[key]

    async def edit(self, channel: str, message_ref: str, card: Card) -> None:
        render.print_card(card, header="updated")


def _watch_args(words: list[str]) -> tuple[str, dict[str, object]]:
    """`watch` arguments as the CLI takes them: TERM words (split keeping their quotes), then
    --options."""
    options: dict[str, object] = {}
    term: list[str] = []
    flags = {
        "--kind": "kind",
        "--radius": "radius_km",
        "--type": "event_types",
        "--min-killed": "min_killed",
        "--backfill": "backfill",
        "--threshold": "threshold",
    }
    it = iter(words)
    for word in it:
        if word not in flags:
            term.append(word)
            continue
        value = next(it, None)
        if value is None:
            raise UserError(f"{word} needs a value")
        value = _unquote(value)
        name = flags[word]
        try:
            if name == "event_types":
                options.setdefault(name, []).append(value)  # type: ignore[attr-defined]
            elif name in ("radius_km", "threshold"):
                options[name] = float(value)
            elif name == "min_killed":
                options[name] = int(value)
            else:
                options[name] = value
        except ValueError:
            raise UserError(f"{word} takes a number, not {value!r}") from None
    if options.get("kind") not in (None, *KINDS):
        raise UserError(f"--kind is one of {', '.join(KINDS)}")
    # quotes stay: they make phrases in keyword queries; one quoted term is just the term
    return _unquote(term[0]) if len(term) == 1 else " ".join(term), options


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


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
        if command == "ask" and rest:
            render.print_answer(
                await commands.ask(app, line.split(None, 1)[1], workspace="console")
            )
        elif command == "search" and rest:
            render.print_results(
                await commands.search(app, rest, k=5, per_story=1, workspace="console")
            )
        elif command == "feeds":
            render.print_feeds((await commands.list_feeds(app, workspace="console"))["feeds"])
        elif command == "stats":
            render.print_stats(await commands.stats(app, workspace="console"))
        elif command == "watch" and rest:
            term, options = _watch_args(shlex.split(line, posix=False)[1:])
            doc = await commands.watch_add(app, term, channel=CHANNEL, **options)  # type: ignore[arg-type]
            means = f" = {doc['canonical']}" if doc["canonical"] else ""
            render.out.print(
                f"watch {doc['watch_id']}: {doc['kind']} {doc['term']}{means}", markup=False
            )
        elif command == "watches":
            render.print_watches(
                (await commands.watch_list(app, channel=CHANNEL, workspace="console"))["watches"]
            )
        elif command in {"unwatch", "mute", "unmute"} and words[1:2] and words[1].isdigit():
            watch_id = int(words[1])
            if command == "unwatch":
                await commands.watch_remove(app, watch_id, workspace=CHANNEL)
                render.out.print(f"removed watch {watch_id}")
            elif command == "mute" and len(words) == 3:
                doc = await commands.watch_mute(app, watch_id, words[2], workspace=CHANNEL)
                render.out.print(f"watch {watch_id} muted until {doc['muted_until']}")
            elif command == "unmute":
                await commands.watch_mute(app, watch_id, None, workspace=CHANNEL)
                render.out.print(f"watch {watch_id} unmuted")
            else:
                render.out.print("usage: mute ID DURATION (e.g. mute 3 2h)", markup=False)
        elif command == "alerts":
            render.print_alerts(
                (await commands.list_alerts(app, channel=CHANNEL, limit=10, workspace="console"))[
                    "alerts"
                ]
            )
        else:
            render.out.print(HELP, markup=False)
    except UserError as exc:
        render.out.print(f"error: {exc}", markup=False)
    except asyncio.CancelledError:
        raise
    except Exception:  # a bug in one command must not end the chat (or `run` beside it)
        log.exception("chat command failed: %s", line)
        render.out.print("error: that failed unexpectedly; the log has the details", markup=False)
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
