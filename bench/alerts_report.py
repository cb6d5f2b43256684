"""The report of bench/alerts.py: medians over the runs, the comparison of 200 watches against
none (and of the topic watches), and the printed table."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.alerts_inputs import TOPIC_WATCHES

TARGET_S = 2.0
BUSY_CORES = 0.2  # other processes' load above which a run's timings are flagged


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
