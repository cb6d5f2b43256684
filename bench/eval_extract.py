"""Extraction quality on real UCDP GED events: runs `wirewatch extract --batch` over the
development sample in ../shared/data/ucdp_ged_sample/ and prints, over all rows and over the
rows whose text names the gold item:

- country accuracy: the country of the main place (else of the first place) is the gold one.
  UCDP GED's country is a state of the Gleditsch-Ward list, so it codes events in the
  Palestinian territories under Israel and in Western Sahara under Morocco; a place there
  counts for that state (`UCDP_STATE`). A row names its country when the text holds the
  country's name as words, or an adjective made from it by a common suffix ("Nigerian" does,
  "NigeriaWatch" does not);
- admin-1 accuracy: the main place's admin-1 region is the gold `adm_1` (gold names are
  resolved with our gazetteer, "province"/"governorate" suffixes dropped);
- actor recall: of the gold sides that map to a catalogue actor ("Government of X" maps to
  X's state forces), the share found in the text;
- casualties: killed `best` equal to the gold best (exact), and gold best inside the predicted
  low..high (within range);
- event-date accuracy: the event date falls within the gold date_start..date_end;
- injured as killed: rows whose killed `best` is a number the text gives for the injured (and
  not the gold toll): a count, which must stay 0.

Rules are chosen on the tuning half (the odd-numbered rows: 1st, 3rd, ...) and reported on the
held-out half (the even-numbered rows) beside it, so a rule fitted to single rows shows as a gap
between the two. The floors of tests/index/test_eval_extract.py cover all 500 rows.

The sample's texts are headlines, many without a publication date: a row is "published" on its
`source_date` when it has one, else the extractor sees no publication date and only explicit
dates can be right. Nothing here was used to write the catalogue, gazetteer or rules.

  .venv/bin/python bench/eval_extract.py [--json] [--write-baseline] [--misses FIGURE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(__file__).with_name("eval_extract_baseline.json")
_SUFFIX = re.compile(
    r"\b(province|governorate|region|state|district|division|oblast|prefecture|department|"
    r"county|municipality|city|emirate|territory|wilaya|muhafazah)\b",
    re.IGNORECASE,
)
_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
# How English makes a country's adjective from its name (Israel-i, Syria-n, Sudan-ese, Iran-ian),
# plural forms too; the scorer's own rule, independent of the extractor's word lists.
_ADJECTIVE_SUFFIXES = ("ians", "ian", "ans", "an", "ese", "is", "i", "ns", "n")
# Territories outside the Gleditsch-Ward list of states, under the state UCDP GED codes them as.
UCDP_STATE = {"PS": "IL", "EH": "MA"}


def shared_data() -> Path:
    env = os.environ.get("WIREWATCH_SHARED_DATA")
    found = Path(env) if env else ROOT.parent / "shared" / "data"
    return found / "ucdp_ged_sample" / "ged231_sample_dev.jsonl"


def load_rows(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def batch_lines(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The `extract --batch` input: id, text, and the publication date when the row has one
    (rows citing several sources list several dates, ";"-separated: the first is taken)."""
    return [
        json.dumps(
            {
                "id": r["id"],
                "text": r["text"],
                "published": (r.get("source_date") or "").split(";")[0].strip() or None,
            }
        )
        for r in rows
    ]


def run_cli(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`wirewatch extract --batch FILE --json` in a subprocess, as a user would run it."""
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "batch.jsonl"
        batch.write_text("\n".join(batch_lines(rows)) + "\n", encoding="utf-8")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "--data-dir",
                str(Path(tmp) / "var"),
                "extract",
                "--batch",
                str(batch),
                "--json",
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9 ]+", " ", "".join(c for c in text if not unicodedata.combining(c)))


@dataclass
class Tally:
    hits: int = 0
    total: int = 0

    missed: list[Any] = field(default_factory=list)

    def add(self, ok: bool, row_id: Any = None) -> None:
        self.hits += ok
        self.total += 1
        if not ok:
            self.missed.append(row_id)

    @property
    def rate(self) -> float:
        return round(self.hits / self.total, 4) if self.total else 0.0


class Scorer:
    """Maps gold names to our catalogue and gazetteer, and scores predictions."""

    def __init__(self) -> None:
        from bot.settings import Settings
        from index.extract.actors import ActorCatalogue
        from index.extract.places import Gazetteer

        settings = Settings()
        self.catalogue = ActorCatalogue.load(settings.actor_files)
        self.gazetteer = Gazetteer.load(settings.cache_path / "gazetteer", settings.place_files)

    def country_code(self, name: str) -> str | None:
        plain = re.sub(r"\s*\(.*?\)", "", name).strip()
        for candidate in (plain, name):
            for place in self.gazetteer.resolve(candidate):
                if place.precision == "country":
                    return place.country_code
        return None

    def admin1(self, name: str, country_code: str | None) -> str | None:
        plain = _SUFFIX.sub("", re.sub(r"\s*\(.*?\)", "", name)).strip(" ,-")
        for place in self.gazetteer.resolve(plain):
            if place.precision == "admin1" and ucdp_state(place.country_code) == country_code:
                return place.admin1_code
        return None

    def names_country(self, text: str, name: str) -> bool:
        """The folded `text` names the country: its name as words, or (a one-word name) an
        adjective made from it by a common English suffix ("Israeli", "Syrian", "Sudanese",
        "Somali"; not "Lebanese" or "Afghan", which the rule does not reach)."""
        plain = fold(re.sub(r"\s*\(.*?\)", "", name)).strip()
        if not plain:
            return False
        if re.search(rf"\b{re.escape(plain)}\b", text):
            return True
        if " " in plain:
            return False
        suffixes = "|".join(_ADJECTIVE_SUFFIXES)
        if re.search(rf"\b{re.escape(plain)}(?:{suffixes})\b", text):
            return True
        stem = plain[:-1]  # Somalia -> Somali, Ukraine -> Ukrainian
        if plain[-1] not in "aeiouy" or len(stem) < 5:
            return False
        return re.search(rf"\b{re.escape(stem)}(?:{suffixes})?\b", text) is not None

    def actor_ids(self, side: str, country_code: str | None) -> set[str]:
        """Catalogue ids a gold side stands for; empty when it maps to none."""
        match = re.match(r"Government of (.+)", side)
        if match:
            code = self.country_code(match.group(1))
            return {
                a.id for a in self.catalogue if a.kind == "state_forces" and code in a.countries
            }
        plain = re.sub(r"\s*\(.*?\)", "", side).strip()
        return {a.id for a in self.catalogue.resolve(plain)}

    def score(self, rows: list[dict[str, Any]], docs: list[dict[str, Any]]) -> dict[str, Any]:
        names = ("country", "admin1", "actor_recall", "killed_exact", "killed_within", "event_date")
        every = {n: Tally() for n in names}
        named = {n: Tally() for n in names}
        injured_as_killed: list[Any] = []
        for row, doc in zip(rows, docs, strict=True):
            gold, text = row["gold"], fold(row["text"])
            places = doc["places"]
            main = next((p for p in places if p.get("main")), places[0] if places else None)
            gold_code = self.country_code(gold["country"])
            main_state = ucdp_state(main["country_code"]) if main is not None else None
            ok = main is not None and main_state == gold_code
            every["country"].add(ok)
            if self.names_country(text, gold["country"]):
                named["country"].add(ok, row["id"])
            if gold.get("adm_1"):
                gold_admin = self.admin1(gold["adm_1"], gold_code)
                if gold_admin is not None:
                    predicted = self._admin1_code(main)
                    ok = main is not None and main_state == gold_code and predicted == gold_admin
                    every["admin1"].add(ok)
                    stem = fold(_SUFFIX.sub("", re.sub(r"\s*\(.*?\)", "", gold["adm_1"])))
                    if stem.strip() and stem.strip() in text:
                        named["admin1"].add(ok, row["id"])
            found = {a.get("actor_id") for a in doc["actors"]}
            for side in (gold.get("side_a"), gold.get("side_b")):
                if not side:
                    continue
                wanted = self.actor_ids(side, gold_code)
                if not wanted:
                    continue
                ok = bool(wanted & found)
                every["actor_recall"].add(ok)
                aliases = {
                    fold(alias)
                    for i in wanted
                    if (a := self.catalogue.get(i))
                    for alias in a.aliases
                }
                if any(f" {alias.strip()} " in f" {text} " for alias in aliases if alias.strip()):
                    named["actor_recall"].add(ok, row["id"])
            killed = doc["casualties"]["killed"]
            best = gold.get("best")
            if (
                killed is not None
                and killed["best"] != best
                and killed["best"] in injured_numbers(row["text"])
            ):
                injured_as_killed.append(row["id"])
            if best is not None:
                exact = killed is not None and killed["best"] == best
                within = killed is not None and killed["low"] <= best <= killed["high"]
                every["killed_exact"].add(exact)
                every["killed_within"].add(within)
                if _names_number(row["text"], int(best)):
                    named["killed_exact"].add(exact, row["id"])
                    named["killed_within"].add(within, row["id"])
            start, end = (
                date.fromisoformat(gold["date_start"]),
                date.fromisoformat(gold["date_end"]),
            )
            predicted_date = doc.get("event_date")
            ok = predicted_date is not None and start <= date.fromisoformat(predicted_date) <= end
            every["event_date"].add(ok)
            if str(start.year) in row["text"]:  # the text names the year of the event
                named["event_date"].add(ok, row["id"])
        return {
            "rows": len(rows),
            "all": {n: every[n].rate for n in names},
            "named": {n: named[n].rate for n in names},
            "counts": {n: [every[n].total, named[n].total] for n in names},
            "injured_as_killed": len(injured_as_killed),
            "misses": {n: named[n].missed for n in names} | {"injured": injured_as_killed},
        }

    def _admin1_code(self, place: dict[str, Any] | None) -> str | None:
        if place is None:
            return None
        for candidate in self.gazetteer.resolve(place["canonical"]):
            if candidate.geonameid == place["geonameid"]:
                return candidate.admin1_code
        return None


_INJURED = re.compile(
    r"\b(?:wound(?:ed|ing)|injur(?:ed|ing)|hurt(?:ing)?)\s+(?:at least |about |some )?"
    r"(\d[\d,]*|[a-z]+)\b|\b(\d[\d,]*|[a-z]+)\s+(?:\w+\s+){0,2}(?:were\s+|are\s+)?"
    r"(?:wounded|injured|hurt)\b",
    re.IGNORECASE,
)


def ucdp_state(country_code: str | None) -> str | None:
    """The state UCDP GED codes a place of this country under."""
    return UCDP_STATE.get(country_code or "", country_code)


def injured_numbers(text: str) -> set[int]:
    """Numbers the text gives for the injured ("wounding 12", "30 people were injured")."""
    out = set()
    for match in _INJURED.finditer(text):
        word = (match.group(1) or match.group(2) or "").casefold().replace(",", "")
        value = int(word) if word.isdigit() else _WORDS.get(word)
        if value:
            out.add(value)
    return out


def halves(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Row positions of the tuning half (odd-numbered rows) and the held-out half (even)."""
    return {
        "tuning": list(range(0, len(rows), 2)),
        "held_out": list(range(1, len(rows), 2)),
    }


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"  # "4 March", "March 4"
_NOT_A_COUNT_AFTER = re.compile(
    rf"\s*(?:{_MONTH}\b|[/:]\d|-\d|\)|(?:am|pm|gmt|hours?|days?|weeks?|months?|years?)\b)",
    re.IGNORECASE,
)
_NOT_A_COUNT_BEFORE = re.compile(rf"(?:\b{_MONTH}\.?\s*|[/:(]|\d-)\Z", re.IGNORECASE)


def _names_number(text: str, number: int) -> bool:
    """The text gives `number` as a count: not in a date ("4 March 2013", "28/7/2012"), a time
    ("10 AM", "in 24 hours") or a list marker ("(1)")."""
    words = [w for w, v in _WORDS.items() if v == number]
    pattern = "|".join([rf"(?<![\d,.]){number}(?![\d,])", *(rf"\b{w}\b" for w in words)])
    return any(
        not _NOT_A_COUNT_AFTER.match(text, m.end())
        and not _NOT_A_COUNT_BEFORE.search(text[max(0, m.start() - 12) : m.start()])
        for m in re.finditer(pattern, text, re.IGNORECASE)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help=f"store the figures as the new floors in {BASELINE.name}",
    )
    parser.add_argument(
        "--misses",
        metavar="FIGURE",
        help="list the tuning half's rows that miss FIGURE (country, admin1, actor_recall, "
        "killed_exact, event_date, injured) with what was extracted",
    )
    args = parser.parse_args(argv)
    path = shared_data()
    if not path.is_file():
        print(
            f"UCDP sample not found at {path}: put the shared data beside the project "
            "(../shared/data) or set WIREWATCH_SHARED_DATA",
            file=sys.stderr,
        )
        return 2
    rows = load_rows(path)
    print(f"extracting {len(rows)} rows with `wirewatch extract --batch`...", file=sys.stderr)
    docs = run_cli(rows)
    scorer = Scorer()
    figures = scorer.score(rows, docs)
    split = {
        name: scorer.score([rows[i] for i in at], [docs[i] for i in at])
        for name, at in halves(rows).items()
    }
    if args.write_baseline:
        floors = {k: v for k, v in figures.items() if k != "misses"}
        BASELINE.write_text(json.dumps(floors, indent=2) + "\n", encoding="utf-8")
    if args.misses:
        by_id = {row["id"]: (row, doc) for row, doc in zip(rows, docs, strict=True)}
        for row_id in split["tuning"]["misses"].get(args.misses, []):
            row, doc = by_id[row_id]
            print(json.dumps({"id": row_id, "text": row["text"][:300], "gold": row["gold"]}))
            print("    ->", json.dumps({k: doc[k] for k in ("places", "actors", "casualties")}))
        return 0
    if args.json:
        print(json.dumps(figures | {"halves": split}))
        return 0
    print(f"UCDP GED dev sample: {figures['rows']} rows; 'named': rows whose text names the item")
    head = f"{'figure':<16}{'all rows':>10}{'(n)':>7}{'named':>10}{'(n)':>7}"
    print(f"{head}{'tuning':>10}{'(n)':>6}{'held-out':>10}{'(n)':>6}")
    for name, rate in figures["all"].items():
        total, named_total = figures["counts"][name]
        line = f"{name:<16}{rate:>10.3f}{total:>7}{figures['named'][name]:>10.3f}{named_total:>7}"
        for half in split.values():
            line += f"{half['named'][name]:>10.3f}{half['counts'][name][1]:>6}"
        print(line)
    print(
        f"{'injured as killed':<16}{figures['injured_as_killed']:>10}"
        f"{'':>24}{split['tuning']['injured_as_killed']:>10}"
        f"{split['held_out']['injured_as_killed']:>16}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
