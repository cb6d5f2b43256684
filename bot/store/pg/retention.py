"""Stage: the chat layer's part of a prune on PostgreSQL (index/store/pg/retention.py): the same
rules and statements as on the embedded engine (bot/store/retention.py), over this engine's list
of the articles that go and with the cutoff as `$1`. Side effects: none here.
"""

from __future__ import annotations

from bot.store.retention import chat_dependents
from index.store.pg.retention import PRUNED

CHAT_DEPENDENTS = chat_dependents(PRUNED, "$1")
