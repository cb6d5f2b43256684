"""Wirewatch's news engine: feeds in, searchable passages and events out. Knows nothing about
chat.

The pipeline, one folder per stage, driven by one handler:
  fetch/     feeds.py (conditional GET, limits, the SSRF guard), parse.py (feed bytes -> entries)
  extract/   extractor.py (article -> events), actors, places/, events, casualties, dates
  store/     interfaces.py (small Protocols per concern); sqlite/ (SQLite + FTS5, the embedded
             default) and pg/ (PostgreSQL + pgvector), each with its migrations; rows.py (the
             values both return); stories, leases, the data dir lock, backup and retention
  retrieve/  passages.py (chunks), embed.py (backends), vectors.py (FAISS), search.py (hybrid)
  ingest.py  one cycle: due feeds -> fetch -> parse -> store -> extract -> embed -> index
Shared by all: models.py (values), errors.py, text.py (the one text fold), timeutil.py,
backoff.py (the one backoff).
"""
