-- Wirewatch on PostgreSQL, version 1: workspaces, feeds and subscriptions. The same tables as
-- index/store/sqlite/migrations/ (0001, 0007, 0008), with native types: identity keys, TIMESTAMPTZ,
-- BOOLEAN, JSONB.
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

-- (The watches and the feed notice tables made here at first are now the chat layer's:
-- bot/store/migrations/postgres/0001_chat.sql.)
