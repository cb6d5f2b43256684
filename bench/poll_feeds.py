"""The feed server of bench/poll.py: an aiohttp server in a child process that serves the
bench's feeds on loopback addresses (127.0.0.1 to 127.0.0.<hosts>, one port each), answers
conditional GETs with 304, gives the changed feeds a new item per round and counts what it
answered. FeedServer starts the process (spawn) and stops it."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from multiprocessing.connection import Connection
from typing import Any
from xml.sax.saxutils import escape

MAX_HOSTS = 8  # 127.0.0.1 .. 127.0.0.8
ITEMS_PER_FEED = 10
WIRE_STORIES = 200

PLACES = (
    "Aleppo", "Raqqa", "Mosul", "Deir ez-Zor", "Idlib", "Kirkuk", "Kharkiv", "Khartoum",
    "El Fasher", "Gaza City", "Mogadishu", "Kabul", "Sanaa", "Tripoli", "Goma", "Bamako",
    "Maiduguri", "Benghazi", "Homs", "Donetsk", "Marib", "Kidal", "Bunia", "Tal Afar",
)  # fmt: skip
ACTORS = (
    "Islamic State", "al-Shabaab", "Houthi rebels", "the Rapid Support Forces", "Boko Haram",
    "the Taliban", "M23 rebels", "Hamas", "government forces", "a local militia",
)  # fmt: skip
ATTACKS = (
    ("an air strike", "air strike"), ("a car bomb", "car bombing"), ("shelling", "shelling"),
    ("a drone attack", "drone attack"), ("clashes", "clashes"), ("a roadside bomb", "blast"),
    ("an ambush", "ambush"), ("a suicide attack", "suicide attack"),
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
AFTERMATH = (
    "Residents said {wounded} people were wounded and several homes were destroyed.",
    "A hospital in {other} received {wounded} wounded, a doctor there said.",
    "The United Nations called for an independent investigation into the attack.",
    "Aid groups said the violence had forced hundreds of families to flee toward {other}.",
    "Officials said the death toll could rise as rescuers searched the rubble.",
)


def item_text(key: str) -> tuple[str, str]:
    """A news item (title, text) drawn from word lists, the same for the same key."""
    rng = random.Random(key)
    place, other = rng.sample(PLACES, 2)
    attack, short = rng.choice(ATTACKS)
    killed, wounded = rng.randint(2, 40), rng.randint(3, 80)
    actor = rng.choice(ACTORS)
    title = f"{killed} killed in {short} in {place}"
    sentences = [
        f"{attack.capitalize()} killed {killed} people in {place} on {rng.choice(DAYS)}, "
        "local officials said.",
        f"{actor[0].upper()}{actor[1:]} said it carried out the attack near {other}.",
        *(s.format(wounded=wounded, other=other) for s in rng.sample(AFTERMATH, 2)),
    ]
    return title, " ".join(sentences)


def feed_body(feed: int, version: int, started: float) -> bytes:
    """Feed `feed` at `version`: its ITEMS_PER_FEED newest items, newest first. Item k >= 1 is
    the feed's own (its k-th change); the others are wire stories shared by many feeds."""
    items = []
    for k in range(version, version - ITEMS_PER_FEED, -1):
        if k >= 1:
            key, link = f"{feed}:{k}", f"https://outlet{feed}.example/news/{k}"
            published = started + 60.0 * k
        else:
            wire = (feed * 7 - k) % WIRE_STORIES
            key, link = f"wire:{wire}", f"https://wire.example/story/{wire}"
            published = started - 600.0 - 60.0 * wire
        title, text = item_text(key)
        items.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f'<guid isPermaLink="true">{link}</guid>'
            f"<pubDate>{formatdate(published, usegmt=True)}</pubDate>"
            f"<description>{escape(text)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Outlet {feed}</title><link>https://outlet{feed}.example/</link>"
        f"<description>News from outlet {feed}</description>{''.join(items)}</channel></rss>"
    ).encode()


@dataclass
class RoundCounts:
    """What the server saw since the round began: requests per feed, answers per status, the
    server's CPU seconds so far (its whole life), and the connections the requests came on."""

    per_feed: list[int]
    statuses: dict[int, int]
    cpu_s: float
    connections: int = 0

    @property
    def once(self) -> int:
        return sum(1 for c in self.per_feed if c == 1)

    @property
    def missed(self) -> int:
        return sum(1 for c in self.per_feed if c == 0)

    @property
    def doubled(self) -> int:
        return sum(1 for c in self.per_feed if c > 1)


def _serve(conn: Connection, feeds: int, hosts: int) -> None:
    """The server process: serve until told to stop."""
    asyncio.run(_serve_async(conn, feeds, hosts))


async def _serve_async(conn: Connection, feeds: int, hosts: int) -> None:
    from aiohttp import web

    started = time.time()
    versions = [0] * feeds
    counts = [0] * feeds
    statuses: Counter[int] = Counter()
    connections: set[int] = set()  # the transports requests came on (a connection each)
    bodies: dict[int, tuple[int, bytes]] = {}

    def validators(feed: int) -> tuple[str, str]:
        version = versions[feed]
        return f'"{feed}.{version}"', formatdate(started + 60.0 * version, usegmt=True)

    async def get_feed(request: web.Request) -> web.StreamResponse:
        try:
            feed = int(request.match_info["feed"])
        except ValueError:
            feed = -1
        local = request.transport.get_extra_info("sockname") if request.transport else None
        if not 0 <= feed < feeds or local is None or local[0] != f"127.0.0.{1 + feed % hosts}":
            statuses[404] += 1
            raise web.HTTPNotFound()
        counts[feed] += 1
        connections.add(id(request.transport))
        etag, modified = validators(feed)
        headers = {"ETag": etag, "Last-Modified": modified}
        asked = request.headers.get("If-None-Match")
        if asked == etag or (
            asked is None and request.headers.get("If-Modified-Since") == modified
        ):
            statuses[304] += 1
            return web.Response(status=304, headers=headers)
        version = versions[feed]
        cached = bodies.get(feed)
        if cached is None or cached[0] != version:
            cached = bodies[feed] = (version, feed_body(feed, version, started))
        statuses[200] += 1
        return web.Response(
            body=cached[1], headers=headers, content_type="application/rss+xml", charset="utf-8"
        )

    app = web.Application()
    app.router.add_get("/feeds/{feed}.xml", get_feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for host in range(hosts):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((f"127.0.0.{1 + host}", 0))
        await web.SockSite(runner, sock, backlog=1024).start()
        ports.append(sock.getsockname()[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def control() -> None:  # requests and control messages never overlap: rounds are apart
        while True:
            message = conn.recv()
            if message[0] == "round":
                for feed in message[1]:
                    versions[feed] += 1
            if message[0] in ("round", "reset"):
                counts[:] = [0] * feeds
                statuses.clear()
                connections.clear()
                conn.send(None)
            elif message[0] == "counts":
                conn.send((list(counts), dict(statuses), time.process_time(), len(connections)))
            else:
                loop.call_soon_threadsafe(stop.set)
                return

    threading.Thread(target=control, name="feed-server-control", daemon=True).start()
    conn.send(ports)
    await stop.wait()
    await runner.cleanup()
    conn.send(None)


class FeedServer:
    """The feed server in a child process, on 127.0.0.1 to 127.0.0.<hosts>. Blocking calls,
    all quick; call them only between rounds."""

    def __init__(self, feeds: int, hosts: int) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"hosts must be 1 to {MAX_HOSTS}, got {hosts}")
        self.feeds, self.hosts = feeds, hosts
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, feeds, hosts), name="feed-server", daemon=True
        )
        self._ports: list[int] = []

    def __enter__(self) -> FeedServer:
        self._process.start()
        try:
            if not self._conn.poll(60):
                raise EOFError
            self._ports = self._conn.recv()
        except EOFError:
            self._process.kill()
            raise RuntimeError("the feed server did not start (see its error above)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send(("stop",))
            if self._conn.poll(10):
                self._conn.recv()
        except (OSError, EOFError):
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def url(self, feed: int) -> str:
        host = feed % self.hosts
        return f"http://127.0.0.{1 + host}:{self._ports[host]}/feeds/{feed}.xml"

    def urls(self) -> list[str]:
        return [self.url(n) for n in range(self.feeds)]

    def _ask(self, message: tuple[Any, ...]) -> Any:
        self._conn.send(message)
        return self._conn.recv()

    def begin_round(self, changed: Sequence[int]) -> None:
        """Give these feeds one new item each, and start counting afresh."""
        self._ask(("round", list(changed)))

    def reset(self) -> None:
        """Start counting afresh (the next poller of the same round)."""
        self._ask(("reset",))

    def counts(self) -> RoundCounts:
        per_feed, statuses, cpu_s, connections = self._ask(("counts",))
        return RoundCounts(per_feed, statuses, cpu_s, connections)

    def cpu_s(self) -> float:
        return self.counts().cpu_s
