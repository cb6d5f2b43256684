-- Wirewatch on PostgreSQL, version 4: what `wirewatch migrate-to` (index/store/pg/copy.py) keeps in
-- the database it copies an embedded instance into: which SQLite database the rows come from,
-- so a second source is refused, and how far each table has got, so an interrupted copy goes
-- on where it stopped. Both stay empty in a database that was never the target of a copy.
-- Never edit once merged: add 0005_*.sql instead.

-- The one source of this database's rows (a single row).
CREATE TABLE copy_source (
    only_row       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    source_path    TEXT NOT NULL,               -- the SQLite file, as an absolute path
    source_created TEXT NOT NULL,               -- when that file was created (its first migration)
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ                  -- the copy was complete and its counts checked
);

-- Per table, the SQLite key of the last row copied (in the copy's order), written in the same
-- transaction as the rows themselves.
CREATE TABLE copy_progress (
    table_name TEXT PRIMARY KEY,
    last_key   JSONB NOT NULL,                  -- list: the key's column values
    copied     BIGINT NOT NULL                  -- rows copied so far
);
