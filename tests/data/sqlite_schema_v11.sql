-- The schema of a Wirewatch SQLite database at engine version 11, as the engine's migrations
-- made it before the chat layer had migrations of its own (`sqlite3 wirewatch.db .schema`, and the
-- ledger's rows). tests/bot/test_chat_schema.py upgrades it and compares it with a new database.
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE workspaces (
    workspace_id INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,          
    created_at   TEXT NOT NULL
);
CREATE TABLE feeds (
    feed_id        INTEGER PRIMARY KEY,
    url            TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'file')), 
    title          TEXT,                        
    interval_s     INTEGER NOT NULL DEFAULT 300, 
    etag           TEXT,
    last_modified  TEXT,
    last_polled_at TEXT,
    last_status    TEXT,                        
    last_error     TEXT,
    error_count    INTEGER NOT NULL DEFAULT 0,  
    next_check_at  TEXT NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
, failing_since TEXT);
CREATE TABLE subscriptions (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    feed_id      INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    name         TEXT,
    interval_s   INTEGER NOT NULL,
    created_at   TEXT NOT NULL, channel TEXT, alert_from TEXT, alert_newest INTEGER,
    PRIMARY KEY (workspace_id, feed_id)
);
CREATE INDEX subscriptions_feed ON subscriptions(feed_id);
CREATE TABLE stories (
    story_id      INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
);
CREATE TABLE articles (
    article_id    INTEGER PRIMARY KEY,
    story_id      INTEGER NOT NULL REFERENCES stories(story_id),
    url           TEXT,                         
    guid          TEXT,
    title         TEXT NOT NULL,
    text          TEXT NOT NULL,
    author        TEXT,
    source        TEXT NOT NULL,                
    published_at  TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    updated_at    TEXT,
    content_hash  TEXT NOT NULL,                
    minhash       BLOB NOT NULL                 
);
CREATE UNIQUE INDEX articles_url ON articles(url) WHERE url IS NOT NULL;
CREATE INDEX articles_content_hash ON articles(content_hash);
CREATE INDEX articles_published ON articles(published_at);
CREATE INDEX articles_story ON articles(story_id);
CREATE TABLE minhash_bands (
    band         INTEGER NOT NULL,
    hash         INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    article_id   INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    PRIMARY KEY (band, hash, published_at, article_id)
) WITHOUT ROWID;
CREATE INDEX minhash_bands_article ON minhash_bands(article_id);
CREATE TABLE feed_entries (
    feed_id       INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    entry_key     TEXT NOT NULL,
    article_id    INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL,                
    origin        INTEGER NOT NULL DEFAULT 0,   
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
CREATE INDEX feed_entries_article ON feed_entries(article_id);
CREATE TABLE passages (
    passage_id   INTEGER PRIMARY KEY,
    article_id   INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    text         TEXT NOT NULL,
    content_hash TEXT NOT NULL,                 
    embedding    BLOB,                          
    embed_model  TEXT,
    UNIQUE (article_id, seq)
);
CREATE INDEX passages_hash ON passages(content_hash, embed_model);
CREATE INDEX passages_model ON passages(embed_model);
CREATE INDEX passages_unembedded ON passages(passage_id) WHERE embedding IS NULL;
CREATE TABLE events (
    article_id     INTEGER PRIMARY KEY REFERENCES articles(article_id) ON DELETE CASCADE,
    event_date     TEXT,                        
    killed_low     INTEGER,
    killed_best    INTEGER,
    killed_high    INTEGER,
    injured_low    INTEGER,
    injured_best   INTEGER,
    injured_high   INTEGER,
    main_geonameid INTEGER,
    extractor      TEXT NOT NULL,               
    extracted_at   TEXT NOT NULL
);
CREATE INDEX events_date ON events(event_date);
CREATE TABLE article_actors (
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    actor_key  TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    mention    TEXT NOT NULL,                   
    PRIMARY KEY (article_id, actor_key)
);
CREATE INDEX article_actors_key ON article_actors(actor_key);
CREATE TABLE article_places (
    article_id   INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    geonameid    INTEGER NOT NULL,
    name         TEXT NOT NULL,
    country_code TEXT NOT NULL,
    admin1_code  TEXT,
    precision    TEXT NOT NULL,                 
    main         INTEGER NOT NULL DEFAULT 0,
    mention      TEXT NOT NULL,
    PRIMARY KEY (article_id, geonameid)
);
CREATE INDEX article_places_geonameid ON article_places(geonameid);
CREATE INDEX article_places_region ON article_places(country_code, admin1_code);
CREATE TABLE article_event_types (
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    PRIMARY KEY (article_id, event_type)
);
CREATE INDEX article_event_types_type ON article_event_types(event_type);
CREATE TABLE watches (
    watch_id     INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('group', 'place', 'keyword', 'topic')),
    term         TEXT NOT NULL,                 
    canonical    TEXT,                          
    spec         TEXT NOT NULL,                 
    event_types  TEXT,                          
    min_killed   INTEGER,                       
    radius_km    REAL,                          
    vector       BLOB,                          
    since        TEXT NOT NULL,                 
    muted_until  TEXT,
    created_at   TEXT NOT NULL
, vector_model TEXT, paused_reason TEXT, paused_at TEXT);
CREATE INDEX watches_workspace ON watches(workspace_id);
CREATE INDEX watches_channel ON watches(channel);
CREATE TABLE alerts (
    alert_id          INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel           TEXT NOT NULL,
    story_id          INTEGER NOT NULL REFERENCES stories(story_id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    delivered_version INTEGER NOT NULL DEFAULT 0,
    delivered_at      TEXT,                     
    message_ref       TEXT,                     
    send_key          TEXT,                     
    digest            INTEGER NOT NULL DEFAULT 0, 
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    last_error        TEXT,
    failed            INTEGER NOT NULL DEFAULT 0, 
    UNIQUE (channel, story_id)
);
CREATE INDEX alerts_story ON alerts(story_id);
CREATE INDEX alerts_outbox ON alerts(channel) WHERE delivered_version < version AND failed = 0;
CREATE TABLE alert_matches (
    alert_id   INTEGER NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    watch_id   INTEGER NOT NULL,
    term       TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    why        TEXT NOT NULL,
    PRIMARY KEY (alert_id, watch_id)
);
CREATE TABLE alert_articles (
    alert_id   INTEGER NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    added_at   TEXT NOT NULL,
    PRIMARY KEY (alert_id, article_id)
);
CREATE TABLE deliveries (
    channel TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX deliveries_channel ON deliveries(channel, sent_at);
CREATE TABLE article_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT, 
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    change     TEXT NOT NULL CHECK (change IN ('new', 'updated', 'linked')),
    at         TEXT NOT NULL
);
CREATE TABLE change_cursors (
    consumer TEXT PRIMARY KEY,                  
    seq      INTEGER NOT NULL
);
CREATE INDEX alerts_due ON alerts(next_attempt_at) WHERE delivered_version < version AND failed = 0;
CREATE INDEX alerts_workspace ON alerts(workspace_id);
CREATE VIRTUAL TABLE passages_fts USING fts5(
    title, text, tokenize = 'unicode61 remove_diacritics 2'
)
/* passages_fts(title,text) */;
CREATE TABLE IF NOT EXISTS 'passages_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE IF NOT EXISTS 'passages_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS 'passages_fts_content'(id INTEGER PRIMARY KEY, c0, c1);
CREATE TABLE IF NOT EXISTS 'passages_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE IF NOT EXISTS 'passages_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE feed_notice_state (
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    feed_id       INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('failing')),
    failing_since TEXT NOT NULL,
    reason        TEXT NOT NULL,                
    channels      TEXT NOT NULL,                
    noticed_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, feed_id)
);
CREATE TABLE feed_notices (
    notice_id       INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    feed_id         INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('feed_failing', 'feed_recovered')),
    feed_url        TEXT NOT NULL,
    feed_name       TEXT,                       
    reason          TEXT NOT NULL,              
    failing_since   TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    send_key        TEXT,                       
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    failed          INTEGER NOT NULL DEFAULT 0, 
    last_error      TEXT
);
CREATE INDEX feed_notices_due ON feed_notices(channel) WHERE delivered_at IS NULL AND failed = 0;
CREATE INDEX feed_notices_feed ON feed_notices(feed_id);
CREATE INDEX article_changes_article ON article_changes(article_id);
CREATE INDEX alert_articles_article ON alert_articles(article_id);
CREATE TABLE article_events (
    article_id    INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,             
    type          TEXT NOT NULL,                
    sub_type      TEXT,                         
    geonameid     INTEGER,                      
    country_code  TEXT,
    admin1_code   TEXT,
    precision     TEXT,                         
    place         TEXT,                         
    event_date    TEXT,                         
    killed_low    INTEGER,
    killed_best   INTEGER,
    killed_high   INTEGER,
    injured_low   INTEGER,
    injured_best  INTEGER,
    injured_high  INTEGER,
    actors        TEXT NOT NULL DEFAULT '[]',   
    sentences     TEXT NOT NULL DEFAULT '[]',   
    main          INTEGER NOT NULL DEFAULT 0, killed_civilians INTEGER NOT NULL DEFAULT 0, injured_civilians INTEGER NOT NULL DEFAULT 0,   
    PRIMARY KEY (article_id, seq)
);
CREATE INDEX article_events_geonameid ON article_events(geonameid);
CREATE INDEX article_events_region ON article_events(country_code, admin1_code);
CREATE INDEX article_events_type ON article_events(type);
INSERT INTO schema_migrations VALUES (1, '0001_init.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (2, '0002_events.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (3, '0003_watches.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (4, '0004_changes.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (5, '0005_fts.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (6, '0006_watch_vector_model.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (7, '0007_chat_health.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (8, '0008_feed_backfill.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (9, '0009_retention.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (10, '0010_article_events.sql', '2026-12-01 00:00:00');
INSERT INTO schema_migrations VALUES (11, '0011_event_civilians.sql', '2026-12-01 00:00:00');
