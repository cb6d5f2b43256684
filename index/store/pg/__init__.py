"""The PostgreSQL engine: rows in PostgreSQL, vectors in pgvector.

Stage: typed rows <-> PostgreSQL (asyncpg). Side effects: reads and writes the database at
`WIREWATCH_DATABASE_URL`. `PgStore` (store.py, with passages.py and events.py) implements the
interfaces of index/store/interfaces.py with the semantics of the SQLite engine; vectors.py is
pgvector's HNSW, hosts.py the shared per-host fetch slots, lease.py the sender's advisory
lock, copy.py `wirewatch migrate-to`; `connect.py` opens the pool, `migrate.py` applies
`migrations/NNNN_*.sql`. Needs the `postgres` extra: `pip install 'wirewatch[postgres]'`.
"""
