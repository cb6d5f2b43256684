"""Stage: the chat layer's part of a prune (the rules: index/store/retention.py): which articles
and stories its alerts still hold, and what of its own goes with the old articles. Side effects:
none here; the engine's prune runs these statements (`CHAT_DEPENDENTS` on SQLite;
bot/store/pg/retention.py on PostgreSQL).

An article listed by an alert still waiting to be delivered stays. Once the old articles are
gone, the delivered (or given-up) alerts left with no article go, and so do delivery records
and delivered or given-up feed notices older than the cutoff. A story stays while an alert
refers to it.
"""

from __future__ import annotations

from index.store.retention import Dependents
from index.store.sqlite.retention import PRUNED


def chat_dependents(pruned: str, cutoff: str) -> Dependents:
    """The chat layer's part, for an engine whose prune lists the articles that go by the query
    `pruned` and names the cutoff `cutoff` (SQL both engines read alike otherwise)."""
    # Alerts that go: delivered (or given up), left with no article once the pruned ones go.
    goes = (
        "(al.delivered_version >= al.version OR al.failed = TRUE) AND NOT EXISTS (SELECT 1 "
        "FROM alert_articles aa WHERE aa.alert_id = al.alert_id "
        f"AND aa.article_id NOT IN ({pruned}))"
    )
    return Dependents(
        holds_article=(
            "EXISTS (SELECT 1 FROM alert_articles aa JOIN alerts al ON al.alert_id = aa.alert_id "
            "WHERE aa.article_id = a.article_id AND al.delivered_version < al.version "
            "AND al.failed = FALSE)"
        ),
        holds_story="EXISTS (SELECT 1 FROM alerts al WHERE al.story_id = s.story_id)",
        holds_story_before=(
            f"EXISTS (SELECT 1 FROM alerts al WHERE al.story_id = s.story_id AND NOT ({goes}))"
        ),
        counts={"alerts": f"SELECT count(*) FROM alerts al WHERE {goes}"},
        delete=(
            f"DELETE FROM alerts AS al WHERE {goes}",
            f"DELETE FROM deliveries WHERE sent_at < {cutoff}",
            f"DELETE FROM feed_notices WHERE created_at < {cutoff} AND "
            "(delivered_at IS NOT NULL OR failed = TRUE)",
        ),
    )


CHAT_DEPENDENTS = chat_dependents(PRUNED, ":cutoff")
