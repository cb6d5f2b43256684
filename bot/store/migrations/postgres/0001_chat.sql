-- The chat layer's tables (bot/store/) on PostgreSQL: watches, alerts and their outbox, delivery
-- records and feed notices, with native types (identity keys, TIMESTAMPTZ, BOOLEAN, JSONB,
-- pgvector's `vector`); the same tables as migrations/sqlite/.
--
-- Databases made before the chat layer had migrations of its own hold these tables already,
-- created by the engine's migrations of that time (index/store/pg/migrations 0001, 0002), the same:
-- every statement here creates only what is missing, so both kinds of database end with the
-- same schema. Never edit once merged: add 0002_*.sql instead.

-- A channel is an opaque target string ("console", "discord:<guild_id>:<channel_id>").
CREATE TABLE IF NOT EXISTS watches (
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
CREATE INDEX IF NOT EXISTS watches_workspace ON watches(workspace_id);
CREATE INDEX IF NOT EXISTS watches_channel ON watches(channel);

-- A workspace told that a feed is failing; the row goes when it has been told of the recovery.
CREATE TABLE IF NOT EXISTS feed_notice_state (
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
CREATE TABLE IF NOT EXISTS feed_notices (
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
CREATE INDEX IF NOT EXISTS feed_notices_due ON feed_notices(channel) WHERE delivered_at IS NULL AND NOT failed;
CREATE INDEX IF NOT EXISTS feed_notices_feed ON feed_notices(feed_id);

-- The outbox: one alert per channel and story, written before it is delivered. `version` grows
-- when another article joins the story; the alert is delivered (or its message edited) until
-- `delivered_version` catches up.
CREATE TABLE IF NOT EXISTS alerts (
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
CREATE INDEX IF NOT EXISTS alerts_story ON alerts(story_id);
CREATE INDEX IF NOT EXISTS alerts_outbox ON alerts(channel) WHERE delivered_version < version AND NOT failed;
CREATE INDEX IF NOT EXISTS alerts_due ON alerts(next_attempt_at) WHERE delivered_version < version AND NOT failed;
CREATE INDEX IF NOT EXISTS alerts_workspace ON alerts(workspace_id);
CREATE INDEX IF NOT EXISTS alerts_send_key ON alerts(send_key) WHERE send_key IS NOT NULL;

-- Why an alert fired: one row per watch that matched (kept when the watch is removed).
CREATE TABLE IF NOT EXISTS alert_matches (
    alert_id   BIGINT NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    watch_id   BIGINT NOT NULL,
    term       TEXT NOT NULL,
    article_id BIGINT NOT NULL,
    why        TEXT NOT NULL,
    PRIMARY KEY (alert_id, watch_id)
);

-- The articles (sources) an alert lists.
CREATE TABLE IF NOT EXISTS alert_articles (
    alert_id   BIGINT NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    article_id BIGINT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    added_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (alert_id, article_id)
);
CREATE INDEX IF NOT EXISTS alert_articles_article ON alert_articles(article_id);

-- Messages posted per channel, for the rate limit.
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_channel ON deliveries(channel, sent_at);
