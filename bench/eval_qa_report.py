"""The printed table of bench/eval_qa.py: per `ask` mode and plain baseline, recall, citations,
gold answers and refusals, the unanswerable questions, timings and the diagnosis."""

from __future__ import annotations

from typing import Any

from bench.eval_qa_items import UNANSWERABLE
from bench.eval_qa_score import MODES
from bench.qa_baselines import BASELINES as PLAIN

PLAIN_LABELS = {
    "dense_article": "plain dense, whole article",
    "dense_passage": "plain dense, best passage",
    "bm25": "plain BM25 (FTS5)",
}


def _cell(value: float | None) -> str:
    return f"{value:>8.3f}" if value is not None else f"{'n/a':>8}"


def print_table(figures: dict[str, Any]) -> None:
    modes = figures["modes"]
    print(f"embedding model: {figures.get('model', '?')}")
    print(
        f"RealTimeQA dev: {figures['n']} questions; {figures['evidence_stored']} evidence "
        f"articles stored among {figures['articles']} articles "
        f"({figures['distractor_files']} distractor feed files)"
    )
    columns = ("@1", "@5", "@10", "cited", "gold", "no cite", "refused", "unnamed", "uncited")
    print(f"{'':<30}" + "".join(f"{c:>8}" for c in columns))
    plain = figures.get("plain", {})
    for name in PLAIN if plain else ():
        row = plain[name]
        cells: list[float | None] = [row["recall_at_1"], row["recall_at_5"], row["recall_at_10"]]
        cells += [None, row["answer_contains_gold"], None, None, None, None]
        print(f"{PLAIN_LABELS[name]:<30}" + "".join(map(_cell, cells)))
    for mode in MODES:
        row = modes[mode]
        cells = [row["recall_at_1"], row["recall_at_5"], row["recall_at_10"], row["cited"]]
        cells += [row["answer_contains_gold"], row["no_citation"], row["refused"]]
        cells += [row["unmentioned"], row["not_cited"]]
        print(f"{'ask --mode ' + mode:<30}" + "".join(map(_cell, cells)))
    if plain:
        print(
            f"(plain: no answer, so no citations; gold: the top passage pasted whole; passage "
            f"vectors {figures['plain_passage_vectors']}; {figures['plain_s']:.1f} s)"
        )
    lost = ", ".join(f"{m} {modes[m]['refused_evidence_at_5']}" for m in MODES)
    print(f"(refused although the evidence was among the first 5 articles retrieved: {lost})")
    short = ", ".join(f"{m} {modes[m]['short_of_10']}" for m in MODES)
    print(f"(ask @10: its 30 retrieved passages held fewer than 10 articles for: {short})")
    absent = figures["unanswerable"]
    print(f"\nNot in the corpus: {absent['n']} questions (bench/{UNANSWERABLE.name})")
    heads = ("refused", "no cite", "unnamed", "declined", "uncited", "either")
    print(f"{'':<36}" + "".join(f"{c:>10}" for c in heads))
    for mode in MODES:
        every = absent["modes"][mode]
        for kind, rates in [("all", every), *every.get("kinds", {}).items()]:
            shown: tuple[float, ...] = (
                rates["refused"],
                rates["no_citation"],
                rates["unmentioned"],
            )
            label = f"ask --mode {mode}, {kind} ({rates.get('n', '?')})"
            shown += (rates["declined"], rates["not_cited"], rates["declined_or_caveated"])
            print(f"{label:<36}" + "".join(f"{v:>10.3f}" for v in shown))
    print()
    print(f"{'time filters kept':<24}" + "".join(f"{modes[m]['time_filters']:>10}" for m in MODES))
    print(
        f"{'s per question':<24}" + "".join(f"{modes[m]['s_per_question']:>10.3f}" for m in MODES)
    )
    print(
        f"poll (evidence) {figures['poll_s']:.1f} s, ingest (distractors) "
        f"{figures['ingest_s']:.1f} s, whole run {figures['total_s']:.1f} s"
        + (", the three modes asked at once" if figures["parallel_asks"] else "")
    )
    print(f"CPU cores kept busy by other processes: {figures['other_load_cores']:.2f}")
    for mode, found in (figures.get("diagnosis") or {}).items():
        print(
            f"\nwhole-article baseline at 5, ask --mode {mode} not: {found['lost']} questions "
            f"({found['gained']} the other way round); {found['relaxed']} of them relaxed a "
            "filter; at 5 in the other modes: "
            + ", ".join(f"{m} {n}" for m, n in found["other_modes_at_5"].items())
        )
        for cause, count in found["causes"].items():
            print(f"  {cause:<28}{count:>4}")
        kinds = ", ".join(f"{kind} {n}" for kind, n in found["with_filter"].items())
        print(f"  filters on them: {kinds}")
        rows = "; ".join(
            f"{kind} {row['n']} (plain {row['plain_at_5']}, ask {row['at_5']})"
            for kind, row in found["by_filter"].items()
        )
        print(f"  all questions by filter, at 5: {rows}")
