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
