"""The extraction quality gate: the UCDP GED evaluation must not fall below its committed
baseline (floors only rise: raise bench/eval_extract_baseline.json when figures improve)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.eval_extract import BASELINE, Scorer, batch_lines, load_rows
from bot.core.extraction import parse_batch
from index.extract.extractor import Extractor


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()  # loads the catalogue and the gazetteer: once


def test_extraction_does_not_regress_below_the_baseline(
    shared_data: Path, extractor: Extractor, scorer: Scorer
) -> None:
    rows = load_rows(shared_data / "ucdp_ged_sample" / "ged231_sample_dev.jsonl")
    items = parse_batch(batch_lines(rows))
    records = extractor.extract_many([x for _, x in items])
    figures = scorer.score(rows, [r.to_doc() for r in records])
    floors = json.loads(BASELINE.read_text())
    drops = {
        f"{group}.{name}": (figures[group][name], floor)
        for group in ("all", "named")
        for name, floor in floors[group].items()
        if figures[group][name] < floor - 1e-9
    }
    assert drops == {}, f"below the baseline (now, floor): {drops}"
    assert figures["injured_as_killed"] == 0, figures["misses"]["injured"]


def test_a_row_names_its_country_by_name_or_adjective_as_words(scorer: Scorer) -> None:
    assert scorer.names_country("nigerian troops killed 4", "Nigeria")
    assert scorer.names_country("clashes in nigeria", "Nigeria")
    assert not scorer.names_country("nigeriawatch", "Nigeria")
    assert scorer.names_country("israeli drone kills 1", "Israel")
    assert scorer.names_country("somali forces", "Somalia")
    assert scorer.names_country("sudanese army", "Sudan")
    assert scorer.names_country("fighting in south sudan", "South Sudan")
    assert not scorer.names_country("sudanese army", "South Sudan")


def test_ucdp_codes_the_palestinian_territories_under_israel(scorer: Scorer) -> None:
    rows = [
        {
            "id": 1,
            "text": "Israeli drone kills Palestinian in Gaza",
            "gold": {
                "country": "Israel",
                "adm_1": "Gaza Strip",
                "date_start": "2006-07-04",
                "date_end": "2006-07-04",
                "best": 1,
            },
        }
    ]
    gaza = {"canonical": "Gaza", "country_code": "PS", "geonameid": 281133, "main": True}
    doc = {"places": [gaza], "actors": [], "casualties": {"killed": None}, "event_date": None}
    assert scorer.score(rows, [doc])["named"]["country"] == 1.0
    doc["places"] = [gaza | {"country_code": "IL", "canonical": "Ashdod"}]
    assert scorer.score(rows, [doc])["named"]["country"] == 1.0
    doc["places"] = [gaza | {"country_code": "EG", "canonical": "Rafah"}]
    assert scorer.score(rows, [doc])["named"]["country"] == 0.0
