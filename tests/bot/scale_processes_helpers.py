"""The parts of the multi-process deployment test (tests/bot/test_scale_processes.py): its
sizes and stories, a loopback feed server that counts and can hold requests, a fake Discord
that answers slowly, the deployment (`wirewatch` processes started, killed and stopped, their
logs printed on a failure), and readers of what the fake and the database saw. Starts no
process on import.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.bot.discord_delivery_helpers import ALPHA, GUILDS, NEWS
from tests.fakediscord import JSON, FakeDiscord
from tests.index.ingest_helpers import item, rss

ROOT = Path(__file__).resolve().parents[2]
FEEDS = 8
INTERVAL_S = 8  # each feed's interval once shortened (the CLI subscribes at 60 s)
FETCH_TIMEOUT_S = 5  # a claim on a batch of 4 (4 fetches at once) holds 2 x this
BATCH = 4
MAX_RPS = 2  # WIREWATCH_DISCORD_MAX_RPS
BURST = 5  # bot/adapters/discord/ratelimit.py: what a quiet limiter lets through at once
TIMEOUT_S = 240.0  # any one wait: generous, a loaded machine only makes it slower
POSTS = rf"/channels/{NEWS}/messages"

# One story each: distinct words, so no two items join one story; "bulletin" is the watch.
STORIES = [
    tuple(line.split(" | "))
    for line in """
Ferry crossings resume on the Kattegat | Storms had kept every boat from Grenaa in port for days.
Orchard growers report a late frost | Apple blossom in the upper valley browned overnight.
Chess olympiad opens in a tram depot | Ninety federations sat down under the old gantries.
Lighthouse cottage becomes a museum | Volunteers restored the lamp room and the 1871 logbooks.
Glacier survey finds faster summer melt | Stakes drilled into the ice show two metres thinning.
Bakery strike ends with a bread deal | Millers and bakers agreed a monthly flour price index.
Freight tunnel reaches the halfway mark | Boring machines met in the granite under the pass.
Coral nursery replants a damaged reef | Divers tied fragments grown on frames to the lagoon floor.
Marathon rerouted around bridge repairs | Runners cross the river on pontoons past the welders.
Library digitises medieval herbals | Scanners photographed illuminated pages on mint and rue.
Drought forces barges to lighten loads | Shippers cut cargo as the river gauge fell below a metre.
Volcano observatory raises its alert | Seismometers recorded swarms of tremors under the crater.
Football club unveils a timber stadium | Spruce beams hold eleven thousand seats under a green roof.
Satellite maps locust swarms | Infrared images tracked the insects moving north to three oases.
Hockey final postponed by a power cut | A transformer failed; fans waited an hour with torches.
Wind farm cables laid across a sandbank | A vessel ploughed the export line into the seabed.
Hospital opens a night clinic | Nurses see shift workers from ten until six to ease queues.
Beekeepers count losses after wet spring | Hill villages lost half their colonies to mould.
Astronomers catalogue a comet's green tail | Telescopes on the plateau photograph it nightly.
Salt mine galleries become a concert hall | An orchestra played three hundred metres down.
Tram drivers trial a four-day week | Rosters were rearranged so crews work longer shifts.
Fishing quota talks stall over mackerel | Trawler owners fear an early closure of the grounds.
Desert solar plant stores heat in salt | Molten salt tanks keep turbines spinning after sunset.
Cathedral bells recast after a century | Foundry workers poured bronze into clay moulds.
""".strip().splitlines()
]
FIRST = FEEDS * 2  # two stories per feed to begin with
HELD_STORY = FIRST  # the story the held feed brings once released
STORED = [FIRST + 1, FIRST + 2]  # stored by the worker that is killed before extracting them
LATE = list(range(FIRST + 3, len(STORIES)))  # the batch delivered while the sender is killed


def story_item(n: int, published: datetime) -> dict[str, str]:
    title, text = STORIES[n]
    return item(f"s{n}", f"Bulletin: {title}", text, date=format_datetime(published, usegmt=True))


def story_of(message: JSON) -> int:
    """The STORIES index of an alert message (its embed's title carries the item's title)."""
    dumped = json.dumps(message["embeds"])
    found = [n for n, (title, _) in enumerate(STORIES) if title in dumped]
    assert len(found) == 1, dumped
    return found[0]


def ref_of(message: JSON) -> str:
    """The outbox's ref ("alert 12"), first in the embed's footer (bot/adapters/discord)."""
    return str(message["embeds"][0]["footer"]["text"].split(" · ", 1)[0])


# ---- the feed server ----------------------------------------------------------------------------
@dataclass
class Hit:
    at: float  # time.monotonic() on arrival
    status: int = 0  # 0 while the answer is being held


class FeedServer:
    """RSS feeds on 127.0.0.1: answers 304 to a matching If-None-Match, records every request
    per path, and holds the requests to a path while `hold(path)` is in force."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.hits: dict[str, list[Hit]] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{name}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for gate in self._holds.values():
            gate.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hold(self, path: str) -> None:
        self._holds[path] = asyncio.Event()

    def release(self, path: str) -> None:
        self._holds.pop(path).set()

    def held(self, path: str) -> bool:
        return any(h.status == 0 for h in self.hits.get(path, []))

    async def _serve(self, request: web.Request) -> web.Response:
        hit = Hit(time.monotonic())
        self.hits.setdefault(request.path, []).append(hit)
        if (gate := self._holds.get(request.path)) is not None:
            await gate.wait()
        body = self.bodies.get(request.path, rss([]))
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            hit.status = 304
            return web.Response(status=304, headers={"ETag": etag})
        hit.status = 200
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})


class SlowDiscord(FakeDiscord):
    """The fake Discord, whose message posts can take `post_delay_s` before they are stored
    (the post then lands even when the poster died meanwhile, as on Discord)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.post_delay_s = 0.0
        self.posting = 0  # posts in progress

    async def _post_message(self, request: web.Request) -> web.Response:
        self.posting += 1
        try:
            if self.post_delay_s:
                await asyncio.sleep(self.post_delay_s)
            return await super()._post_message(request)
        finally:
            self.posting -= 1


# ---- the processes ------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    killed_at: float | None = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill9(self) -> float:
        self.process.send_signal(signal.SIGKILL)
        self.killed_at = time.monotonic()
        return self.killed_at


@dataclass
class Deployment:
    env: dict[str, str]
    tmp_path: Path
    procs: list[Proc] = field(default_factory=list)
    marks: list[tuple[str, float]] = field(default_factory=list)  # (what, when) as it went

    def mark(self, what: str) -> None:
        self.marks.append((what, time.monotonic()))

    async def start(self, name: str, *args: str) -> Proc:
        log_path = self.tmp_path / f"{name}.log"
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *args,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
            )
        finally:
            os.close(log_fd)
        proc = Proc(name, process, log_path)
        self.procs.append(proc)
        return proc

    async def cli(self, *args: str) -> dict[str, Any]:
        """One CLI command with --json; its document."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            "--json",
            cwd=ROOT,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
        assert process.returncode == 0, f"wirewatch {' '.join(args)}: {err.decode()[-3000:]}"
        doc: dict[str, Any] = json.loads(out)
        return doc

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.killed_at is None and proc.process.returncode is not None:
                raise AssertionError(f"{proc.name} exited with {proc.process.returncode}")

    async def until(
        self, probe: Callable[[], Awaitable[Any]], what: str, patience_s: float = TIMEOUT_S
    ) -> Any:
        """What `probe()` returns once it is truthy; fails after `patience_s` or when a process
        that was not killed has exited."""
        deadline = time.monotonic() + patience_s
        while True:
            self.check_alive()
            if result := await probe():
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {patience_s:.0f} s waiting for {what}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.process.returncode is None:
                proc.process.kill()
            await proc.process.wait()

    def dump_marks(self) -> None:
        start = self.marks[0][1] if self.marks else 0.0
        print("\n" + ", ".join(f"{what} at {at - start:.1f} s" for what, at in self.marks))

    def dump(self) -> None:
        self.dump_marks()
        for proc in self.procs:
            print(f"\n===== {proc.name} (exit {proc.process.returncode}) =====")
            print(proc.log()[-6000:])


@pytest.fixture(name="feeds")
async def feeds_fixture() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture(name="discord_fake")
async def discord_fake_fixture() -> AsyncIterator[SlowDiscord]:
    fake = SlowDiscord(GUILDS)
    async with fake:
        yield fake


@contextlib.contextmanager
def logs_on_failure(deployment: Deployment) -> Iterator[None]:
    try:
        yield
    except BaseException:
        deployment.dump()
        raise


# ---- what the fake and the database saw ---------------------------------------------------------
def alert_messages(fake: FakeDiscord) -> list[JSON]:
    return [m for m in fake.messages(NEWS) if m.get("embeds")]


def posted_stories(fake: FakeDiscord) -> Counter[int]:
    return Counter(story_of(m) for m in alert_messages(fake))


def post_times(fake: FakeDiscord, since: float = 0.0) -> list[float]:
    """Arrival times of the message posts and the delivery's other calls on the channel."""
    return sorted(r.time for r in fake.requests if r.path.startswith(POSTS) and r.time >= since)


def within_cap(times: list[float]) -> int:
    """How many calls the densest stretch of `times` exceeds the token bucket by (rate
    MAX_RPS, BURST tokens; 0.15 s of slack for the trip to the fake)."""
    worst = 0
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            allowed = BURST + MAX_RPS * (times[j] - start + 0.15)
            worst = max(worst, int(j - i + 1 - allowed))
    return worst


def densest_second(times: list[float]) -> int:
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


async def outbox(db: Any) -> list[Any]:
    return list(
        await db.fetch(
            "SELECT alert_id, delivered_version, version, message_ref, send_key FROM alerts "
            "WHERE channel = $1 ORDER BY alert_id",
            f"discord:{ALPHA}:{NEWS}",
        )
    )


async def assert_each_alert_posted_once(
    deployment: Deployment, fake: FakeDiscord, db: Any, stories: int
) -> None:
    """`stories` alerts in the outbox, all marked delivered (the mark follows the post), each
    posted in exactly one message of the channel, and no other message there."""

    async def settled() -> list[Any] | None:
        rows = await outbox(db)
        done = len(rows) == stories and all(r["delivered_version"] == r["version"] for r in rows)
        return rows if done else None

    rows = await deployment.until(settled, f"{stories} alerts marked delivered", patience_s=60)
    messages = alert_messages(fake)
    refs = Counter(ref_of(m) for m in messages)
    assert refs == Counter(f"alert {r['alert_id']}" for r in rows), refs
    assert {r["message_ref"] for r in rows} == {m["id"] for m in messages}
    assert posted_stories(fake) == Counter(range(stories))


def fetch_gaps(hits: list[Hit]) -> list[float]:
    return [b.at - a.at for a, b in zip(hits, hits[1:], strict=False)]


async def shorten_intervals(
    deployment: Deployment, db: Any, feed_ids: dict[str, int]
) -> dict[str, float]:
    """Every feed on INTERVAL_S and due now; when each was (fetches from then on count). A feed
    a worker holds is left until its poll is recorded (it would write the old interval's next
    check), then done."""
    since: dict[str, float] = {}
    paths = {feed_id: path for path, feed_id in feed_ids.items()}

    async def all_done() -> bool:
        at = time.monotonic()
        done = await db.fetch(
            "UPDATE feeds SET interval_s = $1, next_check_at = now() "
            "WHERE interval_s <> $1 AND (claimed_until IS NULL OR claimed_until < now()) "
            "RETURNING feed_id",
            INTERVAL_S,
        )
        since.update({paths[r["feed_id"]]: at for r in done})
        return len(since) == len(paths)

    await deployment.until(all_done, "the feeds' claims to shorten their intervals")
    await db.execute("UPDATE subscriptions SET interval_s = $1", INTERVAL_S)
    return since


async def due_together(deployment: Deployment, db: Any, feed_ids: list[int]) -> None:
    """These feeds due now, before every other (so one claim takes them all), once no worker
    holds any of them."""

    async def done() -> bool:
        async with db.transaction():
            claims = await db.fetch(
                "SELECT claimed_until > now() AS held FROM feeds WHERE feed_id = ANY($1) "
                "ORDER BY feed_id FOR UPDATE",
                feed_ids,
            )
            if any(r["held"] for r in claims):
                return False
            await db.execute(
                "UPDATE feeds SET next_check_at = now() - interval '1 hour' "
                "WHERE feed_id = ANY($1)",
                feed_ids,
            )
        return True

    await deployment.until(done, "the feeds' claims to make them due together")
