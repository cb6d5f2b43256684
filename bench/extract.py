"""Extraction speed: articles per second through `Extractor.extract_many` (actor catalogue,
gazetteer, spaCy NER on each article's opening, event types with the real model, casualties,
event dates; the event-type model on the embedding backend the settings choose, as in the
product), beside the baseline of running spaCy's full small English pipeline
(`en_core_web_sm`, every component) on the same texts, in the same run.

Texts: every entry of the real feed captures in ../shared/data/news_feeds (title + text, as
the ingest pipeline stores them). Figures are medians of `--runs` runs after one warm-up.

  .venv/bin/python bench/extract.py [--runs 3] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corpus(limit: int | None) -> list[tuple[str, str, datetime]]:
    from index.errors import FeedMalformed
    from index.fetch.parse import parse_feed

    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = (Path(env) if env else ROOT.parent / "shared" / "data") / "news_feeds"
    if not folder.is_dir():
        sys.exit(f"feed captures not found at {folder}: put the shared data beside the project")
    now = datetime.now(UTC)
    items = []
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".xml", ".atom"):
            continue
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=now)
        except FeedMalformed:
            continue
        items.extend((e.title, e.text, e.published_at or now) for e in parsed.entries)
    return items[:limit] if limit else items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N articles")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)

    import spacy
    import torch

    from bot.app import embedder_for
    from bot.settings import Settings
    from index.extract.extractor import SPACY_MODEL, ExtractInput, Extractor

    items = corpus(args.limit)
    inputs = [ExtractInput(t, x, p) for t, x, p in items]
    texts = [f"{t}\n{x}" for t, x, _ in items]
    settings = Settings()
    started = time.perf_counter()
    embedder = embedder_for(settings)  # the product's choice (WIREWATCH_EMBED_BACKEND)
    extractor = Extractor.load(embedder, settings.cache_path / "gazetteer")
    load_s = time.perf_counter() - started
    full = spacy.load(SPACY_MODEL)
    print(
        f"{len(items)} articles, {sum(map(len, texts)) / len(texts):.0f} characters on "
        f"average; {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; "
        f"event types embedded by {embedder.model_id}",
        file=sys.stderr,
    )

    def ours() -> float:
        t = time.perf_counter()
        for start in range(0, len(inputs), 64):
            extractor.extract_many(inputs[start : start + 64])
        return time.perf_counter() - t

    def baseline() -> float:
        t = time.perf_counter()
        for _ in full.pipe(texts, batch_size=64):
            pass
        return time.perf_counter() - t

    ours(), baseline()  # warm-up
    ours_s, base_s = [], []
    for run in range(args.runs):
        for label, fn, sink in (("extractor", ours, ours_s), ("full spaCy", baseline, base_s)):
            sink.append(fn())
            print(f"run {run + 1}: {label} {len(items) / sink[-1]:.1f} articles/s", file=sys.stderr)
    figures = {
        "articles": len(items),
        "extractor_load_s": round(load_s, 2),
        "embedder": embedder.model_id,
        "extractor_articles_per_s": round(len(items) / statistics.median(ours_s), 1),
        "full_spacy_articles_per_s": round(len(items) / statistics.median(base_s), 1),
    }
    figures["ratio"] = round(
        figures["extractor_articles_per_s"] / figures["full_spacy_articles_per_s"], 2
    )
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"extraction: {figures['extractor_articles_per_s']} articles/s "
            f"(median of {args.runs}); full spaCy pipeline alone: "
            f"{figures['full_spacy_articles_per_s']} articles/s; ratio {figures['ratio']}x; "
            f"extractor load {figures['extractor_load_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
