-- Wirewatch on PostgreSQL, version 2: stories, articles and feed entries. The same tables as
-- index/store/sqlite/migrations/ (0001), with native types, and all their SQLite columns, so the ingest's
-- later files extend them.
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

-- (The alert tables made here at first are now the chat layer's:
-- bot/store/migrations/postgres/0001_chat.sql.)
