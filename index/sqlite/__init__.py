"""The embedded engine's parts of `index.store.Store` (SQLite, FTS5): passages.py (passages,
text search, embeddings, hits, counts) and events.py (event metadata, find_articles, alert
horizons), mixed into `Store` as index/pg/passages.py and events.py are into `PgStore`."""
