-- Which of a feed's items may alert the workspace that follows it (`/feed add ... backfill`).
-- Items published before `alert_from` do not alert that workspace's watches (a watch that was
-- itself backfilled still looks back as it asked). `alert_newest`: the newest N items of the
-- first fetch after subscribing may alert too; once that fetch is stored it becomes the
-- `alert_from` of the Nth newest item. Both NULL: every item may alert (subscriptions made
-- before this migration).
ALTER TABLE subscriptions ADD COLUMN alert_from TEXT;
ALTER TABLE subscriptions ADD COLUMN alert_newest INTEGER;
