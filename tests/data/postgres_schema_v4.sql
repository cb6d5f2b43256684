-- The schema of a Wirewatch PostgreSQL database at engine version 4, as the engine's migrations
-- made it before the chat layer had migrations of its own: their four files of that time, and the
-- ledger's rows. tests/bot/test_chat_schema.py upgrades it and compares it with a new database.

-- Wirewatch on PostgreSQL, version 1: the tables of the row interfaces (watches, feed notices)
-- and those they reference. The same tables as index/migrations/ (0001, 0003, 0006, 0007, 0008),
-- with native types: identity keys, TIMESTAMPTZ, BOOLEAN, JSONB, pgvector's `vector`.
-- Never edit once merged: add 0002_*.sql instead.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE workspaces (
    workspace_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,          -- "console", "discord:<guild_id>"
    created_at   TIMESTAMPTZ NOT NULL
);

-- A feed URL is fetched once, however many workspaces subscribe to it.
CREATE TABLE feeds (
    feed_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url            TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'file')),
    title          TEXT,                        -- the feed's own title, from its last good fetch
    interval_s     INTEGER NOT NULL DEFAULT 300, -- the shortest interval any subscriber asked for
    etag           TEXT,
    last_modified  TEXT,                        -- the HTTP header, as the server sent it
    last_polled_at TIMESTAMPTZ,
    last_status    TEXT,                        -- "ok", "not modified", "error: ..."
    last_error     TEXT,
    error_count    INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
    next_check_at  TIMESTAMPTZ NOT NULL,
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL,
    failing_since  TIMESTAMPTZ                  -- when the current run of failures began
);

CREATE TABLE subscriptions (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    feed_id      BIGINT NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    name         TEXT,
    interval_s   INTEGER NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    channel      TEXT,                          -- where the feed was added; NULL: command line
    alert_from   TIMESTAMPTZ,                   -- items published before this do not alert
    alert_newest INTEGER,                       -- ... except the newest N
    PRIMARY KEY (workspace_id, feed_id)
);
CREATE INDEX subscriptions_feed ON subscriptions(feed_id);

-- A channel is an opaque target string ("console", "discord:<guild_id>:<channel_id>").
CREATE TABLE watches (
    watch_id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('group', 'place', 'keyword', 'topic')),
    term          TEXT NOT NULL,                -- as the user wrote it
    canonical     TEXT,                         -- the actor's or place's name, the keyword query
    spec          JSONB NOT NULL,               -- what is matched (actor keys, place, query)
    event_types   JSONB,                        -- list: fire only for these types
    min_killed    INTEGER,                      -- fire only when at least this many were killed
    radius_km     DOUBLE PRECISION,             -- place watches: also places this close
    vector        vector,                       -- topic watches: the description's embedding
    vector_model  TEXT,                         -- the model that made `vector`
    since         TIMESTAMPTZ NOT NULL,         -- articles published before this never alert
    muted_until   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    paused_reason TEXT,                         -- the channel is gone; NULL: not paused
    paused_at     TIMESTAMPTZ
);
CREATE INDEX watches_workspace ON watches(workspace_id);
CREATE INDEX watches_channel ON watches(channel);

-- A workspace told that a feed is failing; the row goes when it has been told of the recovery.
CREATE TABLE feed_notice_state (
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    feed_id       BIGINT NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('failing')),
    failing_since TIMESTAMPTZ NOT NULL,
    reason        TEXT NOT NULL,                -- the short phrase the notice gave
    channels      JSONB NOT NULL,               -- list: where the notice went (the recovery too)
    noticed_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, feed_id)
);

-- The outbox of notices, written before they are posted (like alerts).
CREATE TABLE feed_notices (
    notice_id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    feed_id         BIGINT NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('feed_failing', 'feed_recovered')),
    feed_url        TEXT NOT NULL,
    feed_name       TEXT,                       -- the subscription's name, else the feed's title
    reason          TEXT NOT NULL,              -- "HTTP 503", "timed out", ...
    failing_since   TIMESTAMPTZ NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    send_key        TEXT,                       -- idempotency key of the send in progress
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    failed          BOOLEAN NOT NULL DEFAULT FALSE, -- the chat refused it for good
    last_error      TEXT
);
CREATE INDEX feed_notices_due ON feed_notices(channel) WHERE delivered_at IS NULL AND NOT failed;
CREATE INDEX feed_notices_feed ON feed_notices(feed_id);

-- Wirewatch on PostgreSQL, version 2: the alerts and their outbox (index/alertrows.py), and the
-- stories, articles and feed entries they list and backfill from. The same tables as
-- index/migrations/ (0001, 0003, 0004, 0009), with native types; stories, articles and
-- feed_entries have all their SQLite columns, so the ingest's later files extend them.
-- Never edit once merged: add 0003_*.sql instead.

-- A story is a cluster of articles about the same event (near-identical text within a time window).
CREATE TABLE stories (
    story_id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title         TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE articles (
    article_id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    story_id      BIGINT NOT NULL REFERENCES stories(story_id),
    url           TEXT,                         -- canonical link
    guid          TEXT,
    title         TEXT NOT NULL,
    text          TEXT NOT NULL,
    author        TEXT,
    source        TEXT NOT NULL,                -- outlet: the feed's title, or the file name
    published_at  TIMESTAMPTZ NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ,
    content_hash  TEXT NOT NULL,                -- of title + text
    minhash       BYTEA NOT NULL                -- signature for near-duplicate clustering
);
CREATE UNIQUE INDEX articles_url ON articles(url) WHERE url IS NOT NULL;
CREATE INDEX articles_content_hash ON articles(content_hash);
CREATE INDEX articles_published ON articles(published_at);
CREATE INDEX articles_story ON articles(story_id);

-- Which feed carried which article, under which entry key (guid, else link, else content hash).
CREATE TABLE feed_entries (
    feed_id       BIGINT NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    entry_key     TEXT NOT NULL,
    article_id    BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL,                -- of what this feed last sent for this entry
    origin        BOOLEAN NOT NULL DEFAULT FALSE, -- this entry created the article (may update it)
    first_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
CREATE INDEX feed_entries_article ON feed_entries(article_id);

-- The outbox: one alert per channel and story, written before it is delivered. `version` grows
-- when another article joins the story; the alert is delivered (or its message edited) until
-- `delivered_version` catches up.
CREATE TABLE alerts (
    alert_id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id      BIGINT NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel           TEXT NOT NULL,
    story_id          BIGINT NOT NULL REFERENCES stories(story_id),
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    delivered_version INTEGER NOT NULL DEFAULT 0,
    delivered_at      TIMESTAMPTZ,              -- first delivery
    message_ref       TEXT,                     -- the chat's id of the message, to edit it
    send_key          TEXT,                     -- idempotency key of the send in progress
    digest            BOOLEAN NOT NULL DEFAULT FALSE, -- delivered inside a digest message
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ,
    last_error        TEXT,
    failed            BOOLEAN NOT NULL DEFAULT FALSE, -- the chat refused it for good
    UNIQUE (channel, story_id)
);
CREATE INDEX alerts_story ON alerts(story_id);
CREATE INDEX alerts_outbox ON alerts(channel) WHERE delivered_version < version AND NOT failed;
CREATE INDEX alerts_due ON alerts(next_attempt_at) WHERE delivered_version < version AND NOT failed;
CREATE INDEX alerts_workspace ON alerts(workspace_id);
CREATE INDEX alerts_send_key ON alerts(send_key) WHERE send_key IS NOT NULL;

-- Why an alert fired: one row per watch that matched (kept when the watch is removed).
CREATE TABLE alert_matches (
    alert_id   BIGINT NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    watch_id   BIGINT NOT NULL,
    term       TEXT NOT NULL,
    article_id BIGINT NOT NULL,
    why        TEXT NOT NULL,
    PRIMARY KEY (alert_id, watch_id)
);

-- The articles (sources) an alert lists.
CREATE TABLE alert_articles (
    alert_id   BIGINT NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    article_id BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    added_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (alert_id, article_id)
);
CREATE INDEX alert_articles_article ON alert_articles(article_id);

-- Messages posted per channel, for the rate limit.
CREATE TABLE deliveries (
    channel TEXT NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_channel ON deliveries(channel, sent_at);

-- Wirewatch on PostgreSQL, version 3: the rest of the engine's tables (index/store.py's): the
-- near-duplicate bands, passages with their text-search vector and embedding, the event
-- metadata, the change feed; and the columns that let workers share the polling (claims).
-- The same tables as index/migrations/ (0001, 0002, 0004, 0005, 0010, 0011), with native types.
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
-- dimension: the vector search indexes `embedding::vector(d)` of one model (index/pg/vectors.py).
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

-- Wirewatch on PostgreSQL, version 4: what `wirewatch migrate-to` (index/pg/copy.py) keeps in
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

CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO schema_migrations (version, name) VALUES (1, '0001_rows'), (2, '0002_alerts'), (3, '0003_index'), (4, '0004_copy');
