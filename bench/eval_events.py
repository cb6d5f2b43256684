"""Events per article on the multi-event stories written for the tests
(tests/data/multi_event_stories.yaml: 44 stories, each with every event it reports, the main
one first, and distractors: agencies, datelines, quoted claims, background tolls). Prints, per
labelled event:

- place: an extracted event is at the event's place (the mention starts with the labelled
  name, or the gazetteer's name is it, in the labelled country);
- type: that event has the labelled type; sub-type: the labelled sub-type, where one is given;
- killed: its killed `best` is the labelled count (no count and 0 are the same: "no one was
  hurt" may give either);
- main: the labelled main event is the extracted event marked main;
and per story the share whose events are all found (place and type right), and the extracted
events that match no labelled one (extra). Nothing from ../shared/data is read.

The cue lists of index/extract/events.py were revised while reading misses on these stories, so
these are development figures, not figures for unseen text.

  .venv/bin/python bench/eval_events.py [--json] [--misses]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from index.extract.places import normalise  # noqa: E402

STORIES = ROOT / "tests" / "data" / "multi_event_stories.yaml"
TYPES = {
    "battles": "battles",
    "explosions": "explosions/remote violence",
    "civilians": "violence against civilians",
    "protests": "protests",
    "riots": "riots",
    "strategic": "strategic developments",
}


def load_stories(path: Path = STORIES) -> list[dict[str, Any]]:
    stories = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(stories, list)
    return stories


def story_input(story: dict[str, Any]) -> tuple[str, str, datetime, str]:
    """(title, text, published, outlet) of a story, as the extractor takes them."""
    published = datetime.combine(date.fromisoformat(str(story["published"])), datetime.min.time())
    return (
        story["title"],
        story["text"].strip(),
        published.replace(tzinfo=UTC),
        story.get("outlet", ""),
    )


@dataclass
class Scores:
    events: int = 0
    place: int = 0
    type: int = 0
    sub_typed: int = 0  # labelled events with a sub-type
    sub_type: int = 0
    killed: int = 0
    main: int = 0
    stories: int = 0
    all_found: int = 0
    extra: int = 0
    misses: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float | int]:
        return {
            "stories": self.stories,
            "events": self.events,
            "place": round(self.place / self.events, 3),
            "type": round(self.type / self.events, 3),
            "sub_type": round(self.sub_type / max(1, self.sub_typed), 3),
            "killed": round(self.killed / self.events, 3),
            "main": round(self.main / self.stories, 3),
            "all_found": round(self.all_found / self.stories, 3),
            "extra": self.extra,
        }


def _at(place: dict[str, Any] | None, name: str, country: str) -> bool:
    if place is None or place["country_code"] != country:
        return False
    wanted = normalise(name)
    return normalise(place["text"]).startswith(wanted) or normalise(place["canonical"]) == wanted


def score(stories: Sequence[dict[str, Any]], docs: Sequence[Sequence[dict[str, Any]]]) -> Scores:
    """Scores of the extracted events (`extract --json`'s `events`, one list per story)."""
    out = Scores()
    for story, events in zip(stories, docs, strict=True):
        out.stories += 1
        used: set[int] = set()
        complete = True
        for n, gold in enumerate(story["events"]):
            out.events += 1
            at = [
                k for k, e in enumerate(events) if _at(e["place"], gold["place"], gold["country"])
            ]
            at.sort(key=lambda k: (k in used, events[k]["type"] != TYPES[gold["type"]]))
            if not at:
                complete = False
                out.misses.append(f"{story['id']}: no event at {gold['place']}")
                continue
            event = events[at[0]]
            used.add(at[0])
            out.place += 1
            type_ok = event["type"] == TYPES[gold["type"]]
            out.type += type_ok
            if gold.get("sub_type"):
                out.sub_typed += 1
                out.sub_type += event["sub_type"] == gold["sub_type"]
            killed = event["killed"]["best"] if event["killed"] else None
            killed_ok = (killed or 0) == (gold["killed"] or 0)
            out.killed += killed_ok
            out.main += n == 0 and bool(event["main"])
            complete &= type_ok
            if not (type_ok and killed_ok):
                out.misses.append(
                    f"{story['id']} {gold['place']}: {gold['type']}/{gold.get('sub_type')} "
                    f"killed {gold['killed']}; got {event['type']}/{event['sub_type']} "
                    f"killed {killed}"
                )
        out.all_found += complete
        out.extra += len(events) - len(used)
    return out


def article_level(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The plain baseline: the article-level record (`extract --json` without `events`) read
    as one event: the main place, the first event type, the article's toll."""
    main = next((p for p in doc["places"] if p["main"]), None)
    types = doc["event_types"]
    return [
        {
            "place": main,
            "type": types[0] if types else None,
            "sub_type": None,
            "killed": doc["casualties"]["killed"],
            "main": True,
        }
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list what was missed")
    args = parser.parse_args(argv)

    from bot.settings import Settings
    from index.extract.extractor import ExtractInput, Extractor
    from index.retrieve.embed import SentenceTransformerEmbedder

    settings = Settings(_env_file=None)
    extractor = Extractor.load(SentenceTransformerEmbedder(), settings.cache_path / "gazetteer")
    stories = load_stories()
    inputs = [ExtractInput(*story_input(s)) for s in stories]
    started = time.perf_counter()
    records = extractor.extract_many(inputs)
    seconds = time.perf_counter() - started
    docs = [r.to_doc() for r in records]
    scores = score(stories, [d["events"] for d in docs])
    plain = score(stories, [article_level(d) for d in docs]).figures()
    figures = {**scores.figures(), "seconds": round(seconds, 2)}
    if args.json:
        print(json.dumps({**figures, "article_level": plain}))
    else:
        print(f"{'':>10}  {'events':>8}  {'one record per article':>24}")
        for key, value in figures.items():
            print(f"{key:>10}  {value!s:>8}  {plain.get(key, '')!s:>24}")
    if args.misses:
        print("\n".join(scores.misses), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
