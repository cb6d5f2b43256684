"""A deployment on PostgreSQL as separate processes: two `wirewatch worker` and one `wirewatch run
--no-poll` (the sender) against one database, feeds on a loopback server that counts and can
hold requests, alerts into the fake Discord (tests/fakediscord/). Checked: every feed is
fetched once per interval and never twice in one, every alert is posted once, the posts keep
to WIREWATCH_DISCORD_MAX_RPS; then `kill -9` of a worker mid-poll (one feed's new items stored
but not extracted yet, another feed's fetch hanging), and of the sender mid-delivery (a post in
flight; a standby `run` takes over), loses and doubles nothing, with no process restarted.

The CLI refuses intervals under 60 s, so the feeds are subscribed at 60 s and their interval is
then shortened in the database, to see several intervals in seconds. Every wait polls with a
deadline; on a failure the processes' logs are printed. The feed server, the fake Discord, the
deployment and the readers of what they saw are in scale_processes_helpers.py."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from index.extract.extractor import Extractor
from tests.bot.discord_delivery_helpers import ALPHA, NEWS, run_env
from tests.bot.scale_processes_helpers import (
    BATCH,
    BURST,
    FEEDS,
    FETCH_TIMEOUT_S,
    FIRST,
    HELD_STORY,
    INTERVAL_S,
    LATE,
    MAX_RPS,
    POSTS,
    STORED,
    STORIES,
    Deployment,
    FeedServer,
    Hit,
    SlowDiscord,
    assert_each_alert_posted_once,
    densest_second,
    discord_fake_fixture,  # noqa: F401
    due_together,
    feeds_fixture,  # noqa: F401
    fetch_gaps,
    logs_on_failure,
    post_times,
    posted_stories,
    shorten_intervals,
    story_item,
    within_cap,
)
from tests.index.ingest_helpers import rss
from tests.index.test_lease import admin  # noqa: F401  (a connection of the test's own)


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
