-- Chat health (bot/alerts.py, bot/feedhealth.py): watches paused because their channel is gone,
-- and notices to the channels that follow a feed when it has failed for a while and when it
-- recovers.

-- A watch whose channel was deleted, or where the bot may no longer post, is paused: it matches
-- nothing until it is unmuted. NULL: not paused.
ALTER TABLE watches ADD COLUMN paused_reason TEXT;
ALTER TABLE watches ADD COLUMN paused_at TEXT;

-- When the current run of consecutive failures began (NULL: the last fetch was good). A feed
-- failing now is taken to have begun at its last poll.
ALTER TABLE feeds ADD COLUMN failing_since TEXT;
UPDATE feeds SET failing_since = coalesce(last_polled_at, created_at) WHERE error_count > 0;

-- The chat channel where a feed was added (notices about it go there); NULL: added from the
-- command line.
ALTER TABLE subscriptions ADD COLUMN channel TEXT;

-- A workspace told that a feed is failing; the row goes when it has been told of the recovery.
CREATE TABLE feed_notice_state (
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    feed_id       INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('failing')),
    failing_since TEXT NOT NULL,
    reason        TEXT NOT NULL,                -- the short phrase the notice gave
    channels      TEXT NOT NULL,                -- JSON list: where the notice went (the recovery too)
    noticed_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, feed_id)
);

-- The outbox of notices, written before they are posted (like alerts).
CREATE TABLE feed_notices (
    notice_id       INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(workspace_id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    feed_id         INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('feed_failing', 'feed_recovered')),
    feed_url        TEXT NOT NULL,
    feed_name       TEXT,                       -- the subscription's name, else the feed's title
    reason          TEXT NOT NULL,              -- "HTTP 503", "timed out", ...
    failing_since   TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    send_key        TEXT,                       -- idempotency key of the send in progress
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    failed          INTEGER NOT NULL DEFAULT 0, -- the chat refused it for good
    last_error      TEXT
);
CREATE INDEX feed_notices_due ON feed_notices(channel) WHERE delivered_at IS NULL AND failed = 0;
CREATE INDEX feed_notices_feed ON feed_notices(feed_id);
