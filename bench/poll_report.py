"""The printed report of bench/poll.py (rich): the feeds/minute table and the per-round lines,
from the JSON document the bench builds."""

from __future__ import annotations

import sys
from typing import Any


def _n(value: float | None, digits: int = 0) -> str:
    """A figure, or n/a for NaN (None in the JSON document)."""
    return "n/a" if value is None or value != value else f"{value:,.{digits}f}"


def print_report(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape as escape_markup
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    meta, emb, workers = doc["meta"], doc["embedded"], doc["workers"]
    feeds = meta["feeds"]
    console.print(
        f"[bold]Polling {feeds:,} feeds[/] on {meta['hosts']} loopback hosts "
        f"(127.0.0.1-{meta['hosts']}), {meta['change_rate']:.0%} changed per round, "
        f"{meta['items_per_feed']} items per feed; median of {meta['rounds']} rounds"
    )
    console.print(
        f"machine: {meta['cpus']} CPUs, python {meta['python']}; the feed server runs in its "
        f"own process on the same cores; max_parallel_feeds {meta['max_parallel_feeds']}, "
        f"max_per_host {meta['max_per_host']}"
    )
    console.print(f"embedded engine stages: {', '.join(emb['stages'])}")
    table = Table(title="feeds/minute, median per round")
    table.add_column("poller")
    for column in ("feeds/min", "s", "200", "304", "new", "connections", "missed/twice/failed"):
        table.add_column(column, justify="right")
    table.add_column("cores: poller/server/db/other", justify="right")

    def row(name: str, med: dict[str, float]) -> None:
        table.add_row(
            name,
            _n(med["feeds_per_min"]),
            _n(med["seconds"], 2),
            _n(med["ok"]),
            _n(med["not_modified"]),
            _n(med["new_articles"]),
            _n(med["connections"]),
            f"{med['missed']:.0f} / {med['doubled']:.0f} / {med['failed']:.0f}",
            f"{med['own_cores']:.2f} / {med['server_cores']:.2f} / "
            f"{_n(med['database_cores'], 2)} / {med['other_cores']:.2f}",
        )

    row("embedded: wirewatch run tick", emb["median"])
    table.add_row("  its feed phase alone", _n(emb["median"]["feed_phase_per_min"]))
    row("plain poller (baseline)", emb["plain_median"])
    if workers.get("measured"):
        for count, figures in workers["counts"].items():
            row(f"PostgreSQL: {count} worker(s)", figures["median"])
    console.print(table)
    console.print(
        "missed/twice: feeds the server saw no request for, or more than one, in a round "
        "(summed over the rounds); failed: feeds the cycle reported failed"
    )
    ratio = emb["median"]["feeds_per_min"] / emb["plain_median"]["feeds_per_min"]
    console.print(
        f"embedded / plain: {ratio:.2f}x. Subscribing: {emb['subscribe_s']:.1f} s. First poll "
        f"(every feed new, {emb['first']['ok']:,} 200s): {emb['first']['seconds']:.1f} s, "
        f"plain {emb['plain_first']['seconds']:.1f} s"
    )
    if not workers.get("measured"):
        console.print(f"[bold]worker figures not measured[/]: {escape_markup(workers['reason'])}")
    console.print("per round: seconds (cores busy in other processes); stage seconds summed:")
    for n, (r, p) in enumerate(zip(emb["rounds"], emb["plain_rounds"], strict=True), 1):
        first = "pipeline first" if emb["pipeline_first"][n - 1] else "plain first"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stage_s"].items())
        console.print(
            f"  {n}: embedded {r['seconds']:.2f} s ({r['other_cores']:.2f}), feed phase "
            f"{r['feed_phase_s']:.2f} s, {r['new_articles']} new articles [{stages}]; plain "
            f"{p['seconds']:.2f} s ({p['other_cores']:.2f}); {first}",
            markup=False,
        )
    if workers.get("measured"):
        console.print(
            f"workers (PostgreSQL; subscribing {workers['subscribe_s']:.1f} s; their cores "
            "under 'poller', PostgreSQL's under 'db' when the bench started it; a round ends "
            "when every feed's last_polled_at has moved):",
            markup=False,
        )
        for count, figures in workers["counts"].items():
            rounds = ", ".join(f"{r['seconds']:.2f} s" for r in figures["rounds"])
            console.print(
                f"  {count}: warm-up (start-up included) {figures['warm_up']['seconds']:.1f} s; "
                f"rounds {rounds}",
                markup=False,
            )
    errors = [e for r in emb["rounds"] for e in r["errors"]]
    if errors:
        console.print(
            f"feed errors (first {len(errors[:5])}): " + "; ".join(errors[:5]), markup=False
        )
