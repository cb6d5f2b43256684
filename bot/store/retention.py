"""Stage: the chat layer's part of a prune (index/store/retention.py): which articles and stories
its alerts still hold, and what of its own goes with the old articles. Side effects: none here;
`index.store.retention.prune` runs these statements (SQLite: the embedded engine is the one that
prunes).

An article listed by an alert still waiting to be delivered stays. Once the old articles are
gone, the delivered (or given-up) alerts left with no article go, and so do delivery records
and delivered or given-up feed notices older than the cutoff. A story stays while an alert
refers to it.
"""

from __future__ import annotations

from index.store.retention import PRUNED, Dependents

# Alerts that go: delivered (or given up) and left with no article once the pruned ones are gone.
_ALERT_GOES = (
    "(al.delivered_version >= al.version OR al.failed = 1) AND NOT EXISTS (SELECT 1 FROM "
    f"alert_articles aa WHERE aa.alert_id = al.alert_id AND aa.article_id NOT IN ({PRUNED}))"
)

CHAT_DEPENDENTS = Dependents(
    holds_article=(
        "EXISTS (SELECT 1 FROM alert_articles aa JOIN alerts al ON al.alert_id = aa.alert_id "
        "WHERE aa.article_id = a.article_id AND al.delivered_version < al.version "
        "AND al.failed = 0)"
    ),
    holds_story="EXISTS (SELECT 1 FROM alerts al WHERE al.story_id = s.story_id)",
    holds_story_before=(
        f"EXISTS (SELECT 1 FROM alerts al WHERE al.story_id = s.story_id AND NOT ({_ALERT_GOES}))"
    ),
    counts={"alerts": f"SELECT count(*) FROM alerts al WHERE {_ALERT_GOES}"},
    delete=(
        f"DELETE FROM alerts AS al WHERE {_ALERT_GOES}",
        "DELETE FROM deliveries WHERE sent_at < :cutoff",
        "DELETE FROM feed_notices WHERE created_at < :cutoff AND "
        "(delivered_at IS NOT NULL OR failed = 1)",
    ),
)
