"""The thresholds of bench/calibrate_topic.py: pair counts at every setting of a rule, the
global threshold's calibration (F1 optimum, precision target) and the per-description
normalisation rules (global, z-norm, combined) at their operating points."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np

from bench.calibrate_topic_data import BACKGROUND_MAX, Labelled

GRID = np.round(np.arange(20, 81) / 100, 2)
TARGET_PRECISION = 0.9
# per-description normalisation: rule grids, and the finer grids that locate operating points
Z_GRID = np.round(np.arange(10, 81) / 10, 1)
FLOOR_GRID = np.round(np.arange(30, 61, 2) / 100, 2)
FINE_THRESHOLDS = np.round(np.arange(0, 1001) / 1000, 3)
FINE_Z = np.round(np.arange(0, 1501) / 100, 2)
FALSE_TARGETS = (1.0, 3.0)  # false alerts per 1,000 unrelated articles
NONE = -np.inf  # a rule without a floor, or without the adaptive term


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
    thresholds: np.ndarray = np.maximum(floors[:, None], adaptive)
    return thresholds


def settings(floors: Any, zs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (floor, z) pair of two grids, floor-major."""
    floors, zs = np.asarray(floors, dtype=np.float64), np.asarray(zs, dtype=np.float64)
    return np.repeat(floors, len(zs)), np.tile(zs, len(floors))


RULES: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
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
    k: int | None
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
