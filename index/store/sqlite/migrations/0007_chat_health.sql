-- Feed health (bot/core/feedhealth.py): when a feed began failing, and where it was added, so the
-- channels that follow it can be told when it has failed for a while and when it recovers.

-- (The watches' pause columns and the notice tables made here at first are now the chat
-- layer's: bot/store/migrations/sqlite/0001_chat.sql.)

-- When the current run of consecutive failures began (NULL: the last fetch was good). A feed
-- failing now is taken to have begun at its last poll.
ALTER TABLE feeds ADD COLUMN failing_since TEXT;
UPDATE feeds SET failing_since = coalesce(last_polled_at, created_at) WHERE error_count > 0;

-- The chat channel where a feed was added (notices about it go there); NULL: added from the
-- command line.
ALTER TABLE subscriptions ADD COLUMN channel TEXT;
