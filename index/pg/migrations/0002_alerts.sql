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
