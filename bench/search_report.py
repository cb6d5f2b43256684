"""The text output of bench/search.py: the header, each size's store run or scale run, and the
PostgreSQL run beside the SQLite run's figures. Writes only through the `write` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import pgload
from bench.latency import machine_line
from bench.search_store import SPARSE_ARTICLES


def _target(value: float, limit: float) -> str:
    return "meets" if value <= limit else "MISSES"


def print_scale(r: dict[str, Any], write: Callable[[str], None]) -> None:
    b, m, lat, rec = r["build"], r["memory"], r["latency"], r["recall"]
    write("")
    write(f"== scale run: {r['size']:,} passages (FAISS part; SQLite bulk-filled for the join) ==")
    write(
        f"vectors: {r['base_passages']:,} {r['base']} passages embedded with the real model "
        f"({b['anchor_embed_s']:.1f} s); the rest an anchor + noise, renormalised "
        f"({b['vectors_s']:.1f} s); SQLite bulk insert {b['bulk_insert_s']:.1f} s"
    )
    if "nprobe" in b:
        ladder = ", ".join(f"{p}: {x:.3f}" for p, x in b["ladder"])
        write(
            f"build (VectorIndex.sync, compress_above={r['compress_above']:,}): "
            f"{b['sync_s']:.1f} s in all; training {b['train_s']:.1f} s on {b['trained_on']:,} "
            f"vectors, adding {b['add_s']:.1f} s, choosing nprobe {b['tune_s']:.1f} s"
        )
        write(
            f"       nlist {b['nlist']}, nprobe {b['nprobe']} (recall@10 {b['build_recall']:.3f}"
            f", target {r['min_recall']}: the lower of held-out stored vectors and midpoints of "
            f"pairs of them as queries); ladder {ladder}"
        )
    else:
        write(f"build (VectorIndex.sync): {b['sync_s']:.1f} s; the index stayed {m['kind']}")
    mib = m["memory_bytes"] / 2**20
    grown = m["rss_growth_on_load_bytes"] / 2**20
    write(
        f"memory ({m['kind']}): memory_bytes {mib:.0f} MiB ({m['memory_bytes'] / 1e6:.0f} MB) "
        f"[target <= 600 MB: "
        f"{_target(m['memory_bytes'], 600e6)}], file {m['file_bytes'] / 2**20:.0f} MiB, a "
        f"fresh process loading it grows {grown:.0f} MiB resident "
        f"({m['rss_peak_growth_on_load_bytes'] / 2**20:.0f} MiB at the peak)"
    )
    if "flat_memory_bytes" in m:
        write(
            f"memory (flat, for comparison): memory_bytes {m['flat_memory_bytes'] / 2**20:.0f} "
            f"MiB, load grows {m['flat_rss_growth_on_load_bytes'] / 2**20:.0f} MiB resident "
            f"({m['flat_rss_peak_growth_on_load_bytes'] / 2**20:.0f} MiB at the peak); "
            f"flat add {b['flat_add_s']:.1f} s"
        )
    write(f"{'latency (ms)':<44}{'p50':>9}{'p95':>9}{'mean':>9}{'max':>9}")
    rows = [
        ("query embedding", "embed"),
        (f"VectorIndex.search {m['kind']} (k={r['first_round_k']})", "faiss"),
        ("Store.hits (SQLite join + workspace filter)", "join"),
        ("end to end (index.retrieve.search.search)", "end_to_end"),
        (f"scoped search, {r['sparse_passages']} ids allowed", "scoped"),
        (f"flat search (k={r['first_round_k']}), exact", "flat"),
        ("flat scoped search, exact", "flat_scoped"),
    ]
    for label, key in rows:
        p = lat[key]
        if p["n"]:
            write(
                f"{label:<44}{p['p50_ms']:>9.2f}{p['p95_ms']:>9.2f}{p['mean_ms']:>9.2f}"
                f"{p['max_ms']:>9.2f}"
            )
    write(
        f"target p95 <= 200 ms: VectorIndex.search {_target(lat['faiss']['p95_ms'], 200)}, end "
        f"to end {_target(lat['end_to_end']['p95_ms'], 200)}"
    )
    if lat["flat"]["n"]:
        write(
            f"recall against exact flat search, same vectors and queries: recall@{r['k']} "
            f"{rec['at_k']:.3f}, recall@{r['first_round_k']} {rec['first_round']:.3f}, scoped "
            f"recall@{r['k']} {rec['scoped']:.3f}"
        )
    write(
        f"queries whose first round held fewer than k visible hits (end to end then runs the "
        f"scoped second round over the workspace's passage ids): "
        f"{r['queries_needing_wider_search']}/{lat['end_to_end']['n']}; other processes kept "
        f"{r['other_processes_cpu_cores']:.2f} CPU cores busy meanwhile"
    )


def print_postgres(r: dict[str, Any], write: Callable[[str], None]) -> None:
    """The PostgreSQL run of one size, beside the SQLite run's figures when it was measured."""
    pg = r["postgres"]
    scale = r.get("mode") == "scale"
    sq = r if "latency" in r else None
    write("")
    seen = pg["visible_passages"]["console"]
    write(
        f"== {r['size']:,} passages: SQLite + FAISS{' (scale run)' if scale else ''} against "
        f"PostgreSQL + pgvector (the console workspace sees {seen:,}) =="
    )
    pgload.describe(pg, write)

    def lat(result: dict[str, Any] | None, key: str, which: str) -> float | None:
        if result is None or key not in result["latency"]:
            return None
        return float(result["latency"][key][which])

    first_k = pg["first_round_k"]
    rows: list[pgload.Row] = []
    for key, label in (
        ("end_to_end", "end to end index.retrieve.search.search"),
        ("embed", "query embedding"),
        ("faiss", f"vector search, k={first_k} (FAISS / HNSW)"),
        ("join", "hits join + workspace filter (SQL)"),
        ("scoped", "scoped vector search, the sparse workspace's ids"),
    ):
        if key in pg["latency"]:
            rows.append((f"{label}: p50 (ms)", lat(sq, key, "p50_ms"), lat(pg, key, "p50_ms"), 2))
            rows.append((f"{label}: p95 (ms)", lat(sq, key, "p95_ms"), lat(pg, key, "p95_ms"), 2))
    if "sparse" in pg:
        sp_sq = sq["sparse"] if sq is not None and "sparse" in sq else None
        for which in ("p50_ms", "p95_ms"):
            rows.append(
                (
                    f"sparse workspace, end to end: {which[:3]} (ms)",
                    sp_sq["latency"][which] if sp_sq else None,
                    pg["sparse"]["latency"][which],
                    1,
                )
            )
        rows.append(
            (
                "sparse workspace: hits per query (mean)",
                sp_sq["hits_mean"] if sp_sq else None,
                pg["sparse"]["hits_mean"],
                1,
            )
        )
    k = pg["k"]
    sq_recall = None
    if sq is not None:
        sq_recall = sq["recall"]["at_k"] if scale else 1.0  # below the scale run FAISS is exact
    rows.append(
        (f"recall@{k} of the vector search against exact", sq_recall, pg["recall"]["at_k"], 3)
    )
    rows.append(
        (
            f"recall@{first_k} (the first round) against exact",
            sq["recall"]["first_round"] if scale and sq else (1.0 if sq else None),
            pg["recall"]["first_round"],
            3,
        )
    )
    rows.append(
        (
            "scoped recall against exact",
            sq["recall"]["scoped"] if scale and sq else (1.0 if sq else None),
            pg["recall"]["scoped"],
            3,
        )
    )
    engine = None
    if sq is not None:
        b, m = sq["build"], sq["memory"]
        engine = {
            "build_s": b["sync_s"] if scale else b["reindex_s"],
            "index_bytes": m["memory_bytes"],
            "disk_bytes": m["file_bytes"] + m.get("db_file_bytes", 0),
            "rss_bytes": m.get("process_rss_bytes", -1),
            "other_cores": sq["other_processes_cpu_cores"],
        }
    rows += pgload.index_rows(engine, pg, "queries")
    pgload.side_by_side(rows, write)


def print_text(
    meta: dict[str, Any], results: list[dict[str, Any]], write: Callable[[str], None]
) -> None:
    write("Wirewatch search benchmark (index.retrieve.search.search, real query embedding)")
    write(machine_line(meta))
    write(
        f"  {meta['queries']} queries after {meta['warmup']} warm-up, k={meta['k']}, one warm "
        "process"
    )
    write(
        "  synthetic data: news-like articles generated from word lists (seed "
        f"{meta['seed']}), stored with Store.save_entry and chunked by chunk_article;"
    )
    write(
        f"  {meta['anchors']} passages carry their real embedding (anchors), the rest a unit "
        f"vector = a random anchor + N(0, {meta['noise']}) per component, renormalised;"
    )
    write(
        "  16 feeds, the measured workspace subscribes to 8 (about half the passages); a "
        f"'sparse' workspace sees {SPARSE_ARTICLES} articles only."
    )
    for r in results:
        if "latency" in r and r.get("mode") == "scale":
            print_scale(r, write)
        elif "latency" in r:
            print_size(r, write)
        if "postgres" in r:
            print_postgres(r, write)


def print_size(r: dict[str, Any], write: Callable[[str], None]) -> None:
    """The SQLite run of one size below the scale run."""
    b, m, lat = r["build"], r["memory"], r["latency"]
    write("")
    write(
        f"== {r['size']:,} passages ({b['articles']:.0f} articles; the measured workspace "
        f"sees {r['visible_passages']['console']:,}) =="
    )
    write(
        f"build: store articles+passages {b['insert_s']:.1f} s, anchor embedding "
        f"{b['anchor_embed_s']:.1f} s, set_embeddings {b['set_embeddings_s']:.2f} s, "
        f"FAISS from SQLite (reindex) {b['reindex_s']:.2f} s"
    )
    write(
        f"       in-memory VectorIndex.add {b['faiss_add_s']:.3f} s, save {b['faiss_save_s']:.3f} s"
    )
    write(
        f"memory: VectorIndex.memory_bytes {m['memory_bytes'] / 2**20:.1f} MiB, file "
        f"{m['file_bytes'] / 2**20:.1f} MiB ({m['indexed']:,} vectors)"
    )
    write(
        f"        a fresh process loading the file grows by "
        f"{m['rss_growth_on_load_bytes'] / 2**20:.1f} MiB resident, "
        f"{m['rss_peak_growth_on_load_bytes'] / 2**20:.1f} MiB at the peak"
    )
    write(f"{'latency (ms)':<34}{'p50':>9}{'p95':>9}{'mean':>9}{'max':>9}")
    rows = (
        ("query embedding", "embed"),
        (f"FAISS search (k={r['first_round_k']})", "faiss"),
        ("SQLite join + workspace filter", "join"),
        ("end to end (index.retrieve.search.search)", "end_to_end"),
    )
    for label, key in rows:
        p = lat[key]
        write(
            f"{label:<34}{p['p50_ms']:>9.2f}{p['p95_ms']:>9.2f}{p['mean_ms']:>9.2f}"
            f"{p['max_ms']:>9.2f}"
        )
    write(
        f"queries whose first round held fewer than k visible hits: "
        f"{r['queries_needing_wider_search']}/{lat['end_to_end']['n']}; mean top score "
        f"{r['top_score_mean']:.3f}; other processes kept "
        f"{r['other_processes_cpu_cores']:.2f} CPU cores busy meanwhile"
    )
    sp = r["sparse"]
    s = sp["latency"]
    write(
        f"sparse workspace ({r['visible_passages']['sparse']} passages visible): end to end "
        f"p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms over "
        f"{s['n']} queries; FAISS lookups per query mean {sp['faiss_rounds_mean']:.1f}, max "
        f"{sp['faiss_rounds_max']}; {sp['hits_mean']:.1f} hits"
    )
