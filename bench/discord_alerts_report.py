"""The printed report of bench/discord_alerts.py: the alerts' seconds per way of delivery and
the /ask percentiles, with their goals and the other processes' load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.discord_alerts_ask import DEFER_GOAL_MS
from bench.discord_alerts_delivery import ALERT_GOAL_S, DIGEST_AFTER, RATE_PER_HOUR

BUSY_CORES = 0.2  # other processes' load above which a part's timings are flagged


def _fmt(s: dict[str, float]) -> str:
    return f"{s['p50']:7.3f} {s['p95']:7.3f} {s['max']:7.3f}"


def print_text(doc: dict[str, Any], write: Callable[[str], None]) -> None:
    meta = doc["meta"]
    write(
        "Wirewatch through the fake Discord: the real bot (WirewatchBot, discord.py "
        f"{meta['discord']}) logged in to tests/fakediscord/ on 127.0.0.1, same process"
    )
    write(
        f"  machine: {meta['cpus']} CPUs, torch threads {meta['torch_threads']}, python "
        f"{meta['python']}, torch {meta['torch']}; model {meta['model']} (loaded once, "
        f"{meta['load_s']:.1f} s)"
    )
    if "alerts" in doc:
        a = doc["alerts"]
        loop, plain = a["modes"]["loop"], a["modes"]["plain"]
        m = loop["median"]
        write("")
        write(
            f"== Alerts: {meta['articles']} new articles, {m['watches']:.0f} watches of "
            "bench/alerts.py on one channel discord:<guild>:<channel> =="
        )
        write(
            f"  alert_digest_after {DIGEST_AFTER}, alert_rate_per_hour {RATE_PER_HOUR}: every "
            "alert is its own message (no digest, no rate limit)"
        )
        write(
            f"  {meta['runs']} runs after one warm-up poll; seconds per alert to its message POST "
            "reaching the fake, pooled over the runs"
        )
        write(f"{'':<46}{'delivery loop':>24}{'plain call':>24}")
        write(f"{'(seconds)':<46}{'p50     p95     max':>24}{'p50     p95     max':>24}")
        for key, label in (
            ("after_end_s", "from the poll's end"),
            ("after_start_s", "from the poll's start"),
            ("after_recorded_s", "from the alerts recorded (after_extract)"),
        ):
            write(f"{label:<46}{_fmt(loop[key]):>24}{_fmt(plain[key]):>24}")
        write(f"{'medians per run:':<46}")
        for key, label, fmt in (
            ("alerts", "alerts", ".0f"),
            ("messages", "messages posted", ".0f"),
            ("failed_posts", "posts refused", ".0f"),
            ("edits", "edits", ".0f"),
            ("poll_s", "poll (s)", ".3f"),
            ("alerts_recorded_s", "poll's start -> alerts recorded (s)", ".3f"),
            ("plain_call_s", "the plain deliver_alerts call (s)", ".3f"),
            ("other_cores", "CPU cores other processes kept busy", ".2f"),
        ):
            values = [x["median"][key] for x in (loop, plain)]
            cells = "".join(f"{format(v, fmt) if v == v else '-':>24}" for v in values)
            write(f"  {label:<44}{cells}")
        g = a["goal"]
        write(
            f"Goal: p95 <= {ALERT_GOAL_S:.0f} s from the poll's end to each alert's message, "
            f"delivery loop: {g['measured_s']:.3f} s, {'met' if g['met'] else 'NOT met'}"
        )
        write("Per run (from the poll's end: p50 / p95 / max s; alerts; others' cores):")
        for i in range(meta["runs"]):
            parts = []
            for x in (loop, plain):
                r = x["runs"][i]
                e = r["after_end"]
                parts.append(
                    f"{x['label']} {e['p50']:.3f} / {e['p95']:.3f} / {e['max']:.3f}; "
                    f"{r['alerts']} alerts ({r['other_cores']:.2f})"
                )
            write(f"  run {i + 1} ({a['orders'][i]}): " + "; ".join(parts))
        busy = [
            i + 1
            for i in range(meta["runs"])
            if any(x["runs"][i]["other_cores"] > BUSY_CORES for x in (loop, plain))
        ]
        if busy:
            write(
                f"  Other processes kept more than {BUSY_CORES} cores busy in run(s) "
                f"{', '.join(map(str, busy))}: those timings are not reliable."
            )
    if "ask" in doc:
        k = doc["ask"]
        write("")
        write(
            f"== /ask at {k['size']:,} passages (bench/ask.py's corpus; the guild's workspace "
            f"sees {k['visible_passages']:,}) =="
        )
        write(
            f"  {k['asks']} timed asks after {meta['questions']} warm-up questions, each through "
            "the fake Discord and as the plain call, alternating which goes first"
        )
        write(f"{'(ms)':<46}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}")
        for key, label in (
            ("first_response", "Discord: first response (the defer)"),
            ("followup", "Discord: follow-up (the answer embed)"),
            ("plain", "plain: await commands.ask(...)"),
            ("followup_minus_plain", "follow-up minus plain, ask by ask"),
        ):
            p = k[key]
            write(
                f"{label:<46}{p['p50_ms']:>8.1f}{p['p95_ms']:>8.1f}{p['mean_ms']:>8.1f}"
                f"{p['max_ms']:>8.1f}"
            )
        write(
            f"  deferred {k['deferred']}/{k['asks']}, answered with an embed "
            f"{k['answer_embeds']}/{k['asks']}, plain answers with citations "
            f"{k['answered_with_citations']}/{k['asks']}; other processes kept "
            f"{k['other_cores']:.2f} CPU cores busy"
        )
        for r in k["not_answered"][:5]:
            write(f"  no embed: {r['question']}: {r['text']}")
        p95 = k["first_response"]["p95_ms"]
        write(
            f"Goal: first response p95 <= {DEFER_GOAL_MS:.0f} ms: {p95:.1f} ms, "
            f"{'met' if k['goal']['met'] else 'NOT met'}"
            + (" (timings not reliable: others were busy)" if k["other_cores"] > BUSY_CORES else "")
        )
    if doc.get("skipped_terms"):
        write("")
        write(
            f"Watch terms refused and replaced by the next candidate: {len(doc['skipped_terms'])}"
        )
