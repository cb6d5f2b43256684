"""The extraction quality gate: the UCDP GED evaluation must not fall below its committed
baseline (floors only rise: raise bench/eval_extract_baseline.json when figures improve)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.eval_extract import BASELINE, Scorer, batch_lines, load_rows
from bot.core.extraction import parse_batch
from index.extract.extractor import Extractor


def test_extraction_does_not_regress_below_the_baseline(
    shared_data: Path, extractor: Extractor
) -> None:
    rows = load_rows(shared_data / "ucdp_ged_sample" / "ged231_sample_dev.jsonl")
    items = parse_batch(batch_lines(rows))
    records = extractor.extract_many([x for _, x in items])
    figures = Scorer().score(rows, [r.to_doc() for r in records])
    floors = json.loads(BASELINE.read_text())
    drops = {
        f"{group}.{name}": (figures[group][name], floor)
        for group in ("all", "named")
        for name, floor in floors[group].items()
        if figures[group][name] < floor - 1e-9
    }
    assert drops == {}, f"below the baseline (now, floor): {drops}"
    assert figures["injured_as_killed"] == 0, figures["misses"]["injured"]
