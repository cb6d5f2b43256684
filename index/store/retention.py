"""Retention, for both engines: which articles a prune takes, what goes with them, and the
report. The engines' prunes: index/store/sqlite/retention.py (SQLite, FTS5 and the FAISS file)
and index/store/pg/retention.py (PostgreSQL and pgvector). Side effects: none here.

An article goes when both its publication and the moment it was first stored are older than
the cutoff, unless a layer above holds it (`Dependents`: the chat layer holds the articles of
alerts still waiting to be delivered). With it go its passages (and their full-text rows and
vectors), its event metadata, its LSH bands, its feed entries and its change-feed rows (ON
DELETE CASCADE), then what the layers above drop with it (the chat layer: delivered or given-up
alerts left with no article, old delivery and notice records), the stories left with no article
that no layer above holds, and change-feed rows every consumer has passed.

Articles are deleted a batch per transaction, and each batch deletes only those no layer above
holds at that moment (an alert recorded since the articles were chosen keeps its own), so a
bot or worker sharing the database waits for one batch at most. The counts of the report are
taken when the articles are chosen.
An item a feed still carries after the cutoff was pruned is stored again as a new article.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from index.errors import StoreError
from index.timeutil import to_iso

log = logging.getLogger(__name__)

Vacuum = Literal["none", "incremental", "full", "plain"]  # "plain": PostgreSQL's VACUUM
BATCH = 100  # articles per transaction: about 0.1 s of write lock on 2 busy cores


class PruneBusy(StoreError):
    """Another prune is running on the same database."""


@dataclass(frozen=True, slots=True)
class Dependents:
    """The rows of a layer above, kept in the same database, that refer to articles and stories
    (the chat layer's alerts: bot/store/retention.py), as SQL for one engine. Each statement
    may read the articles that go (`PRUNED` of the engine's retention module) and the cutoff
    (`:cutoff` on SQLite, `$1` on PostgreSQL).

    - `holds_article`: a condition on `a.article_id`: that article stays;
    - `holds_story`: a condition on `s.story_id`: that story stays, even with no article left
      (read after `delete` ran; for the dry run's count, `holds_story_before` is read instead);
    - `counts`: the report's name -> a `SELECT count(*)` of the rows that go;
    - `delete`: run once the articles are gone, before the stories, in one transaction."""

    holds_article: str = "FALSE"
    holds_story: str = "FALSE"
    holds_story_before: str = "FALSE"
    counts: Mapping[str, str] = field(default_factory=dict)
    delete: Sequence[str] = ()


NO_DEPENDENTS = Dependents()


def stories_left(pruned: str, holds: str) -> str:
    """The condition on `s.story_id` of a story with no article once `pruned` are gone, which
    no layer above holds (`holds`)."""
    return (
        "NOT EXISTS (SELECT 1 FROM articles a WHERE a.story_id = s.story_id "
        f"AND a.article_id NOT IN ({pruned})) AND NOT ({holds})"
    )


def changes_passed(pruned: str, cutoff: str) -> str:
    """`FROM ... WHERE ...` of the change-feed rows older than `cutoff`, of articles that stay,
    that every consumer has passed (those of pruned articles go with them)."""
    return (
        f"FROM article_changes WHERE at < {cutoff} AND article_id NOT IN ({pruned}) "
        "AND seq <= (SELECT coalesce(min(seq), 0) FROM change_cursors)"
    )


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (or, with `dry_run`, would remove)."""

    cutoff: datetime
    dry_run: bool
    articles: int
    passages: int
    fts_rows: int
    vectors: int
    events: int
    stories: int
    changes: int
    database_bytes_before: int
    database_bytes_after: int
    index_bytes_before: int
    index_bytes_after: int
    vacuum: Vacuum
    dependents: Mapping[str, int] = field(default_factory=dict)  # `Dependents.counts`

    def doc(self) -> dict[str, object]:
        return {
            "cutoff": to_iso(self.cutoff),
            "dry_run": self.dry_run,
            "articles": self.articles,
            "passages": self.passages,
            "fts_rows": self.fts_rows,
            "vectors": self.vectors,
            "events": self.events,
            **self.dependents,
            "stories": self.stories,
            "changes": self.changes,
            "database_bytes_before": self.database_bytes_before,
            "database_bytes_after": self.database_bytes_after,
            "index_bytes_before": self.index_bytes_before,
            "index_bytes_after": self.index_bytes_after,
            "vacuum": self.vacuum,
        }

    def log(self) -> None:
        """One line in the log for a prune that removed something."""
        if self.dry_run or not self.articles:
            return
        log.info(
            "pruned %d articles before %s: %d passages, %d vectors, %d events, %d stories%s; "
            "database %d -> %d bytes (%s vacuum)",
            self.articles,
            to_iso(self.cutoff),
            self.passages,
            self.vectors,
            self.events,
            self.stories,
            "".join(f", {n} {name}" for name, n in self.dependents.items()),
            self.database_bytes_before,
            self.database_bytes_after,
            self.vacuum,
        )
