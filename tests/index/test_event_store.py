"""Events per article in SQLite (migrations 0010, 0011): written with the article's metadata, read
back as `extract --json` shows them, replaced on re-extraction, deleted with the article."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from index.extract.extractor import EXTRACTOR_VERSION, ExtractInput, Extractor
from index.models import RawEntry
from index.store.sqlite.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TITLE = "Air strike kills nine in Idlib as rebels seize a hill near Hama"
TEXT = (
    "Warplanes struck a market in Idlib on Sunday, killing nine people and wounding 14, "
    "rescuers said. Separately, rebels captured a hill near Hama."
)


async def test_events_are_stored_read_back_and_deleted_with_the_article(
    extractor: Extractor, tmp_path: Path
) -> None:
    record = extractor.extract_many([ExtractInput(TITLE, TEXT, NOW)])[0]
    expected = json.loads(json.dumps(record.to_doc()["events"]))
    assert len(expected) == 2 and expected[0]["main"] and expected[0]["killed"]["best"] == 9
    assert expected[0]["killed"]["civilians"] is False  # "nine people": not said
    async with Store.open(tmp_path / "news.db") as store:
        ws = await store.workspace_id("console", NOW)
        feed_id = await store.subscribe(
            ws, "https://outlet.example/feed.xml", interval_s=300, name="Outlet", now=NOW
        )
        saved = await store.save_entry(
            feed_id,
            RawEntry("g1", "https://outlet.example/1", TITLE, TEXT, NOW),
            source="Outlet",
            now=NOW,
            story_window=timedelta(hours=72),
            story_threshold=0.5,
        )
        article_id = saved.article_id
        for _ in range(2):  # a second extraction replaces the rows
            await store.save_events([(article_id, record)], extractor=EXTRACTOR_VERSION, now=NOW)
        assert await store.article_events(article_id) == expected
        rows = await store.db.execute_fetchall(
            "SELECT seq, type, country_code, killed_best, injured_best, main "
            "FROM article_events WHERE article_id = ? ORDER BY seq",
            (article_id,),
        )
        assert [tuple(r) for r in rows] == [
            (0, "explosions/remote violence", "SY", 9, 14, 1),
            (1, expected[1]["type"], "SY", None, None, 0),
        ]
        civilian = extractor.extract_many(
            [ExtractInput("", "An air strike on Idlib killed 12 civilians on Sunday.", NOW)]
        )[0]
        await store.save_events([(article_id, civilian)], extractor=EXTRACTOR_VERSION, now=NOW)
        [stored] = await store.article_events(article_id)
        assert stored["killed"] == {"low": 12, "best": 12, "high": 12, "civilians": True}
        await store.db.execute("DELETE FROM articles WHERE article_id = ?", (article_id,))
        assert await store.article_events(article_id) == []
