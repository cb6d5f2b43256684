"""The embedded engine: SQLite (WAL) with FTS5, one process per data dir. store.py holds
`Store` (the connection, migrations/, entries, stories, the change feed), made of the parts
beside it: feeds.py (workspaces, feeds, subscriptions, polling state), passages.py (passages,
text search, embeddings, hits, counts) and events.py (event metadata, find_articles, alert
horizons), as index/store/pg/ makes `PgStore`. Its vectors are the FAISS file of
index/retrieve/vectors.py."""
