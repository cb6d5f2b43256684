"""The console chat: the same watch and alert commands as the CLI, typed as chat lines, and
alerts printed by the console's ChatPort."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.adapters.console import ConsoleChat, handle_line
from bot.app import App, open_app
from bot.core import commands
from bot.core.ports import Card
from bot.settings import Settings
from index.extract.extractor import Extractor
from index.retrieve.embed import HashEmbedder


@pytest.fixture
async def app(settings: Settings, extractor: Extractor) -> AsyncIterator[App]:
    async with open_app(settings, embedder=HashEmbedder(), extractor=extractor) as opened:
        yield opened


async def say(app: App, line: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert await handle_line(app, line)
    return capsys.readouterr().out


async def test_watch_commands_in_the_chat(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert "watch 1: group ISIL = Islamic State" in await say(app, "watch ISIL", capsys)
    added = await say(app, "watch Albu Kamal --radius 25 --type battles --min-killed 2", capsys)
    assert "watch 2: place Albu Kamal" in added
    assert 'watch 3: keyword "car bomb" OR ied' in await say(app, 'watch "car bomb" OR ied', capsys)
    assert "watch 4: place Deir ez-Zor" in await say(app, 'watch "Deir ez-Zor"', capsys)
    assert "removed watch 4" in await say(app, "unwatch 4", capsys)
    listed = await say(app, "watches", capsys)
    assert "Islamic State" in listed and "radius 25 km" in listed and "killed >= 2" in listed
    assert "muted until" in await say(app, "mute 1 2h", capsys)
    [first, *_] = (await commands.watch_list(app, workspace="console"))["watches"]
    assert first["muted_until"] is not None
    assert "unmuted" in await say(app, "unmute 1", capsys)
    assert "removed watch 3" in await say(app, "unwatch 3", capsys)
    assert len((await commands.watch_list(app, workspace="console"))["watches"]) == 2
    assert "no alerts yet" in await say(app, "alerts", capsys)
    assert "found nothing" in await say(app, "ask what happened in Mosul?", capsys)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("watch Tripoli", "is ambiguous"),
        ("watch ISIL --radius", "--radius needs a value"),
        ("watch ISIL --min-killed many", "takes a number"),
        ("watch ISIL --kind colour", "--kind is one of"),
        ("unwatch 99", "no watch 99"),
        ("mute 1 soon", "not a duration"),
        ("mute 1 2h", "no watch 1"),
        ('watch "unclosed', "could not read that"),
    ],
)
async def test_bad_chat_lines_get_one_clear_answer(
    app: App, capsys: pytest.CaptureFixture[str], line: str, says: str
) -> None:
    assert says in await say(app, line, capsys)


async def test_the_console_port_prints_once_per_key(capsys: pytest.CaptureFixture[str]) -> None:
    chat = ConsoleChat()
    card = Card(
        title="Clashes in Albu Kamal",
        url="https://outlet.example/a",
        body="Snippet.",
        fields=(("Sources", "A, B"),),
        footer="matched: Deir ez-Zor (place)",
    )
    assert chat.accepts("console") and not chat.accepts("discord:1:2")
    ref = await chat.send("console", card, key="alert-1")
    assert await chat.send("console", card, key="alert-1") == ref
    out = capsys.readouterr().out
    assert out.count("Clashes in Albu Kamal") == 1 and "matched: Deir ez-Zor" in out
    assert ref is not None
    await chat.edit("console", ref, card)
    assert "updated" in capsys.readouterr().out


def test_the_console_chat_through_stdin_takes_the_slash_commands(
    settings: Settings, gazetteer_cache: Path, model_cache: Path, httpserver: HTTPServer
) -> None:
    """`wirewatch chat` as a user runs it: lines on stdin, the same commands as on Discord."""
    httpserver.expect_request("/world.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    url = httpserver.url_for("/world.xml")
    lines = [
        "help",
        f"feed add {url} --interval 600 --name World",
        "feed list",
        "feed add ftp://example.org/feed.xml",
        "watch add ISIL",
        "watch list",
        "watch mute 1 2h",
        "watch unmute 1",
        "watch mute 1 forever",
        "status",
        "why 99",
        "watch remove 1",
        "feed remove 1",
        "feed list",
        "quit",
    ]
    env = {
        **os.environ,
        "WIREWATCH_DATA_DIR": str(settings.data_dir),
        "WIREWATCH_CACHE_DIR": str(gazetteer_cache),
        "WIREWATCH_MODEL_CACHE_DIR": str(model_cache),
        "WIREWATCH_ALLOWED_NETWORKS": "127.0.0.1/32",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert "feed add URL" in out  # help
    assert f"following feed 1 {url} (every 600 s)" in out
    assert "World" in out  # feed list
    assert "error:" in out and "http" in out  # the ftp URL refused in one line
    assert "watch 1: group ISIL" in out
    assert "#1 group ISIL" in out  # watch list
    assert "watch 1 muted until" in out and "watch 1 unmuted" in out
    assert "'forever' is not a duration" in out
    assert "pending alerts" in out  # status
    assert "alert 99 is not an alert here" in out
    assert "removed watch 1" in out and "removed feed 1" in out
    assert "no feeds yet" in out
    assert "Traceback" not in done.stderr


FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>World</title>
<link>https://outlet.example/</link><description>news</description></channel></rss>"""
