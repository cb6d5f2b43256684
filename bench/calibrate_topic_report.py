"""The printed tables of bench/calibrate_topic.py: the global threshold per set and rule, and
the per-description normalisation rules with their combined thresholds' spread."""

from __future__ import annotations

from typing import Any

from bench.calibrate_topic_data import BACKGROUND_MAX
from bench.calibrate_topic_rules import TARGET_PRECISION


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
