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

  .venv/bin/python bench/calibrate_topic.py [--feed-descriptions 400] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import operator
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GRID = np.round(np.arange(20, 81) / 100, 2)
TARGET_PRECISION = 0.9
BACKGROUND_MAX = 2000
# per-description normalisation: rule grids, and the finer grids that locate operating points
Z_GRID = np.round(np.arange(10, 81) / 10, 1)
FLOOR_GRID = np.round(np.arange(30, 61, 2) / 100, 2)
FINE_THRESHOLDS = np.round(np.arange(0, 1001) / 1000, 3)
FINE_Z = np.round(np.arange(0, 1501) / 100, 2)
FALSE_TARGETS = (1.0, 3.0)  # false alerts per 1,000 unrelated articles
NONE = -np.inf  # a rule without a floor, or without the adaptive term
MIN_WORDS = 40
REALTIMEQA = Path("realtimeqa_news") / "realtimeqa_dev.jsonl"
MANIFEST = Path("news_feeds") / "manifest.jsonl"


def shared_data_dir() -> Path | None:
    """`WIREWATCH_SHARED_DATA` when set (and only it), else `../shared/data` beside the
    project root; None when either labelled source is missing there."""
    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = Path(env) if env else ROOT.parent / "shared" / "data"
    return folder if (folder / REALTIMEQA).is_file() and (folder / MANIFEST).is_file() else None


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def calibration_half(key: str) -> bool:
    """Stable split: True for the calibration half, False for the held-out half."""
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0


def load_realtimeqa(path: Path) -> list[tuple[str, str, str]]:
    """(id, question, evidence_text) of every line, in file order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(str(r["id"]), r["question"], r["evidence_text"]) for r in rows]


def load_feed_entries(feeds_dir: Path) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """(title, text) of every entry of the manifest's feeds with at least MIN_WORDS words of
    text, first of each title and of each text kept; and counts of what was dropped."""
    from index.errors import FeedMalformed
    from index.fetch.parse import parse_feed

    now = datetime.now(UTC)
    seen_titles: set[str] = set()
    seen_texts: set[str] = set()
    kept: list[tuple[str, str]] = []
    dropped = {"malformed_feeds": 0, "short": 0, "duplicate": 0, "untitled": 0}
    for line in (feeds_dir / MANIFEST.name).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        path = (feeds_dir / json.loads(line)["file"]).resolve()
        try:
            parsed = parse_feed(path.read_bytes(), path.as_uri(), now=now)
        except FeedMalformed:
            dropped["malformed_feeds"] += 1
            continue
        for entry in parsed.entries:
            title, text = " ".join(entry.title.split()), entry.text.strip()
            if not title:
                dropped["untitled"] += 1
            elif len(text.split()) < MIN_WORDS:
                dropped["short"] += 1
            elif title.casefold() in seen_titles or text in seen_texts:
                dropped["duplicate"] += 1
            else:
                seen_titles.add(title.casefold())
                seen_texts.add(text)
                kept.append((title, text))
    return kept, dropped


@dataclass
class ArticlePool:
    """Passage vectors of a list of articles, and where each article's passages start."""

    vectors: np.ndarray  # (passages, dim) float32, unit rows
    starts: np.ndarray  # (articles,) first passage row of each article

    @property
    def size(self) -> int:
        return len(self.starts)

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(descriptions, articles): max cosine of each description over each article's
        passages."""
        return np.maximum.reduceat(queries @ self.vectors.T, self.starts, axis=1)


def embed_articles(embedder: Any, texts: list[str]) -> ArticlePool:
    """Chunk each text as the product does (no title) and embed the passages; every text must
    yield at least one passage."""
    from index.retrieve.passages import chunk_article

    passages = [[p.embed_text for p in chunk_article("", text)] for text in texts]
    counts = np.array([len(p) for p in passages])
    if counts.size and counts.min() == 0:
        raise ValueError("an article yielded no passage: reduceat needs at least one each")
    flat = [t for p in passages for t in p]
    vectors = embedder.embed_passages(flat)
    return ArticlePool(vectors, np.concatenate([[0], np.cumsum(counts)[:-1]]))


@dataclass
class Labelled:
    """Each description's score against its own article and against its unrelated ones, and
    the mean and standard deviation of its scores against the background sample."""

    keys: list[str]
    own: np.ndarray  # (descriptions,)
    unrelated: np.ndarray  # (descriptions, unrelated articles)
    mu: np.ndarray  # (descriptions,) float64
    sigma: np.ndarray  # (descriptions,) float64, positive

    def half(self, calibration: bool) -> Labelled:
        rows = np.array([calibration_half(k) == calibration for k in self.keys], dtype=bool)
        keys = [k for k, r in zip(self.keys, rows, strict=True) if r]
        return Labelled(keys, self.own[rows], self.unrelated[rows], self.mu[rows], self.sigma[rows])


def background_stats(scores: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 1) of each row of `scores` over the columns that
    `keep` (same shape) marks."""
    n = keep.sum(axis=1)
    if n.min() < 2:
        raise ValueError("the background needs at least two articles per description")
    values = scores.astype(np.float64)
    mu = np.where(keep, values, 0.0).sum(axis=1) / n
    sigma = np.sqrt(np.where(keep, (values - mu[:, None]) ** 2, 0.0).sum(axis=1) / (n - 1))
    if sigma.min() <= 0:
        raise ValueError("a description scores the same against every background article")
    return mu, sigma


@dataclass
class Counts:
    """Pair counts at every grid threshold."""

    descriptions: int
    unrelated_pairs: int
    hits: np.ndarray  # own articles that pass, per threshold
    false_alerts: np.ndarray  # unrelated articles that pass, per threshold

    @classmethod
    def with_thresholds(cls, data: Labelled, thresholds: np.ndarray) -> Counts:
        """Counts at K settings of a rule; `thresholds` is (K, descriptions), one threshold per
        description per setting."""
        negatives = np.sort(data.unrelated.astype(np.float64), axis=1)
        per_row = negatives.shape[1]
        false_alerts = np.zeros(len(thresholds), dtype=np.int64)
        for row, column in zip(negatives, thresholds.T, strict=True):
            false_alerts += per_row - np.searchsorted(row, column, side="left")
        hits = (data.own.astype(np.float64)[None, :] >= thresholds).sum(axis=1)
        return cls(len(data.own), negatives.size, hits, false_alerts)

    @classmethod
    def of(cls, data: Labelled) -> Counts:
        negatives = np.sort(data.unrelated, axis=None)
        grid = GRID.astype(np.float32)
        return cls(
            len(data.own),
            negatives.size,
            (data.own[:, None] >= grid[None, :]).sum(axis=0),
            negatives.size - np.searchsorted(negatives, grid, side="left"),
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.descriptions + other.descriptions,
            self.unrelated_pairs + other.unrelated_pairs,
            self.hits + other.hits,
            self.false_alerts + other.false_alerts,
        )

    def curves(self) -> dict[str, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = self.hits / max(self.descriptions, 1)
            alerts = self.hits + self.false_alerts
            precision = np.where(alerts > 0, self.hits / np.maximum(alerts, 1), np.nan)
            # F1 is 0 where nothing of its own passes (and precision may be undefined)
            f1 = np.where(self.hits > 0, 2 * precision * recall / (precision + recall), 0.0)
            per_1k = 1000 * self.false_alerts / max(self.unrelated_pairs, 1)
        return {"recall": recall, "precision": precision, "f1": f1, "false_per_1k": per_1k}

    def figures(self, k: int) -> dict[str, float | None]:
        """Recall, precision, F1 and false alerts per 1,000 at setting k."""
        return {name: _round(float(curve[k])) for name, curve in self.curves().items()}

    def at(self, threshold: float | None) -> dict[str, float | None]:
        if threshold is None:
            return {"recall": None, "precision": None, "f1": None, "false_per_1k": None}
        i = int(np.argmin(np.abs(GRID - threshold)))
        return {name: _round(float(curve[i])) for name, curve in self.curves().items()}


def _round(value: float) -> float | None:
    return round(value, 4) if np.isfinite(value) else None


def pick_thresholds(calibration: Counts) -> tuple[float, float | None]:
    """The grid threshold of best calibration F1 (the lowest, on a tie) and the lowest one whose
    calibration pair precision is at least TARGET_PRECISION (None when none is)."""
    curves = calibration.curves()
    best = float(GRID[int(np.nanargmax(curves["f1"]))])
    reaching = np.flatnonzero(np.nan_to_num(curves["precision"]) >= TARGET_PRECISION)
    return best, float(GRID[reaching[0]]) if reaching.size else None


def build_sets(
    embedder: Any, data: Path, feed_descriptions: int, seed: int
) -> tuple[dict[str, Labelled], dict[str, Any]]:
    """The two labelled sets, scored; and what went into them."""
    started = time.perf_counter()
    questions = load_realtimeqa(data / REALTIMEQA)
    entries, dropped = load_feed_entries(data / "news_feeds")
    progress(
        f"{len(questions)} RealTimeQA questions; {len(entries)} feed entries kept "
        f"(dropped: {dropped})"
    )
    pool = embed_articles(embedder, [text for _, text in entries])
    progress(
        f"feed pool: {pool.size} articles, {len(pool.vectors)} passages embedded "
        f"({time.perf_counter() - started:.0f} s)"
    )
    evidence = embed_articles(embedder, [text for _, _, text in questions])
    progress(f"RealTimeQA: {len(evidence.vectors)} evidence passages embedded")

    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(pool.size), min(feed_descriptions, pool.size)))
    # background for the per-description normalisation: a seeded sample of the feed pool
    background = np.array(sorted(rng.sample(range(pool.size), min(BACKGROUND_MAX, pool.size))))

    queries = np.stack([embedder.embed_query(q) for _, q, _ in questions])
    own_pool = evidence.scores(queries)
    feed_pool = pool.scores(queries)
    n = len(questions)
    off_diagonal = ~np.eye(n, dtype=bool)
    realtimeqa = Labelled(
        [key for key, _, _ in questions],
        np.diag(own_pool).copy(),
        np.hstack([own_pool[off_diagonal].reshape(n, n - 1), feed_pool]),
        *background_stats(feed_pool[:, background], np.ones((n, background.size), dtype=bool)),
    )

    titles = np.stack([embedder.embed_query(entries[i][0]) for i in chosen])
    all_scores = pool.scores(titles)
    others = np.ones_like(all_scores, dtype=bool)
    others[np.arange(len(chosen)), chosen] = False
    feeds = Labelled(
        [entries[i][0] for i in chosen],
        all_scores[np.arange(len(chosen)), chosen],
        all_scores[others].reshape(len(chosen), pool.size - 1),
        # the description's own article is left out of its background
        *background_stats(
            all_scores[:, background], background[None, :] != np.array(chosen)[:, None]
        ),
    )
    progress(f"descriptions embedded and scored ({time.perf_counter() - started:.0f} s)")
    inputs = {
        "realtimeqa": {
            "descriptions": n,
            "articles": n + pool.size,
            "passages": len(evidence.vectors) + len(pool.vectors),
            "background_articles": int(background.size),
        },
        "feeds": {
            "descriptions": len(chosen),
            "articles": pool.size,
            "passages": len(pool.vectors),
            "dropped_entries": dropped,
            "background_articles": int(background.size),
        },
    }
    return {"realtimeqa": realtimeqa, "feeds": feeds}, inputs


def evaluate(sets: dict[str, Labelled]) -> dict[str, Any]:
    halves = {name: (Counts.of(s.half(True)), Counts.of(s.half(False))) for name, s in sets.items()}
    halves["pooled"] = (
        reduce(operator.add, (c for c, _ in halves.values())),
        reduce(operator.add, (h for _, h in halves.values())),
    )
    results: dict[str, Any] = {}
    for name, (cal, held) in halves.items():
        f1_t, p90_t = pick_thresholds(cal)
        results[name] = {
            "descriptions": {"calibration": cal.descriptions, "held_out": held.descriptions},
            "unrelated_pairs": {
                "calibration": cal.unrelated_pairs,
                "held_out": held.unrelated_pairs,
            },
            "f1_threshold": f1_t,
            "calibration_at_f1": cal.at(f1_t),
            "held_out_at_f1": held.at(f1_t),
            "precision_threshold": p90_t,
            "calibration_at_precision": cal.at(p90_t),
            "held_out_at_precision": held.at(p90_t),
            "calibration_curve": {
                k: [_round(float(v)) for v in curve] for k, curve in cal.curves().items()
            },
        }
    recommended = round(results["pooled"]["f1_threshold"], 2)
    return {
        "grid": [float(GRID[0]), float(GRID[-1]), 0.01],
        "target_precision": TARGET_PRECISION,
        "sets": results,
        "recommended_threshold": recommended,
        "held_out_at_recommended": {name: h.at(recommended) for name, (_, h) in halves.items()},
    }


def rule_thresholds(data: Labelled, floors: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """(K, descriptions): max(floor, mu_i + z * sigma_i) for each of K (floor, z) settings.
    NONE as z gives the global threshold `floor`; NONE as floor gives pure z-norm."""
    adaptive = data.mu[None, :] + zs[:, None] * data.sigma[None, :]
    return np.maximum(floors[:, None], adaptive)


def settings(floors: Any, zs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (floor, z) pair of two grids, floor-major."""
    floors, zs = np.asarray(floors, dtype=np.float64), np.asarray(zs, dtype=np.float64)
    return np.repeat(floors, len(zs)), np.tile(zs, len(floors))


RULES = {
    "global": lambda: settings(GRID, [NONE]),
    "z-norm": lambda: settings([NONE], Z_GRID),
    "combined": lambda: settings(FLOOR_GRID, Z_GRID),
}


def _params(floor: float, z: float) -> dict[str, float | None]:
    return {
        "floor": round(floor, 3) if np.isfinite(floor) else None,
        "z": round(z, 2) if np.isfinite(z) else None,
    }


class Halves:
    """The calibration and held-out halves of every set, and their counts under a rule."""

    def __init__(self, sets: dict[str, Labelled]) -> None:
        self.sets = {name: (s.half(True), s.half(False)) for name, s in sets.items()}

    def counts(self, calibration: bool, floors: np.ndarray, zs: np.ndarray) -> dict[str, Counts]:
        """Counts per set and pooled, at each (floor, z) setting, on one half."""
        counts = {}
        for name, (cal, held) in self.sets.items():
            half = cal if calibration else held
            counts[name] = Counts.with_thresholds(half, rule_thresholds(half, floors, zs))
        counts["pooled"] = reduce(operator.add, counts.values())
        return counts

    def row(self, rule: str, how: str, floor: float, z: float) -> dict[str, Any]:
        """A rule at one setting: its calibration and held-out figures, per set and pooled."""
        f, zz = np.array([floor]), np.array([z])
        return {
            "rule": rule,
            "chosen_by": how,
            **_params(floor, z),
            "calibration": {n: c.figures(0) for n, c in self.counts(True, f, zz).items()},
            "held_out": {n: c.figures(0) for n, c in self.counts(False, f, zz).items()},
        }


def lowest_within(counts: Counts, target: float) -> int | None:
    """The first setting (of a grid ordered from most to fewest alerts) whose false alerts per
    1,000 are at most `target`; None when none is."""
    within = np.flatnonzero(counts.curves()["false_per_1k"] <= target)
    return int(within[0]) if within.size else None


def best_recall_within(counts: Counts, target: float) -> int | None:
    """The setting of best recall among those with false alerts per 1,000 at most `target`
    (fewest false alerts, then the first, on a tie); None when none is."""
    curves = counts.curves()
    within = np.flatnonzero(curves["false_per_1k"] <= target)
    if not within.size:
        return None
    order = np.lexsort((within, curves["false_per_1k"][within], -curves["recall"][within]))
    return int(within[order[0]])


def evaluate_normalisation(sets: dict[str, Labelled]) -> dict[str, Any]:
    """Rules (a) global, (b) z-norm and (c) combined: each calibrated for pooled F1 on the
    calibration half, and located at equal held-out false-alert rates."""
    halves = Halves(sets)
    f1_rows = []
    for rule, grid in RULES.items():
        floors, zs = grid()
        pooled = halves.counts(True, floors, zs)["pooled"]
        k = int(np.nanargmax(pooled.curves()["f1"]))  # first best: lowest floor, then lowest z
        f1_rows.append(halves.row(rule, "calibration F1", floors[k], zs[k]))

    matched_rows, calibrated_rows = [], []
    for target in FALSE_TARGETS:
        # (a) and (b) have one parameter: the lowest one within the target on the held-out half
        for rule, (floors, zs) in (
            ("global", settings(FINE_THRESHOLDS, [NONE])),
            ("z-norm", settings([NONE], FINE_Z)),
        ):
            k = lowest_within(halves.counts(False, floors, zs)["pooled"], target)
            if k is not None:
                matched_rows.append(
                    halves.row(rule, f"held-out false/1k <= {target:g}", floors[k], zs[k])
                )
        # (c): the floor of the best calibration recall within the target; then z, alone, as
        # (b)'s is, on the held-out half
        floors, zs = RULES["combined"]()
        k = best_recall_within(halves.counts(True, floors, zs)["pooled"], target)
        if k is not None:
            fine_floors, fine_z = settings([floors[k]], FINE_Z)
            j = lowest_within(halves.counts(False, fine_floors, fine_z)["pooled"], target)
            if j is not None:
                matched_rows.append(
                    halves.row(
                        "combined",
                        f"floor: calibration; z: held-out false/1k <= {target:g}",
                        fine_floors[j],
                        fine_z[j],
                    )
                )
        # the same operating points with every parameter picked on the calibration half
        for rule, grid in (
            ("global", lambda: settings(FINE_THRESHOLDS, [NONE])),
            ("z-norm", lambda: settings([NONE], FINE_Z)),
            ("combined", RULES["combined"]),
        ):
            floors, zs = grid()
            k = best_recall_within(halves.counts(True, floors, zs)["pooled"], target)
            if k is not None:
                calibrated_rows.append(
                    halves.row(rule, f"calibration false/1k <= {target:g}", floors[k], zs[k])
                )

    combined = [r for r in f1_rows + matched_rows if r["rule"] == "combined"]
    return {
        "background": {
            "source": "feed pool, seeded sample, the description's own article left out",
            "max_articles": BACKGROUND_MAX,
        },
        "grids": {
            "global": [float(GRID[0]), float(GRID[-1]), 0.01],
            "z": [float(Z_GRID[0]), float(Z_GRID[-1]), 0.1],
            "floor": [float(FLOOR_GRID[0]), float(FLOOR_GRID[-1]), 0.02],
            "operating_points": {"threshold_or_floor_step": 0.001, "z_step": 0.01},
        },
        "false_targets_per_1k": list(FALSE_TARGETS),
        "rules": f1_rows,
        "operating_points": matched_rows,
        "calibration_operating_points": calibrated_rows,
        "combined_thresholds": [
            {
                "chosen_by": r["chosen_by"],
                "floor": r["floor"],
                "z": r["z"],
                "per_set": adaptive_spread(sets, r["floor"], r["z"]),
            }
            for r in combined
        ],
    }


def adaptive_spread(
    sets: dict[str, Labelled], floor: float | None, z: float | None
) -> dict[str, dict[str, float | None]]:
    """Over every description (both halves): 10th, 50th and 90th percentile of mu_i + z *
    sigma_i, and the share of descriptions whose floor is above it (the floor decides)."""
    z = NONE if z is None else z
    floor = NONE if floor is None else floor
    values = {name: s.mu + z * s.sigma for name, s in sets.items()}
    values["pooled"] = np.concatenate(list(values.values()))
    return {
        name: {
            "p10": _round(float(np.percentile(v, 10))),
            "median": _round(float(np.median(v))),
            "p90": _round(float(np.percentile(v, 90))),
            "floor_decides": _round(float(np.mean(v < floor))),
        }
        for name, v in values.items()
    }


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(figures: dict[str, Any]) -> None:
    sets = figures["sets"]
    print("descriptions (calibration / held-out), articles, passages:")
    for name, info in figures["inputs"].items():
        d = sets[name]["descriptions"]
        print(
            f"  {name:<11} {d['calibration']} / {d['held_out']}, {info['articles']} articles, "
            f"{info['passages']} passages"
        )
    print()
    header = (
        f"{'set':<11} {'rule':<15} {'thr':>5} | {'cal P':>6} {'cal R':>6} {'cal F1':>6} | "
        f"{'held R':>6} {'held P':>6} {'held F1':>7} {'false/1k':>8}"
    )
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, str, float | None, dict[str, Any] | None, dict[str, Any]]] = []
    for name, r in sets.items():
        rows.append(
            (name, "F1 optimum", r["f1_threshold"], r["calibration_at_f1"], r["held_out_at_f1"])
        )
        rows.append(
            (
                name,
                f"precision>={TARGET_PRECISION}",
                r["precision_threshold"],
                r["calibration_at_precision"],
                r["held_out_at_precision"],
            )
        )
    recommended = figures["recommended_threshold"]
    for name, held in figures["held_out_at_recommended"].items():
        rows.append((name, "recommended", recommended, None, held))
    for name, rule, threshold, cal, held in rows:
        cal = cal or {}
        print(
            f"{name:<11} {rule:<15} {_fmt(threshold, '.2f'):>5} | "
            f"{_fmt(cal.get('precision')):>6} {_fmt(cal.get('recall')):>6} "
            f"{_fmt(cal.get('f1')):>6} | {_fmt(held['recall']):>6} {_fmt(held['precision']):>6} "
            f"{_fmt(held['f1']):>7} {_fmt(held['false_per_1k'], '.2f'):>8}"
        )
    print()
    print(
        "R: share of descriptions whose own article passes; P: precision over all (description, "
        "article) pairs; false/1k: unrelated articles that pass, per description per 1,000."
    )
    print(f"recommended threshold (pooled calibration F1 optimum): {recommended:.2f}")


def _param_text(row: dict[str, Any]) -> str:
    if row["z"] is None:
        return f"t={row['floor']:g}"
    if row["floor"] is None:
        return f"z={row['z']:g}"
    return f"floor={row['floor']:g} z={row['z']:g}"


def print_normalisation(figures: dict[str, Any]) -> None:
    norm = figures["normalisation"]
    names = list(norm["rules"][0]["held_out"])
    background = {figures["inputs"][n]["background_articles"] for n in figures["inputs"]}
    print()
    print(
        f"Per-description normalisation. Background: {'/'.join(map(str, sorted(background)))} "
        f"feed-pool articles (seeded sample of at most {BACKGROUND_MAX}; a feed title's own "
        "article left out); mu_i, sigma_i: mean and sd of description i's scores against them."
    )
    print(
        "  (a) global: s >= t   (b) z-norm: (s - mu_i) / sigma_i >= z   "
        "(c) combined: s >= max(floor, mu_i + z * sigma_i)"
    )
    header = f"{'rule':<9} {'parameters':<19} {'target':>6} | " + " | ".join(
        f"{'R':>5} {'P':>5} {'F1':>5} {'f/1k':>5}" for _ in names
    )
    titles = f"{'':<9} {'':<19} {'':>6} | " + " | ".join(f"{n:^23}" for n in names)
    sections = (
        (
            "held-out figures of each rule calibrated for pooled F1 on the calibration half:",
            norm["rules"],
        ),
        (
            "at equal held-out false alerts: the lowest t (a), z (b), or z (c, with the floor of "
            "its\nbest calibration recall within the target) whose pooled held-out false/1k is at "
            "most the target:",
            norm["operating_points"],
        ),
        (
            "the same targets with every parameter picked on the calibration half (best "
            "calibration recall\nwith calibration false/1k at most the target):",
            norm["calibration_operating_points"],
        ),
    )
    for title, rows in sections:
        print()
        print(title)
        print(titles)
        print(header)
        print("-" * len(header))
        for row in rows:
            target = row["chosen_by"].rsplit("<= ", 1)[1] if "<=" in row["chosen_by"] else "F1"
            cells = " | ".join(
                f"{_fmt(row['held_out'][n]['recall']):>5} "
                f"{_fmt(row['held_out'][n]['precision']):>5} "
                f"{_fmt(row['held_out'][n]['f1']):>5} "
                f"{_fmt(row['held_out'][n]['false_per_1k'], '.2f'):>5}"
                for n in names
            )
            print(f"{row['rule']:<9} {_param_text(row):<19} {target:>6} | {cells}")
    print()
    print(
        "combined rule: per-description thresholds mu_i + z * sigma_i over all descriptions "
        "(p10 / median / p90; share of descriptions where the floor decides):"
    )
    for entry in norm["combined_thresholds"]:
        print(f"  {_param_text(entry)} ({entry['chosen_by']}):")
        for name, q in entry["per_set"].items():
            print(
                f"    {name:<11} {_fmt(q['p10'])} / {_fmt(q['median'])} / {_fmt(q['p90'])}; "
                f"floor decides for {_fmt(q['floor_decides'], '.0%')}"
            )


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
