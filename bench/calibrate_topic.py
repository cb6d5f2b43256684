"""Topic-watch threshold: calibrate, on real labelled data, the cosine at which an article counts
as being about a topic the user described in words, and report held-out figures.

An article matches a description when the highest cosine between `embed_query(description)` and
any of the article's passage vectors is at least the threshold. Passages are built and embedded
as the product builds them (`index.retrieve.passages.chunk_article`, `SentenceTransformerEmbedder`).

Labelled sets, each description with exactly one article of its own:
* realtimeqa: the 300 dev questions of ../shared/data/realtimeqa_news; a question's article is
  its evidence text. Unrelated articles: the other questions' evidence texts and every article
  of the feed pool below.
* feeds: the real feed captures of ../shared/data/news_feeds (every entry with at least 40 words
  of text, deduplicated by title and by text). An entry's title describes its text, chunked
  without the title. At most `--feed-descriptions` titles (seeded sample); every other entry of
  the pool is unrelated to it.
* pooled: both sets together.

Descriptions are split into a calibration half and a held-out half by a SHA-256 of their id
(realtimeqa) or title (feeds). On the calibration half the script picks, on a grid of 0.20 to
0.80 by 0.01, the threshold of best F1 over all (description, article) pairs, and the lowest
threshold whose pair precision reaches 0.9; it reports recall, pair precision and false alerts
per 1,000 unrelated articles on the held-out half at both. The recommended threshold is the
pooled calibration F1 optimum. Nothing else is fitted for it.

Per-description normalisation (as in adaptive filtering's z-norm): mu_i and sigma_i are the mean
and standard deviation of description i's scores against a background sample of the feed pool
(at most 2,000 articles, seeded; a feed title's own article left out). Three rules, each
calibrated for pooled F1 on the calibration half: (a) global, s >= t; (b) z-norm,
(s - mu_i) / sigma_i >= z (z from 1.0 to 8.0 by 0.1); (c) combined, s >= max(floor, mu_i + z *
sigma_i) (floor from 0.30 to 0.60 by 0.02, jointly with z). To compare recall at equal false
alerts, each rule is also put where its pooled held-out false alerts per 1,000 are at most 1 and
at most 3 (by its threshold, its z, or, for (c), its z with the floor of its best calibration
recall within that target), and where its calibration ones are (every parameter picked on the
calibration half). For (c) it prints the spread of mu_i + z * sigma_i over the descriptions.
The background is drawn from the same feed pool whose articles count as unrelated, as a store's
recent articles would be in the product.

The parts: bench/calibrate_topic_data.py (the labelled sets, embedded and scored),
bench/calibrate_topic_rules.py (the counts, the calibration and the normalisation rules) and
bench/calibrate_topic_report.py (the printed tables).

  .venv/bin/python bench/calibrate_topic.py [--feed-descriptions 400] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project root, for `bench`

from bench.calibrate_topic_data import (  # noqa: E402
    MANIFEST,
    REALTIMEQA,
    build_sets,
    progress,
    shared_data_dir,
)
from bench.calibrate_topic_report import print_normalisation, print_table  # noqa: E402
from bench.calibrate_topic_rules import evaluate, evaluate_normalisation  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/calibrate_topic.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--feed-descriptions",
        type=int,
        default=400,
        metavar="N",
        help="sample at most N feed titles as descriptions (default 400)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of that sample (default 0)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    args = parser.parse_args(argv)
    if args.feed_descriptions < 1:
        parser.error("--feed-descriptions must be at least 1")

    data = shared_data_dir()
    if data is None:
        where = os.environ.get("WIREWATCH_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
        print(
            f"bench/calibrate_topic.py: shared data not found: need {REALTIMEQA} and {MANIFEST} "
            f"in {where} (put the shared data folder beside the project root as "
            "../shared/data, or set WIREWATCH_SHARED_DATA to it)",
            file=sys.stderr,
        )
        return 2

    from index.retrieve.embed import SentenceTransformerEmbedder

    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder()
    progress(f"model loaded ({time.perf_counter() - started:.0f} s)")
    sets, inputs = build_sets(embedder, data, args.feed_descriptions, args.seed)
    figures = {
        "model": embedder.model_id,
        "seed": args.seed,
        "inputs": inputs,
        **evaluate(sets),
        "normalisation": evaluate_normalisation(sets),
    }
    progress(f"done ({time.perf_counter() - started:.0f} s)")
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)
        print_normalisation(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
