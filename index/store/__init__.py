"""Stage: typed rows <-> a database. interfaces.py has one small Protocol per concern (feeds,
the feed queue, articles, passages, text search, events, vectors, host slots, schema); two
engines implement them: sqlite/ (SQLite + FTS5, one process per data dir; FAISS beside it, in
index/retrieve/vectors.py) and pg/ (PostgreSQL + pgvector, any number of processes). Each engine
has its numbered migrations. rows.py holds the values both return; stories.py the near-duplicate
clustering both use; lease.py, datadir.py, backup.py and retention.py the embedded engine's
operations."""
