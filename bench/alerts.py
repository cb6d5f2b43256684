"""Benchmark: from the start of a poll that brings new articles to all alerts recorded, with
200 watches of mixed kinds. Target (issue): at most 2 s on 2 cores for 50 new articles and the
group, place and keyword watches.

What is measured, and how:

* Articles: `--articles` (default 50) entries of the real feed captures in
  `news_feeds/` of the shared data folder (`../shared/data` beside the project root, or
  `WIREWATCH_SHARED_DATA`), taken round-robin from world and conflict news feeds (entries with
  a link, a title and at least 10 words). They are written back as RSS 2.0 items, one feed per
  outlet, dated 30 s after the watches were created (older articles never alert), and served
  on 127.0.0.1 by the demo's `serve_feeds`.
* Watches, built from our own resources, never from the articles: 70 group watches on actors
  of the catalogue (the actor id as the term), 70 place watches on countries, regions and
  towns of the gazetteer (`geonames:<id>` as the term), 60 keyword queries written here. A
  term the resolver refuses (ambiguous, unknown) is skipped for the next candidate, so every
  run holds the same watches. A third configuration adds 20 topic watches (descriptions
  written here); those match after embedding and do not count against the target.
* Each poll: a fresh data dir, `open_app` with the model and extractor loaded once for the
  whole benchmark and a fixed clock; the watches are added (timed apart) with the clock at T,
  the feeds subscribed, the clock moved to T + 60 s, then `commands.poll_once` is timed:
  - to alerts recorded: from just before `poll_once` to the return of the pipeline's
    `after_extract` hook (the one `open_app` sets, wrapped), which has matched and recorded the
    group, place and keyword alerts. Parts: the feed phase (fetch, parse, dedupe, chunk,
    store; ends when the last feed task reports), extraction (with its SQLite reads and
    writes), and watch matching and recording (the hook itself);
  - the whole poll, with embedding, the topic hook (`after_embed`, wrapped) and FAISS.
* Baseline in the same run: the same poll with no watch. Configurations alternate their order
  from run to run so a drift of machine speed favours none; one warm-up poll (200 watches)
  runs first and is not counted. Medians of `--runs` are printed, with how many CPU cores
  other processes kept busy (`bench/load.py`): if that is not near 0, the timings are not
  reliable. Figures are printed, never asserted.

Progress and logs go to stderr; `--json` prints one JSON document on stdout.

  .venv/bin/python bench/alerts.py [--runs 3] [--articles 50] [--no-topic] [--json]
  .venv/bin/python bench/alerts.py --discord [ARGS...]   # bench/discord_alerts.py with ARGS
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench.load

from bench.ingest import find_shared_data  # noqa: E402
from bench.load import OtherLoad, add_backend_option, finite  # noqa: E402
from bot.app import App, open_app  # noqa: E402
from bot.core import commands  # noqa: E402
from bot.core.errors import UserError  # noqa: E402
from bot.core.watches import Kind  # noqa: E402
from bot.demo import serve_feeds  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.errors import FeedMalformed  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.fetch.parse import parse_feed  # noqa: E402
from index.ingest import Hook  # noqa: E402
from index.models import IngestReport, RawEntry  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, Embedder, load_embedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 2.0
BUSY_CORES = 0.2  # other processes' load above which a run's timings are flagged
QUOTAS: tuple[tuple[Kind, int], ...] = (("group", 70), ("place", 70), ("keyword", 60))
TOPIC_WATCHES = 20
MIN_WORDS = 10
PUBLISHED_AFTER = timedelta(seconds=30)  # the items' date, after the watches' creation
POLL_AFTER = timedelta(seconds=60)  # the clock at the poll

# World and conflict news first; entries are taken round-robin over these files.
FEED_FILES = (
    "fastfeedparser/dawn_world.xml",
    "feeder/guardian_world_2022.xml",
    "fastfeedparser/allafrica_latest.xml",
    "fastfeedparser/aljazeera_all.xml",
    "fastfeedparser/al-monitor.xml",
    "fastfeedparser/nyt_world.xml",
    "fastfeedparser/cbsnews_world.xml",
    "fastfeedparser/bbc_world.xml",
    "fastfeedparser/abcnews_international.xml",
    "fastfeedparser/npr_world.xml",
    "fastfeedparser/washingtonpost_world.xml",
    "fastfeedparser/time_world.xml",
    "fastfeedparser/japantoday_world.xml",
    "misc/reuters_topnews_2017.xml",
)

# Place watches: countries first, then regions and towns. A name's candidates in these
# countries are preferred ("Gaza" is the Palestinian city, not the Mozambican province).
COUNTRIES = (
    "Syria", "Iraq", "Yemen", "Afghanistan", "Pakistan", "India", "Israel", "Lebanon", "Iran",
    "Ukraine", "Russia", "Sudan", "South Sudan", "Ethiopia", "Somalia", "Kenya", "Nigeria",
    "Niger", "Mali", "Burkina Faso", "Chad", "Cameroon", "Libya", "Egypt",
    "Democratic Republic of the Congo", "Mozambique", "Myanmar", "Philippines", "Colombia",
    "Mexico", "Venezuela", "Haiti", "Turkey", "Azerbaijan", "Armenia", "China", "Taiwan",
    "North Korea", "Bangladesh", "Palestine",
)  # fmt: skip
REGIONS_AND_TOWNS = (
    "Gaza", "Rafah", "Khan Younis", "Jenin", "Nablus", "Jerusalem", "Beirut", "Tyre", "Damascus",
    "Aleppo", "Idlib", "Deir ez-Zor", "Homs", "Baghdad", "Mosul", "Kirkuk", "Tehran", "Sanaa",
    "Aden", "Hodeidah", "Kyiv", "Kharkiv", "Donetsk", "Luhansk", "Zaporizhzhia", "Kherson",
    "Odesa", "Crimea", "Belgorod", "Kursk", "Khartoum", "El Fasher", "Tigray", "Amhara",
    "Mogadishu", "Borno", "Maiduguri", "Bamako", "Niamey", "Ouagadougou", "Goma", "Kabul",
    "Kandahar", "Balochistan", "Peshawar", "Quetta", "Karachi", "Rakhine", "Manipur", "Tripoli",
    "Benghazi", "Port-au-Prince", "Caracas", "Juba",
)  # fmt: skip

KEYWORDS = (
    '"car bomb" OR ied', "airstrike* NOT exercise", "ceasefire", "hostage*", '"mass grave*"',
    "drone* AND strike*", "missile*", "shelling", "suicide AND (bomber OR bombing)", "ambush*",
    "kidnap*", "massacre*", "refugee*", '"humanitarian aid"', "famine", "cholera", "evacuat*",
    "curfew", "coup", '"martial law"', "protest* AND (police OR security)", '"tear gas"',
    "sniper*", 'landmine* OR "land mine*"', "artillery", '"rocket fire" OR rockets',
    "insurgen*", "militant*", "jihadist*", "assassinat*", "execution*", "genocide",
    '"war crime*"', "sanction*", '"peace talks" OR negotiat*', "truce", "blockade", "siege",
    "displaced", '"civilian casualties" OR "civilians killed"', "killed AND (soldiers OR troops)",
    "gunmen", "explosion* NOT (gas OR factory)", "grenade*", "arrest* AND (terror* OR militant*)",
    "abduct*", '"armed group*"', "warlord*", "mercenar*", '"border clash*"', "incursion*",
    "invasion", "offensive AND (army OR military)", "casualt*", "wounded", "bombardment",
    "nuclear AND (iran OR talks)", "election* AND violen*", "piracy OR pirates",
    "cyberattack* OR hacker*", '"state of emergency"', "mobiliz* OR mobilis*",
)  # fmt: skip

TOPICS = (
    "drone strikes on power plants and energy infrastructure",
    "hostages taken by armed groups",
    "ceasefire negotiations between warring parties",
    "refugees fleeing fighting across a border",
    "attacks on hospitals and health workers",
    "famine and food shortages caused by war",
    "military coup and seizure of power",
    "protesters killed by security forces",
    "suicide bombing at a mosque or market",
    "ships attacked in the Red Sea",
    "peacekeepers attacked or withdrawing from a mission",
    "violence around an election and disputed results",
    "kidnapping of students or aid workers",
    "artillery shelling of residential areas",
    "sanctions imposed over human rights abuses",
    "negotiations over a nuclear programme and inspections",
    "missile and rocket attacks across a border",
    "mass graves discovered after fighting",
    "militants ambush soldiers near a border",
    "cholera outbreak in a camp for displaced people",
)

log = logging.getLogger("bench.alerts")


# ---- the articles ---------------------------------------------------------------------------
def pick_articles(feeds_dir: Path, count: int, now: datetime) -> list[tuple[str, RawEntry]]:
    """(feed file, entry) pairs, round-robin over FEED_FILES, no title or link twice."""
    queues: list[tuple[str, list[RawEntry]]] = []
    for name in FEED_FILES:
        path = feeds_dir / name
        if not path.is_file():
            continue
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=now)
        except FeedMalformed:
            continue
        usable = [e for e in parsed.entries if e.url and e.title and len(e.text.split()) >= 10]
        queues.append((name, usable))
    picked: list[tuple[str, RawEntry]] = []
    seen: set[str] = set()
    while len(picked) < count and any(entries for _, entries in queues):
        for name, entries in queues:
            while entries and len(picked) < count:
                entry = entries.pop(0)
                keys = {entry.title.casefold(), entry.url or ""}
                if keys & seen:
                    continue
                seen |= keys
                picked.append((name, entry))
                break
    return picked


def feed_bodies(picked: Sequence[tuple[str, RawEntry]], published_at: datetime) -> dict[str, bytes]:
    """One RSS 2.0 body per source file, every item dated `published_at`."""
    items: dict[str, list[str]] = {}
    date = format_datetime(published_at.astimezone(UTC), usegmt=True)
    for name, e in picked:
        link = escape(e.url or "")
        items.setdefault(name, []).append(
            f"<item><title>{escape(e.title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{escape(e.guid or e.url or "")}</guid>'
            f"<pubDate>{date}</pubDate><description>{escape(e.text)}</description></item>"
        )
    bodies: dict[str, bytes] = {}
    for name, rows in items.items():
        slug = name.replace("/", "-")
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(slug)}</title><link>https://example.org/</link>"
            f"<description>bench</description>{''.join(rows)}</channel></rss>"
        )
        bodies[slug] = body.encode("utf-8")
    return bodies


# ---- the watches ----------------------------------------------------------------------------
def watch_candidates(extractor: Extractor) -> dict[Kind, list[str]]:
    """Terms to try, per kind, in order; more than the quotas, for the ones refused."""
    catalogue = extractor.catalogue
    actors = list(catalogue)
    spread = actors[::3] + [a for i, a in enumerate(actors) if i % 3]
    groups = [a.id for a in spread if [x.id for x in catalogue.resolve(a.id)] == [a.id]]

    gazetteer = extractor.gazetteer
    countries = {p.country_code for n in COUNTRIES for p in gazetteer.resolve(n)[:1]}
    places: list[str] = []
    for name in (*COUNTRIES, *REGIONS_AND_TOWNS):
        found = gazetteer.resolve(name)
        best = next((p for p in found if p.country_code in countries), None)
        if best is not None and f"geonames:{best.geonameid}" not in places:
            places.append(f"geonames:{best.geonameid}")
    return {"group": groups, "place": places, "keyword": list(KEYWORDS), "topic": list(TOPICS)}


@dataclass
class WatchSet:
    """The watches one poll holds, and the terms refused on the way."""

    added: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


async def add_watches(
    app: App,
    plan: Sequence[tuple[Kind, int]],
    terms: dict[Kind, list[str]],
    *,
    channel: str = "console",
) -> WatchSet:
    """The watches of `plan` on `channel` (bench/discord_alerts.py gives a Discord channel)."""
    done = WatchSet()
    for kind, quota in plan:
        added = 0
        for term in terms[kind]:
            if added == quota:
                break
            try:
                await commands.watch_add(app, term, kind=kind, backfill="none", channel=channel)
            except UserError as exc:  # watches.Ambiguous is one
                done.skipped.append(f"{kind} {term}: {exc}")
                continue
            added += 1
        if added < quota:
            log.warning("only %d of %d %s watches could be added", added, quota, kind)
        done.added[kind] = added
    return done


# ---- one poll -------------------------------------------------------------------------------
@dataclass
class Clock:
    """The app's clock: fixed, moved by hand."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Marks:
    """perf_counter marks of one poll."""

    started: float = 0.0
    feeds_done: float | None = None
    match_started: float | None = None
    alerts_recorded: float | None = None
    topic_started: float | None = None
    topic_done: float | None = None
    metadata_alerts: int = 0
    topic_alerts: int = 0

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.started and stage == "fetch" and done >= total:
            self.feeds_done = time.perf_counter()


def wrap_hooks(app: App, marks: Marks, to_alerts: OtherLoad) -> None:
    """Time the hooks `open_app` hung on the pipeline, keeping what they do."""
    pipeline = app.require_pipeline()
    metadata, topic = pipeline.after_extract, pipeline.after_embed
    assert metadata is not None and topic is not None, "open_app set no watch hooks"

    async def after_extract(ids: Sequence[int], report: IngestReport) -> None:
        marks.match_started, before = time.perf_counter(), report.alerts
        await metadata(ids, report)
        marks.alerts_recorded = time.perf_counter()
        to_alerts.stop()
        marks.metadata_alerts = report.alerts - before

    async def after_embed(ids: Sequence[int], report: IngestReport) -> None:
        marks.topic_started, before = time.perf_counter(), report.alerts
        await topic(ids, report)
        marks.topic_done = time.perf_counter()
        marks.topic_alerts = report.alerts - before

    hooks: tuple[Hook, Hook] = (after_extract, after_embed)
    pipeline.after_extract, pipeline.after_embed = hooks


@dataclass
class Env:
    """What every poll shares: loaded once."""

    bodies: dict[str, bytes]
    embedder: Embedder
    extractor: Extractor
    terms: dict[Kind, list[str]]
    cache_dir: Path
    created_at: datetime


async def _poll(
    env: Env, settings: Settings, plan: Sequence[tuple[Kind, int]]
) -> tuple[dict[str, float], list[str]]:
    """One poll in a fresh data dir: its figures, and the watch terms refused."""
    clock = Clock(env.created_at)
    marks = Marks()
    with serve_feeds(env.bodies) as base:
        async with open_app(
            settings,
            embedder=env.embedder,
            extractor=env.extractor,
            now=clock,
            progress=marks.progress,
        ) as app:
            started = time.perf_counter()
            watches = await add_watches(app, plan, env.terms)
            add_s = time.perf_counter() - started
            for name in env.bodies:
                await commands.add_feed(app, base + name, interval_s=300, workspace="console")
            to_alerts, whole = OtherLoad(), OtherLoad()
            wrap_hooks(app, marks, to_alerts)
            clock.at = env.created_at + POLL_AFTER

            cpu_started = time.process_time()
            to_alerts.start()
            whole.start()
            marks.started = time.perf_counter()
            doc = await commands.poll_once(app, workspace="console")
            ended = time.perf_counter()
            whole.stop()
            cpu_s = time.process_time() - cpu_started

            listed = await commands.list_alerts(
                app, channel="console", limit=1000, workspace="console"
            )
            rows = await app.store.fetch_all(
                "SELECT w.kind, count(*), count(DISTINCT m.watch_id) FROM alert_matches m "
                "JOIN watches w ON w.watch_id = m.watch_id GROUP BY w.kind"
            )
    if marks.alerts_recorded is None or marks.match_started is None:
        raise RuntimeError("the after_extract hook never ran: no new article in this poll?")
    feeds_done = marks.feeds_done if marks.feeds_done is not None else marks.started
    alerts_at = marks.alerts_recorded
    embed_end = marks.topic_started if marks.topic_started is not None else ended
    topic_end = marks.topic_done if marks.topic_done is not None else embed_end
    seconds: dict[str, float] = doc["seconds"]
    fig: dict[str, float] = {
        "watches": float(sum(watches.added.values())),
        **{f"watches_{k}": float(v) for k, v in watches.added.items()},
        "watches_skipped": float(len(watches.skipped)),
        "add_watches_s": add_s,
        "feeds": float(doc["feeds_polled"]),
        "new_articles": float(doc["new_articles"]),
        "duplicates": float(doc["duplicates"]),
        "passages": float(doc["passages"]),
        "to_alerts_s": alerts_at - marks.started,
        "feed_phase_s": feeds_done - marks.started,
        "extract_phase_s": marks.match_started - feeds_done,
        "match_record_s": alerts_at - marks.match_started,
        "embed_phase_s": embed_end - alerts_at,
        "topic_s": topic_end - embed_end,
        "index_phase_s": ended - topic_end,
        "poll_s": ended - marks.started,
        "alerts_metadata": float(marks.metadata_alerts),
        "alerts_topic": float(marks.topic_alerts),
        "alerts_reported": float(doc["alerts"]),
        "alerts_listed": float(len(listed["alerts"])),
        "to_alerts_other_cores": to_alerts.cores,
        "poll_cpu_cores": cpu_s / (ended - marks.started),
        "poll_other_cores": whole.cores,
    }
    for kind in ("group", "place", "keyword", "topic"):
        row = next((r for r in rows if r[0] == kind), None)
        fig[f"matches_{kind}"] = float(row[1]) if row else 0.0
        fig[f"fired_{kind}"] = float(row[2]) if row else 0.0
    for stage in ("fetch", "parse", "dedupe", "chunk", "extract", "alerts", "embed", "index"):
        fig[f"stage_{stage}_s"] = float(seconds.get(stage, 0.0))
    return fig, watches.skipped


def run_poll(
    env: Env, workdir: Path, name: str, plan: Sequence[tuple[Kind, int]]
) -> tuple[dict[str, float], list[str]]:
    data_dir = workdir / name
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        allowed_networks=["127.0.0.1/32"],
        cache_dir=env.cache_dir,
    )
    try:
        return asyncio.run(_poll(env, settings, plan))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Config:
    name: str
    label: str
    plan: tuple[tuple[Kind, int], ...]


def configs(topic: bool) -> list[Config]:
    out = [Config("none", "no watches", ()), Config("mixed", "200 watches", QUOTAS)]
    if topic:
        out.append(Config("topic", "+20 topic", (*QUOTAS, ("topic", TOPIC_WATCHES))))
    return out


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(statistics.median(r[k] for r in runs)) for k in runs[0]}


ROWS: tuple[tuple[str, str, str], ...] = (
    # (figure, label, format)
    ("watches", "watches", ".0f"),
    ("new_articles", "new articles", ".0f"),
    ("passages", "passages", ".0f"),
    ("alerts_metadata", "alerts recorded: group/place/keyword", ".0f"),
    ("alerts_topic", "alerts recorded: topic", ".0f"),
    ("matches_group", "watch matches: group", ".0f"),
    ("matches_place", "watch matches: place", ".0f"),
    ("matches_keyword", "watch matches: keyword", ".0f"),
    ("matches_topic", "watch matches: topic", ".0f"),
    ("", "", ""),
    ("to_alerts_s", "start of poll -> alerts recorded (s)", ".3f"),
    ("feed_phase_s", "  fetch, parse, dedupe, chunk, store", ".3f"),
    ("extract_phase_s", "  extraction (with its SQLite I/O)", ".3f"),
    ("stage_extract_s", "    of which the extractor itself", ".3f"),
    ("match_record_s", "  watch matching + recording", ".3f"),
    ("embed_phase_s", "embedding", ".3f"),
    ("topic_s", "topic watch matching + recording", ".3f"),
    ("index_phase_s", "FAISS sync + save", ".3f"),
    ("poll_s", "whole poll (s)", ".3f"),
    ("", "", ""),
    ("poll_cpu_cores", "CPU cores busy, this process (poll)", ".2f"),
    ("to_alerts_other_cores", "CPU cores busy, others (to alerts)", ".2f"),
    ("poll_other_cores", "CPU cores busy, others (poll)", ".2f"),
    ("add_watches_s", "adding the watches (not timed above)", ".3f"),
)


def print_text(doc: dict[str, Any], write: Callable[[str], None]) -> None:
    meta, cfgs = doc["meta"], doc["configs"]
    write(
        f"Wirewatch alerts benchmark: {meta['articles']} new articles in {meta['feeds']} feeds "
        f"(from {meta['corpus']}), served on 127.0.0.1"
    )
    write(
        f"  watches: {meta['quotas']}; +{TOPIC_WATCHES} topic in the last column"
        if "topic" in cfgs
        else f"  watches: {meta['quotas']}"
    )
    write(
        f"  {meta['runs']} runs (after one warm-up poll), medians shown; {meta['cpus']} CPUs, "
        f"torch threads {meta['torch_threads']}, python {meta['python']}, torch {meta['torch']}"
    )
    write(
        f"  model {meta['model']} and extractor loaded once ({meta['load_s']:.1f} s), "
        "outside the timings"
    )
    write("")
    width = 40
    write(f"{'':<{width}}" + "".join(f"{c['label']:>14}" for c in cfgs.values()))
    for key, label, fmt in ROWS:
        if not key:
            write("")
            continue
        cells = "".join(f"{format(c['median'][key], fmt):>14}" for c in cfgs.values())
        write(f"{label:<{width}}{cells}")
    write("")
    cmp = doc["comparison"]
    verdict = "met" if cmp["to_alerts_s"] <= TARGET_S else "NOT met"
    write(
        f"Target: alerts recorded within {TARGET_S:.0f} s of the poll's start, 200 group/place/"
        f"keyword watches: {cmp['to_alerts_s']:.3f} s, {verdict} on {meta['cpus']} CPUs"
    )
    write(
        f"200 watches cost {cmp['to_alerts_overhead_s']:+.3f} s to alerts recorded "
        f"({cmp['to_alerts_ratio']:.2f}x the poll without watches); matching + recording "
        f"{cmp['match_record_s']:.3f} s against {cmp['match_record_baseline_s']:.3f} s "
        "(the hook with no watch)"
    )
    if "topic_s" in cmp:
        write(
            f"20 topic watches: {cmp['topic_s']:.3f} s after embedding; whole poll "
            f"{cmp['topic_poll_overhead_s']:+.3f} s against 200 watches"
        )
    write("")
    write("Per run (seconds to alerts recorded / whole poll; CPU cores others kept busy):")
    for i in range(meta["runs"]):
        parts = []
        for c in cfgs.values():
            r = c["runs"][i]
            parts.append(
                f"{c['label']} {r['to_alerts_s']:.3f} / {r['poll_s']:.2f} "
                f"({r['poll_other_cores']:.2f})"
            )
        write(f"  run {i + 1} ({doc['orders'][i]}): " + "; ".join(parts))
    busy = [
        i + 1
        for i in range(meta["runs"])
        if any(c["runs"][i]["poll_other_cores"] > BUSY_CORES for c in cfgs.values())
    ]
    if busy:
        write(
            f"  Other processes kept more than {BUSY_CORES} cores busy in run(s) "
            f"{', '.join(map(str, busy))}: those timings are not reliable."
        )
    if doc["skipped_terms"]:
        write(f"Terms refused and replaced by the next candidate ({len(doc['skipped_terms'])}):")
        for line in doc["skipped_terms"]:
            write(f"  {line}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/alerts.py",
        description="Seconds from the start of a poll that brings new articles to all group, "
        "place and keyword alerts recorded, with 200 watches, against the same poll with none.",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="repetitions; medians are shown (default 3)"
    )
    parser.add_argument(
        "--articles", type=int, default=50, help="new articles in the poll (default 50)"
    )
    parser.add_argument(
        "--no-topic", action="store_true", help="skip the configuration with 20 topic watches"
    )
    add_backend_option(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    parser.add_argument(
        "--discord",
        action="store_true",
        help="run bench/discord_alerts.py instead (alerts and /ask through the fake Discord), "
        "with the other arguments",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.articles < 1:
        parser.error("--articles must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--discord" in argv:  # only a dispatch: the measurement is bench/discord_alerts.py's
        from bench import discord_alerts

        return discord_alerts.main([a for a in argv if a != "--discord"])
    args = parse_args(argv)
    data = find_shared_data("bench/alerts.py")
    if data is None:
        return 2
    feeds_dir = data / "news_feeds"
    created_at = datetime.now(UTC).replace(microsecond=0)
    picked = pick_articles(feeds_dir, args.articles, created_at)
    if len(picked) < args.articles:
        print(
            f"bench/alerts.py: only {len(picked)} usable entries in {feeds_dir}, "
            f"{args.articles} wanted",
            file=sys.stderr,
        )
        return 2
    bodies = feed_bodies(picked, created_at + PUBLISHED_AFTER)

    import torch

    print(f"loading {DEFAULT_MODEL} and the extractor ...", file=sys.stderr)
    cache_dir = Settings(_env_file=None).cache_path
    started = time.perf_counter()
    embedder = load_embedder(DEFAULT_MODEL, args.backend, cache_dir=cache_dir / "models")
    extractor = Extractor.load(embedder, cache_dir / "gazetteer")
    load_s = time.perf_counter() - started
    env = Env(bodies, embedder, extractor, watch_candidates(extractor), cache_dir, created_at)

    chosen = configs(topic=not args.no_topic)
    results: dict[str, list[dict[str, float]]] = {c.name: [] for c in chosen}
    orders: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-alerts-") as tmp:
        print("warm-up poll (not counted) ...", file=sys.stderr)
        _, skipped = run_poll(env, Path(tmp), "warmup", QUOTAS)
        for i in range(args.runs):
            order = chosen if i % 2 == 0 else chosen[::-1]
            orders.append(" then ".join(c.name for c in order))
            for c in order:
                fig, refused = run_poll(env, Path(tmp), f"run{i}-{c.name}", c.plan)
                results[c.name].append(fig)
                skipped += [t for t in refused if t not in skipped]
                print(
                    f"run {i + 1}/{args.runs} {c.label}: {fig['new_articles']:.0f} articles, "
                    f"{fig['alerts_metadata']:.0f}+{fig['alerts_topic']:.0f} alerts; "
                    f"{fig['to_alerts_s']:.3f} s to alerts recorded, poll {fig['poll_s']:.2f} s "
                    f"(others kept {fig['poll_other_cores']:.2f} cores busy)",
                    file=sys.stderr,
                )
                if fig["new_articles"] != args.articles:
                    log.warning(
                        "%s: %d new articles, not %d", c.name, fig["new_articles"], args.articles
                    )

    meta: dict[str, Any] = {
        "corpus": str(feeds_dir),
        "articles": args.articles,
        "feeds": len(bodies),
        "quotas": ", ".join(f"{n} {k}" for k, n in QUOTAS),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "model": embedder.model_id,
        "load_s": load_s,
    }
    cfgs: dict[str, dict[str, Any]] = {
        c.name: {"label": c.label, "median": medians(results[c.name]), "runs": results[c.name]}
        for c in chosen
    }
    doc = {
        "meta": meta,
        "configs": cfgs,
        "comparison": comparison(cfgs),
        "orders": orders,
        "skipped_terms": skipped,
    }
    if args.json:
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_text(doc, print)
    return 0


def comparison(cfgs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """200 watches against none (and 20 topic watches more against 200), on the medians."""
    none, mixed = cfgs["none"]["median"], cfgs["mixed"]["median"]
    out = {
        "target_s": TARGET_S,
        "to_alerts_s": mixed["to_alerts_s"],
        "to_alerts_baseline_s": none["to_alerts_s"],
        "to_alerts_overhead_s": mixed["to_alerts_s"] - none["to_alerts_s"],
        "to_alerts_ratio": mixed["to_alerts_s"] / none["to_alerts_s"],
        "match_record_s": mixed["match_record_s"],
        "match_record_baseline_s": none["match_record_s"],
        "poll_overhead_s": mixed["poll_s"] - none["poll_s"],
    }
    if "topic" in cfgs:
        topic = cfgs["topic"]["median"]
        out["topic_s"] = topic["topic_s"]
        out["topic_poll_overhead_s"] = topic["poll_s"] - mixed["poll_s"]
    return out


if __name__ == "__main__":
    sys.exit(main())
