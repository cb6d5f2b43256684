"""The text output of bench/ask.py: the header, each size's asks on each engine with their
split, both engines side by side, and the verdict on the target. Writes only through the
`write` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import pgload
from bench.ask_measure import TARGET_MS, TARGET_SIZE
from bench.ask_split import PARTS, TOP_LEVEL
from bench.latency import machine_line

SLOWEST = 8  # questions listed
# Shown side by side for the two engines: what the engines do differently, and the total.
COMPARED = (
    "total",
    "filters.articles",
    "retrieval",
    "retrieval.bm25",
    "retrieval.dense",
    "retrieval.dense.faiss",
    "retrieval.fuse_join",
    "rerank",
    "other",
)


def print_text(
    meta: dict[str, Any], results: list[dict[str, Any]], write: Callable[[str], None]
) -> None:
    write(f"Wirewatch ask benchmark (commands.ask, k={meta['k']}, real model, warm process)")
    write(machine_line(meta))
    write(
        f"  base text: {meta['base_entries']} real feed entries ({meta['pool_sentences']} pool "
        f"sentences); extraction {meta['extract_s']:.0f} s, embedding {meta['embed_s']:.0f} s "
        "(once, shared by the sizes)"
    )
    write(
        f"  {meta['asks']} timed asks over {meta['questions']} questions after {meta['warmup']} "
        f"warm-up asks; clock fixed at {meta['now']}"
    )
    for r in results:
        if "latency" in r:
            print_size(r, r, "sqlite", write)
        if "postgres" in r:
            print_size(r, r["postgres"], "postgres", write)
            print_engines(r, write)
    write("")
    for line in verdict(results):
        write(line)


def print_size(
    result: dict[str, Any], r: dict[str, Any], engine: str, write: Callable[[str], None]
) -> None:
    """One size's asks on one engine (`r`: the SQLite run's figures, which are `result`, or
    the PostgreSQL run's, `result["postgres"]`)."""
    b, lat = result["build"], r["latency"]
    write("")
    write(
        f"== {result['size']:,} passages on {engine} ({b['articles']:.0f} articles; the console "
        f"workspace sees {r['visible_passages']:,}) =="
    )
    write(
        f"build (SQLite): store {b['insert_s']:.1f} s, save_events {b['save_events_s']:.1f} s, "
        f"set_embeddings {b['set_embeddings_s']:.1f} s, reindex {b['reindex_s']:.1f} s; "
        f"{b['articles_with_places']:.0f} articles with places, "
        f"{b['articles_with_killed']:.0f} with a killed count"
    )
    if engine == "postgres":
        pgload.describe(r, write)
    tail = r["tail"]
    total_mean = lat["total"]["mean_ms"]
    write(
        f"{'latency (ms)':<44}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}{'share':>7}{'p95 tail':>10}"
    )
    for key, label, indent in PARTS:
        p = lat[key]
        share = 100 * p["mean_ms"] / total_mean if total_mean else float("nan")
        name = "  " * indent + label
        write(
            f"{name:<44}{p['p50_ms']:>8.1f}{p['p95_ms']:>8.1f}{p['mean_ms']:>8.1f}"
            f"{p['max_ms']:>8.1f}{share:>6.0f}%{tail['mean_ms'][key]:>10.1f}"
        )
    s, w = r["sentences_per_ask"], r["words_per_ask"]
    n = lat["total"]["n"]
    write(
        f"('share': of the mean end-to-end time; 'p95 tail': mean over the {tail['asks']} "
        f"asks at or above the p95, {tail['threshold_ms']:.0f} ms)"
    )
    write(
        f"re-ranking embeds per ask: sentences p50 {s['p50']:.0f}, p95 {s['p95']:.0f}, max "
        f"{s['max']:.0f}; words p50 {w['p50']:.0f}, p95 {w['p95']:.0f}, max {w['max']:.0f}"
    )
    write(
        f"asks with filters {r['asks_with_filters']}/{n}, relaxed "
        f"{r['asks_relaxed']}, restricted vector searches {r['asks_with_restricted_faiss']}, "
        f"answered with citations {r['asks_answered']}"
    )
    write(
        "end-to-end p95 if one part took no time: "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in r["p95_without_ms"].items())
    )
    write(
        f"asks over {TARGET_MS:.0f} ms: "
        + ", ".join(f"{k} {v}" for k, v in r["asks_over_budget"].items())
        + f" (of {n})"
    )
    write(
        f"other processes kept {r['other_processes_cpu_cores']:.2f} CPU cores busy during "
        "the timed asks (bench/load.py)"
    )
    write(
        "slowest questions (medians in ms: end to end, filters, retrieval, re-ranking; "
        "sentences re-embedded; filters found in the question):"
    )
    for q in r["per_question"][:SLOWEST]:
        write(
            f"  {q['median_ms']:7.1f} {q['filters_median_ms']:7.1f} "
            f"{q['retrieval_median_ms']:6.1f} {q['rerank_median_ms']:6.1f} "
            f"{q['sentences']:3d}  {','.join(q['filters']) or '-':<21} {q['question']}"
        )
    if r["example"]:
        write(f"example: {r['example']['question']}")
        for line in r["example"]["answer"].splitlines():
            write(f"  | {line[:160]}")


def print_engines(r: dict[str, Any], write: Callable[[str], None]) -> None:
    """One size's figures on both engines side by side (PostgreSQL's alone without SQLite's)."""
    pg = r["postgres"]
    sq = r if "latency" in r else None
    write("")
    write(f"== {r['size']:,} passages: SQLite + FAISS against PostgreSQL + pgvector ==")
    labels = {key: label for key, label, _ in PARTS}
    rows: list[pgload.Row] = []
    for key in COMPARED:
        for which in ("p50_ms", "p95_ms"):
            rows.append(
                (
                    f"{labels[key].strip()}: {which[:3]} (ms)",
                    sq["latency"][key][which] if sq else None,
                    pg["latency"][key][which],
                    1,
                )
            )
    for key, label in (
        ("asks_answered", "asks answered with citations"),
        ("asks_with_restricted_faiss", "asks with a restricted vector search"),
    ):
        rows.append((label, sq[key] if sq else None, pg[key], 0))
    engine = None
    if sq is not None:
        m = sq["memory"]
        engine = {
            "build_s": r["build"]["reindex_s"],
            "index_bytes": m["memory_bytes"],
            "disk_bytes": m["db_file_bytes"] + m["file_bytes"],
            "rss_bytes": m["process_rss_bytes"],
            "other_cores": sq["other_processes_cpu_cores"],
        }
    rows += pgload.index_rows(engine, pg, "asks")
    pgload.side_by_side(rows, write)


def verdict(results: list[dict[str, Any]]) -> list[str]:
    """For each engine measured: whether the target is met and, if not, the parts that keep
    it from being met."""
    target = next((r for r in results if r["size"] == TARGET_SIZE), None)
    if target is None:
        return [f"target (p95 <= {TARGET_MS:.0f} ms at {TARGET_SIZE:,} passages): not measured"]
    lines: list[str] = []
    for engine, figures in (("sqlite", target), ("postgres", target.get("postgres"))):
        if figures is not None and "latency" in figures:
            lines += _verdict(figures, engine)
    return lines


def _verdict(target: dict[str, Any], engine: str) -> list[str]:
    lat = target["latency"]
    p95 = lat["total"]["p95_ms"]
    met = p95 <= TARGET_MS
    lines = [
        f"target on {engine}: p95 <= {TARGET_MS:.0f} ms at {TARGET_SIZE:,} passages: "
        f"{'MET' if met else 'NOT MET'} (p95 {p95:.1f} ms; other processes kept "
        f"{target['other_processes_cpu_cores']:.2f} CPU cores busy)"
    ]
    if met:
        return lines
    lines.append(f"  over by {p95 - TARGET_MS:.0f} ms. Parts by their own p95:")
    labels = {key: label for key, label, _ in PARTS}
    n = lat["total"]["n"]
    for key in sorted(TOP_LEVEL, key=lambda k: -lat[k]["p95_ms"]):
        part = lat[key]
        if part["p95_ms"] < 0.05 * TARGET_MS:
            continue
        lines.append(
            f"  - {labels[key]}: p50 {part['p50_ms']:.0f}, p95 {part['p95_ms']:.0f}, max "
            f"{part['max_ms']:.0f} ms; alone over {TARGET_MS:.0f} ms in "
            f"{target['asks_over_budget'][key]}/{n} asks; without it the p95 would be "
            f"{target['p95_without_ms'][key]:.0f} ms"
        )
    return lines
