"""The PostgreSQL engine: rows in PostgreSQL, vectors in pgvector.

Stage: typed rows <-> PostgreSQL (asyncpg). Side effects: reads and writes the database at
`WIREWATCH_DATABASE_URL`. Each module implements one of the row interfaces of `index/`
(`PgWatchRows` for `WatchRows`, `PgNoticeRows` for `NoticeRows`) with the semantics of its
SQLite twin; `connect.py` opens the pool, `migrate.py` applies `migrations/NNNN_*.sql`.
Needs the `postgres` extra: `pip install 'wirewatch[postgres]'`.
"""
