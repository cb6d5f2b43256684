-- Wirewatch on PostgreSQL, version 3: the rest of the engine's tables (index/store/sqlite/store.py's): the
-- near-duplicate bands, passages with their text-search vector and embedding, the event
-- metadata, the change feed; and the columns that let workers share the polling (claims).
-- The same tables as index/store/sqlite/migrations/ (0001, 0002, 0004, 0005, 0010, 0011), with native types.
-- Never edit once merged: add 0004_*.sql instead.

CREATE TABLE minhash_bands (
    band         INTEGER NOT NULL,
    hash         BIGINT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    article_id   BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    PRIMARY KEY (band, hash, published_at, article_id)
);
CREATE INDEX minhash_bands_article ON minhash_bands(article_id);

-- Passages are the units of retrieval. `fts` is the folded title (weight A) and text (weight B)
-- (index/text.py's fold, the same words FTS5 holds on SQLite). `embedding` has no fixed
-- dimension: the vector search indexes `embedding::vector(d)` of one model (index/store/pg/vectors.py).
CREATE TABLE passages (
    passage_id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id   BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    text         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    fts          tsvector NOT NULL,
    embedding    vector,                        -- unit length; NULL until embedded
    embed_model  TEXT,
    UNIQUE (article_id, seq)
);
CREATE INDEX passages_hash ON passages(content_hash, embed_model);
CREATE INDEX passages_model ON passages(embed_model);
CREATE INDEX passages_unembedded ON passages(passage_id) WHERE embedding IS NULL;
CREATE INDEX passages_fts ON passages USING gin (fts);

CREATE TABLE events (
    article_id     BIGINT PRIMARY KEY REFERENCES articles(article_id) ON DELETE CASCADE,
    event_date     DATE,
    killed_low     INTEGER,
    killed_best    INTEGER,
    killed_high    INTEGER,
    injured_low    INTEGER,
    injured_best   INTEGER,
    injured_high   INTEGER,
    main_geonameid BIGINT,
    extractor      TEXT NOT NULL,
    extracted_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_date ON events(event_date);

CREATE TABLE article_actors (
    article_id BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    actor_key  TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    mention    TEXT NOT NULL,
    PRIMARY KEY (article_id, actor_key)
);
CREATE INDEX article_actors_key ON article_actors(actor_key);

CREATE TABLE article_places (
    article_id   BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    geonameid    BIGINT NOT NULL,
    name         TEXT NOT NULL,
    country_code TEXT NOT NULL,
    admin1_code  TEXT,
    precision    TEXT NOT NULL,
    main         BOOLEAN NOT NULL DEFAULT FALSE,
    mention      TEXT NOT NULL,
    PRIMARY KEY (article_id, geonameid)
);
CREATE INDEX article_places_geonameid ON article_places(geonameid);
CREATE INDEX article_places_region ON article_places(country_code, admin1_code);

CREATE TABLE article_event_types (
    article_id BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    PRIMARY KEY (article_id, event_type)
);
CREATE INDEX article_event_types_type ON article_event_types(event_type);

CREATE TABLE article_events (
    article_id        BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL,
    type              TEXT NOT NULL,
    sub_type          TEXT,
    geonameid         BIGINT,
    country_code      TEXT,
    admin1_code       TEXT,
    precision         TEXT,
    place             JSONB,
    event_date        DATE,
    killed_low        INTEGER,
    killed_best       INTEGER,
    killed_high       INTEGER,
    injured_low       INTEGER,
    injured_best      INTEGER,
    injured_high      INTEGER,
    actors            JSONB NOT NULL DEFAULT '[]',
    sentences         JSONB NOT NULL DEFAULT '[]',
    main              BOOLEAN NOT NULL DEFAULT FALSE,
    killed_civilians  BOOLEAN NOT NULL DEFAULT FALSE,
    injured_civilians BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (article_id, seq)
);
CREATE INDEX article_events_geonameid ON article_events(geonameid);
CREATE INDEX article_events_region ON article_events(country_code, admin1_code);
CREATE INDEX article_events_type ON article_events(type);

CREATE TABLE article_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    change     TEXT NOT NULL CHECK (change IN ('new', 'updated', 'linked')),
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX article_changes_article ON article_changes(article_id);

CREATE TABLE change_cursors (
    consumer TEXT PRIMARY KEY,
    seq      BIGINT NOT NULL
);

-- A worker's claim on a due feed (`wirewatch worker`): no other worker polls it before
-- `claimed_until`; a worker killed mid-poll leaves the claim to expire.
ALTER TABLE feeds ADD COLUMN claimed_by TEXT;
ALTER TABLE feeds ADD COLUMN claimed_until TIMESTAMPTZ;
CREATE INDEX feeds_due ON feeds(next_check_at) WHERE enabled AND kind = 'http';

-- Fetches in flight per host, shared by every worker: a worker takes a slot before it fetches
-- and gives it back after; a slot whose holder died frees itself at `until`.
CREATE TABLE host_slots (
    host     TEXT NOT NULL,
    slot     INTEGER NOT NULL,
    holder   TEXT NOT NULL,
    until    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (host, slot)
);
