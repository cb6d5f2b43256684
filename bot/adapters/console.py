"""The console chat: a stdin REPL over the same commands the CLI uses. No Discord account needed."""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys

from bot.adapters.cli import render
from bot.app import App, open_app
from bot.core import commands
from bot.core.errors import UserError
from bot.core.ports import Card
from bot.core.watches import KINDS
from bot.settings import Settings

log = logging.getLogger(__name__)

HELP = """commands (the same as Discord's slash commands, without the slash):
  ask QUESTION          an answer from the articles, citing them ([1], [2])
  search WORDS          passages closest in meaning to WORDS
  feed add URL          follow a feed (--interval S, --name NAME, --backfill none|N|DATE:
                        which items already in it may alert); `feed remove ID`
  feed list             subscribed feeds and their health (also `feeds`)
  watch add TERM        watch a group, place, keywords or topic (as `wirewatch watch add`;
                        add --kind, --radius KM, --type T, --min-killed N, --backfill)
  watch list            this channel's watches (also `watches`)
  watch remove ID       remove a watch (also `unwatch ID`)
  watch mute ID D       snooze a watch (30m, 2h, 1d); `watch unmute ID` ends it
  alerts                recent alerts and why they fired; `why ID`: one alert's reasons
  status                feeds in trouble, paused or muted watches, alerts waiting
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


def _feed_args(words: list[str]) -> tuple[str, dict[str, object]]:
    """`feed add` arguments: URL, then --interval S, --name NAME and --backfill B."""
    url = words[0]
    options: dict[str, object] = {}
    it = iter(words[1:])
    for word in it:
        value = next(it, None)
        if word not in ("--interval", "--name", "--backfill") or value is None:
            raise UserError(
                "usage: feed add URL [--interval SECONDS] [--name NAME] [--backfill none|N|DATE]"
            )
        if word == "--interval":
            if not value.isdigit():
                raise UserError(f"--interval takes seconds, not {value!r}")
            options["interval_s"] = int(value)
        else:
            options[word.removeprefix("--")] = value
    return url, options


def _flat_status(doc: dict[str, object]) -> dict[str, object]:
    """The status document as "what: value" rows for the terminal."""
    flat: dict[str, object] = {}
    for key, value in doc.items():
        if isinstance(value, list):
            flat[key] = (
                "; ".join(
                    " ".join(str(v) for v in item.values())
                    for item in value
                    if isinstance(item, dict)
                )
                or "none"
            )
        else:
            flat[key] = value
    return flat


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
    # the slash commands' shape: "feed add URL", "watch list", "watch mute 3 2h"...
    sub = words[1].lower() if len(words) > 1 else ""
    if command == "feed" and sub == "list":
        command, words = "feeds", words[1:]
    elif command == "watch" and sub in {"list", "remove", "mute", "unmute"}:
        command = {"list": "watches", "remove": "unwatch"}.get(sub, sub)
        words = [command, *words[2:]]
        rest = " ".join(words[1:])
    elif command == "watch" and sub == "add":
        line = line.split(None, 1)[1]
        words, rest = words[1:], " ".join(words[2:])
    log.info("console: %s", command, extra={"command": command, "target": CHANNEL})
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
        elif command == "feed" and sub == "add" and len(words) > 2:
            url, options = _feed_args(words[2:])
            doc = await commands.add_feed(app, url, workspace=CHANNEL, **options)  # type: ignore[arg-type]
            render.out.print(
                f"following feed {doc['feed_id']} {doc['url']} (every {doc['interval_s']} s)",
                markup=False,
            )
        elif command == "feed" and sub == "remove" and words[2:3] and words[2].isdigit():
            await commands.remove_feed(app, int(words[2]), workspace=CHANNEL)
            render.out.print(f"removed feed {words[2]}")
        elif command == "status":
            render.print_stats(_flat_status(await commands.status(app, workspace=CHANNEL)))
        elif command == "why" and words[1:2] and words[1].isdigit():
            doc = await commands.why_alert(app, workspace=CHANNEL, alert_id=int(words[1]))
            render.print_alerts(doc["alerts"])
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
