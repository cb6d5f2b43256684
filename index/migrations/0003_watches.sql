-- Watches and alerts (bot/watches.py, bot/alerts.py). A channel is an opaque target string
-- ("console", "discord:<guild_id>:<channel_id>"); its workspace decides which articles it sees.

CREATE TABLE watches (
    watch_id     INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('group', 'place', 'keyword', 'topic')),
    term         TEXT NOT NULL,                 -- as the user wrote it
    canonical    TEXT,                          -- the actor's or place's name, the keyword query
    spec         TEXT NOT NULL,                 -- JSON: what is matched (actor keys, place, query)
    event_types  TEXT,                          -- JSON list: fire only for these types
    min_killed   INTEGER,                       -- fire only when at least this many were killed
    radius_km    REAL,                          -- place watches: also places this close
    vector       BLOB,                          -- topic watches: the description's embedding
    since        TEXT NOT NULL,                 -- articles published before this never alert
    muted_until  TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX watches_workspace ON watches(workspace_id);
CREATE INDEX watches_channel ON watches(channel);

-- The outbox: one alert per channel and story, written before it is delivered. `version` grows
-- when another article joins the story; the alert is delivered (or its message edited) until
-- `delivered_version` catches up.
CREATE TABLE alerts (
    alert_id          INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel           TEXT NOT NULL,
    story_id          INTEGER NOT NULL REFERENCES stories(story_id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    delivered_version INTEGER NOT NULL DEFAULT 0,
    delivered_at      TEXT,                     -- first delivery
    message_ref       TEXT,                     -- the chat's id of the message, to edit it
    send_key          TEXT,                     -- idempotency key of the send in progress
    digest            INTEGER NOT NULL DEFAULT 0, -- delivered inside a digest message
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    last_error        TEXT,
    failed            INTEGER NOT NULL DEFAULT 0, -- the chat refused it for good
    UNIQUE (channel, story_id)
);
CREATE INDEX alerts_story ON alerts(story_id);
CREATE INDEX alerts_outbox ON alerts(channel) WHERE delivered_version < version AND failed = 0;

-- Why an alert fired: one row per watch that matched (kept when the watch is removed).
CREATE TABLE alert_matches (
    alert_id   INTEGER NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    watch_id   INTEGER NOT NULL,
    term       TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    why        TEXT NOT NULL,
    PRIMARY KEY (alert_id, watch_id)
);

-- The articles (sources) an alert lists.
CREATE TABLE alert_articles (
    alert_id   INTEGER NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    added_at   TEXT NOT NULL,
    PRIMARY KEY (alert_id, article_id)
);

-- Messages posted per channel, for the rate limit.
CREATE TABLE deliveries (
    channel TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX deliveries_channel ON deliveries(channel, sent_at);
