-- Wirewatch schema, version 1. Never edit once merged: add 0002_*.sql instead.
-- Times are ISO-8601 TEXT in UTC ("2026-11-25T12:00:00+00:00").

CREATE TABLE workspaces (
    workspace_id INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,          -- "console", "discord:<guild_id>"
    created_at   TEXT NOT NULL
);

-- A feed URL is fetched once, however many workspaces subscribe to it.
CREATE TABLE feeds (
    feed_id        INTEGER PRIMARY KEY,
    url            TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'file')), -- file: `ingest PATH`
    title          TEXT,                        -- the feed's own title, from its last good fetch
    interval_s     INTEGER NOT NULL DEFAULT 300, -- the shortest interval any subscriber asked for
    etag           TEXT,
    last_modified  TEXT,
    last_polled_at TEXT,
    last_status    TEXT,                        -- "ok", "not modified", "error: ..."
    last_error     TEXT,
    error_count    INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
    next_check_at  TEXT NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

CREATE TABLE subscriptions (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    feed_id      INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    name         TEXT,
    interval_s   INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, feed_id)
);
CREATE INDEX subscriptions_feed ON subscriptions(feed_id);

-- A story is a cluster of articles about the same event (near-identical text within a time window).
CREATE TABLE stories (
    story_id      INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
);

CREATE TABLE articles (
    article_id    INTEGER PRIMARY KEY,
    story_id      INTEGER NOT NULL REFERENCES stories(story_id),
    url           TEXT,                         -- canonical link
    guid          TEXT,
    title         TEXT NOT NULL,
    text          TEXT NOT NULL,
    author        TEXT,
    source        TEXT NOT NULL,                -- outlet: the feed's title, or the file name for `ingest`
    published_at  TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    updated_at    TEXT,
    content_hash  TEXT NOT NULL,                -- of title + text: tells an updated entry from an unchanged one
    minhash       BLOB NOT NULL                 -- signature for near-duplicate clustering
);
CREATE UNIQUE INDEX articles_url ON articles(url) WHERE url IS NOT NULL;
CREATE INDEX articles_content_hash ON articles(content_hash);
CREATE INDEX articles_published ON articles(published_at);
CREATE INDEX articles_story ON articles(story_id);

-- LSH bands of each article's MinHash signature: near-duplicate candidates by index lookup.
-- The publication time in the key keeps a lookup to the story window however big a bucket of
-- boilerplate grows over the months.
CREATE TABLE minhash_bands (
    band         INTEGER NOT NULL,
    hash         INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    article_id   INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    PRIMARY KEY (band, hash, published_at, article_id)
) WITHOUT ROWID;
CREATE INDEX minhash_bands_article ON minhash_bands(article_id);

-- Which feed carried which article, under which entry key (guid, else canonical link, else content hash).
CREATE TABLE feed_entries (
    feed_id       INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    entry_key     TEXT NOT NULL,
    article_id    INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL,                -- of what this feed last sent for this entry
    origin        INTEGER NOT NULL DEFAULT 0,   -- 1: this entry created the article (may update it)
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
CREATE INDEX feed_entries_article ON feed_entries(article_id);

-- Passages are the units of retrieval. The FAISS id of a passage is its passage_id.
CREATE TABLE passages (
    passage_id   INTEGER PRIMARY KEY,
    article_id   INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    text         TEXT NOT NULL,
    content_hash TEXT NOT NULL,                 -- of the embedded text (title context + chunk)
    embedding    BLOB,                          -- float32, unit length; NULL until embedded
    embed_model  TEXT,
    UNIQUE (article_id, seq)
);
CREATE INDEX passages_hash ON passages(content_hash, embed_model);
CREATE INDEX passages_model ON passages(embed_model);
CREATE INDEX passages_unembedded ON passages(passage_id) WHERE embedding IS NULL;
