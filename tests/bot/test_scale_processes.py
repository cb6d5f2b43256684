"""A deployment on PostgreSQL as separate processes: two `wirewatch worker` and one `wirewatch run
--no-poll` (the sender) against one database, feeds on a loopback server that counts and can
hold requests, alerts into the fake Discord (tests/fakediscord/). Checked: every feed is
fetched once per interval and never twice in one, every alert is posted once, the posts keep
to WIREWATCH_DISCORD_MAX_RPS; then `kill -9` of a worker mid-poll (one feed's new items stored
but not extracted yet, another feed's fetch hanging), and of the sender mid-delivery (a post in
flight; a standby `run` takes over), loses and doubles nothing, with no process restarted.

The CLI refuses intervals under 60 s, so the feeds are subscribed at 60 s and their interval is
then shortened in the database, to see several intervals in seconds. Every wait polls with a
deadline; on a failure the processes' logs are printed."""

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
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from index.extract.extractor import Extractor
from tests.bot.test_discord_delivery import ALPHA, GUILDS, NEWS, run_env
from tests.fakediscord import JSON, FakeDiscord
from tests.index.test_ingest import item, rss
from tests.index.test_lease import admin  # noqa: F401  (a connection of the test's own)

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


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def discord_fake() -> AsyncIterator[SlowDiscord]:
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


# ---- the test -----------------------------------------------------------------------------------
@pytest.mark.slow
async def test_two_workers_and_a_sender_poll_once_post_once_and_survive_kill_9(
    tmp_path: Path,
    model_cache: Path,
    gazetteer_cache: Path,
    extractor: Extractor,  # builds the gazetteer the processes load
    pg_url: str,
    admin: Any,  # noqa: F811
    feeds: FeedServer,
    discord_fake: SlowDiscord,
) -> None:
    fake = discord_fake
    env = run_env(
        tmp_path,
        model_cache,
        gazetteer_cache,
        fake,
        WIREWATCH_DATABASE_URL=pg_url,
        WIREWATCH_ALLOW_PRIVATE_FEEDS="true",
        WIREWATCH_SCHEDULER_TICK_S="1",
        WIREWATCH_FETCH_TIMEOUT_S=str(FETCH_TIMEOUT_S),
        WIREWATCH_CONNECT_TIMEOUT_S=str(FETCH_TIMEOUT_S),
        WIREWATCH_READ_TIMEOUT_S=str(FETCH_TIMEOUT_S),
        WIREWATCH_MAX_PARALLEL_FEEDS=str(BATCH),
        WIREWATCH_MAX_PER_HOST=str(BATCH),
        WIREWATCH_DISCORD_MAX_RPS=str(MAX_RPS),
        WIREWATCH_ALERT_DIGEST_AFTER="100",  # one message per alert, to count them
        WIREWATCH_ALERT_RATE_PER_HOUR="1000",
        WIREWATCH_LOG_LEVEL="INFO",
    )
    deployment = Deployment(env, tmp_path)
    paths = [f"/feed{i}.xml" for i in range(FEEDS)]
    try:
        with logs_on_failure(deployment):
            await scenario(deployment, admin, feeds, fake, paths)
    finally:
        await deployment.stop()


async def scenario(
    deployment: Deployment, db: Any, feeds: FeedServer, fake: SlowDiscord, paths: list[str]
) -> None:
    started = time.monotonic()
    deployment.mark("start")
    # ---- two workers and a sender, loading while the CLI sets up one watch and FEEDS feeds -----
    w1 = await deployment.start("w1", "-v", "worker", "--name", "w1", "--batch", str(BATCH))
    w2 = await deployment.start("w2", "-v", "worker", "--name", "w2", "--batch", str(BATCH))
    # two `run --no-poll`: the one that takes the sender lease delivers, the other stands by
    runs = [await deployment.start(name, "run", "--no-poll") for name in ("s1", "s2")]
    workers = {"w1": w1, "w2": w2}
    watch = await deployment.cli(
        "watch",
        "add",
        "bulletin",
        "--kind",
        "keyword",
        "--guild",
        str(ALPHA),
        "--channel",
        str(NEWS),
    )
    assert watch["channel"] == f"discord:{ALPHA}:{NEWS}"
    gate = asyncio.Semaphore(4)

    async def add(path: str) -> int:
        async with gate:
            doc = await deployment.cli("feeds", "add", feeds.url(path), "--guild", str(ALPHA))
        return int(doc["feed_id"])

    feed_ids = dict(zip(paths, await asyncio.gather(*(add(p) for p in paths)), strict=True))
    deployment.mark("set up")
    setup_s = time.monotonic() - started

    # ---- the stories appear, and every feed falls due on its short interval at once -------------
    published = datetime.now(UTC)  # after the subscriptions: the items may alert
    items: dict[str, list[dict[str, str]]] = {
        p: [story_item(2 * i, published), story_item(2 * i + 1, published)]
        for i, p in enumerate(paths)
    }
    for p in paths:
        feeds.bodies[p] = rss(items[p])
    since = await shorten_intervals(deployment, db, feed_ids)

    async def first_alerts() -> bool:
        return sum(posted_stories(fake).values()) >= FIRST

    await deployment.until(first_alerts, f"{FIRST} alerts in the channel")
    deployment.mark("first alerts posted")
    first_posts = post_times(fake, min(since.values()))

    # every feed fetched a few times over: the intervals are long enough to count
    def counted(path: str) -> list[Hit]:
        return [h for h in feeds.hits.get(path, []) if h.at >= since[path]]

    async def polled_enough() -> bool:
        return all(len(counted(p)) >= 4 for p in paths)

    await deployment.until(polled_enough, "four fetches of every feed")
    deployment.mark("feeds polled 4 times")
    steady_end, steady = time.monotonic(), {p: counted(p) for p in paths}
    await assert_each_alert_posted_once(deployment, fake, db, FIRST)
    [sender] = [r for r in runs if "leadership gained" in r.log()]
    [standby] = [r for r in runs if r is not sender]
    for p, hits in steady.items():
        gaps = fetch_gaps(hits)
        # never twice in one interval: the next poll comes on the feed's phase, at least half an
        # interval on; a claim keeps the other worker off it meanwhile
        assert min(gaps) >= INTERVAL_S / 2 - 0.5, (p, gaps)
        # and once in each: as many fetches as intervals passed since the first, give or take
        # the first (off phase) and the one due now
        windows = (steady_end - hits[0].at) / INTERVAL_S
        assert windows - 1 <= len(hits) <= windows + 2, (p, len(hits), windows)
        assert {h.status for h in hits[1:]} <= {304}, (p, [h.status for h in hits])
    assert within_cap(first_posts) <= 0, first_posts
    span = first_posts[-1] - first_posts[0]
    sustained = (len(first_posts) - BURST) / span if span else float("inf")
    assert sustained <= MAX_RPS * 1.1, (sustained, first_posts)

    # the standby has started (and repaired what it found) before anything is killed
    async def standby_ready() -> bool:
        return "not polling" in standby.log()

    await deployment.until(standby_ready, "the standby sender to start")
    deployment.mark("standby ready")

    # ---- (a) kill -9 of a worker mid-poll: one feed's new items stored (not yet extracted: a
    # cycle extracts once all its fetches are done), another feed's fetch hanging ------------------
    held, stored_feed = paths[0], paths[1]
    feeds.hold(held)
    now = datetime.now(UTC)
    feeds.bodies[held] = rss([*items[held], story_item(HELD_STORY, now)])
    feeds.bodies[stored_feed] = rss([*items[stored_feed], *(story_item(n, now) for n in STORED)])
    hits_before = len(feeds.hits[held])
    await due_together(deployment, db, [feed_ids[held], feed_ids[stored_feed]])
    guids = [f"s{n}" for n in STORED]

    async def hanging_with_items_stored() -> bool:
        if not (len(feeds.hits[held]) > hits_before and feeds.held(held)):
            return False
        found = await db.fetchval("SELECT count(*) FROM articles WHERE guid = ANY($1)", guids)
        return bool(found == len(STORED))

    await deployment.until(hanging_with_items_stored, "a worker to store one feed, hang on another")
    deployment.mark("fetch held")
    claim = await db.fetchrow(
        "SELECT claimed_by, claimed_until, now() AS now FROM feeds WHERE feed_id = $1",
        feed_ids[held],
    )
    victim = workers[claim["claimed_by"]]
    survivor = w2 if victim is w1 else w1
    killed_at = victim.kill9()
    claim_left_s = (claim["claimed_until"] - claim["now"]).total_seconds()
    await victim.process.wait()
    unextracted = await db.fetchval(
        "SELECT count(*) FROM articles a WHERE guid = ANY($1) "
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.article_id = a.article_id)",
        guids,
    )
    assert unextracted == len(STORED), "the victim was to die before extracting its articles"
    feeds.release(held)

    async def retaken() -> Hit | None:
        later = [h for h in feeds.hits[held][hits_before + 1 :] if h.status == 200]
        return later[0] if later else None

    retake = await deployment.until(retaken, f"{survivor.name} to fetch {held} again")
    takeover_worker_s = retake.at - killed_at
    deployment.mark("feed retaken")

    async def stored_and_held_posted() -> bool:
        posted = posted_stories(fake)
        return all(posted[n] for n in (HELD_STORY, *STORED))

    # the survivor alerts on what the victim stored and never extracted, without a restart
    await deployment.until(
        stored_and_held_posted, "the new stories of both feeds to be posted", patience_s=120
    )
    deployment.mark("victim's stories posted")
    stored = await db.fetch(
        "SELECT guid, count(*) FROM articles WHERE guid = ANY($1) GROUP BY guid",
        [f"s{HELD_STORY}", *guids],
    )
    assert sorted(r["count"] for r in stored) == [1] * (1 + len(STORED)), stored
    await assert_each_alert_posted_once(deployment, fake, db, FIRST + 1 + len(STORED))
    # the claim kept the survivor off the held feed until it expired, and not much longer
    assert takeover_worker_s >= claim_left_s - 1.0, (takeover_worker_s, claim_left_s)
    assert takeover_worker_s <= claim_left_s + INTERVAL_S + 5, (takeover_worker_s, claim_left_s)

    # ---- (b) kill -9 of the sender in the middle of a delivery ----------------------------------
    # Five alerts at once, each post taking 0.5 s; the sender dies with one post in flight, which
    # lands after its death. The outbox wrote that alert's send key before posting: the standby
    # sends it again as a retry, looking in the channel's history for the alert's ref first, and
    # posts under the same key as nonce, which Discord (and the fake, for 300 s) drops as a repeat.
    fake.post_delay_s = 0.5
    batch_feed = paths[2]
    now = datetime.now(UTC)
    feeds.bodies[batch_feed] = rss([*items[batch_feed], *(story_item(n, now) for n in LATE)])

    async def mid_delivery() -> bool:
        late = sum(posted_stories(fake)[n] for n in LATE)
        return 2 <= late < len(LATE) - 1 and fake.posting > 0

    await deployment.until(mid_delivery, "the sender to be half-way through the late batch")
    sender_killed_at = sender.kill9()
    deployment.mark("sender killed")
    posted_at_kill = sum(posted_stories(fake)[n] for n in LATE)
    await sender.process.wait()

    async def all_posted() -> bool:
        return all(posted_stories(fake)[n] >= 1 for n in LATE)

    await deployment.until(all_posted, "the standby to post the rest of the late batch")
    deployment.mark("late batch posted")
    assert "leadership gained" in standby.log()
    after = [r for r in fake.requests if r.path == POSTS and r.method == "POST"]
    first_after = min(r.time for r in after if r.time > sender_killed_at + 0.01)
    takeover_sender_s = first_after - sender_killed_at
    await assert_each_alert_posted_once(deployment, fake, db, len(STORIES))
    nonces = Counter(str(r.json.get("nonce")) for r in after if isinstance(r.json, dict))
    repeated = {n: c for n, c in nonces.items() if c > 1}
    assert within_cap(post_times(fake, sender_killed_at)) <= 0

    # the survivor kept the other feeds on their intervals throughout
    gaps = [g for p in paths[2:] for g in fetch_gaps(counted(p))]
    assert min(gaps) >= INTERVAL_S / 2 - 0.5, gaps
    for proc in (survivor, standby):
        assert "Traceback" not in proc.log(), proc.name
    how = (
        "it found the interrupted post in the channel's history"
        if "was posted before a restart" in standby.log()
        else "no interrupted post to find"
    )
    deployment.dump_marks()
    print(
        f"\nset-up {setup_s:.1f} s; {len(STORIES)} alerts, each posted once; {FIRST} due at once:"
        f" densest second {densest_second(first_posts)} posts, sustained {sustained:.2f}/s (cap"
        f" {MAX_RPS}/s, burst {BURST}); worker {victim.name} killed with {unextracted} articles"
        f" stored unextracted and a fetch hanging, its claim {claim_left_s:.1f} s from expiry:"
        f" {survivor.name} fetched the feed {takeover_worker_s:.1f} s later; sender killed after"
        f" {posted_at_kill} of {len(LATE)} posts (one in flight), the standby posted"
        f" {takeover_sender_s:.1f} s later ({how}), nonces posted twice: {repeated or 'none'};"
        f" fetch gaps"
        f" {min(gaps):.1f}..{max(gaps):.1f} s (interval {INTERVAL_S} s);"
        f" {time.monotonic() - started:.0f} s in all"
    )
