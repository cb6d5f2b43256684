"""The inputs of bench/alerts.py: articles picked from the real feed captures and written back
as RSS feeds, and the watches (groups, places, keywords, topics) built from the catalogue, the
gazetteer and the word lists here, added through the command layer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from bot.app import App
from bot.core import commands
from bot.core.errors import UserError
from bot.core.watches import Kind
from index.errors import FeedMalformed
from index.extract.extractor import Extractor
from index.fetch.parse import parse_feed
from index.models import RawEntry

QUOTAS: tuple[tuple[Kind, int], ...] = (("group", 70), ("place", 70), ("keyword", 60))
TOPIC_WATCHES = 20
MIN_WORDS = 10
PUBLISHED_AFTER = timedelta(seconds=30)  # the items' date, after the watches' creation

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
